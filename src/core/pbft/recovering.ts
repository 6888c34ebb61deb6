/**
 * A replica restarted from scratch by proactive recovery (Castro and Liskov, OSDI 2000) starts in view 0 with
 * nothing executed and fresh session keys. Until it has executed past its recovery point it is behind by
 * construction: batches between the stable checkpoint and now reach it as relayed PRE-PREPAREs whose
 * authenticators were made under keys it no longer holds, so it waits for the next stable checkpoint (state
 * transfer) and the batches proposed under the new keys. Its own suspicion timers (request timeout, slow
 * primary, view-change timeout) would only blame a primary that is fine and take it into a view of its own,
 * so while recovering it starts no view change itself: it still joins one that f+1 replicas start, and follows
 * a valid NEW-VIEW. While recovering it counts as one of the faulty anyway (the fault budget n >= 3f+2k+1).
 *
 * @example
 * new Replica({ id: 2, config, crypto, service, recoveryPoint: 812 }); // quiet until it executed 812
 */
export class Recovering {
  private done: boolean;

  constructor(private readonly point: number | undefined) {
    this.done = point === undefined;
  }

  /** Whether the replica is still recovering at `lastExecuted` (once past the point, never again). */
  recovering(lastExecuted: number): boolean {
    if (this.done) return false;
    if (lastExecuted >= (this.point ?? 0)) this.done = true;
    return !this.done;
  }
}
