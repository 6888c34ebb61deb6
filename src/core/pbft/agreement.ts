/**
 * The normal case: the primary proposes batches (PRE-PREPARE), backups check and accept them, every replica
 * votes (PREPARE, COMMIT), and committed batches execute strictly in sequence order. The slots live in the
 * log (log.ts); this part decides what goes into them. The request authentication rule it applies is stated
 * in replica.ts.
 */
import { bytesEqual, hex } from '../bytes.ts';
import { encodeBatch, encodeWithAuthenticator, encodeWithTag, requestAuthPayload } from '../codec/encode.ts';
import type { Batch, Commit, PrePrepare, Prepare, Reply, Request } from '../codec/messages.ts';
import { type ClientId, othersOf, primaryOf } from './config.ts';
import { type Ctx, isPrimary, NO_TAG, validReplica } from './context.ts';
import { matchingVotes, type Slot } from './log.ts';
import type { ExecutedRequest, ReplicaRejection } from './types.ts';
import { payloadOf, prePrepareBatchBytes, prePreparePayload } from './wire-views.ts';

export class Agreement {
  constructor(private readonly ctx: Ctx) {}

  // ---------------------------------------------------------------- proposing (primary)

  /** Primary: propose every full batch the pipeline allows (size mode), at least one if any is pending. */
  cutBatches(): void {
    for (let i = 0; i < this.ctx.config.maxInFlight && this.ctx.requests.proposableCount() > 0; i++) {
      if (!this.cutBatch()) return;
    }
  }

  /** Primary: propose one batch of pending requests. Returns whether one was proposed. */
  cutBatch(): boolean {
    const ctx = this.ctx;
    const { s, config } = ctx;
    if (!isPrimary(ctx) || !s.active) return false;
    const seq = s.lastAssigned + 1;
    if (seq > ctx.log.high) return false;
    if (s.lastAssigned - s.lastExecuted >= config.maxInFlight) return false;
    const requests = ctx.requests.takeProposable(config.maxBatchRequests);
    if (requests.length === 0) return false;
    const batch = { kind: 'full' as const, requests };
    this.propose(seq, batch, ctx.crypto.digest(encodeBatch(batch)));
    return true;
  }

  /** Primary: send PRE-PREPARE (view, seq, batch) and record it as accepted. */
  propose(seq: number, batch: Batch, batchDigest: Uint8Array): void {
    const ctx = this.ctx;
    const { s } = ctx;
    const unsigned: PrePrepare = {
      kind: 'pre-prepare',
      view: s.view,
      seq,
      batchDigest,
      replica: ctx.id,
      batch,
      auth: [],
    };
    // Encode the batch once more only: the MAC payload is the encoding minus its (empty) authenticator.
    const { bytes, auth } = encodeWithAuthenticator(unsigned, (payload) =>
      ctx.crypto.authenticator(ctx.others, payload),
    );
    const message: PrePrepare = { ...unsigned, auth };
    if (seq > s.lastAssigned) s.lastAssigned = seq;
    const slot = ctx.log.slot(seq, s.view, s.now);
    slot.prePrepare = message;
    slot.prePrepareBytes = bytes;
    slot.digestHex = hex(message.batchDigest);
    slot.view = s.view;
    slot.authentic = true;
    slot.prePreparedAt = s.now;
    slot.qInfo = { seq, view: s.view, batchDigest };
    ctx.batches.keep(slot.digestHex, seq, batch, bytes.length);
    ctx.requests.markInFlight(message);
    ctx.out.multicast(message, bytes);
    this.advance(slot);
  }

  /** New primary: re-propose the batch a NEW-VIEW fixed at `seq`, once its content is known here. */
  reproposeIfKnown(seq: number): void {
    const ctx = this.ctx;
    const slot = ctx.log.get(seq);
    if (slot === undefined || slot.fixedDigestHex === undefined || slot.prePrepare !== undefined) return;
    if (!ctx.s.active || !isPrimary(ctx)) return;
    const known = ctx.batches.get(slot.fixedDigestHex);
    if (slot.fixedDigestHex === hex(ctx.nullDigest)) {
      this.propose(seq, { kind: 'full', requests: [] }, ctx.nullDigest);
    } else if (known !== undefined) {
      this.propose(seq, known, ctx.crypto.digest(encodeBatch(known)));
    }
  }

