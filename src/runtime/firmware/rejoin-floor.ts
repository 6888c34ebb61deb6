/**
 * The rejoin floor, shared by the TypeScript VoterHost and mirrored by the firmware (firmware-bridge/src/rejoin.h,
 * the same rule in C): after a voter restarts, OUTPUTs for frames before the one it rejoined at are refused, and
 * for the rejoin frame itself once its deadline has decided it. A restarted voter holds no receipts for those
 * frames (it refused the rejoin frame's in-time copies as too far ahead: it skips there only at the deadline),
 * so every copy would pass its duplicate check and count as late against its channel; after a restart the only
 * copies of them still about are old ones, which anyone on the network can replay (every correct channel
 * would look late).
 *
 * The rejoin frame is the frame the board is in when the voter is back: VoterHost knows it (the frame it was
 * armed at); the firmware learns it from the first DELIVER or TICK after its restart (a TICK names its frame, a
 * DELIVER carries the rig's time, which lies in that frame). Both arrive within that frame, so both learn the
 * same one.
 *
 * @example
 * const floor = new RejoinFloor();
 * floor.rejoined(14);        // back in frame 14
 * floor.refuses(13);         // true: from before the restart
 * floor.deadlineDecided(14); // frame 14 decided at its deadline: its later copies are old ones too
 */
export class RejoinFloor {
  /** Frames below it are refused. */
  private below = 0;
  /** The rejoin frame, until its deadline has decided it. */
  private joining: number | undefined;

  /** The voter restarted and is back in frame `frame` (a fresh start needs no call: nothing is refused). */
  rejoined(frame: number): void {
    this.below = frame;
    this.joining = frame;
  }

  /** Whether an OUTPUT for `frame` is from before the restart (the caller counts it 'before-reset'). */
  refuses(frame: number): boolean {
    return frame < this.below;
  }

  /** Frame `frame` was decided at its deadline: once that is the rejoin frame, the floor moves past it. */
  deadlineDecided(frame: number): void {
    if (frame !== this.joining) return;
    this.below = frame + 1;
    this.joining = undefined;
  }
}
