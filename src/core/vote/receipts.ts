/**
 * Which frames one channel's OUTPUT has already been received for, over a bounded span of frames: a ring of
 * `size` frame numbers, slot = frame mod size, holding the frame last received there (-1: none).
 *
 * Why: an OUTPUT's MAC covers its content but nothing makes it fresh, so anyone on the link can replay a
 * correct channel's old OUTPUT. The voter tells a replay (a frame already received, in time or late) from a
 * genuinely late output (the first copy, after the deadline) by asking this ring; only the latter counts
 * against the channel. Unambiguous as long as the voter only records frames in a span of at most `size`
 * consecutive frames that never moves backwards (voter.ts keeps [nextFrame - window, nextFrame + ahead]).
 *
 * @example
 * const seen = new ReceiptRing(73);
 * seen.add(5); seen.has(5); // true
 * seen.has(78);             // false (same slot, other frame)
 */
export class ReceiptRing {
  private readonly frames: Float64Array;

  constructor(size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`ReceiptRing: bad size ${size}`);
    this.frames = new Float64Array(size).fill(-1);
  }

  has(frame: number): boolean {
    return this.frames[frame % this.frames.length] === frame;
  }

  add(frame: number): void {
    this.frames[frame % this.frames.length] = frame;
  }
}