  /**
   * A PRE-PREPARE from an earlier view is no longer acceptable, but its batch may be the one a NEW-VIEW fixes:
   * keep its content (batch-store.ts, within that primary's budget) when that view's primary authenticated it
   * for us and it hashes to its digest. A new primary holding it can then re-propose it, and a replica that left
   * that view can execute it once q COMMITs prove it committed there (learn.ts). Returns whether it was dealt
   * with: kept, or refused for the budget (counted); false when it is not such a batch at all.
   */
  private rememberOldBatch(from: number, pp: PrePrepare, bytes: Uint8Array): boolean {
    const ctx = this.ctx;
    const { config, log } = ctx;
    if (pp.batch.kind !== 'full' || !log.inWindow(pp.seq)) return false;
    if (pp.replica !== primaryOf(config, pp.view) || pp.replica === ctx.id) return false;
    if (pp.batch.requests.length > config.maxBatchRequests) return false;
    const payload = prePreparePayload(bytes, pp);
    if (!ctx.crypto.verifyAuthenticator(pp.replica, othersOf(config, pp.replica), payload, pp.auth))
      return false;
    const digestHex = hex(pp.batchDigest);
    if (ctx.batches.get(digestHex) === undefined) {
      const batchBytes = prePrepareBatchBytes(bytes, pp);
      if (!bytesEqual(ctx.crypto.digest(batchBytes), pp.batchDigest)) return false;
      if (!ctx.batches.keepOld(pp.replica, digestHex, pp.seq, pp.batch, batchBytes.length)) {
        ctx.out.reject('over-budget', from, 'pre-prepare');
        return true; // refused, and counted as such
      }
    } else {
      ctx.batches.keepOld(pp.replica, digestHex, pp.seq, pp.batch, 0); // known: only its lifetime grows
    }
    for (const slot of log.values()) if (slot.fixedDigestHex === digestHex) this.reproposeIfKnown(slot.seq);
    return true;
  }

  // ---------------------------------------------------------------- PRE-PREPARE (backups)

  /** Every check of the design, in order; the first failure is the counted reason. */
  private checkPrePrepare(pp: PrePrepare, bytes: Uint8Array): ReplicaRejection | undefined {
    const ctx = this.ctx;
    const { config, s, log } = ctx;
    if (pp.view !== s.view) return 'wrong-view';
    if (!s.active) return 'view-change-in-progress';
    if (pp.replica !== primaryOf(config, pp.view)) return 'not-from-primary';
    if (pp.replica === ctx.id) return 'not-for-replica';
    const payload = prePreparePayload(bytes, pp);
    if (!ctx.crypto.verifyAuthenticator(pp.replica, othersOf(config, pp.replica), payload, pp.auth)) {
      return 'bad-mac';
    }
    if (!log.inWindow(pp.seq)) return 'outside-watermarks';
    if (pp.batch.kind !== 'full') return 'digest-batch-unsupported';
    if (pp.batch.requests.length > config.maxBatchRequests) return 'oversized-batch';
    if (!bytesEqual(ctx.crypto.digest(prePrepareBatchBytes(bytes, pp)), pp.batchDigest)) {
      return 'batch-digest-mismatch';
    }
    const existing = log.get(pp.seq)?.prePrepare;
    if (
      existing !== undefined &&
      existing.view === pp.view &&
      !bytesEqual(existing.batchDigest, pp.batchDigest)
    ) {
      return 'conflicting-pre-prepare';
    }
    const fixed = log.get(pp.seq)?.fixedDigestHex;
    if (fixed !== undefined && fixed !== hex(pp.batchDigest)) return 'conflicting-pre-prepare';
    // Freshness is judged only for new proposals. A batch a NEW-VIEW carried over (or one at a seq we already
    // executed) may hold requests we executed: agreement on it must still complete for replicas that have not,
    // and the reply cache makes their second execution a no-op.
    const carriedOver = fixed !== undefined || pp.seq <= s.lastExecuted;
    const clients = new Set<ClientId>();
    for (const r of pp.batch.requests) {
      if (clients.has(r.client)) return 'duplicate-request-in-batch';
      clients.add(r.client);
      const cached = ctx.requests.replies.get(r.client);
      if (!carriedOver && cached !== undefined && r.timestamp <= cached.timestamp) return 'stale-request';
    }
    return undefined;
  }

