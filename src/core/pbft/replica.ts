/**
 * A PBFT replica as a pure state machine (normal case, batching, checkpoints, retransmission and
 * checkpoint-based state transfer). `step(input)` returns the actions to carry out; the replica does no I/O,
 * reads no clock and draws no randomness.
 *
 * @example
 * const r = new Replica({ id: 1, config: pbftConfig(1), crypto, service });
 * for (const a of r.step({ kind: 'receive', from: 0, bytes })) runtime.perform(a);
 *
 * Request authentication inside a batch (the rule this replica implements, and why).
 * Requests carry MAC authenticators: one tag per replica, each checkable only by its own replica. So a backup
 * cannot check the tag the primary checked, and a faulty client can make tags that verify at some replicas
 * and not others: the primary (correct) includes the request, some backups cannot authenticate it, the batch
 * fails to gather 2f+1 PREPAREs and the correct primary looks faulty. What others do:
 *  - Castro and Liskov's BFT library (Pre_prepare::verify) accepts an inline request in a PRE-PREPARE when
 *    `req.verify() || replica->has_req(client, digest)`: its own tag verifies, or it already holds the same
 *    request received directly from the client and authenticated then; its own TODO notes that one bad
 *    client can then deny service to the good requests batched with it.
 *  - Aardvark (Clement et al., NSDI 2009) signs every client request so all replicas reach the same verdict,
 *    at the price of a public-key verification per request.
 * Rule chosen here (Castro's rule, completed with a weak certificate so a correct primary is never blamed):
 *  1. A primary batches only requests whose tag for itself verifies and that are fresh.
 *  2. A backup treats a request of a PRE-PREPARE as authentic when (a) its own tag verifies, or (b) it holds
 *     the identical request (client, timestamp, op) that it authenticated when the client sent it directly,
 *     or (c) f+1 distinct replicas vouch for the batch: the primary by its PRE-PREPARE and f backups by
 *     PREPAREs with the same (view, seq, digest). Among f+1 replicas one is correct, and a correct replica
 *     vouches only after (a) or (b), so a forged request is never executed.
 *  3. A PRE-PREPARE whose requests are not yet authentic is held (bounded by `maxHeldPrePrepares`), counted as
 *     'request-auth-pending', and never rejected as evidence against the primary. Only what the primary alone
 *     controls counts against it: its own MAC, form, view, watermarks, digest, conflicts and freshness.
 * Residual case, stated honestly: a faulty client whose tags verify at fewer than f+1 correct replicas
 * (primary included) can hold up that batch until the view change of issue 4 drops it (it never prepared).
 * We keep MACs rather than Aardvark's signatures because ed25519 verification (about 7k/s here) per request
 * would cap ordering throughput far below the MAC path.
 */
import {
  authPayload,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  requestAuthPayload,
} from '../codec/encode.ts';
import type {
  Batch,
  CertEntry,
  Checkpoint,
  Commit,
  Message,
  MessageKind,
  NewView,
  PrePrepare,
  Prepare,
  Reply,
  Request,
  StateReply,
  StateRequest,
  ViewChange,
  ViewChangeFetch,
} from '../codec/messages.ts';
import {
  allReplicas,
  assertConfig,
  type ClientId,
  othersOf,
  type PbftConfig,
  primaryOf,
  quorum,
  type ReplicaId,
} from './config.ts';
import type { NodeCrypto } from './crypto.ts';
import { decideNewView, type NewViewDecision, sameChoices, type ViewChangeBody } from './new-view.ts';
import { type CachedReply, decodeReplicaState, encodeReplicaState } from './snapshot.ts';
import type {
  ExecutedRequest,
  ReplicaAction,
  ReplicaEvent,
  ReplicaInput,
  ReplicaRejection,
  Service,
} from './types.ts';
import {
  payloadOf,
  prePrepareBatchBytes,
  prePreparePayload,
  withAuthenticator,
  withTag,
} from './wire-views.ts';

export interface ReplicaOptions {
  readonly id: ReplicaId;
  readonly config: PbftConfig;
  readonly crypto: NodeCrypto;
  readonly service: Service;
  /**
   * TEST ONLY, deliberately unsafe: override the certificate sizes (PREPAREs needed besides the PRE-PREPARE,
   * and COMMITs needed). Exists so the simulator's checkers can be shown to catch a broken replica.
   */
  readonly unsafeTestQuorums?: { readonly prepares: number; readonly commits: number };
}

/** One sequence number's agreement state. */
interface Slot {
  readonly seq: number;
  view: number;
  prePrepare: PrePrepare | undefined;
  /** The PRE-PREPARE as received: relayable to a lagging peer (its authenticator covers every replica). */
  prePrepareBytes: Uint8Array | undefined;
  digestHex: string | undefined;
  /** Every request of the batch is authentic for this replica (see the rule above). */
  authentic: boolean;
  readonly prepares: Map<ReplicaId, string>;
  readonly commits: Map<ReplicaId, string>;
  ownPrepare: Uint8Array | undefined;
  ownCommit: Uint8Array | undefined;
  prepared: boolean;
  committed: boolean;
  readonly firstSeen: number;
  /** Latest (view, digest) this replica prepared / pre-prepared at this seq: its P and Q entries. */
  pInfo: CertEntry | undefined;
  qInfo: CertEntry | undefined;
  /** The digest a NEW-VIEW fixed for this seq in the current view: any other PRE-PREPARE conflicts. */
  fixedDigestHex: string | undefined;
}

interface Pending {
  readonly request: Request;
  readonly since: number;
  /** Proposed (primary) or part of an accepted PRE-PREPARE: not to be proposed again. */
  inFlight: boolean;
}

interface OwnSnapshot {
  readonly bytes: Uint8Array;
  readonly digest: Uint8Array;
}

const NO_TAG = new Uint8Array(0);
/** Messages buffered while a NEW-VIEW is awaited (a view's worth for a group of a few replicas). */
const EARLY_BUFFER_LIMIT = 1024;
/** State replies are accepted for this many of our most recent state requests. */
const RECENT_ASKS = 4;

/** A checkpoint as carried inside a certificate (no kind tag of its own). */
type CheckpointBody = Omit<Checkpoint, 'kind'>;

export class Replica {
  readonly id: ReplicaId;
  readonly config: PbftConfig;
  private readonly crypto: NodeCrypto;
  private readonly service: Service;
  private readonly others: ReplicaId[];
  private readonly everyone: ReplicaId[];

