/**
 * View change: the VIEW-CHANGE votes this replica holds per view, the NEW-VIEW step (the new primary builds
 * it; backups recompute its decision from its own V set, see new-view.ts), the view-change timer, and the
 * fetch a replica stuck in a view change uses to get the VIEW-CHANGEs it missed.
 *
 * View-change timer (Castro): it starts only once q VIEW-CHANGEs for the view are held, so a lone replica that
 * lost a NEW-VIEW cannot run away through views; on expiry the next view is tried and the timeout doubles (to
 * a ceiling), so after GST some view lasts long enough; it resets when a batch executes.
 */
import { hex } from '../bytes.ts';
import { authPayload, encodeMessage } from '../codec/encode.ts';
import type { NewView, ViewChange, ViewChangeFetch } from '../codec/messages.ts';
import { primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, isPrimary, NO_TAG, sendTagged, taggedFromPeer, validReplica } from './context.ts';
import { decideNewView, type NewViewDecision, sameChoices, type ViewChangeBody } from './new-view.ts';
import type { ReplicaRejection } from './types.ts';

export type ViewChangeReason =
  | 'request-timeout'
  | 'slow-primary'
  | 'view-change-timeout'
  | 'joined'
  | 'bad-new-view';

export class ViewChanges {
  /** The last NEW-VIEW accepted or sent (relayed to peers that missed it). */
  lastNewView: NewView | undefined;
  /** When this replica last left a view. */
  since = 0;
  private readonly votes = new Map<number, Map<ReplicaId, ViewChange>>();
  private deadline = Number.POSITIVE_INFINITY;
  private timeout: number;
  private readonly lastFetchServed = new Map<ReplicaId, number>();

  constructor(private readonly ctx: Ctx) {
    this.timeout = ctx.config.viewChangeTimeoutTicks;
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
  }

