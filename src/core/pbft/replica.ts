/**
 * A PBFT replica as a pure state machine: normal case with batching, checkpoints and log truncation, view
 * change (VIEW-CHANGE with P and Q entries, NEW-VIEW recomputed by backups), primary monitoring,
 * retransmission and checkpoint-based state transfer. `step(input)` returns the actions to carry out; the
 * replica does no I/O, reads no clock and draws no randomness.
 *
 * @example
 * const r = new Replica({ id: 1, config: pbftConfig(1), crypto, service });
 * for (const a of r.step({ kind: 'receive', from: 0, bytes })) runtime.perform(a);
 *
 * This file routes inputs and wires the parts together; each part owns one piece of state:
 *   log.ts (the watermark window and its slots), batch-store.ts (batch contents by digest),
 *   requests.ts (requests waiting to be ordered, the reply cache), agreement.ts (the normal case),
 *   checkpoints.ts (checkpoint votes and the stable proof), view-change.ts (view-change votes, NEW-VIEW,
 *   the view-change timer), early-buffer.ts (messages of a view not yet installed), monitor.ts (primary
 *   monitoring), state-transfer.ts (retransmission and state transfer), batch-fetch.ts (a batch by digest
 *   for a new primary that never saw it), learn.ts (batches proven committed in a view this replica left,
 *   executed in order so that a replica alone in a higher view keeps up), quorum.ts (certificate sizes).
 *
 * A correct replica never throws from step(): every input is decoded totally, checked, and refused with a
 * counted reason ('rejected' events) when it does not fit; `checkInvariants()` states what holds between steps.
 *
 * Request authentication inside a batch (the rule this replica implements, and why).
 * Requests carry MAC authenticators: one tag per replica, each checkable only by its own replica. So a backup
 * cannot check the tag the primary checked, and a faulty client can make tags that verify at some replicas
 * and not others: the primary (correct) includes the request, some backups cannot authenticate it, the batch
 * fails to gather its PREPAREs and the correct primary looks faulty. What others do:
 *  - Castro and Liskov's BFT library (Pre_prepare::verify) accepts an inline request in a PRE-PREPARE when
 *    `req.verify() || replica->has_req(client, digest)`: its own tag verifies, or it already holds the same
 *    request received directly from the client and authenticated then; its own TODO notes that one bad
 *    client can then deny service to the good requests batched with it.
 *  - Aardvark (Clement et al., NSDI 2009) signs every client request so all replicas reach the same verdict,
 *    at the price of a public-key verification per request.
 * Rule chosen here (Castro's rule, completed with weak certificates so a correct primary is never blamed):
 *  1. A primary batches only fresh requests whose tag for itself verifies, or that f+1 replicas vouch for
 *     (requests.ts: a client whose tag fails only at the primary is ordered anyway, and backups blame the
 *     primary for a request only when 2f+1 replicas vouch for it).
 *  2. A backup treats a request of a PRE-PREPARE as authentic when (a) its own tag verifies, or (b) it holds
 *     the identical request (client, timestamp, op) that it authenticated when the client sent it directly,
 *     or (c) f+1 distinct replicas vouch for the batch: the primary by its PRE-PREPARE and f backups by
 *     PREPAREs with the same (view, seq, digest). Among f+1 replicas one is correct, and a correct replica
 *     vouches only after (a) or (b), so a forged request is never executed.
 *  3. A PRE-PREPARE whose requests are not yet authentic is held (bounded by `maxHeldPrePrepares`), counted as
 *     'request-auth-pending', and never rejected as evidence against the primary. Only what the primary alone
 *     controls counts against it: its own MAC, form, view, watermarks, digest, conflicts and freshness.
 * The inverse case (rules V5 to V7 of requests.ts). A faulty client whose tags verify at the primary and at
 * fewer than f backups gets its request into a correct primary's batch, which can never prepare; a PRE-PREPARE
 * cannot be withdrawn, so only a view change drops it, and the first such view change is unavoidable with MACs.
 * Every correct backup that leaves the view still holding that PRE-PREPARE (sent under the primary's own valid
 * MAC) marks the client vouch-first, and a marked client's requests are proposed only once 2f+1 replicas vouch for them, which a
 * client authentic at f replicas or fewer never gets: it is not ordered, and no timer runs against a primary
 * for it. Decided for backups: a request of a PRE-PREPARE that a backup cannot authenticate itself is accepted
 * when f+1 replicas vouched for that exact request (client, timestamp, op), which is rule 2 (b) with the vouches
 * standing in for the client's own copy. Safe: one of the f+1 is correct and vouched only after its own tag
 * verified, so the client did send the request; and agreement is untouched (which batch commits at a seq is
 * still decided by PREPAREs and COMMITs; the vouches only let a backup vote on a batch it could not check).
 * Why 2f+1 and not f+1 for the proposal: f+1 correct vouchers among them sent their vouch to every replica,
 * so every correct backup reaches f+1 and the batch prepares; with f+1, f faulty vouchers could have sent
 * theirs to the primary alone and stalled the batch again.
 * Bound (after GST): such a client forces at most f view changes in any period of vouchFirstTicks, the first
 * included. A forced view change needs an unmarked primary that authenticated the request; after the first
 * one, every correct replica that could not authenticate it stays marked for vouchFirstTicks (and as long as
 * the client keeps sending requests that fail there or go unvouched), and those that could are at most f (the
 * primary and fewer than f backups: with f backups preparing, rule 2 (c) releases the batch). Each faulty
 * client costs that separately; a faulty primary that evicts marks (the table holds maxPendingRequests clients,
 * oldest out) can make a client's next attempt cost it again. Not covered: a faulty replica that claims in its
 * VIEW-CHANGE to have prepared such a batch can get a NEW-VIEW to carry it over, as for any batch.
 * Costs: a faulty primary can get a correct client marked (a PRE-PREPARE holding a request of it that fails the
 * backups' tags). That client's requests then wait one vouch hop before the primary may propose them, until the
 * mark runs out: in the test of a marked input unit at 100 Hz (test/core/pbft/big-mac-primary-only.test.ts),
 * no extra delay at most phases against the frame, one frame (10 ticks) where the vouch hop crosses the cut.
 * We keep MACs rather than Aardvark's signatures because ed25519 verification (about 7k/s here) per request
 * would cap ordering throughput far below the MAC path.
 */
