/**
 * View change: the VIEW-CHANGE votes this replica holds per view, the NEW-VIEW step (the new primary builds
 * it; backups recompute its decision from its own V set, see new-view.ts), the view-change timer, and the
 * fetch a replica stuck in a view change uses to get the VIEW-CHANGEs it missed.
 *
 * View-change timer (Castro): it starts only once q VIEW-CHANGEs for the view are held, so a lone replica that
 * lost a NEW-VIEW cannot run away through views; on expiry the next view is tried and the timeout doubles (to
 * a ceiling), so after GST some view lasts long enough; it resets when a batch executes.
 *
 * A replica that left its view alone (its timer fired, nobody else's did) stays in view + 1: no timer runs there
 * without q VIEW-CHANGEs, it joins a higher view once f+1 replicas are there (maybeJoin) or the group's next view
 * change (a planned handover included), and meanwhile executes what the group commits in the view it left
 * (learn.ts), so its co-located channel sees every batch in order.
 *
 * What a faulty replica cannot do here, and why:
 *  - move a correct replica's view: a replica leaves its view only on its own timers, on f+1 VIEW-CHANGEs for
 *    higher views (one of them correct) or on a NEW-VIEW that validates completely. An invalid VIEW-CHANGE or
 *    NEW-VIEW is refused and changes nothing; the view-change timer moves past a faulty new primary.
 *  - announce huge views: a VIEW-CHANGE more than maxViewAhead above our view is refused, and no message
 *    above MAX_VIEW is accepted, so view + 1 always stays inside the codec's integer range. A NEW-VIEW above
 *    the window is still accepted when valid (its q signed VIEW-CHANGEs prove f+1 correct replicas are there,
 *    so a faulty replica cannot invent it, and a replica left far behind can rejoin), at most one such
 *    NEW-VIEW per primary per stallTicks is verified.
 *  - make us verify the same thing twice: a VIEW-CHANGE is verified once per (replica, view) (later copies are
 *    duplicates; one that failed after its signature verified marks that replica's vote for that view as
 *    bad), the VIEW-CHANGEs inside a NEW-VIEW that equal ones we hold are not verified again, and a new
 *    primary's NEW-VIEW that failed validation after its signature verified is not looked at again. Cheap
 *    structural checks come before any signature.
 */
import { assert } from '../assert.ts';
import { bytesEqual, hex } from '../bytes.ts';
import { authPayload, encodeMessage } from '../codec/encode.ts';
import type { NewView, ViewChange, ViewChangeFetch } from '../codec/messages.ts';
import { primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, isPrimary, NO_TAG, sendTagged, taggedFromPeer, validReplica } from './context.ts';
import { isHandover } from './handover.ts';
import { decideNewView, type NewViewDecision, sameChoices, type ViewChangeBody } from './new-view.ts';
import type { ReplicaRejection } from './types.ts';
import { payloadOf } from './wire-views.ts';

/**
 * The highest view a replica accepts or moves to. Far above any reachable view (one view change per
 * millisecond takes 142,000 years to get there) and far enough below 2^53 that view + maxViewAhead + 1 is
 * still an exact integer the codec encodes.
 */
export const MAX_VIEW = 2 ** 52;

export type ViewChangeReason =
  | 'request-timeout'
  | 'slow-primary'
  | 'view-change-timeout'
  | 'joined'
  | 'bad-new-view'
  /** A planned view change: the primary hands its view over before a proactive restart (handover.ts). */
  | 'handover'
  /** The primary hands over so that replicas left alone in view + 1 rejoin (checkReunion). */
  | 'reunion';