  private view = 0;
  private now = 0;
  private lastExecuted = 0;
  /** h: the last stable checkpoint; slots at or below it are truncated. */
  private low = 0;
  /** Primary: the last sequence number assigned. */
  private lastAssigned = 0;
  private readonly log = new Map<number, Slot>();
  private readonly replies = new Map<ClientId, CachedReply>();
  private readonly pending = new Map<ClientId, Pending>();
  private readonly checkpoints = new Map<number, Map<ReplicaId, Checkpoint>>();
  /** Highest checkpoint seq announced above our window, per replica (evidence that we fell behind). */
  private readonly ahead = new Map<ReplicaId, number>();
  private readonly snapshots = new Map<number, OwnSnapshot>();
  private stableProof: readonly CheckpointBody[] = [];
  private heldCount = 0;
  private lastStallRequest = Number.NEGATIVE_INFINITY;
  private readonly lastServed = new Map<ReplicaId, number>();
  private readonly lastFetchServed = new Map<ReplicaId, number>();
  private nonce = 0;
  private out: ReplicaAction[] = [];
  private readonly preparesNeeded: number;
  private readonly commitsNeeded: number;
  /** False between sending a VIEW-CHANGE and accepting the NEW-VIEW of `view`. */
  private active = true;
  private readonly viewChanges = new Map<number, Map<ReplicaId, ViewChange>>();
  private lastNewView: NewView | undefined;
  private viewChangeSince = 0;
  private viewChangeDeadline = Number.POSITIVE_INFINITY;
  private viewChangeTimeout: number;
  /** Last time a batch executed or a view became active (request timers measure from here). */
  private progressAt = 0;
  /**
   * Batch contents by digest, for re-proposal in a new view (seqs inside the window only). `lastSeq` is the
   * highest seq the batch was seen at: one batch can be proposed at several seqs (a request proposed again after
   * a view change), and truncation must keep it until the last of them is stable, or a NEW-VIEW can fix a seq
   * to a digest whose content no replica holds any more, and every later view stalls on it.
   */
  private readonly batches = new Map<string, { lastSeq: number; readonly batch: Batch }>();
  private readonly nullDigest: Uint8Array;
  private viewActiveSince = 0;
  /** Frames seen without a batch while holding unproposed requests (frame-mode primary monitoring). */
  private missedFrames = 0;
  /** Messages of the view being installed that arrived before its NEW-VIEW (bounded; replayed after it). */
  private early: { from: number; message: PrePrepare | Prepare | Commit; bytes: Uint8Array }[] = [];

  constructor(options: ReplicaOptions) {
    assertConfig(options.config);
    if (!Number.isInteger(options.id) || options.id < 0 || options.id >= options.config.n) {
      throw new RangeError(`replica id ${options.id} not in 0..${options.config.n - 1}`);
    }
    this.id = options.id;
    this.config = options.config;
    this.crypto = options.crypto;
    this.service = options.service;
    this.others = othersOf(this.config, this.id);
    this.everyone = allReplicas(this.config);
    this.preparesNeeded = options.unsafeTestQuorums?.prepares ?? 2 * this.config.f;
    this.commitsNeeded = options.unsafeTestQuorums?.commits ?? quorum(this.config);
    this.viewChangeTimeout = this.config.viewChangeTimeoutTicks;
    this.nullDigest = this.crypto.digest(encodeBatch({ kind: 'full', requests: [] }));
  }

  /** Feed one input; returns the actions to perform, in order. */
  step(input: ReplicaInput): ReplicaAction[] {
    this.out = [];
    switch (input.kind) {
      case 'receive': {
        const decoded = decodeMessage(input.bytes, this.config.limits);
        if (!decoded.ok) this.reject(decoded.reason, input.from);
        else this.onMessage(input.from, decoded.message, input.bytes);
        break;
      }
      case 'deliver':
        this.onMessage(input.from, input.message, encodeMessage(input.message));
        break;
      case 'tick':
        this.onTick(input.now);
        break;
      case 'frame':
        if (this.config.batching.mode === 'frame') this.onFrame();
        break;
    }
    const actions = this.out;
    this.out = [];
    return actions;
  }

  /** Read-only view for tests, the runtime and the benchmark. */
  status(): {
    view: number;
    active: boolean;
    primary: ReplicaId;
    lastExecuted: number;
    lowWatermark: number;
    highWatermark: number;
    logEntries: number;
    pending: number;
    held: number;
    checkpointsHeld: number;
  } {
    let checkpointsHeld = 0;
    for (const m of this.checkpoints.values()) checkpointsHeld += m.size;
    return {
      view: this.view,
      active: this.active,
      primary: primaryOf(this.config, this.view),
      lastExecuted: this.lastExecuted,
      lowWatermark: this.low,
      highWatermark: this.low + this.config.watermarkWindow,
      logEntries: this.log.size,
      pending: this.pending.size,
      held: this.heldCount,
      checkpointsHeld,
    };
  }

  /** The cached reply for `client` (last executed request), if any. */
  cachedReply(client: ClientId): CachedReply | undefined {
    return this.replies.get(client);
  }

  // ---------------------------------------------------------------- dispatch

  /** `bytes` is the canonical encoding of `message` (MAC payloads are views into it, see wire-views.ts). */
  private onMessage(from: number, message: Message, bytes: Uint8Array): void {
    switch (message.kind) {
      case 'request':
        this.onRequest(from, message, bytes);
        return;
      case 'pre-prepare':
        this.onPrePrepare(from, message, bytes);
        return;
      case 'prepare':
        this.onPrepare(from, message, bytes);
        return;
      case 'commit':
        this.onCommit(from, message, bytes);
        return;
      case 'checkpoint':
        this.onCheckpoint(from, message);
        return;
      case 'state-request':
        this.onStateRequest(from, message);
        return;
      case 'state-reply':
        this.onStateReply(from, message);
        return;
      case 'view-change':
        this.onViewChange(from, message);
        return;
      case 'new-view':
        this.onNewView(from, message);
        return;
      case 'view-change-fetch':
        this.onViewChangeFetch(from, message);
        return;
      default:
        // View change and the other kinds are handled by later layers (issue 4) or other roles.
        this.reject('unsupported-kind', from, message.kind);
        return;
    }
  }

  private onTick(now: number): void {
    if (now > this.now) this.now = now;
    const batching = this.config.batching;
    if (batching.mode === 'size' && this.isPrimary()) {
      const oldest = this.oldestProposable();
      if (oldest !== undefined && this.now - oldest >= batching.maxDelayTicks) this.cutBatches();
    }
    if (this.isStalled()) this.askForRetransmission();
    this.checkTimers();
  }

  // ---------------------------------------------------------------- requests

  private onRequest(from: number, request: Request & { kind: 'request' }, bytes: Uint8Array): void {
    if (
      !this.crypto.verifyAuthenticator(request.client, this.everyone, payloadOf(bytes, request), request.auth)
    ) {
      this.reject('bad-mac', from, 'request');
      return;
    }
    const cached = this.replies.get(request.client);
    if (cached !== undefined && request.timestamp <= cached.timestamp) {
      // A retransmission of the last executed request gets the cached reply; it never executes again.
      if (request.timestamp === cached.timestamp) {
        this.sendReply(request.client, request.timestamp, cached.result);
        this.emit({ type: 'cached-reply', client: request.client, timestamp: request.timestamp });
        return;
      }
      this.reject('stale-request', from, 'request');
      return;
    }
    const existing = this.pending.get(request.client);
    if (existing !== undefined) {
      if (existing.request.timestamp >= request.timestamp || existing.inFlight) {
        this.reject('duplicate-request', from, 'request');
        return;
      }
      this.pending.delete(request.client);
    } else if (this.pending.size >= this.config.maxPendingRequests) {
      this.reject('pending-full', from, 'request');
      return;
    }
    this.pending.set(request.client, { request, since: this.now, inFlight: false });
    if (this.heldCount > 0) this.retryHeld();
    const batching = this.config.batching;
    if (this.isPrimary() && batching.mode === 'size') {
      if (batching.maxDelayTicks === 0 || this.proposableCount() >= this.config.maxBatchRequests)
        this.cutBatches();
    }
  }

  /** Primary: propose every full batch the pipeline allows (size mode), at least one if any is pending. */
  private cutBatches(): void {
    for (let i = 0; i < this.config.maxInFlight && this.proposableCount() > 0; i++) {
      if (!this.cutBatch()) return;
    }
  }