  /** A checkpoint became stable: forget VIEW-CHANGEs for views below ours. */
  pruneBelowCurrent(): void {
    for (const v of this.votes.keys()) if (v < this.ctx.s.view) this.votes.delete(v);
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
    s.view = view;
    s.active = false;
    ctx.early.clear();
    ctx.monitor.viewLeft();
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

  onViewChange(from: number, vc: ViewChange): void {
    const ctx = this.ctx;
    const { s, config, out } = ctx;
    if (vc.replica === ctx.id) return; // our own, relayed back by a peer
    if (!validReplica(config, vc.replica)) {
      out.reject('bad-replica-id', from, vc.kind);
      return;
    }
    if (vc.newView < s.view || (vc.newView === s.view && s.active)) return; // stale
    if (vc.newView > s.view + config.maxViewAhead) {
      out.reject('view-too-far', from, vc.kind);
      return;
    }
    if (this.votes.get(vc.newView)?.has(vc.replica) === true) return; // first one per replica counts
    const problem = this.check(vc, vc.newView);
    if (problem !== undefined) {
      out.reject(problem, from, vc.kind);
      return;
    }
    this.record(vc);
    this.maybeJoin();
    this.armTimer();
    this.tryNewView();
  }

  /** A VIEW-CHANGE is valid on its own: signed by its replica, checkpoint proven, entries below its view. */
  private check(vc: ViewChangeBody, view: number): ReplicaRejection | undefined {
    const ctx = this.ctx;
    if (vc.newView !== view || !validReplica(ctx.config, vc.replica)) return 'bad-view-change';
    const payload = authPayload({ kind: 'view-change', ...vc });
    if (!ctx.crypto.verifySignature(vc.replica, payload, vc.signature)) return 'bad-signature';
    if (vc.stableSeq > 0 && !ctx.checkpoints.validProof(vc.stableSeq, vc.stableDigest, vc.checkpointProof)) {
      return 'bad-view-change';
    }
    for (const e of [...vc.prepared, ...vc.prePrepared]) if (e.view >= vc.newView) return 'bad-view-change';
    return undefined;
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
    const { config, nullDigest } = this.ctx;
    return decideNewView(set, config.f, config.watermarkWindow, nullDigest);
  }

  /**
   * Backups accept a NEW-VIEW only if its V set is q valid VIEW-CHANGEs for that view and recomputing the
   * decision from V gives exactly its list. A valid NEW-VIEW proves q replicas moved there, so (unlike a
   * lone VIEW-CHANGE) it is accepted for any higher view: a replica left far behind can rejoin.
   */
  onNewView(from: number, nv: NewView): void {
    const ctx = this.ctx;
    const { s, config, out } = ctx;
    if (nv.view < s.view || (nv.view === s.view && s.active)) return; // stale or a duplicate
    if (nv.replica !== primaryOf(config, nv.view)) {
      out.reject('not-from-primary', from, nv.kind);
      return;
    }
    if (!ctx.crypto.verifySignature(nv.replica, authPayload(nv), nv.signature)) {
      out.reject('bad-signature', from, nv.kind);
      return;
    }
    const signers = new Set<ReplicaId>();
    for (const vc of nv.viewChanges) {
      if (signers.has(vc.replica) || this.check(vc, nv.view) !== undefined) {
        out.reject('bad-new-view', from, nv.kind);
        return;
      }
      signers.add(vc.replica);
    }
    const decision = this.decide(nv.viewChanges);
    if (!decision.ok || !sameChoices(decision.chosen, nv.prePrepares)) {
      out.reject('bad-new-view', from, nv.kind);
      // The primary of nv.view is faulty: move past it.
      s.view = Math.max(s.view, nv.view);
      s.active = true; // let start() leave this view
      this.start(nv.view + 1, 'bad-new-view');
      return;
    }
    s.view = nv.view;
    this.install(nv, decision);
  }

  private install(nv: NewView, decision: NewViewDecision & { ok: true }): void {
    const ctx = this.ctx;
    const { s, log } = ctx;
    s.active = true;
    this.deadline = Number.POSITIVE_INFINITY;
    this.lastNewView = nv;
    s.progressAt = s.now;
    s.viewActiveSince = s.now;
    if (decision.stableSeq > log.low && decision.proofFrom !== undefined) {
      ctx.checkpoints.adopt(decision.stableSeq, decision.proofFrom.checkpointProof);
    }
    // Agreement restarts in the new view; P and Q entries survive for the next view change.
    log.resetForView(s.view);
    ctx.requests.resetInFlight();
    let reproposed = 0;
    for (const c of nv.prePrepares) {
      if (!log.inWindow(c.seq)) continue;
      log.slot(c.seq, s.view, s.now).fixedDigestHex = hex(c.batchDigest);
      reproposed++;
    }
    s.lastAssigned = Math.max(log.low, ...nv.prePrepares.map((c) => c.seq));
    for (const v of this.votes.keys()) if (v <= s.view) this.votes.delete(v);
    ctx.out.emit({ type: 'new-view', view: s.view, stableSeq: decision.stableSeq, reproposed });
    if (isPrimary(ctx)) {
      for (const c of nv.prePrepares) ctx.agreement.reproposeIfKnown(c.seq);
      if (ctx.config.batching.mode === 'size') ctx.agreement.cutBatches();
    }
    for (const e of ctx.early.drain()) {
      if (e.message.kind === 'pre-prepare') ctx.agreement.onPrePrepare(e.from, e.message, e.bytes);
      else if (e.message.kind === 'prepare') ctx.agreement.onPrepare(e.from, e.message, e.bytes);
      else ctx.agreement.onCommit(e.from, e.message, e.bytes);
    }
  }

  /** Start the view-change timer once q VIEW-CHANGEs for the current view are in. */
  private armTimer(): void {
    const ctx = this.ctx;
    if (ctx.s.active || this.deadline !== Number.POSITIVE_INFINITY) return;
    if ((this.votes.get(ctx.s.view)?.size ?? 0) < ctx.quorums.viewChanges) return;
    this.deadline = ctx.s.now + this.timeout;
    this.timeout = Math.min(2 * this.timeout, ctx.config.maxViewChangeTimeoutTicks);
  }
}