export class ViewChanges {
  /** The last NEW-VIEW accepted or sent (relayed to peers that missed it). */
  lastNewView: NewView | undefined;
  /** When this replica last left a view. */
  since = 0;
  private readonly votes = new Map<number, Map<ReplicaId, ViewChange>>();
  /** Replicas whose signed VIEW-CHANGE for a view failed validation (their vote for it is not looked at again). */
  private readonly badVotes = new Map<number, Set<ReplicaId>>();
  /** Views whose primary sent a signed NEW-VIEW that failed validation. */
  private readonly badNewViews = new Set<number>();
  /** When each primary's last NEW-VIEW above the window was verified. */
  private readonly lastFarNewView = new Map<ReplicaId, number>();
  private deadline = Number.POSITIVE_INFINITY;
  /** Primary: since when it has held a VIEW-CHANGE for view + 1 from a replica left there (checkReunion). */
  private aheadSince: number | undefined;
  /** The active view as the reunion rule last saw it, and since when (its first tick active). */
  private activeView = -1;
  private activeSince = 0;
  private timeout: number;
  /** The view-change timeout armed last (before it doubled): how long the view it led to gets. */
  private armedTimeout: number;
  /**
   * Until when the view installed last is given time to execute its first batch (see graceUntil).
   * Negative infinity once a batch executed in it, or before any view change.
   */
  private graceEnd = Number.NEGATIVE_INFINITY;
  private readonly lastFetchServed = new Map<ReplicaId, number>();

  constructor(private readonly ctx: Ctx) {
    this.timeout = ctx.config.viewChangeTimeoutTicks;
    this.armedTimeout = ctx.config.viewChangeTimeoutTicks;
  }

  /**
   * Castro's view-change timer runs on after NEW-VIEW until a request executes in the new view: a view just
   * installed must re-run agreement for every slot its NEW-VIEW carried over (up to a checkpoint interval of
   * them) behind the NEW-VIEW itself on a slow link, so the request timer and the rate monitor (monitor.ts)
   * wait, until this tick, the view-change timeout that led here (doubled on each view change without
   * progress) before blaming the new primary. With the fixed request timeout instead, every new primary on a
   * 921600-baud serial mesh timed out its own view before its first batch committed, and its VIEW-CHANGE
   * moved its backups at once (handover.ts): a livelock through the views (bench/links/virtual-can.ts).
   * In frame mode the monitor narrows this to what re-agreement needs (monitor.ts, header): the new primary's
   * frame rate is watched again once its re-proposals are here, or stopped coming.
   */
  get graceUntil(): number {
    return this.graceEnd;
  }

  /** VIEW-CHANGEs held (all views). */
  get held(): number {
    let n = 0;
    for (const m of this.votes.values()) n += m.size;
    return n;
  }

  /** Our own VIEW-CHANGE for the current view, if we sent one. */
  own(): ViewChange | undefined {
    return this.votes.get(this.ctx.s.view)?.get(this.ctx.id);
  }

  /** A batch executed: the next view change starts from the first timeout again. */
  progressed(): void {
    this.timeout = this.ctx.config.viewChangeTimeoutTicks;
    this.graceEnd = Number.NEGATIVE_INFINITY;
  }

  /** A checkpoint became stable: forget VIEW-CHANGEs for views below ours. */
  pruneBelowCurrent(): void {
    this.forgetBelow(this.ctx.s.view);
  }

  /** Every view held lies in [view, view + maxViewAhead], one vote per replica and view. */
  checkInvariants(): void {
    const { s, config } = this.ctx;
    const views = [...this.votes.keys(), ...this.badVotes.keys(), ...this.badNewViews];
    for (const v of views) {
      assert(
        v >= s.view && v <= s.view + config.maxViewAhead,
        'view-change state for a view outside the window',
        {
          v,
          view: s.view,
        },
      );
    }
    for (const [v, byReplica] of this.votes) {
      assert(byReplica.size <= config.n, 'more VIEW-CHANGEs than replicas', { v, size: byReplica.size });
      for (const [r, vc] of byReplica)
        assert(vc.replica === r && vc.newView === v, 'VIEW-CHANGE filed wrongly', { v, r });
    }
  }