  /** Primary: propose one batch of pending requests. Returns whether one was proposed. */
  private cutBatch(): boolean {
    if (!this.isPrimary() || !this.active) return false;
    const seq = this.lastAssigned + 1;
    if (seq > this.low + this.config.watermarkWindow) return false;
    if (this.lastAssigned - this.lastExecuted >= this.config.maxInFlight) return false;
    const requests: Request[] = [];
    for (const p of this.pending.values()) {
      if (requests.length >= this.config.maxBatchRequests) break;
      if (p.inFlight) continue;
      p.inFlight = true;
      requests.push(p.request);
    }
    if (requests.length === 0) return false;
    const batch = { kind: 'full' as const, requests };
    this.propose(seq, batch, this.crypto.digest(encodeBatch(batch)));
    return true;
  }

  /** Primary: send PRE-PREPARE (view, seq, batch) and record it as accepted. */
  private propose(seq: number, batch: Batch, batchDigest: Uint8Array): void {
    const unsigned: PrePrepare = {
      kind: 'pre-prepare',
      view: this.view,
      seq,
      batchDigest,
      replica: this.id,
      batch,
      auth: [],
    };
    // Encode the batch once more only: the MAC payload is the encoding minus its (empty) authenticator.
    const unsignedBytes = encodeMessage(unsigned);
    const auth = this.crypto.authenticator(this.others, unsignedBytes.subarray(0, unsignedBytes.length - 1));
    const message: PrePrepare = { ...unsigned, auth };
    const bytes = withAuthenticator(unsignedBytes, auth);
    if (seq > this.lastAssigned) this.lastAssigned = seq;
    const slot = this.slot(seq);
    slot.prePrepare = message;
    slot.prePrepareBytes = bytes;
    slot.digestHex = hex(message.batchDigest);
    slot.view = this.view;
    slot.authentic = true;
    slot.qInfo = { seq, view: this.view, batchDigest };
    this.rememberBatch(slot.digestHex, seq, batch);
    this.markInFlight(message);
    this.out.push({ kind: 'multicast', message, bytes });
    this.advance(slot);
  }

  // ---------------------------------------------------------------- PRE-PREPARE

  /** Every check of the design, in order; the first failure is the counted reason. */
  private checkPrePrepare(pp: PrePrepare, bytes: Uint8Array): ReplicaRejection | undefined {
    if (pp.view !== this.view) return 'wrong-view';
    if (!this.active) return 'view-change-in-progress';
    if (pp.replica !== primaryOf(this.config, pp.view)) return 'not-from-primary';
    if (pp.replica === this.id) return 'not-for-replica';
    const payload = prePreparePayload(bytes, pp);
    if (!this.crypto.verifyAuthenticator(pp.replica, othersOf(this.config, pp.replica), payload, pp.auth)) {
      return 'bad-mac';
    }
    if (!this.inWindow(pp.seq)) return 'outside-watermarks';
    if (pp.batch.kind !== 'full') return 'digest-batch-unsupported';
    if (pp.batch.requests.length > this.config.maxBatchRequests) return 'oversized-batch';
    if (!bytesEqual(this.crypto.digest(prePrepareBatchBytes(bytes, pp)), pp.batchDigest)) {
      return 'batch-digest-mismatch';
    }
    const existing = this.log.get(pp.seq)?.prePrepare;
    if (
      existing !== undefined &&
      existing.view === pp.view &&
      !bytesEqual(existing.batchDigest, pp.batchDigest)
    ) {
      return 'conflicting-pre-prepare';
    }
    const fixed = this.log.get(pp.seq)?.fixedDigestHex;
    if (fixed !== undefined && fixed !== hex(pp.batchDigest)) return 'conflicting-pre-prepare';
    // Freshness is judged only for new proposals. A batch a NEW-VIEW carried over (or one at a seq we already
    // executed) may hold requests we executed: agreement on it must still complete for replicas that have not,
    // and the reply cache makes their second execution a no-op.
    const carriedOver = fixed !== undefined || pp.seq <= this.lastExecuted;
    const clients = new Set<ClientId>();
    for (const r of pp.batch.requests) {
      if (clients.has(r.client)) return 'duplicate-request-in-batch';
      clients.add(r.client);
      const cached = this.replies.get(r.client);
      if (!carriedOver && cached !== undefined && r.timestamp <= cached.timestamp) return 'stale-request';
    }
    return undefined;
  }

  private onPrePrepare(from: number, pp: PrePrepare, bytes: Uint8Array): void {
    if (this.bufferEarly(from, pp, bytes)) return;
    const existing = this.log.get(pp.seq)?.prePrepare;
    if (
      existing !== undefined &&
      existing.view === pp.view &&
      bytesEqual(existing.batchDigest, pp.batchDigest)
    ) {
      return; // a retransmission of what we hold
    }
    if (pp.view < this.view) this.rememberOldBatch(pp, bytes);
    const rejection = this.checkPrePrepare(pp, bytes);
    if (rejection !== undefined) {
      this.reject(rejection, from, 'pre-prepare');
      return;
    }
    const slot = this.slot(pp.seq);
    const authentic = pp.batch.kind === 'full' && pp.batch.requests.every((r) => this.requestAuthentic(r));
    if (!authentic) {
      if (this.heldCount >= this.config.maxHeldPrePrepares) {
        this.reject('held-full', from, 'pre-prepare');
        return;
      }
      this.heldCount++;
      this.reject('request-auth-pending', from, 'pre-prepare');
    }
    slot.view = pp.view;
    slot.prePrepare = pp;
    slot.prePrepareBytes = bytes;
    slot.digestHex = hex(pp.batchDigest);
    slot.authentic = authentic;
    slot.qInfo = { seq: pp.seq, view: pp.view, batchDigest: pp.batchDigest };
    this.missedFrames = 0;
    if (pp.batch.kind === 'full') this.rememberBatch(slot.digestHex, pp.seq, pp.batch);
    this.markInFlight(pp);
    this.advance(slot);
  }

  /** Rule 2 (a) and (b): own tag, or an identical request already authenticated from the client. */
  private requestAuthentic(request: Request): boolean {
    const held = this.pending.get(request.client)?.request;
    if (held !== undefined && held.timestamp === request.timestamp && bytesEqual(held.op, request.op))
      return true;
    return this.crypto.verifyAuthenticator(
      request.client,
      this.everyone,
      requestAuthPayload(request),
      request.auth,
    );
  }

  /** Rule 2 (c): the primary plus f backups vouch for the batch. */
  private vouched(slot: Slot): boolean {
    return this.matching(slot.prepares, slot.digestHex, primaryOf(this.config, slot.view)) >= this.config.f;
  }

  private retryHeld(): void {
    for (const slot of this.log.values()) {
      if (slot.prePrepare === undefined || slot.authentic) continue;
      const pp = slot.prePrepare;
      if (pp.batch.kind === 'full' && pp.batch.requests.every((r) => this.requestAuthentic(r))) {
        this.release(slot);
        this.advance(slot);
      }
    }
  }

  private release(slot: Slot): void {
    if (slot.authentic || slot.prePrepare === undefined) return;
    slot.authentic = true;
    this.heldCount--;
  }

  private markInFlight(pp: PrePrepare): void {
    if (pp.batch.kind !== 'full') return;
    for (const r of pp.batch.requests) {
      const p = this.pending.get(r.client);
      if (p !== undefined && p.request.timestamp <= r.timestamp) p.inFlight = true;
    }
  }

  // ---------------------------------------------------------------- PREPARE / COMMIT

