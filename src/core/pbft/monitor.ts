/**
 * Primary monitoring: when a backup (or the primary itself) decides the current view is not making progress
 * and votes to leave it.
 *
 * Request timer: a replica that waits on work it can check itself (a request it authenticated, or a slot whose
 * agreement started) and sees nothing execute for requestTimeoutTicks votes to leave the view. The primary
 * runs it too: a view whose backups cannot complete agreement must be left even if its primary is correct,
 * or one lagging backup can wedge the group.
 *
 * Rate (Aardvark's idea: a primary must keep up a rate, not merely beat a timeout): in frame mode a backup
 * counts frames that pass without a batch while it holds unproposed requests; in size mode it watches how long
 * a request it authenticated waits for a PRE-PREPARE while the primary has room to propose.
 */
import type { Ctx } from './context.ts';
import { isPrimary } from './context.ts';

export class Monitor {
  /** Frames seen without a batch while holding unproposed requests (frame-mode primary monitoring). */
  private missedFrames = 0;

  constructor(private readonly ctx: Ctx) {}

  /** A PRE-PREPARE was accepted: the primary is proposing. */
  batchSeen(): void {
    this.missedFrames = 0;
  }

  /** This replica left the view: the count starts again in the next one. */
  viewLeft(): void {
    this.missedFrames = 0;
  }

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
    let waiting = ctx.requests.waitingSince(limit);
    for (const slot of log.values()) {
      if (slot.seq > s.lastExecuted && slot.prePrepare !== undefined && slot.firstSeen <= limit)
        waiting = true;
    }
    if (waiting) ctx.views.start(s.view + 1, 'request-timeout');
  }

  /** A control frame: the primary cuts its batch; a backup counts frames it waited on a batch. */
  onFrame(): void {
    const ctx = this.ctx;
    if (isPrimary(ctx)) {
      ctx.agreement.cutBatch();
      return;
    }
    if (!ctx.s.active || !this.primaryHasRoom() || ctx.requests.proposableCount() === 0) {
      this.missedFrames = 0;
      return;
    }
    this.missedFrames++;
    if (this.missedFrames > ctx.config.maxMissedFrames) ctx.views.start(ctx.s.view + 1, 'slow-primary');
  }

  /**
   * Size mode monitoring: a request we authenticated has waited proposalTimeoutTicks (since it arrived or the
   * view began) for a PRE-PREPARE although the primary had room to propose it.
   */
  private proposalOverdue(): boolean {
    const ctx = this.ctx;
    if (ctx.config.batching.mode !== 'size' || isPrimary(ctx) || !this.primaryHasRoom()) return false;
    const limit = ctx.s.now - ctx.config.proposalTimeoutTicks;
    if (ctx.s.viewActiveSince > limit) return false;
    return ctx.requests.unproposedSince(limit);
  }

  /** Whether, as far as this backup can see, the primary's window and pipeline allow another batch. */
  private primaryHasRoom(): boolean {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    const highest = log.highestPrePrepared(s.lastExecuted);
    return highest < log.high && highest - s.lastExecuted < config.maxInFlight;
  }
}