  /**
   * Tick of an active primary: bring back replicas left alone in view + 1. A correct replica can leave a view
   * alone (its request timer fired on a stall or a lost vote; learn.ts keeps it executing what the group commits)
   * and can never come back down: a VIEW-CHANGE cannot be withdrawn. It rejoins at the group's next view change,
   * which a group whose primary is fine may never have; meanwhile the group orders with one replica fewer (with
   * n = 4, none to spare). So once the primary has held a VIEW-CHANGE for view + 1 from fewer than f+1 replicas
   * (f+1 would move the group anyway, maybeJoin) for reunionWaitTicks, it hands its view over (handover.ts): the
   * group moves to view + 1 and those replicas are in it again. Safe as every view change is. What a faulty
   * replica gains: sending such VIEW-CHANGEs, it makes the group change view at most once per
   * reunionEveryTicks, because a primary hands over for a reunion only once its view has been active that long
   * (every primary judges its own view, so a new primary cannot be pushed at once), and a handover costs a
   * planned view change (no request timeout; in the control loop the actuator misses no frame).
   */
  checkReunion(): void {
    const ctx = this.ctx;
    const { s, config } = ctx;
    if (s.active && s.view !== this.activeView) {
      this.activeView = s.view;
      this.activeSince = s.now;
    }
    if (!s.active || !isPrimary(ctx)) {
      this.aheadSince = undefined;
      return;
    }
    const ahead = this.votes.get(s.view + 1);
    if (ahead === undefined || ahead.size === 0 || ahead.size > config.f) {
      this.aheadSince = undefined;
      return;
    }
    this.aheadSince ??= s.now;
    if (s.now - this.aheadSince < config.reunionWaitTicks) return;
    if (s.now - this.activeSince < config.reunionEveryTicks) return;
    this.aheadSince = undefined;
    this.start(s.view + 1, 'reunion');
  }

  /** Tick while a view change is under way: on expiry of the view-change timer try the next view. */
  checkTimer(): void {
    if (this.ctx.s.now >= this.deadline) this.start(this.ctx.s.view + 1, 'view-change-timeout');
  }

  /** Leave the current view for `view`: multicast our signed VIEW-CHANGE with our P and Q entries. */
  start(view: number, reason: ViewChangeReason): void {
    const ctx = this.ctx;
    const { s, log } = ctx;
    if (view <= s.view && !(view === s.view && s.active)) return;
    if (view > MAX_VIEW) return; // unreachable in practice; staying put is the only safe move left
    if (s.active) ctx.agreement.markHeldClients(); // rule V5 (requests.ts)
    s.view = view;
    s.active = false;
    this.forgetBelow(view);
    ctx.early.clear();
    this.since = s.now;
    this.deadline = Number.POSITIVE_INFINITY;
    const { prepared, prePrepared } = log.certificates();
    const stableProof = ctx.checkpoints.stableProof;
    const unsigned: ViewChange = {
      kind: 'view-change',
      newView: view,
      replica: ctx.id,
      stableSeq: log.low,
      stableDigest: stableProof[0]?.stateDigest ?? new Uint8Array(32),
      checkpointProof: log.low > 0 ? stableProof : [],
      prepared,
      prePrepared,
      signature: new Uint8Array(64),
    };
    const message: ViewChange = { ...unsigned, signature: ctx.crypto.sign(authPayload(unsigned)) };
    this.record(message);
    ctx.out.multicast(message, encodeMessage(message));
    ctx.out.emit({ type: 'view-change', view, reason });
    this.armTimer();
    this.tryNewView();
  }