import { assert } from '../assert.ts';
import { decodeMessage, encodeBatch, encodeMessage } from '../codec/encode.ts';
import type { Message } from '../codec/messages.ts';
import { Agreement } from './agreement.ts';
import { BatchFetcher } from './batch-fetch.ts';
import { BatchStore } from './batch-store.ts';
import { Checkpoints } from './checkpoints.ts';
import {
  allReplicas,
  assertConfig,
  type ClientId,
  othersOf,
  type PbftConfig,
  primaryOf,
  type ReplicaId,
} from './config.ts';
import { type Ctx, isPrimary, Outbox, type ReplicaState } from './context.ts';
import type { NodeCrypto } from './crypto.ts';
import { EarlyBuffer } from './early-buffer.ts';
import { Learner } from './learn.ts';
import { Log } from './log.ts';
import { Monitor } from './monitor.ts';
import { type Quorums, quorums } from './quorum.ts';
import { Recovering } from './recovering.ts';
import { Requests } from './requests.ts';
import type { CachedReply } from './snapshot.ts';
import { StateTransfer } from './state-transfer.ts';
import type { ReplicaAction, ReplicaInput, Service } from './types.ts';
import { ViewChanges } from './view-change.ts';

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
  /**
   * Proactive recovery: this replica was restarted from scratch and is recovering until it has executed this
   * seq (recovering.ts). Absent: a replica that starts with the group.
   */
  readonly recoveryPoint?: number;
  /**
   * The host's clock (ticks) when the replica is built: the time of everything that arrives before its first
   * tick. Default 0, which suits a clock that starts with the replica (the simulator's). A host whose clock
   * already runs (performance.now() in a process that took a second to load) must pass it: otherwise a request
   * that arrives before the first tick is stamped 0, looks as old as the clock at that tick, and the request
   * timer blames a correct primary at once (bench:ordering --processes saw this as a lone view change at
   * start-up).
   */
  readonly now?: number;
}