  private onPrepare(from: number, m: Prepare, bytes: Uint8Array): void {
    if (this.bufferEarly(from, m, bytes)) return;
    const rejection = this.checkVote(m, bytes);
    if (rejection !== undefined) {
      this.reject(rejection, from, 'prepare');
      return;
    }
    if (m.replica === primaryOf(this.config, m.view)) {
      this.reject('prepare-from-primary', from, 'prepare');
      return;
    }
    const slot = this.slot(m.seq);
    if (!slot.prepares.has(m.replica)) slot.prepares.set(m.replica, hex(m.batchDigest));
    this.advance(slot);
  }

  private onCommit(from: number, m: Commit, bytes: Uint8Array): void {
    if (this.bufferEarly(from, m, bytes)) return;
    const rejection = this.checkVote(m, bytes);
    if (rejection !== undefined) {
      this.reject(rejection, from, 'commit');
      return;
    }
    const slot = this.slot(m.seq);
    if (!slot.commits.has(m.replica)) slot.commits.set(m.replica, hex(m.batchDigest));
    this.advance(slot);
  }

  private checkVote(m: Prepare | Commit, bytes: Uint8Array): ReplicaRejection | undefined {
    if (!this.validReplica(m.replica) || m.replica === this.id) return 'bad-replica-id';
    if (m.view !== this.view) return 'wrong-view';
    if (!this.active) return 'view-change-in-progress';
    if (!this.inWindow(m.seq)) return 'outside-watermarks';
    if (
      !this.crypto.verifyAuthenticator(
        m.replica,
        othersOf(this.config, m.replica),
        payloadOf(bytes, m),
        m.auth,
      )
    ) {
      return 'bad-mac';
    }
    return undefined;
  }

  /** Move a slot as far as its certificates allow: prepare, prepared, committed, executed. */
  private advance(slot: Slot): void {
    if (slot.prePrepare === undefined || slot.digestHex === undefined) return;
    if (!slot.authentic && this.vouched(slot)) this.release(slot);
    if (!slot.authentic) return;
    const primary = primaryOf(this.config, slot.view);
    if (this.id !== primary && slot.ownPrepare === undefined) this.sendVote(slot, 'prepare');
    if (!slot.prepared && this.matching(slot.prepares, slot.digestHex, primary) >= this.preparesNeeded) {
      slot.prepared = true;
      slot.pInfo = { seq: slot.seq, view: slot.view, batchDigest: slot.prePrepare.batchDigest };
      this.sendVote(slot, 'commit');
    }
    if (
      slot.prepared &&
      !slot.committed &&
      this.matching(slot.commits, slot.digestHex, -1) >= this.commitsNeeded
    ) {
      slot.committed = true;
      this.executeReady();
    }
  }

  private sendVote(slot: Slot, kind: 'prepare' | 'commit'): void {
    const pp = slot.prePrepare!;
    const unsigned = {
      kind,
      view: slot.view,
      seq: slot.seq,
      batchDigest: pp.batchDigest,
      replica: this.id,
      auth: [],
    };
    const unsignedBytes = encodeMessage(unsigned as Prepare | Commit);
    const auth = this.crypto.authenticator(this.others, unsignedBytes.subarray(0, unsignedBytes.length - 1));
    const message = { ...unsigned, auth } as Prepare | Commit;
    const bytes = withAuthenticator(unsignedBytes, auth);
    if (kind === 'prepare') {
      slot.ownPrepare = bytes;
      slot.prepares.set(this.id, slot.digestHex!);
    } else {
      slot.ownCommit = bytes;
      slot.commits.set(this.id, slot.digestHex!);
    }
    this.out.push({ kind: 'multicast', message, bytes });
  }

  private matching(
    votes: ReadonlyMap<ReplicaId, string>,
    digestHex: string | undefined,
    exclude: ReplicaId,
  ): number {
    let count = 0;
    for (const [replica, d] of votes) if (replica !== exclude && d === digestHex) count++;
    return count;
  }

  // ---------------------------------------------------------------- execution

  /** Execute committed batches strictly in sequence order. */
  private executeReady(): void {
    for (let guard = 0; guard <= this.config.watermarkWindow; guard++) {
      const slot = this.log.get(this.lastExecuted + 1);
      if (slot === undefined || !slot.committed) return;
      this.execute(slot);
    }
  }

  private execute(slot: Slot): void {
    const pp = slot.prePrepare!;
    if (pp.batch.kind !== 'full') throw new Error('invariant: committed batch without requests');
    const executed: ExecutedRequest[] = [];
    for (const r of pp.batch.requests) {
      const cached = this.replies.get(r.client);
      // A faulty primary may order one request twice: the reply cache makes the second a no-op everywhere.
      if (cached !== undefined && r.timestamp <= cached.timestamp) continue;
      const result = this.service.execute(r.client, r.op, slot.seq);
      this.replies.set(r.client, { timestamp: r.timestamp, result });
      executed.push({ client: r.client, timestamp: r.timestamp, op: r.op, result });
      const p = this.pending.get(r.client);
      if (p !== undefined && p.request.timestamp <= r.timestamp) this.pending.delete(r.client);
      this.sendReply(r.client, r.timestamp, result);
    }
    this.lastExecuted = slot.seq;
    this.progressAt = this.now;
    this.viewChangeTimeout = this.config.viewChangeTimeoutTicks;
    this.out.push({
      kind: 'execute',
      seq: slot.seq,
      view: slot.view,
      batchDigest: pp.batchDigest,
      requests: executed,
    });
    this.emit({ type: 'committed', seq: slot.seq, requests: executed.length });
    if (slot.seq % this.config.checkpointInterval === 0) this.takeCheckpoint(slot.seq);
  }

  private sendReply(client: ClientId, timestamp: number, result: Uint8Array): void {
    const unsigned: Reply = {
      kind: 'reply',
      view: this.view,
      client,
      timestamp,
      replica: this.id,
      result,
      tag: NO_TAG,
    };
    const unsignedBytes = encodeMessage(unsigned);
    const tag = this.crypto.tag(client, unsignedBytes.subarray(0, unsignedBytes.length - 1));
    this.out.push({
      kind: 'reply',
      client,
      message: { ...unsigned, tag },
      bytes: withTag(unsignedBytes, tag),
    });
  }

  // ---------------------------------------------------------------- checkpoints

  private takeCheckpoint(seq: number): void {
    const bytes = encodeReplicaState(this.service.snapshot(), this.replies);
    const digest = this.crypto.digest(bytes);
    this.snapshots.set(seq, { bytes, digest });
    const unsigned: Checkpoint = {
      kind: 'checkpoint',
      seq,
      stateDigest: digest,
      replica: this.id,
      signature: new Uint8Array(64),
    };
    const message: Checkpoint = { ...unsigned, signature: this.crypto.sign(authPayload(unsigned)) };
    this.recordCheckpoint(message);
    this.out.push({ kind: 'multicast', message, bytes: encodeMessage(message) });
    this.emit({ type: 'checkpoint', seq, stateDigest: digest });
    this.checkStable(seq);
  }

  private onCheckpoint(from: number, cp: Checkpoint): void {
    if (!this.validReplica(cp.replica)) {
      this.reject('bad-replica-id', from, 'checkpoint');
      return;
    }
    if (cp.seq === 0 || cp.seq % this.config.checkpointInterval !== 0) {
      this.reject('not-a-checkpoint-seq', from, 'checkpoint');
      return;
    }
    if (cp.seq <= this.low) return; // already stable here: a harmless retransmission
    if (!this.crypto.verifySignature(cp.replica, authPayload(cp), cp.signature)) {
      this.reject('bad-signature', from, 'checkpoint');
      return;
    }
    if (cp.seq > this.low + this.config.watermarkWindow) {
      // Beyond our window: keep only the evidence that we fell behind (bounded: one number per replica).
      this.ahead.set(cp.replica, Math.max(cp.seq, this.ahead.get(cp.replica) ?? 0));
      return;
    }
    this.recordCheckpoint(cp);
    this.checkStable(cp.seq);
  }