  onViewChange(from: number, vc: ViewChange, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, config, out } = ctx;
    if (vc.replica === ctx.id) return; // our own, relayed back by a peer
    if (!validReplica(config, vc.replica)) {
      out.reject('bad-replica-id', from, vc.kind);
      return;
    }
    if (vc.newView > MAX_VIEW) {
      out.reject('view-out-of-range', from, vc.kind);
      return;
    }
    if (vc.newView < s.view || (vc.newView === s.view && s.active)) return; // stale
    if (vc.newView > s.view + config.maxViewAhead) {
      out.reject('view-too-far', from, vc.kind);
      return;
    }
    if (this.votes.get(vc.newView)?.has(vc.replica) === true) return; // first one per replica counts
    if (this.badVotes.get(vc.newView)?.has(vc.replica) === true) return; // already found invalid
    const problem = this.check(vc, vc.newView, payloadOf(bytes, vc));
    if (problem !== undefined) {
      if (problem.signed) this.markBadVote(vc.newView, vc.replica);
      out.reject(problem.reason, from, vc.kind);
      return;
    }
    this.record(vc);
    if (isHandover(s, config, vc)) this.start(vc.newView, 'handover');
    else this.maybeJoin();
    this.armTimer();
    this.tryNewView();
  }

  /**
   * A VIEW-CHANGE is valid on its own: well formed, signed by its replica, checkpoint proven, entries below its
   * view. Structure is checked before the signature; `signed` says whether the signature had verified (then the
   * failure is its replica's own doing).
   */
  private check(
    vc: ViewChangeBody,
    view: number,
    payload: Uint8Array,
  ): { reason: ReplicaRejection; signed: boolean } | undefined {
    const ctx = this.ctx;
    const { config } = ctx;
    const malformed = { reason: 'bad-view-change' as const, signed: false };
    if (vc.newView !== view || !validReplica(config, vc.replica)) return malformed;
    if (vc.stableSeq % config.checkpointInterval !== 0) return malformed;
    if (
      vc.stableSeq > 0 &&
      (vc.checkpointProof.length < ctx.quorums.checkpointProof || vc.checkpointProof.length > config.n)
    ) {
      return malformed;
    }
    // One entry per sequence number of the window in each set, each from an earlier view.
    if (vc.prepared.length > config.watermarkWindow || vc.prePrepared.length > config.watermarkWindow)
      return malformed;
    for (const e of vc.prepared) if (e.view >= vc.newView) return malformed;
    for (const e of vc.prePrepared) if (e.view >= vc.newView) return malformed;
    if (!ctx.crypto.verifySignature(vc.replica, payload, vc.signature)) {
      return { reason: 'bad-signature', signed: false };
    }
    if (vc.stableSeq > 0 && !ctx.checkpoints.validProof(vc.stableSeq, vc.stableDigest, vc.checkpointProof)) {
      return { reason: 'bad-view-change', signed: true };
    }
    return undefined;
  }

  private markBadVote(view: number, replica: ReplicaId): void {
    let set = this.badVotes.get(view);
    if (set === undefined) {
      set = new Set();
      this.badVotes.set(view, set);
    }
    set.add(replica);
  }

  /** Stuck in a view change: ask every peer for the VIEW-CHANGEs (and NEW-VIEW) it holds for our view. */
  fetch(): void {
    const ctx = this.ctx;
    for (const to of ctx.others) {
      const unsigned: ViewChangeFetch = {
        kind: 'view-change-fetch',
        view: ctx.s.view,
        replica: ctx.id,
        tag: NO_TAG,
      };
      sendTagged(ctx, to, unsigned);
    }
  }

  /** Relay the signed VIEW-CHANGEs we hold for the asked view (they verify whoever forwards them). */
  onFetch(from: number, m: ViewChangeFetch, bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (!taggedFromPeer(ctx, from, m, bytes)) return;
    const last = this.lastFetchServed.get(m.replica) ?? Number.NEGATIVE_INFINITY;
    if (ctx.s.now - last < ctx.config.stallTicks / 2) return;
    this.lastFetchServed.set(m.replica, ctx.s.now);
    for (const vc of this.votes.get(m.view)?.values() ?? []) ctx.out.send(m.replica, vc, encodeMessage(vc));
    const nv = this.lastNewView;
    if (nv !== undefined && nv.view >= m.view) ctx.out.send(m.replica, nv, encodeMessage(nv));
  }

  private record(vc: ViewChange): void {
    let byReplica = this.votes.get(vc.newView);
    if (byReplica === undefined) {
      byReplica = new Map();
      this.votes.set(vc.newView, byReplica);
    }
    if (!byReplica.has(vc.replica)) byReplica.set(vc.replica, vc);
  }

  /** f+1 replicas want a view above ours: at least one is correct, so join the smallest such view. */
  private maybeJoin(): void {
    const ctx = this.ctx;
    const lowest = new Map<ReplicaId, number>();
    for (const [view, byReplica] of this.votes) {
      if (view <= ctx.s.view) continue;
      for (const r of byReplica.keys()) lowest.set(r, Math.min(view, lowest.get(r) ?? view));
    }
    if (lowest.size < ctx.quorums.joinViewChange) return;
    this.start(Math.min(...lowest.values()), 'joined');
  }

  /** New primary: once the VIEW-CHANGEs it holds decide every sequence number, send NEW-VIEW. */
  private tryNewView(): void {
    const ctx = this.ctx;
    if (ctx.s.active || !isPrimary(ctx)) return;
    const set = [...(this.votes.get(ctx.s.view)?.values() ?? [])];
    const decision = this.decide(set);
    if (!decision.ok) return;
    const unsigned: NewView = {
      kind: 'new-view',
      view: ctx.s.view,
      replica: ctx.id,
      viewChanges: set,
      prePrepares: decision.chosen,
      signature: new Uint8Array(64),
    };
    const message: NewView = { ...unsigned, signature: ctx.crypto.sign(authPayload(unsigned)) };
    ctx.out.multicast(message, encodeMessage(message));
    this.install(message, decision);
  }

  private decide(set: readonly ViewChangeBody[]): NewViewDecision {
    const { config, nullDigest, quorums } = this.ctx;
    return decideNewView(set, quorums, config.watermarkWindow, nullDigest);
  }

  /**
   * Backups accept a NEW-VIEW only if its V set is at least q valid VIEW-CHANGEs for that view (at most one per
   * replica) and recomputing the decision from V gives exactly its list. Anything else is refused and changes
   * nothing: the view-change timer, not the faulty primary's message, moves this replica on.
   */
  onNewView(from: number, nv: NewView, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, config, out } = ctx;
    if (nv.view > MAX_VIEW) {
      out.reject('view-out-of-range', from, nv.kind);
      return;
    }
    if (nv.view < s.view || (nv.view === s.view && s.active)) return; // stale or a duplicate
    if (nv.replica !== primaryOf(config, nv.view)) {
      out.reject('not-from-primary', from, nv.kind);
      return;
    }
    if (!this.wellFormed(nv)) {
      out.reject('bad-new-view', from, nv.kind);
      return;
    }
    if (this.badNewViews.has(nv.view)) return; // its primary already sent an invalid one
    const far = nv.view > s.view + config.maxViewAhead;
    if (far) {
      const last = this.lastFarNewView.get(nv.replica) ?? Number.NEGATIVE_INFINITY;
      if (s.now - last < config.stallTicks) {
        out.reject('rate-limited', from, nv.kind);
        return;
      }
    }
    if (!ctx.crypto.verifySignature(nv.replica, payloadOf(bytes, nv), nv.signature)) {
      out.reject('bad-signature', from, nv.kind);
      return;
    }
    if (far) this.lastFarNewView.set(nv.replica, s.now);
    const decision = this.validate(nv);
    if (decision === undefined) {
      if (!far) this.badNewViews.add(nv.view);
      out.reject('bad-new-view', from, nv.kind);
      return;
    }
    s.view = nv.view;
    this.install(nv, decision);
  }

  /** Structure alone (no signature): q..n VIEW-CHANGEs, one per replica, all for this view. */
  private wellFormed(nv: NewView): boolean {
    const { config, quorums } = this.ctx;
    if (nv.viewChanges.length < quorums.viewChanges || nv.viewChanges.length > config.n) return false;
    const signers = new Set<ReplicaId>();
    for (const vc of nv.viewChanges) {
      if (vc.newView !== nv.view || !validReplica(config, vc.replica) || signers.has(vc.replica))
        return false;
      signers.add(vc.replica);
    }
    return true;
  }

  /** Every VIEW-CHANGE of V valid and the decision recomputed from V equal to the NEW-VIEW's list. */
  private validate(nv: NewView): (NewViewDecision & { ok: true }) | undefined {
    const held = this.votes.get(nv.view);
    for (const vc of nv.viewChanges) {
      const payload = authPayload({ kind: 'view-change', ...vc });
      const known = held?.get(vc.replica);
      // One we verified already (same bytes, same signature) needs no second verification.
      if (
        known !== undefined &&
        bytesEqual(known.signature, vc.signature) &&
        bytesEqual(authPayload(known), payload)
      ) {
        continue;
      }
      if (this.check(vc, nv.view, payload) !== undefined) return undefined;
    }
    const decision = this.decide(nv.viewChanges);
    if (!decision.ok || !sameChoices(decision.chosen, nv.prePrepares)) return undefined;
    return decision;
  }

  private install(nv: NewView, decision: NewViewDecision & { ok: true }): void {
    const ctx = this.ctx;
    const { s, log } = ctx;
    s.active = true;
    this.deadline = Number.POSITIVE_INFINITY;
    this.lastNewView = nv;
    s.progressAt = s.now;
    s.viewActiveSince = s.now;
    this.graceEnd = s.now + Math.max(this.armedTimeout, ctx.config.requestTimeoutTicks);
    if (decision.stableSeq > log.low && decision.proofFrom !== undefined) {
      ctx.checkpoints.adopt(decision.stableSeq, decision.proofFrom.checkpointProof);
    }
    // Agreement restarts in the new view; P and Q entries survive for the next view change.
    log.resetForView(s.view);
    ctx.requests.resetInFlight();
    let reproposed = 0;
    for (const c of nv.prePrepares) {
      if (!log.inWindow(c.seq)) continue;
      const slot = log.slot(c.seq, s.view, s.now);
      slot.fixedDigestHex = hex(c.batchDigest);
      slot.fixedDigest = c.batchDigest;
      reproposed++;
    }
    ctx.batches.dropUnreferenced(log);
    s.lastAssigned = Math.max(log.low, ...nv.prePrepares.map((c) => c.seq));
    this.forgetBelow(s.view + 1);
    ctx.out.emit({ type: 'new-view', view: s.view, stableSeq: decision.stableSeq, reproposed });
    if (isPrimary(ctx)) {
      for (const c of nv.prePrepares) ctx.agreement.reproposeIfKnown(c.seq);
      ctx.fetcher.fetchMissing();
      if (ctx.config.batching.mode === 'size') ctx.agreement.cutBatches();
    }
    for (const e of ctx.early.drain()) {
      if (e.message.kind === 'pre-prepare') ctx.agreement.onPrePrepare(e.from, e.message, e.bytes);
      else if (e.message.kind === 'prepare') ctx.agreement.onPrepare(e.from, e.message, e.bytes);
      else ctx.agreement.onCommit(e.from, e.message, e.bytes);
    }
  }

  /** Forget votes and verdicts for views below `view`. */
  private forgetBelow(view: number): void {
    for (const v of this.votes.keys()) if (v < view) this.votes.delete(v);
    for (const v of this.badVotes.keys()) if (v < view) this.badVotes.delete(v);
    for (const v of this.badNewViews) if (v < view) this.badNewViews.delete(v);
  }

  /** Start the view-change timer once q VIEW-CHANGEs for the current view are in. */
  private armTimer(): void {
    const ctx = this.ctx;
    if (ctx.s.active || this.deadline !== Number.POSITIVE_INFINITY) return;
    if ((this.votes.get(ctx.s.view)?.size ?? 0) < ctx.quorums.viewChanges) return;
    this.deadline = ctx.s.now + this.timeout;
    this.armedTimeout = this.timeout;
    this.timeout = Math.min(2 * this.timeout, ctx.config.maxViewChangeTimeoutTicks);
  }
}