export class Replica {
  readonly id: ReplicaId;
  readonly config: PbftConfig;
  private readonly ctx: Ctx;
  /** What checkInvariants saw last (the numbers that must never decrease). */
  private readonly seen = { low: 0, lastExecuted: 0, view: 0 };
  private readonly recovery: Recovering;
  /** The time of the last tick, and whether the timers were deferred at it (onTick). */
  private lastTickAt = 0;
  private timersDeferred = false;
  /** A gap between two ticks longer than this is a host stall (onTick). */
  private readonly stallGap: number;

  constructor(options: ReplicaOptions) {
    assertConfig(options.config);
    if (!Number.isInteger(options.id) || options.id < 0 || options.id >= options.config.n) {
      throw new RangeError(`replica id ${options.id} not in 0..${options.config.n - 1}`);
    }
    this.id = options.id;
    this.config = options.config;
    this.recovery = new Recovering(options.recoveryPoint);
    const startAt = options.now ?? 0;
    if (!Number.isFinite(startAt) || startAt < 0)
      throw new RangeError(`replica clock ${startAt} is not a time`);
    this.lastTickAt = startAt;
    const config = options.config;
    this.stallGap = Math.max(
      1,
      Math.floor(
        Math.min(config.requestTimeoutTicks, config.proposalTimeoutTicks, config.viewChangeTimeoutTicks) / 2,
      ),
    );
    const sizes = quorums(config.n, config.f);
    const certificateSizes: Quorums =
      options.unsafeTestQuorums === undefined
        ? sizes
        : {
            ...sizes,
            prepares: options.unsafeTestQuorums.prepares,
            commits: options.unsafeTestQuorums.commits,
          };
    const s: ReplicaState = {
      view: 0,
      active: true,
      now: startAt,
      lastExecuted: 0,
      lastAssigned: 0,
      progressAt: startAt,
      viewActiveSince: startAt,
      recovering: options.recoveryPoint !== undefined,
    };
    // The parts reach each other through the context; it is complete before any input arrives.
    const ctx = {
      id: this.id,
      config,
      crypto: options.crypto,
      service: options.service,
      others: othersOf(config, this.id),
      everyone: allReplicas(config),
      quorums: certificateSizes,
      nullDigest: options.crypto.digest(encodeBatch({ kind: 'full', requests: [] })),
      s,
      out: new Outbox(),
      log: new Log(config.watermarkWindow),
      batches: new BatchStore(config.maxOldBatchBytesPerReplica),
    } as unknown as { -readonly [K in keyof Ctx]: Ctx[K] }; // the parts are added just below
    ctx.requests = new Requests(ctx);
    ctx.agreement = new Agreement(ctx);
    ctx.checkpoints = new Checkpoints(ctx);
    ctx.views = new ViewChanges(ctx);
    ctx.early = new EarlyBuffer(ctx);
    ctx.transfer = new StateTransfer(ctx);
    ctx.monitor = new Monitor(ctx);
    ctx.fetcher = new BatchFetcher(ctx);
    ctx.learner = new Learner(ctx);
    this.ctx = ctx;
  }

