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
 *
 * Head of the pipeline (frame mode): the oldest slot above the last executed one that the primary owes (it holds
 * a PRE-PREPARE of this view, or a NEW-VIEW fixed it) may stand still at most maxMissedFrames frames. Batches
 * execute strictly in order, so a faulty primary that fills its pipeline with PRE-PREPAREs that cannot execute
 * (requests no replica can authenticate, a different batch per backup: anything it can send with its own keys)
 * stops every later batch, and the room rule alone would excuse it (its pipeline looks full). Time is what a
 * faulty client or replica cannot fake here: after GST a correct primary's batch executes within a few message
 * delays of its PRE-PREPARE, whatever the others send, since the correct backups' votes complete it. A client
 * whose tags verify at the primary and at fewer than f backups gets a batch that cannot prepare once, and that
 * costs a correct primary its view; then it is vouch-first (requests.ts V5 to V7, the bound in replica.ts).
 *
 * A new view (Castro: the view-change timer runs on after NEW-VIEW until something executes) gets, in frame
 * mode, exactly what re-running agreement on its carried-over slots needs, and no more:
 *  - carried-over slots whose PRE-PREPAREs are here may take until the first execution (or graceUntil, the
 *    view-change timeout) to re-agree: on a slow link that is many frames (the livelock fixed in 2b5497a);
 *  - the re-proposals themselves are due with the NEW-VIEW (a correct new primary sends every batch it holds
 *    with it, and fetches a missing one in a round trip): stallTicks after the install a carried-over head
 *    still without its PRE-PREPARE is judged like any head; the rate rule starts once none arrived for
 *    stallTicks;
 *  - the rate rule starts as soon as every re-proposal is here (if they leave the primary room), with the
 *    frames counted from then: after its re-proposals, a new primary keeps the frame rate like any primary.
 * Bound (frame mode, after GST): a new primary that proposes nothing after its NEW-VIEW is voted out
 * maxMissedFrames + 1 frames after its re-proposals are all here (or after the first batch executed, if that
 * came first); one that withholds a re-proposal, max(maxMissedFrames + 1 frames, stallTicks and a frame) after
 * the install and after that slot became the oldest, whatever else it re-proposes meanwhile; a head slot that
 * is a new proposal gets no grace at all. With the shipped laptop config (3 frames, stallTicks 4 frames at
 * 50 Hz) the HIL scenario replica-install-stall loses 6 frames in all, against 26 (and 17 failsafe frames)
 * with the view-change timeout as the grace.
 * Not covered: size mode keeps the request timer and graceUntil as its bounds.
 */
import type { Ctx } from './context.ts';
import { isPrimary } from './context.ts';

export class Monitor {
  /** Frame mode: the oldest owed slot as last seen at a frame, and the frames it has stood still since. */
  private head = { seq: 0, view: -1, prePrepared: false, frames: 0 };
  /** Frame mode: the view whose new-view excuse (rateExcused) this backup saw, and whether it ended. */
  private excuse = { view: -1, ended: true };

  constructor(private readonly ctx: Ctx) {}

  /** Tick in an active view: vote to leave it if the primary is slow or nothing executes. */
  checkTimers(): void {
    const ctx = this.ctx;
    const { s, log } = ctx;
    if (s.now < ctx.views.graceUntil) return; // a new view's first batch is still on its way (view-change.ts)
    if (this.proposalOverdue()) {
      ctx.views.start(s.view + 1, 'slow-primary');
      return;
    }
    const limit = s.now - ctx.config.requestTimeoutTicks;
    if (s.progressAt > limit) return;
    let waiting = ctx.requests.waiting.blameSince(limit);
    for (const slot of log.values()) {
      if (slot.seq <= s.lastExecuted || !slot.authentic || slot.prePreparedAt === undefined) continue;
      if (slot.prePreparedAt <= limit) waiting = true;
    }
    if (waiting) ctx.views.start(s.view + 1, 'request-timeout');
  }