  private recordCheckpoint(cp: Checkpoint): void {
    let bySeq = this.checkpoints.get(cp.seq);
    if (bySeq === undefined) {
      bySeq = new Map();
      this.checkpoints.set(cp.seq, bySeq);
    }
    // First message per replica wins: a Byzantine replica cannot vote twice by changing its digest.
    if (!bySeq.has(cp.replica)) bySeq.set(cp.replica, cp);
  }

  /** A checkpoint is stable at 2f+1 matching signed CHECKPOINTs; it then becomes the low watermark. */
  private checkStable(seq: number): void {
    const bySeq = this.checkpoints.get(seq);
    if (bySeq === undefined || seq <= this.low) return;
    const groups = new Map<string, Checkpoint[]>();
    for (const cp of bySeq.values()) {
      const key = hex(cp.stateDigest);
      const g = groups.get(key) ?? [];
      g.push(cp);
      groups.set(key, g);
    }
    for (const [digestHex, proof] of groups) {
      if (proof.length < quorum(this.config)) continue;
      const own = this.snapshots.get(seq);
      if (own === undefined) {
        // 2f+1 replicas are past a point we have not executed: fetch their state.
        this.lastStallRequest = Number.NEGATIVE_INFINITY;
        this.askForRetransmission();
        return;
      }
      if (hex(own.digest) !== digestHex) {
        // Our state differs from 2f+1 others: we are the faulty one. Say so loudly; state transfer repairs it.
        this.reject('checkpoint-mismatch', this.id, 'checkpoint');
        this.lastStallRequest = Number.NEGATIVE_INFINITY;
        this.askForRetransmission();
        return;
      }
      this.makeStable(seq, proof.slice(0, quorum(this.config)));
      return;
    }
  }

  private makeStable(seq: number, proof: readonly CheckpointBody[]): void {
    const before = this.log.size;
    this.low = seq;
    this.stableProof = proof;
    for (const s of this.log.keys()) {
      if (s <= seq) {
        const slot = this.log.get(s)!;
        if (!slot.authentic && slot.prePrepare !== undefined) this.heldCount--;
        this.log.delete(s);
      }
    }
    for (const s of this.checkpoints.keys()) if (s <= seq) this.checkpoints.delete(s);
    for (const s of this.snapshots.keys()) if (s < seq) this.snapshots.delete(s);
    for (const [d, b] of this.batches) if (b.lastSeq <= seq) this.batches.delete(d);
    for (const v of this.viewChanges.keys()) if (v < this.view) this.viewChanges.delete(v);
    for (const [r, s] of this.ahead) if (s <= seq + this.config.watermarkWindow) this.ahead.delete(r);
    if (this.lastAssigned < seq) this.lastAssigned = seq;
    this.emit({ type: 'checkpoint-stable', seq, truncated: before - this.log.size });
    // The window moved: the primary may propose what waited on the high watermark.
    if (this.isPrimary() && this.config.batching.mode === 'size') this.cutBatches();
  }

  // ---------------------------------------------------------------- retransmission and state transfer

  /** Waiting on work that does not arrive: a request not ordered, a slot not committed, peers far ahead. */
  private isStalled(): boolean {
    const limit = this.now - this.config.stallTicks;
    if (this.ahead.size > this.config.f) return true;
    if (!this.active && this.viewChangeSince <= limit) return true;
    // A seq the NEW-VIEW fixed whose PRE-PREPARE has not come: ask, even if we executed it already (the
    // others may need our votes on it to finish, and we need the PRE-PREPARE to vote).
    if (this.active && this.viewActiveSince <= limit) {
      for (const slot of this.log.values()) {
        if (slot.fixedDigestHex !== undefined && slot.prePrepare === undefined) return true;
      }
    }
    for (const p of this.pending.values()) if (p.since <= limit) return true;
    for (const slot of this.log.values())
      if (slot.seq > this.lastExecuted && slot.firstSeen <= limit) return true;
    return false;
  }

  /**
   * Ask every peer for what we miss from lastExecuted+1 on, at most once per stallTicks. A backup also
   * forwards its oldest unordered requests to the primary, in case the client's copy to it was lost.
   */
  private askForRetransmission(): void {
    if (this.now - this.lastStallRequest < this.config.stallTicks) return;
    this.lastStallRequest = this.now;
    this.nonce++;
    for (const to of this.others) {
      const unsigned: StateRequest = {
        kind: 'state-request',
        replica: this.id,
        fromSeq: this.lastExecuted + 1,
        nonce: this.nonce,
        tag: NO_TAG,
      };
      this.sendTagged(to, unsigned);
    }
    if (!this.active) this.fetchViewChanges();
    const primary = primaryOf(this.config, this.view);
    if (primary === this.id) return;
    let forwarded = 0;
    for (const p of this.pending.values()) {
      if (forwarded >= this.config.maxBatchRequests) break;
      if (p.inFlight || p.since > this.now - this.config.stallTicks) continue;
      const message = { kind: 'request' as const, ...p.request };
      this.out.push({ kind: 'send', to: primary, message, bytes: encodeMessage(message) });
      forwarded++;
    }
  }

  private onStateRequest(from: number, m: StateRequest): void {
    if (!this.taggedFromPeer(from, m)) return;
    // Serve each peer at most twice per stall period: a flood of requests cannot multiply our work.
    const last = this.lastServed.get(m.replica) ?? Number.NEGATIVE_INFINITY;
    if (this.now - last < this.config.stallTicks / 2) return;
    this.lastServed.set(m.replica, this.now);
    const to = m.replica;
    if (m.fromSeq <= this.low && this.low > 0) this.sendState(to, m.nonce);
    const budget = { left: this.config.maxRetransmitMessages };
    const send = (message: Message, bytes: Uint8Array | undefined): void => {
      if (budget.left <= 0 || bytes === undefined) return;
      budget.left--;
      this.out.push({ kind: 'send', to, message, bytes });
    };
    // Signed view-change state first: a peer that missed the NEW-VIEW (or our VIEW-CHANGE) can catch up.
    if (this.lastNewView !== undefined) send(this.lastNewView, encodeMessage(this.lastNewView));
    const ownViewChange = this.viewChanges.get(this.view)?.get(this.id);
    if (!this.active && ownViewChange !== undefined) send(ownViewChange, encodeMessage(ownViewChange));
    // The stable certificate (signed, so relayable) lets a peer that executed that far make it stable too.
    for (const body of this.stableProof) {
      const cp: Checkpoint = { kind: 'checkpoint', ...body };
      send(cp, encodeMessage(cp));
    }
    const first = Math.max(m.fromSeq, this.low + 1);
    for (let seq = first; seq <= this.low + this.config.watermarkWindow && budget.left > 0; seq++) {
      const slot = this.log.get(seq);
      if (slot === undefined) continue;
      if (slot.prePrepare !== undefined && slot.authentic) send(slot.prePrepare, slot.prePrepareBytes);
      if (slot.ownPrepare !== undefined) send(decodedOrThrow(slot.ownPrepare), slot.ownPrepare);
      if (slot.ownCommit !== undefined) send(decodedOrThrow(slot.ownCommit), slot.ownCommit);
    }
    for (const bySeq of this.checkpoints.values()) {
      const own = bySeq.get(this.id);
      if (own !== undefined) send(own, encodeMessage(own));
    }
    this.emit({ type: 'retransmit', to, messages: this.config.maxRetransmitMessages - budget.left });
  }

