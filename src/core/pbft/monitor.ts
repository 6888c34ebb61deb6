/**
 * Primary monitoring: when a backup (or the primary itself) decides the current view is not making progress
 * and votes to leave it.
 *
 * Only evidence that cannot be faked by one faulty client or replica counts against the primary:
 *  - a request counts only once 2f+1 replicas vouch for it (requests.ts, rule V4), timed from when that became
 *    known, so a client whose tag fails only at the primary ("big MAC") cannot get a correct primary blamed;
 *  - a slot counts only from when its PRE-PREPARE was accepted (and its requests are authentic here), never
 *    from a vote: a stray PREPARE for an empty slot starts no timer.
 *
 * Request timer: a replica that waits on such work and sees nothing execute for requestTimeoutTicks votes to
 * leave the view. The primary runs it too: a view whose backups cannot complete agreement must be left even
 * if its primary is correct, or one lagging backup can wedge the group.
 *
 * Rate (Aardvark's idea: a primary must keep up a rate, not merely beat a timeout): in frame mode a backup
 * counts frames that pass without a batch while a request 2f+1 replicas vouch for is unproposed; in size mode
 * it watches how long such a request waits for a PRE-PREPARE while the primary has room to propose.
 */
import type { Ctx } from './context.ts';
import { isPrimary } from './context.ts';

export class Monitor {
  constructor(private readonly ctx: Ctx) {}

  /** Tick in an active view: vote to leave it if the primary is slow or nothing executes. */
  checkTimers(): void {
    const ctx = this.ctx;
    const { s, log } = ctx;
    if (this.proposalOverdue()) {
      ctx.views.start(s.view + 1, 'slow-primary');
      return;
    }
    const limit = s.now - ctx.config.requestTimeoutTicks;
    if (s.progressAt > limit) return;
    let waiting = ctx.requests.blameSince(limit);
    for (const slot of log.values()) {
      if (slot.seq <= s.lastExecuted || !slot.authentic || slot.prePreparedAt === undefined) continue;
      if (slot.prePreparedAt <= limit) waiting = true;
    }
    if (waiting) ctx.views.start(s.view + 1, 'request-timeout');
  }

  /**
   * A control frame: the primary cuts its batch; a backup counts, per request, the frames it waited unproposed
   * while the primary had room, and votes to leave the view when a request 2f+1 replicas vouch for has waited
   * more than maxMissedFrames (the frames before the vouches came count too, so vouching costs no detection
   * time).
   */
  onFrame(): void {
    const ctx = this.ctx;
    if (isPrimary(ctx)) {
      ctx.agreement.cutBatch();
      return;
    }
    if (!ctx.s.active || !this.primaryHasRoom()) return;
    ctx.requests.frameSeen();
    if (ctx.requests.blamedFramesWaited() > ctx.config.maxMissedFrames) {
      ctx.views.start(ctx.s.view + 1, 'slow-primary');
    }
  }

  /**
   * Size mode: a backup vouches for requests that waited vouchDelayTicks unproposed while the primary had room.
   */
  vouchIfWaiting(): void {
    const ctx = this.ctx;
    if (ctx.config.batching.mode !== 'size' || isPrimary(ctx) || !ctx.s.active || !this.primaryHasRoom())
      return;
    ctx.requests.vouchForWaiting();
  }

  /**
   * Size mode monitoring: a request 2f+1 replicas vouch for has waited unproposed, since that became known (or
   * since the view began), for the rest of proposalTimeoutTicks after the vouch delay, although the primary had
   * room to propose it.
   */
  private proposalOverdue(): boolean {
    const ctx = this.ctx;
    if (ctx.config.batching.mode !== 'size' || isPrimary(ctx) || !this.primaryHasRoom()) return false;
    const wait = Math.max(1, ctx.config.proposalTimeoutTicks - ctx.config.vouchDelayTicks);
    const limit = ctx.s.now - wait;
    if (ctx.s.viewActiveSince > limit) return false;
    return ctx.requests.blameUnproposed(limit);
  }

  /**
   * Whether, as far as this backup can see, the primary's window and pipeline allow another batch. Only the
   * gapless run of PRE-PREPAREs above the last executed seq counts as the pipeline (log.prePreparedRunEnd): one
   * PRE-PREPARE of junk far ahead, which a faulty primary can send with its own keys, must not switch the rate
   * monitor off.
   */
  primaryHasRoom(): boolean {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    const filled = log.prePreparedRunEnd(s.lastExecuted);
    return filled < log.high && filled - s.lastExecuted < config.maxInFlight;
  }
}