  /**
   * A control frame: the primary cuts its batch; a backup votes to leave the view when the head of the
   * pipeline stood still too long (headOverdue), or counts, per request, the frames it waited unproposed while
   * the primary had room, and votes to leave the view when a request 2f+1 replicas vouch for has waited more
   * than maxMissedFrames (the frames before the vouches came count too, so vouching costs no detection time).
   * A replica still `recovering` (recovering.ts) lags by construction and suspects nobody.
   */
  onFrame(recovering = false): void {
    const ctx = this.ctx;
    if (isPrimary(ctx)) {
      ctx.agreement.cutBatch();
      return;
    }
    if (!ctx.s.active || recovering) return;
    const headFrames = this.headStoodStill();
    const excused = this.rateExcused();
    if (this.headOverdue(headFrames, excused)) {
      ctx.views.start(ctx.s.view + 1, 'slow-primary');
      return;
    }
    if (!this.primaryHasRoom()) return;
    ctx.requests.frameSeen();
    if (excused) return;
    if (ctx.requests.waiting.blamedFramesWaited() > ctx.config.maxMissedFrames) {
      ctx.views.start(ctx.s.view + 1, 'slow-primary');
    }
  }

  /**
   * Frames the oldest slot above the last executed one has stood still, counted at frames since its
   * PRE-PREPARE arrived, since it became the oldest, or since the view began (0 when the primary owes nothing
   * there: no PRE-PREPARE and no NEW-VIEW choice, so a stray vote for an empty slot starts nothing).
   */
  private headStoodStill(): number {
    const { s, log } = this.ctx;
    const seq = s.lastExecuted + 1;
    const slot = log.get(seq);
    const prePrepared = slot?.prePrepare !== undefined;
    const owed = prePrepared || slot?.fixedDigestHex !== undefined;
    const h = this.head;
    if (!owed || h.seq !== seq || h.view !== s.view || h.prePrepared !== prePrepared) {
      this.head = { seq, view: s.view, prePrepared, frames: 0 };
      return 0;
    }
    h.frames++;
    return h.frames;
  }

  /**
   * Whether the head has stood still longer than the primary is allowed: maxMissedFrames frames for a new
   * proposal; for a slot a NEW-VIEW carried over, that once stallTicks passed since the install or the
   * re-proposals stopped coming (without its PRE-PREPARE) or once the new view's first batch executed or its
   * grace ran out (with it: re-agreement on a slow link takes what it takes, view-change.ts graceUntil).
   */
  private headOverdue(frames: number, excused: boolean): boolean {
    const { s, log, config, views } = this.ctx;
    if (frames <= config.maxMissedFrames) return false;
    const slot = log.get(s.lastExecuted + 1);
    if (slot === undefined || slot.fixedDigestHex === undefined) return true;
    if (slot.prePrepare !== undefined) return s.now >= views.graceUntil;
    // Its re-proposal is owed: a correct new primary sends every batch it holds with its NEW-VIEW and fetches a
    // missing one in a round trip, so later re-proposals trickling in do not excuse this one past stallTicks.
    return !excused || s.now - s.viewActiveSince > config.stallTicks;
  }

  /**
   * Frame mode: whether a new view's primary is still excused from the frame rate (see the header): inside
   * graceUntil, while its carried-over slots fill its pipeline, or while re-proposals are missing here and
   * one arrived (or the view began) within stallTicks. When the excuse ends before graceUntil (everything
   * arrived, the re-proposals stopped, or a batch executed) the frames requests waited so far are forgotten:
   * the primary is watched like any primary from this frame on.
   */
  private rateExcused(): boolean {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    const until = ctx.views.graceUntil;
    let excused = false;
    if (s.now < until) {
      let lastFixed = s.lastExecuted;
      let missing = false;
      let lastArrival = s.viewActiveSince;
      for (const slot of log.values()) {
        if (slot.fixedDigestHex === undefined) continue;
        if (slot.prePreparedAt !== undefined && slot.prePreparedAt > lastArrival)
          lastArrival = slot.prePreparedAt;
        if (slot.seq <= s.lastExecuted) continue;
        if (slot.seq > lastFixed) lastFixed = slot.seq;
        if (slot.prePrepare === undefined) missing = true;
      }
      excused =
        lastFixed - s.lastExecuted >= config.maxInFlight ||
        (missing && s.now - lastArrival <= config.stallTicks);
    }
    if (excused) {
      this.excuse = { view: s.view, ended: false };
      return true;
    }
    if (this.excuse.view === s.view && !this.excuse.ended) {
      this.excuse.ended = true;
      // Ended early (not by the grace running out): what waited during re-agreement does not count.
      if (s.now < until || until === Number.NEGATIVE_INFINITY) ctx.requests.restartFrameCounts();
    }
    return false;
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
    return ctx.requests.waiting.blameUnproposed(limit);
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