  private sendState(to: ReplicaId, nonce: number): void {
    const snapshot = this.snapshots.get(this.low);
    if (snapshot === undefined || snapshot.bytes.length > this.config.limits.maxSnapshotBytes) return;
    const unsigned: StateReply = {
      kind: 'state-reply',
      replica: this.id,
      nonce,
      stableSeq: this.low,
      stableDigest: snapshot.digest,
      checkpointProof: this.stableProof,
      snapshot: snapshot.bytes,
      entries: [],
      more: false,
      tag: NO_TAG,
    };
    this.sendTagged(to, unsigned);
  }

  /** Tag a point-to-point message for replica `to` and send it. */
  private sendTagged(to: ReplicaId, unsigned: StateRequest | StateReply | ViewChangeFetch): void {
    const message = { ...unsigned, tag: this.crypto.tag(to, authPayload(unsigned)) };
    this.out.push({ kind: 'send', to, message, bytes: encodeMessage(message) });
  }

  /** A point-to-point message from another replica with a valid tag; otherwise the rejection is counted. */
  private taggedFromPeer(from: number, m: StateRequest | StateReply | ViewChangeFetch): boolean {
    if (!this.validReplica(m.replica) || m.replica === this.id) {
      this.reject('bad-replica-id', from, m.kind);
      return false;
    }
    if (!this.crypto.verifyTag(m.replica, authPayload(m), m.tag)) {
      this.reject('bad-mac', from, m.kind);
      return false;
    }
    return true;
  }

  /**
   * Install a peer's stable checkpoint. Trust comes from the proof alone: 2f+1 distinct valid signatures on
   * (seq, digest) and a snapshot hashing to that digest; the sender may be Byzantine.
   */
  private onStateReply(from: number, m: StateReply): void {
    if (!this.taggedFromPeer(from, m)) return;
    // Answers to one of our last few asks (a retry must not make a slow answer useless); the proof below, not
    // the nonce, is what makes the state trustworthy, and it must move us forward.
    const recentAsk = m.nonce <= this.nonce && m.nonce > this.nonce - RECENT_ASKS;
    if (!recentAsk || m.stableSeq <= this.lastExecuted) return; // stale or unsolicited: ignore
    if (!this.validProof(m.stableSeq, m.stableDigest, m.checkpointProof)) {
      this.reject('bad-state', from, m.kind);
      return;
    }
    if (!bytesEqual(this.crypto.digest(m.snapshot), m.stableDigest)) {
      this.reject('bad-state', from, m.kind);
      return;
    }
    const state = decodeReplicaState(m.snapshot);
    if (!state.ok) {
      this.reject('bad-state', from, m.kind);
      return;
    }
    this.service.restore(state.app);
    this.replies.clear();
    for (const [c, r] of state.replies) this.replies.set(c, r);
    this.lastExecuted = m.stableSeq;
    this.snapshots.set(m.stableSeq, { bytes: m.snapshot, digest: m.stableDigest });
    for (const [c, p] of this.pending) {
      const cached = this.replies.get(c);
      if (cached !== undefined && p.request.timestamp <= cached.timestamp) this.pending.delete(c);
    }
    this.makeStable(m.stableSeq, m.checkpointProof);
    this.emit({ type: 'state-restored', seq: m.stableSeq, from: m.replica });
    this.executeReady();
  }

  private validProof(seq: number, digest: Uint8Array, proof: readonly CheckpointBody[]): boolean {
    const signers = new Set<ReplicaId>();
    for (const cp of proof) {
      if (cp.seq !== seq || !bytesEqual(cp.stateDigest, digest) || !this.validReplica(cp.replica))
        return false;
      if (signers.has(cp.replica)) return false;
      if (
        !this.crypto.verifySignature(cp.replica, authPayload({ kind: 'checkpoint', ...cp }), cp.signature)
      ) {
        return false;
      }
      signers.add(cp.replica);
    }
    return signers.size >= quorum(this.config);
  }

  // ---------------------------------------------------------------- view change

  /**
   * Request timer: a replica that waits on work it can check itself (a request it authenticated, or a slot
   * whose agreement started) and sees nothing execute for requestTimeoutTicks votes to leave the view. The
   * primary runs it too: a view whose backups cannot complete agreement must be left even if its primary
   * is correct, or one lagging backup can wedge the group. View-change timer (Castro): it starts only once
   * 2f+1 VIEW-CHANGEs for the view are held, so a lone replica that lost a NEW-VIEW cannot run away through
   * views; on expiry the next view is tried and the timeout doubles (to a ceiling), so after GST some view
   * lasts long enough; it resets when a batch executes.
   */
  private checkTimers(): void {
    if (!this.active) {
      if (this.now >= this.viewChangeDeadline) this.startViewChange(this.view + 1, 'view-change-timeout');
      return;
    }
    if (this.proposalOverdue()) {
      this.startViewChange(this.view + 1, 'slow-primary');
      return;
    }
    const limit = this.now - this.config.requestTimeoutTicks;
    if (this.progressAt > limit) return;
    let waiting = false;
    for (const p of this.pending.values()) if (p.since <= limit) waiting = true;
    for (const slot of this.log.values()) {
      if (slot.seq > this.lastExecuted && slot.prePrepare !== undefined && slot.firstSeen <= limit)
        waiting = true;
    }
    if (waiting) this.startViewChange(this.view + 1, 'request-timeout');
  }

  /** A control frame: the primary cuts its batch; a backup counts frames it waited on a batch. */
  private onFrame(): void {
    if (this.isPrimary()) {
      this.cutBatch();
      return;
    }
    if (!this.active || !this.primaryHasRoom() || this.proposableCount() === 0) {
      this.missedFrames = 0;
      return;
    }
    this.missedFrames++;
    if (this.missedFrames > this.config.maxMissedFrames) this.startViewChange(this.view + 1, 'slow-primary');
  }

  /**
   * Size mode monitoring: a request we authenticated has waited proposalTimeoutTicks (since it arrived or the
   * view began) for a PRE-PREPARE although the primary had room to propose it.
   */
  private proposalOverdue(): boolean {
    if (this.config.batching.mode !== 'size' || this.isPrimary() || !this.primaryHasRoom()) return false;
    const limit = this.now - this.config.proposalTimeoutTicks;
    if (this.viewActiveSince > limit) return false;
    for (const p of this.pending.values()) if (!p.inFlight && p.since <= limit) return true;
    return false;
  }

  /** Whether, as far as this backup can see, the primary's window and pipeline allow another batch. */
  private primaryHasRoom(): boolean {
    let highest = this.lastExecuted;
    for (const slot of this.log.values())
      if (slot.prePrepare !== undefined && slot.seq > highest) highest = slot.seq;
    return (
      highest < this.low + this.config.watermarkWindow &&
      highest - this.lastExecuted < this.config.maxInFlight
    );
  }

  /** Start the view-change timer once 2f+1 VIEW-CHANGEs for the current view are in. */
  private armViewChangeTimer(): void {
    if (this.active || this.viewChangeDeadline !== Number.POSITIVE_INFINITY) return;
    if ((this.viewChanges.get(this.view)?.size ?? 0) < quorum(this.config)) return;
    this.viewChangeDeadline = this.now + this.viewChangeTimeout;
    this.viewChangeTimeout = Math.min(2 * this.viewChangeTimeout, this.config.maxViewChangeTimeoutTicks);
  }