  /** Feed one input; returns the actions to perform, in order. */
  step(input: ReplicaInput): ReplicaAction[] {
    const ctx = this.ctx;
    ctx.out.take();
    ctx.s.recovering = this.recovery.recovering(ctx.s.lastExecuted);
    switch (input.kind) {
      case 'receive': {
        const decoded = decodeMessage(input.bytes, this.config.limits);
        if (!decoded.ok) ctx.out.reject(decoded.reason, input.from);
        else this.onMessage(input.from, decoded.message, input.bytes);
        break;
      }
      case 'deliver':
        // Kept for callers that still decode themselves; it re-encodes, so 'receive' is the path to use.
        this.onMessage(input.from, input.message, encodeMessage(input.message));
        break;
      case 'tick':
        this.onTick(input.now);
        break;
      case 'frame':
        if (this.config.batching.mode === 'frame')
          ctx.monitor.onFrame(this.recovery.recovering(ctx.s.lastExecuted));
        break;
    }
    return ctx.out.take();
  }

  /**
   * Planned view change before a proactive restart (handover.ts): the primary of an active view leaves it for
   * view + 1 with its signed VIEW-CHANGE, and backups follow at once. Not the primary, or not active: nothing.
   */
  handOver(): ReplicaAction[] {
    const ctx = this.ctx;
    ctx.out.take();
    if (ctx.s.active && isPrimary(ctx)) ctx.views.start(ctx.s.view + 1, 'handover');
    return ctx.out.take();
  }

  /** Read-only view for tests, the runtime and the benchmark. */
  status(): {
    view: number;
    active: boolean;
    primary: ReplicaId;
    lastExecuted: number;
    /** Restarted and not yet executed past its recovery point (recovering.ts). */
    recovering: boolean;
    lowWatermark: number;
    highWatermark: number;
    logEntries: number;
    pending: number;
    held: number;
    checkpointsHeld: number;
    /** Clients ordered only on 2f+1 vouches here now (requests.ts, rules V5 to V7). */
    vouchFirst: number;
  } {
    const { s, log } = this.ctx;
    return {
      view: s.view,
      active: s.active,
      primary: primaryOf(this.config, s.view),
      lastExecuted: s.lastExecuted,
      recovering: this.recovery.recovering(s.lastExecuted),
      lowWatermark: log.low,
      highWatermark: log.high,
      logEntries: log.size,
      pending: this.ctx.requests.pendingCount,
      held: log.heldCount,
      checkpointsHeld: this.ctx.checkpoints.held,
      vouchFirst: this.ctx.requests.vouchFirstCount,
    };
  }

  /**
   * Assert what must hold between any two steps (a failure is a bug in this replica, never bad input): the log
   * lies inside the watermark window; the low watermark and the last executed seq never decrease; a committed
   * slot is prepared and a prepared one pre-prepared; held counts and buffer bounds are consistent. The tests
   * and the simulator call it after every step.
   *
   * @example
   * for (const a of replica.step(input)) carryOut(a);
   * replica.checkInvariants();
   */
  checkInvariants(): void {
    const { s, log, config } = this.ctx;
    const seen = this.seen;
    assert(log.low >= seen.low, 'low watermark moved backwards', { low: log.low, before: seen.low });
    assert(s.lastExecuted >= seen.lastExecuted, 'last executed moved backwards', {
      lastExecuted: s.lastExecuted,
      before: seen.lastExecuted,
    });
    assert(s.view >= seen.view, 'view moved backwards', { view: s.view, before: seen.view });
    assert(log.low % config.checkpointInterval === 0, 'low watermark not a checkpoint', { low: log.low });
    assert(Number.isSafeInteger(s.view) && s.view >= 0, 'view out of range', { view: s.view });
    assert(log.heldCount <= config.maxHeldPrePrepares, 'more PRE-PREPAREs held than allowed', {
      held: log.heldCount,
    });
    assert(
      this.ctx.requests.pendingCount <= config.maxPendingRequests,
      'more requests pending than allowed',
      {
        pending: this.ctx.requests.pendingCount,
      },
    );
    log.checkInvariants();
    this.ctx.batches.checkInvariants(config.watermarkWindow);
    this.ctx.early.checkInvariants();
    this.ctx.requests.checkInvariants();
    this.ctx.checkpoints.checkInvariants();
    this.ctx.views.checkInvariants();
    this.ctx.learner.checkInvariants();
    seen.low = log.low;
    seen.lastExecuted = s.lastExecuted;
    seen.view = s.view;
  }

