/**
 * The channel outputs the rig keeps for the frames in flight, keyed by frame numbers that come from the network.
 * A faulty channel can send authentic outputs for any frame number it likes, so nothing is kept unless its frame
 * is one the rig has started and not yet closed, and the store has a row limit and a byte budget on top. Every
 * output not kept is counted by reason (issue 9, class 2).
 *
 * @example
 * const w = new OutputWindow(3, counters);
 * w.started(0);
 * w.offer(1, 0, 0.02);      // kept
 * w.offer(1, 1_000_000, 0); // counted as rig.output-dropped.ahead
 * w.take(0);                // [null, 0.02, null]
 */
import type { Counters } from '../src/runtime/loop/counters.ts';

/** Frames that may be open at once (started, not closed): the loop closes each frame one period later. */
export const MAX_OPEN_FRAMES = 64;
/** Rough cost of one row: the map entry plus one number per channel. */
const ROW_OVERHEAD_BYTES = 64;
export const OUTPUT_BYTE_BUDGET = 256 * 1024;

export class OutputWindow {
  private readonly rows = new Map<number, (number | null)[]>();
  /** Frames below this are closed. */
  private closedBelow = 0;
  /** Highest frame started. */
  private startedUpTo = -1;
  private bytes = 0;

  constructor(
    private readonly channels: number,
    private readonly counters: Counters,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  started(frame: number): void {
    if (frame > this.startedUpTo) this.startedUpTo = frame;
  }

  /** Channel `channel`'s output for `frame`; kept only inside the window and the budget. */
  offer(channel: number, frame: number, value: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.channels) return this.drop('channel');
    if (frame < this.closedBelow) return this.drop('late');
    if (frame > this.startedUpTo) return this.drop('ahead');
    let row = this.rows.get(frame);
    if (row === undefined) {
      const cost = ROW_OVERHEAD_BYTES + 8 * this.channels;
      if (this.rows.size >= MAX_OPEN_FRAMES || this.bytes + cost > OUTPUT_BYTE_BUDGET) {
        return this.drop('budget');
      }
      row = Array.from({ length: this.channels }, () => null);
      this.rows.set(frame, row);
      this.bytes += cost;
    }
    row[channel] = value;
  }

  /** Closes `frame` and every frame before it; returns `frame`'s row (nulls where nothing came). */
  take(frame: number): (number | null)[] {
    const row = this.rows.get(frame) ?? Array.from({ length: this.channels }, () => null);
    for (const k of [...this.rows.keys()]) {
      if (k <= frame) {
        this.rows.delete(k);
        this.bytes -= ROW_OVERHEAD_BYTES + 8 * this.channels;
      }
    }
    this.closedBelow = Math.max(this.closedBelow, frame + 1);
    return row;
  }

  private drop(reason: string): void {
    this.counters.add(`rig.output-dropped.${reason}`);
  }
}