  private startViewChange(
    view: number,
    reason: 'request-timeout' | 'slow-primary' | 'view-change-timeout' | 'joined' | 'bad-new-view',
  ): void {
    if (view <= this.view && !(view === this.view && this.active)) return;
    this.view = view;
    this.active = false;
    this.early = [];
    this.missedFrames = 0;
    this.viewChangeSince = this.now;
    this.viewChangeDeadline = Number.POSITIVE_INFINITY;
    const prepared: CertEntry[] = [];
    const prePrepared: CertEntry[] = [];
    for (const slot of this.log.values()) {
      if (slot.seq <= this.low) continue;
      if (slot.pInfo !== undefined) prepared.push(slot.pInfo);
      if (slot.qInfo !== undefined) prePrepared.push(slot.qInfo);
    }
    const byAscendingSeq = (a: CertEntry, b: CertEntry): number => a.seq - b.seq;
    const unsigned: ViewChange = {
      kind: 'view-change',
      newView: view,
      replica: this.id,
      stableSeq: this.low,
      stableDigest: this.stableProof[0]?.stateDigest ?? new Uint8Array(32),
      checkpointProof: this.low > 0 ? this.stableProof : [],
      prepared: prepared.sort(byAscendingSeq),
      prePrepared: prePrepared.sort(byAscendingSeq),
      signature: new Uint8Array(64),
    };
    const message: ViewChange = { ...unsigned, signature: this.crypto.sign(authPayload(unsigned)) };
    this.recordViewChange(message);
    this.out.push({ kind: 'multicast', message, bytes: encodeMessage(message) });
    this.emit({ type: 'view-change', view, reason });
    this.armViewChangeTimer();
    this.tryNewView();
  }

  private onViewChange(from: number, vc: ViewChange): void {
    if (vc.replica === this.id) return; // our own, relayed back by a peer
    if (!this.validReplica(vc.replica)) {
      this.reject('bad-replica-id', from, vc.kind);
      return;
    }
    if (vc.newView < this.view || (vc.newView === this.view && this.active)) return; // stale
    if (vc.newView > this.view + this.config.maxViewAhead) {
      this.reject('view-too-far', from, vc.kind);
      return;
    }
    if (this.viewChanges.get(vc.newView)?.has(vc.replica) === true) return; // first one per replica counts
    const problem = this.checkViewChange(vc, vc.newView);
    if (problem !== undefined) {
      this.reject(problem, from, vc.kind);
      return;
    }
    this.recordViewChange(vc);
    this.maybeJoin();
    this.armViewChangeTimer();
    this.tryNewView();
  }

  /** A VIEW-CHANGE is valid on its own: signed by its replica, checkpoint proven, entries below its view. */
  private checkViewChange(vc: ViewChangeBody, view: number): ReplicaRejection | undefined {
    if (vc.newView !== view || !this.validReplica(vc.replica)) return 'bad-view-change';
    const payload = authPayload({ kind: 'view-change', ...vc });
    if (!this.crypto.verifySignature(vc.replica, payload, vc.signature)) return 'bad-signature';
    if (vc.stableSeq > 0 && !this.validProof(vc.stableSeq, vc.stableDigest, vc.checkpointProof)) {
      return 'bad-view-change';
    }
    for (const e of [...vc.prepared, ...vc.prePrepared]) if (e.view >= vc.newView) return 'bad-view-change';
    return undefined;
  }

  /** Stuck in a view change: ask every peer for the VIEW-CHANGEs (and NEW-VIEW) it holds for our view. */
  private fetchViewChanges(): void {
    for (const to of this.others) {
      const unsigned: ViewChangeFetch = {
        kind: 'view-change-fetch',
        view: this.view,
        replica: this.id,
        tag: NO_TAG,
      };
      this.sendTagged(to, unsigned);
    }
  }

  /** Relay the signed VIEW-CHANGEs we hold for the asked view (they verify whoever forwards them). */
  private onViewChangeFetch(from: number, m: ViewChangeFetch): void {
    if (!this.taggedFromPeer(from, m)) return;
    const last = this.lastFetchServed.get(m.replica) ?? Number.NEGATIVE_INFINITY;
    if (this.now - last < this.config.stallTicks / 2) return;
    this.lastFetchServed.set(m.replica, this.now);
    for (const vc of this.viewChanges.get(m.view)?.values() ?? []) {
      this.out.push({ kind: 'send', to: m.replica, message: vc, bytes: encodeMessage(vc) });
    }
    const nv = this.lastNewView;
    if (nv !== undefined && nv.view >= m.view) {
      this.out.push({ kind: 'send', to: m.replica, message: nv, bytes: encodeMessage(nv) });
    }
  }

  private recordViewChange(vc: ViewChange): void {
    let byReplica = this.viewChanges.get(vc.newView);
    if (byReplica === undefined) {
      byReplica = new Map();
      this.viewChanges.set(vc.newView, byReplica);
    }
    if (!byReplica.has(vc.replica)) byReplica.set(vc.replica, vc);
  }

  /** f+1 replicas want a view above ours: at least one is correct, so join the smallest such view. */
  private maybeJoin(): void {
    const lowest = new Map<ReplicaId, number>();
    for (const [view, byReplica] of this.viewChanges) {
      if (view <= this.view) continue;
      for (const r of byReplica.keys()) lowest.set(r, Math.min(view, lowest.get(r) ?? view));
    }
    if (lowest.size < this.config.f + 1) return;
    this.startViewChange(Math.min(...lowest.values()), 'joined');
  }

  /** New primary: once the VIEW-CHANGEs it holds decide every sequence number, send NEW-VIEW. */
  private tryNewView(): void {
    if (this.active || !this.isPrimary()) return;
    const set = [...(this.viewChanges.get(this.view)?.values() ?? [])];
    const decision = this.decide(set);
    if (!decision.ok) return;
    const unsigned: NewView = {
      kind: 'new-view',
      view: this.view,
      replica: this.id,
      viewChanges: set,
      prePrepares: decision.chosen,
      signature: new Uint8Array(64),
    };
    const message: NewView = { ...unsigned, signature: this.crypto.sign(authPayload(unsigned)) };
    this.out.push({ kind: 'multicast', message, bytes: encodeMessage(message) });
    this.installNewView(message, decision);
  }

  private decide(set: readonly ViewChangeBody[]): NewViewDecision {
    return decideNewView(set, this.config.f, this.config.watermarkWindow, this.nullDigest);
  }

  /**
   * Backups accept a NEW-VIEW only if its V set is 2f+1 valid VIEW-CHANGEs for that view and recomputing the
   * decision from V gives exactly its list. A valid NEW-VIEW proves 2f+1 replicas moved there, so (unlike a
   * lone VIEW-CHANGE) it is accepted for any higher view: a replica left far behind can rejoin.
   */
  private onNewView(from: number, nv: NewView): void {
    if (nv.view < this.view || (nv.view === this.view && this.active)) return; // stale or a duplicate
    if (nv.replica !== primaryOf(this.config, nv.view)) {
      this.reject('not-from-primary', from, nv.kind);
      return;
    }
    if (!this.crypto.verifySignature(nv.replica, authPayload(nv), nv.signature)) {
      this.reject('bad-signature', from, nv.kind);
      return;
    }
    const signers = new Set<ReplicaId>();
    for (const vc of nv.viewChanges) {
      if (signers.has(vc.replica) || this.checkViewChange(vc, nv.view) !== undefined) {
        this.reject('bad-new-view', from, nv.kind);
        return;
      }
      signers.add(vc.replica);
    }
    const decision = this.decide(nv.viewChanges);
    if (!decision.ok || !sameChoices(decision.chosen, nv.prePrepares)) {
      this.reject('bad-new-view', from, nv.kind);
      // The primary of nv.view is faulty: move past it.
      this.view = Math.max(this.view, nv.view);
      this.active = true; // let startViewChange leave this view
      this.startViewChange(nv.view + 1, 'bad-new-view');
      return;
    }
    this.view = nv.view;
    this.installNewView(nv, decision);
  }