  /** The cached reply for `client` (last executed request), if any. */
  cachedReply(client: ClientId): CachedReply | undefined {
    return this.ctx.requests.replies.get(client);
  }

  /** `bytes` is the encoding `message` was decoded from: MACs are checked over it (see wire-views.ts). */
  private onMessage(from: number, message: Message, bytes: Uint8Array): void {
    const ctx = this.ctx;
    switch (message.kind) {
      case 'request':
        ctx.requests.onRequest(from, message, bytes);
        return;
      case 'pre-prepare':
        ctx.agreement.onPrePrepare(from, message, bytes);
        return;
      case 'prepare':
        ctx.agreement.onPrepare(from, message, bytes);
        return;
      case 'commit':
        ctx.agreement.onCommit(from, message, bytes);
        return;
      case 'checkpoint':
        ctx.checkpoints.onCheckpoint(from, message, bytes);
        return;
      case 'state-request':
        ctx.transfer.onStateRequest(from, message, bytes);
        return;
      case 'state-reply':
        ctx.transfer.onStateReply(from, message, bytes);
        return;
      case 'view-change':
        ctx.views.onViewChange(from, message, bytes);
        return;
      case 'new-view':
        ctx.views.onNewView(from, message, bytes);
        return;
      case 'view-change-fetch':
        ctx.views.onFetch(from, message, bytes);
        return;
      case 'vouch':
        ctx.requests.onVouch(from, message, bytes);
        return;
      case 'batch-fetch':
        ctx.fetcher.onFetch(from, message, bytes);
        return;
      case 'batch-reply':
        ctx.fetcher.onReply(from, message, bytes);
        return;
      default:
        // Replies, outputs, heartbeats and keys are for other roles.
        ctx.out.reject('unsupported-kind', from, message.kind);
        return;
    }
  }

  /**
   * Time advanced: cut a batch that waited long enough, vouch, ask for what stalls, run the suspicion timers.
   *
   * A host stall (issue 13). When the host did not run for a while (a loaded machine, a GC pause), its first
   * tick after the stall comes before the input that queued up meanwhile: a Node host runs expired timers before
   * it polls its sockets. Judged at that tick, the request timer finds a slot overdue whose COMMITs are in the
   * queue, and the replica votes alone to leave a view whose primary is fine; the others go on without it (it
   * takes f+1 to move anyone). So at the first tick after a gap longer than half the shortest timeout, the
   * timers and the stall ask wait for the next tick, by which the queued input has been read. Only the first
   * such tick defers: on a host that is slow all the time every other tick still judges, so suspicion is late
   * by one tick at most and never off. Safety does not depend on timers; no message from a peer moves this.
   */
  private onTick(now: number): void {
    const ctx = this.ctx;
    const { s } = ctx;
    const gap = now - this.lastTickAt;
    if (now > this.lastTickAt) this.lastTickAt = now;
    if (now > s.now) s.now = now;
    const batching = this.config.batching;
    if (batching.mode === 'size' && isPrimary(ctx)) {
      const oldest = ctx.requests.oldestProposable();
      if (oldest !== undefined && s.now - oldest >= batching.maxDelayTicks) ctx.agreement.cutBatches();
    }
    ctx.monitor.vouchIfWaiting();
    if (gap > this.stallGap && !this.timersDeferred) {
      this.timersDeferred = true;
      return;
    }
    this.timersDeferred = false;
    if (ctx.transfer.isStalled()) ctx.transfer.ask();
    // A recovering replica lags by construction: its own timers would only blame a primary that is fine.
    if (this.recovery.recovering(s.lastExecuted)) return;
    if (s.active) ctx.monitor.checkTimers();
    else ctx.views.checkTimer();
    if (s.active) ctx.views.checkReunion();
  }
}