  onPrePrepare(from: number, pp: PrePrepare, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, log, out } = ctx;
    if (ctx.early.offer(from, pp, bytes)) return;
    const existing = log.get(pp.seq)?.prePrepare;
    if (
      existing !== undefined &&
      existing.view === pp.view &&
      bytesEqual(existing.batchDigest, pp.batchDigest)
    ) {
      return; // a retransmission of what we hold
    }
    // A view we left: its batch may be one the group commits there (learn.ts) or one a NEW-VIEW fixes. Kept, it
    // is not refused; it is never accepted into the log of our view either.
    if (pp.view < s.view && this.rememberOldBatch(from, pp, bytes)) {
      this.executeReady();
      return;
    }
    const rejection = this.checkPrePrepare(pp, bytes);
    if (rejection !== undefined) {
      out.reject(rejection, from, 'pre-prepare');
      return;
    }
    const slot = log.slot(pp.seq, s.view, s.now);
    const authentic = pp.batch.kind === 'full' && pp.batch.requests.every((r) => this.requestAuthentic(r));
    if (!authentic) {
      if (log.heldCount >= ctx.config.maxHeldPrePrepares) {
        out.reject('held-full', from, 'pre-prepare');
        return;
      }
      log.hold();
      out.reject('request-auth-pending', from, 'pre-prepare');
    }
    slot.view = pp.view;
    slot.prePrepare = pp;
    slot.prePrepareBytes = bytes;
    slot.digestHex = hex(pp.batchDigest);
    slot.authentic = authentic;
    slot.prePreparedAt = s.now;
    slot.qInfo = { seq: pp.seq, view: pp.view, batchDigest: pp.batchDigest };
    ctx.batches.keep(slot.digestHex, pp.seq, pp.batch, bytes.length);
    ctx.requests.markInFlight(pp);
    this.advance(slot);
    // Its COMMITs may have come first (learn.ts): the batch is now all that was missing.
    if (!slot.committed && slot.seq === s.lastExecuted + 1) this.executeReady();
  }

  /**
   * Rule V5 (requests.ts), on leaving the view: the clients of requests still unauthenticated here in PRE-PREPAREs
   * this view's primary sent under its own valid MAC (held slots passed every other check) are ordered on vouches
   * from now on. Marking when the view is left, not when the PRE-PREPARE came, spares clients whose tags fail
   * here only for a moment (keys being renewed): a hold that resolves costs no mark. Bounded by the window.
   */
  markHeldClients(): void {
    const ctx = this.ctx;
    for (const slot of ctx.log.values()) {
      const pp = slot.prePrepare;
      if (slot.authentic || pp === undefined || slot.view !== ctx.s.view || pp.batch.kind !== 'full')
        continue;
      if (pp.replica !== primaryOf(ctx.config, slot.view)) continue;
      for (const r of pp.batch.requests) if (!this.requestAuthentic(r)) ctx.requests.markVouchFirst(r.client);
    }
  }

  /** Rule 2 (a) and (b): own tag, or an identical request already authenticated from the client. */
  private requestAuthentic(request: Request): boolean {
    const ctx = this.ctx;
    if (ctx.requests.waiting.holds(request)) return true;
    return ctx.crypto.verifyAuthenticator(
      request.client,
      ctx.everyone,
      requestAuthPayload(request),
      request.auth,
    );
  }

  /** Rule 2 (c): the primary plus f backups vouch for the batch. */
  private vouched(slot: Slot): boolean {
    const primary = primaryOf(this.ctx.config, slot.view);
    return matchingVotes(slot.prepares, slot.digestHex, primary) >= this.ctx.quorums.vouch - 1;
  }

  /** A request arrived: a held PRE-PREPARE may now be authentic. */
  retryHeld(): void {
    for (const slot of this.ctx.log.values()) {
      if (slot.prePrepare === undefined || slot.authentic) continue;
      const pp = slot.prePrepare;
      if (pp.batch.kind === 'full' && pp.batch.requests.every((r) => this.requestAuthentic(r))) {
        this.ctx.log.release(slot);
        this.advance(slot);
      }
    }
  }

  // ---------------------------------------------------------------- PREPARE / COMMIT

  onPrepare(from: number, m: Prepare, bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx.early.offer(from, m, bytes)) return;
    const rejection = this.checkVote(m, bytes);
    if (rejection !== undefined) {
      ctx.out.reject(rejection, from, 'prepare');
      return;
    }
    if (m.replica === primaryOf(ctx.config, m.view)) {
      ctx.out.reject('prepare-from-primary', from, 'prepare');
      return;
    }
    const slot = ctx.log.slot(m.seq, ctx.s.view, ctx.s.now);
    if (!slot.prepares.has(m.replica)) slot.prepares.set(m.replica, hex(m.batchDigest));
    this.advance(slot);
  }

  onCommit(from: number, m: Commit, bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx.early.offer(from, m, bytes)) return;
    // A view we left: its COMMITs still prove what the group committed there (learn.ts).
    if (m.view < ctx.s.view) {
      ctx.learner.onCommit(from, m, bytes);
      return;
    }
    const rejection = this.checkVote(m, bytes);
    if (rejection !== undefined) {
      ctx.out.reject(rejection, from, 'commit');
      return;
    }
    const slot = ctx.log.slot(m.seq, ctx.s.view, ctx.s.now);
    if (!slot.commits.has(m.replica)) slot.commits.set(m.replica, hex(m.batchDigest));
    this.advance(slot);
    // q COMMITs of others may prove the batch committed before this replica could prepare it (learn.ts).
    if (!slot.committed && slot.seq === ctx.s.lastExecuted + 1) this.executeReady();
  }

  private checkVote(m: Prepare | Commit, bytes: Uint8Array): ReplicaRejection | undefined {
    const ctx = this.ctx;
    const { config, s } = ctx;
    if (!validReplica(config, m.replica) || m.replica === ctx.id) return 'bad-replica-id';
    if (m.view !== s.view) return 'wrong-view';
    if (!s.active) return 'view-change-in-progress';
    if (!ctx.log.inWindow(m.seq)) return 'outside-watermarks';
    if (
      !ctx.crypto.verifyAuthenticator(m.replica, othersOf(config, m.replica), payloadOf(bytes, m), m.auth)
    ) {
      return 'bad-mac';
    }
    return undefined;
  }

  /** Move a slot as far as its certificates allow: prepare, prepared, committed, executed. */
  advance(slot: Slot): void {
    const ctx = this.ctx;
    if (slot.prePrepare === undefined || slot.digestHex === undefined) return;
    if (!slot.authentic && this.vouched(slot)) ctx.log.release(slot);
    if (!slot.authentic) return;
    const primary = primaryOf(ctx.config, slot.view);
    if (ctx.id !== primary && slot.ownPrepare === undefined) this.sendVote(slot, 'prepare');
    if (!slot.prepared && matchingVotes(slot.prepares, slot.digestHex, primary) >= ctx.quorums.prepares) {
      slot.prepared = true;
      slot.pInfo = { seq: slot.seq, view: slot.view, batchDigest: slot.prePrepare.batchDigest };
      this.sendVote(slot, 'commit');
    }
    if (
      slot.prepared &&
      !slot.committed &&
      matchingVotes(slot.commits, slot.digestHex, -1) >= ctx.quorums.commits
    ) {
      slot.committed = true;
      this.executeReady();
    }
  }

  private sendVote(slot: Slot, kind: 'prepare' | 'commit'): void {
    const ctx = this.ctx;
    const pp = slot.prePrepare!;
    const unsigned = {
      kind,
      view: slot.view,
      seq: slot.seq,
      batchDigest: pp.batchDigest,
      replica: ctx.id,
      auth: [],
    };
    const { bytes, auth } = encodeWithAuthenticator(unsigned as Prepare | Commit, (payload) =>
      ctx.crypto.authenticator(ctx.others, payload),
    );
    const message = { ...unsigned, auth } as Prepare | Commit;
    if (kind === 'prepare') {
      slot.ownPrepare = bytes;
      slot.prepares.set(ctx.id, slot.digestHex!);
    } else {
      slot.ownCommit = bytes;
      slot.commits.set(ctx.id, slot.digestHex!);
    }
    ctx.out.multicast(message, bytes);
  }

  // ---------------------------------------------------------------- execution

  /**
   * Execute committed batches strictly in sequence order: those committed here, and those proven committed in a
   * view this replica left (learn.ts).
   */
  executeReady(): void {
    const ctx = this.ctx;
    for (let guard = 0; guard <= ctx.config.watermarkWindow; guard++) {
      const seq = ctx.s.lastExecuted + 1;
      const slot = ctx.log.get(seq);
      if (slot?.committed === true) {
        const pp = slot.prePrepare!;
        this.execute(seq, slot.view, pp.batchDigest, pp.batch);
        continue;
      }
      const learned = ctx.learner.committedAt(seq);
      if (learned === undefined) break;
      this.execute(seq, learned.view, learned.batchDigest, learned.batch);
      ctx.learner.executed();
      ctx.out.emit({ type: 'learned', seq, view: learned.view });
    }
    ctx.learner.prune();
  }

  private execute(seq: number, view: number, batchDigest: Uint8Array, batch: Batch): void {
    const ctx = this.ctx;
    const { s, requests } = ctx;
    if (batch.kind !== 'full') throw new Error('invariant: committed batch without requests');
    const executed: ExecutedRequest[] = [];
    for (const r of batch.requests) {
      const cached = requests.replies.get(r.client);
      // A faulty primary may order one request twice: the reply cache makes the second a no-op everywhere.
      if (cached !== undefined && r.timestamp <= cached.timestamp) continue;
      const result = ctx.service.execute(r.client, r.op, seq);
      requests.replies.set(r.client, { timestamp: r.timestamp, result });
      executed.push({ client: r.client, timestamp: r.timestamp, op: r.op, result });
      requests.executed(r.client, r.timestamp);
      this.sendReply(r.client, r.timestamp, result);
    }
    s.lastExecuted = seq;
    s.progressAt = s.now;
    // A batch of the view we are in: the next view change starts from the first timeout again. A batch learned
    // from a view we left says nothing about how our own view is doing (its timer is not reset by it).
    if (view === s.view) ctx.views.progressed();
    ctx.out.push({ kind: 'execute', seq, view, batchDigest, requests: executed });
    ctx.out.emit({ type: 'committed', seq, requests: executed.length });
    if (seq % ctx.config.checkpointInterval === 0) ctx.checkpoints.take(seq);
  }

  /** REPLY to `client`, unless the group's config says it reads none (config.noReplyClients). */
  sendReply(client: ClientId, timestamp: number, result: Uint8Array): void {
    const ctx = this.ctx;
    if (ctx.config.noReplyClients.has(client)) return;
    const unsigned: Reply = {
      kind: 'reply',
      view: ctx.s.view,
      client,
      timestamp,
      replica: ctx.id,
      result,
      tag: NO_TAG,
    };
    const { bytes, tag } = encodeWithTag(unsigned, (payload) => ctx.crypto.tag(client, payload));
    ctx.out.push({ kind: 'reply', client, message: { ...unsigned, tag }, bytes });
  }
}