  private installNewView(nv: NewView, decision: NewViewDecision & { ok: true }): void {
    this.active = true;
    this.viewChangeDeadline = Number.POSITIVE_INFINITY;
    this.lastNewView = nv;
    this.progressAt = this.now;
    this.viewActiveSince = this.now;
    if (decision.stableSeq > this.low && decision.proofFrom !== undefined) {
      this.adoptStable(decision.stableSeq, decision.proofFrom.checkpointProof);
    }
    // Agreement restarts in the new view; P and Q entries survive for the next view change.
    for (const slot of this.log.values()) {
      slot.view = this.view;
      slot.prePrepare = undefined;
      slot.prePrepareBytes = undefined;
      slot.digestHex = undefined;
      slot.authentic = false;
      slot.prepares.clear();
      slot.commits.clear();
      slot.ownPrepare = undefined;
      slot.ownCommit = undefined;
      slot.prepared = false;
      slot.committed = false;
      slot.fixedDigestHex = undefined;
    }
    this.heldCount = 0;
    for (const p of this.pending.values()) p.inFlight = false;
    let reproposed = 0;
    for (const c of nv.prePrepares) {
      if (!this.inWindow(c.seq)) continue;
      this.slot(c.seq).fixedDigestHex = hex(c.batchDigest);
      reproposed++;
    }
    this.lastAssigned = Math.max(this.low, ...nv.prePrepares.map((c) => c.seq));
    for (const v of this.viewChanges.keys()) if (v <= this.view) this.viewChanges.delete(v);
    this.emit({ type: 'new-view', view: this.view, stableSeq: decision.stableSeq, reproposed });
    if (this.isPrimary()) {
      for (const c of nv.prePrepares) this.reproposeIfKnown(c.seq);
      if (this.config.batching.mode === 'size') this.cutBatches();
    }
    const early = this.early;
    this.early = [];
    for (const e of early) if (e.message.view === this.view) this.onMessage(e.from, e.message, e.bytes);
  }

  /**
   * During a view change, keep (bounded) the PRE-PREPAREs and votes of the view being installed: the NEW-VIEW
   * may be overtaken by them, and dropping them would leave this replica unable to vote until a retransmission.
   */
  private bufferEarly(from: number, message: PrePrepare | Prepare | Commit, bytes: Uint8Array): boolean {
    if (this.active || message.view !== this.view) return false;
    if (this.early.length >= EARLY_BUFFER_LIMIT) {
      this.reject('view-change-in-progress', from, message.kind);
      return true;
    }
    this.early.push({ from, message, bytes });
    return true;
  }

  /** New primary: re-propose the batch a NEW-VIEW fixed at `seq`, once its content is known here. */
  private reproposeIfKnown(seq: number): void {
    const slot = this.log.get(seq);
    if (slot === undefined || slot.fixedDigestHex === undefined || slot.prePrepare !== undefined) return;
    if (!this.active || !this.isPrimary()) return;
    const known = this.batches.get(slot.fixedDigestHex);
    if (slot.fixedDigestHex === hex(this.nullDigest)) {
      this.propose(seq, { kind: 'full', requests: [] }, this.nullDigest);
    } else if (known !== undefined) {
      this.propose(seq, known.batch, this.crypto.digest(encodeBatch(known.batch)));
    }
  }

  /** The new view starts above our stable checkpoint: take its proof; state transfer fills the gap. */
  private adoptStable(seq: number, proof: readonly CheckpointBody[]): void {
    const own = this.snapshots.get(seq);
    if (own !== undefined && proof[0] !== undefined && bytesEqual(own.digest, proof[0].stateDigest)) {
      this.makeStable(seq, proof);
      return;
    }
    this.makeStable(seq, proof);
    if (this.lastExecuted < seq) this.lastStallRequest = Number.NEGATIVE_INFINITY;
  }

  private rememberBatch(digestHex: string, seq: number, batch: Batch): void {
    if (!this.inWindow(seq)) return;
    const known = this.batches.get(digestHex);
    if (known !== undefined) {
      // Seen again at a later seq: keep the content until that seq is stable too.
      if (seq > known.lastSeq) known.lastSeq = seq;
    } else {
      if (this.batches.size >= 4 * this.config.watermarkWindow) return; // bounded; a correct view needs one per seq
      this.batches.set(digestHex, { lastSeq: seq, batch });
    }
    this.reproposeIfKnown(seq);
  }

  /**
   * A PRE-PREPARE from an earlier view is no longer acceptable, but its batch may be the one a NEW-VIEW fixed:
   * keep the content when it hashes to its digest (the digest, not the sender, makes it trustworthy).
   */
  private rememberOldBatch(pp: PrePrepare, bytes: Uint8Array): void {
    if (pp.batch.kind !== 'full' || !this.inWindow(pp.seq)) return;
    const digestHex = hex(pp.batchDigest);
    const known = this.batches.get(digestHex);
    if (known !== undefined) {
      this.rememberBatch(digestHex, pp.seq, known.batch); // content already verified: only its lifetime grows
      return;
    }
    if (!bytesEqual(this.crypto.digest(prePrepareBatchBytes(bytes, pp)), pp.batchDigest)) return;
    this.rememberBatch(digestHex, pp.seq, pp.batch);
  }

  // ---------------------------------------------------------------- helpers

  private isPrimary(): boolean {
    return primaryOf(this.config, this.view) === this.id;
  }

  private inWindow(seq: number): boolean {
    return seq > this.low && seq <= this.low + this.config.watermarkWindow;
  }

  private validReplica(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.config.n;
  }

  private slot(seq: number): Slot {
    let slot = this.log.get(seq);
    if (slot === undefined) {
      if (!this.inWindow(seq)) throw new Error(`invariant: slot ${seq} outside window (${this.low}]`);
      slot = {
        seq,
        view: this.view,
        prePrepare: undefined,
        prePrepareBytes: undefined,
        digestHex: undefined,
        authentic: false,
        prepares: new Map(),
        commits: new Map(),
        ownPrepare: undefined,
        ownCommit: undefined,
        prepared: false,
        committed: false,
        firstSeen: this.now,
        pInfo: undefined,
        qInfo: undefined,
        fixedDigestHex: undefined,
      };
      this.log.set(seq, slot);
    }
    return slot;
  }

  private proposableCount(): number {
    let n = 0;
    for (const p of this.pending.values()) if (!p.inFlight) n++;
    return n;
  }

  private oldestProposable(): number | undefined {
    for (const p of this.pending.values()) if (!p.inFlight) return p.since;
    return undefined;
  }

  private reject(reason: ReplicaRejection, from: number, kind?: MessageKind): void {
    this.emit(
      kind === undefined ? { type: 'rejected', reason, from } : { type: 'rejected', reason, from, kind },
    );
  }

  private emit(event: ReplicaEvent): void {
    this.out.push({ kind: 'event', event });
  }
}

function decodedOrThrow(bytes: Uint8Array): Message {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(`invariant: own message does not decode: ${d.reason}`);
  return d.message;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}
