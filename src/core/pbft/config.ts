/**
 * Static parameters of one PBFT group. Every correct replica of a group must hold the same values
 * (they decide quorums, watermarks and checkpoint points, which all replicas must agree on).
 */
import { DEFAULT_LIMITS, type DecodeLimits } from '../codec/limits.ts';
import { quorumSize } from './quorum.ts';

export type ReplicaId = number;
export type ClientId = number;

/** How the primary decides when to cut a batch. */
export type BatchingPolicy =
  /** One batch per `frame` input (the control loop drives ordering). */
  | { readonly mode: 'frame' }
  /** Cut when `maxBatchRequests` are pending or the oldest pending request waited `maxDelayTicks`. */
  | { readonly mode: 'size'; readonly maxDelayTicks: number };

export interface PbftConfig {
  /** Number of replicas, n >= 3f + 1 (more is allowed: every quorum is then q = ceil((n + f + 1) / 2), quorum.ts). */
  readonly n: number;
  /** Faults tolerated. */
  readonly f: number;
  /** K: a checkpoint every K executed batches. */
  readonly checkpointInterval: number;
  /** L: sequence numbers accepted above the low watermark h (h < seq <= h + L); a multiple of K. */
  readonly watermarkWindow: number;
  /** Requests in one batch (also capped by the decoder limit). */
  readonly maxBatchRequests: number;
  readonly batching: BatchingPolicy;
  /** Batches the primary may have proposed but not yet executed (the pipeline depth). */
  readonly maxInFlight: number;
  /** Requests queued per replica waiting to be ordered (one per client at a time; older ones dropped). */
  readonly maxPendingRequests: number;
  /** Ticks a replica waits on missing work before asking its peers to retransmit (state-request). */
  readonly stallTicks: number;
  /** PRE-PREPAREs held while their requests are not yet authentic for this replica. */
  readonly maxHeldPrePrepares: number;
  /** Protocol messages one retransmission answer may carry (bounds work per state-request). */
  readonly maxRetransmitMessages: number;
  /** Ticks a backup waits for a request it holds to execute before it suspects the primary. */
  readonly requestTimeoutTicks: number;
  /**
   * Primary monitoring (Aardvark's idea: a primary must keep up a rate, not merely beat a timeout). Size mode:
   * ticks a backup lets a request it authenticated wait for a PRE-PREPARE while the primary has room to
   * propose. Frame mode: frames a backup lets pass without a batch while it holds unproposed requests.
   */
  readonly proposalTimeoutTicks: number;
  readonly maxMissedFrames: number;
  /** First view-change timeout; doubles with each view change that does not complete, reset on progress. */
  readonly viewChangeTimeoutTicks: number;
  /** Ceiling of the growing view-change timeout. */
  readonly maxViewChangeTimeoutTicks: number;
  /**
   * A primary that has held a VIEW-CHANGE for view + 1 from at most f replicas this long hands its view over so
   * that they rejoin (view-change.ts, checkReunion), once its view has been active reunionEveryTicks (so a
   * faulty replica can make the group change view at most that often). Defaults: 4 and 20 view-change timeouts.
   */
  readonly reunionWaitTicks: number;
  readonly reunionEveryTicks: number;
  /** VIEW-CHANGEs for views further than this above ours are refused (a Byzantine replica cannot announce huge views). */
  readonly maxViewAhead: number;
  /**
   * Budgets of what a replica keeps for other replicas, per replica (the total is n times as much). Early
   * messages: PRE-PREPAREs and votes of the view being installed, kept (after their MAC verified) until its
   * NEW-VIEW arrives.
   */
  readonly maxEarlyMessagesPerReplica: number;
  readonly maxEarlyBytesPerReplica: number;
  /** Batches of PRE-PREPAREs from views this replica already left, per primary of such a view. */
  readonly maxOldBatchBytesPerReplica: number;
  /** Requests another replica vouches for that this replica could not authenticate itself, per voucher. */
  readonly maxVouchBytesPerReplica: number;
  /**
   * Size mode: ticks a backup lets a request it authenticated wait unproposed (the primary having room)
   * before it vouches for it to every replica (frame mode: it vouches after one frame without it).
   */
  readonly vouchDelayTicks: number;
  /**
   * How long a client stays "vouch-first" at a replica (requests.ts V5 to V7): ordered only once 2f+1 replicas
   * vouch for its request, after the current primary showed this replica one of its requests that it could not
   * authenticate. Every request of it whose tag fails here extends the mark. 0 turns marking off.
   */
  readonly vouchFirstTicks: number;
  /**
   * Clients that never read REPLYs (the control loop's input units: a frame's result is the channels' OUTPUT,
   * and a sample is superseded by the next frame's). Replicas send them no REPLY, and such a client sends each
   * request at once, without waiting for the previous one (client.ts); a newer request of such a client
   * continues its wait for the primary (requests.ts). Part of the group's configuration, not of the request: it
   * costs no byte on the wire and no node on the network can switch a correct client's replies off.
   */
  readonly noReplyClients: ReadonlySet<ClientId>;
  readonly limits: DecodeLimits;
}

const NO_CLIENTS: ReadonlySet<ClientId> = new Set();

/** Defaults for a group tolerating `f` faults; override any field. */
export function pbftConfig(f: number, overrides: Partial<PbftConfig> = {}): PbftConfig {
  const n = overrides.n ?? 3 * f + 1;
  const k = overrides.checkpointInterval ?? 8;
  const config: PbftConfig = {
    n,
    f,
    checkpointInterval: k,
    watermarkWindow: 4 * k,
    maxBatchRequests: 64,
    batching: { mode: 'size', maxDelayTicks: 1 },
    maxInFlight: 2 * k,
    maxPendingRequests: 1024,
    stallTicks: 50,
    maxHeldPrePrepares: 64,
    maxRetransmitMessages: 256,
    requestTimeoutTicks: 250,
    proposalTimeoutTicks: 60,
    maxMissedFrames: 3,
    viewChangeTimeoutTicks: 250,
    maxViewChangeTimeoutTicks: 250 * 16,
    maxViewAhead: 4 * n,
    reunionWaitTicks: 4 * (overrides.viewChangeTimeoutTicks ?? 250),
    reunionEveryTicks: 20 * (overrides.viewChangeTimeoutTicks ?? 250),
    maxEarlyMessagesPerReplica: 4 * (overrides.watermarkWindow ?? 4 * k),
    maxEarlyBytesPerReplica: 4 << 20,
    maxOldBatchBytesPerReplica: 4 << 20,
    maxVouchBytesPerReplica: 1 << 20,
    vouchDelayTicks: Math.floor((overrides.proposalTimeoutTicks ?? 60) / 2),
    vouchFirstTicks: 16 * (overrides.viewChangeTimeoutTicks ?? 250),
    noReplyClients: NO_CLIENTS,
    limits: DEFAULT_LIMITS,
    ...overrides,
  };
  assertConfig(config);
  return config;
}

/**
 * Why `c` cannot give the PBFT guarantees, one sentence per problem; empty when it can. The runtime shows these
 * to the user when it refuses a topology.
 *
 * @example
 * configProblems({ ...pbftConfig(1), n: 3 }); // ['n = 3 replicas cannot tolerate f = 1 faults: PBFT needs n >= 3f+1 = 4']
 */
export function configProblems(c: PbftConfig): string[] {
  const problems: string[] = [];
  const bad = (why: string): void => {
    problems.push(why);
  };
  if (!Number.isInteger(c.f) || c.f < 1) {
    bad(`f must be an integer >= 1, got ${c.f}`);
    return problems;
  }
  if (!Number.isInteger(c.n) || c.n < 3 * c.f + 1) {
    bad(`n = ${c.n} replicas cannot tolerate f = ${c.f} faults: PBFT needs n >= 3f+1 = ${3 * c.f + 1}`);
    return problems;
  }
  const q = quorumSize(c.n, c.f);
  if (c.n > c.limits.maxReceivers)
    bad(`n ${c.n} exceeds the authenticator limit maxReceivers ${c.limits.maxReceivers}`);
  if (!Number.isInteger(c.checkpointInterval) || c.checkpointInterval < 1)
    bad('checkpointInterval must be >= 1');
  if (c.watermarkWindow < c.checkpointInterval || c.watermarkWindow % c.checkpointInterval !== 0) {
    bad('watermarkWindow must be a positive multiple of checkpointInterval');
  }
  if (c.maxBatchRequests < 1 || c.maxBatchRequests > c.limits.maxBatchRequests) {
    bad(`maxBatchRequests must be in 1..${c.limits.maxBatchRequests}`);
  }
  if (c.maxInFlight < 1) bad('maxInFlight must be >= 1');
  if (q > c.limits.maxCheckpointProof) {
    bad(
      `a checkpoint proof needs q = ${q} signatures, over the decoder limit maxCheckpointProof ${c.limits.maxCheckpointProof}`,
    );
  }
  if (c.n > c.limits.maxCheckpointProof) {
    bad(
      `n ${c.n} exceeds maxCheckpointProof ${c.limits.maxCheckpointProof} (a proof may carry up to n signatures)`,
    );
  }
  if (c.n > c.limits.maxViewChanges)
    bad('n exceeds maxViewChanges (a NEW-VIEW must carry up to n VIEW-CHANGEs)');
  if (c.watermarkWindow > c.limits.maxCertEntries)
    bad('watermarkWindow exceeds maxCertEntries (VIEW-CHANGE entries)');
  if (!Number.isInteger(c.maxViewAhead) || c.maxViewAhead < 1) bad('maxViewAhead must be an integer >= 1');
  if (!(c.reunionWaitTicks > 0) || !(c.reunionEveryTicks >= c.reunionWaitTicks))
    bad('reunionWaitTicks must be > 0 and reunionEveryTicks >= reunionWaitTicks');
  if (c.viewChangeTimeoutTicks <= 0 || c.maxViewChangeTimeoutTicks < c.viewChangeTimeoutTicks) {
    bad('view-change timeouts must be positive and the ceiling at least the first');
  }
  if (c.maxEarlyMessagesPerReplica < 1 || c.maxEarlyBytesPerReplica < c.limits.maxMessageBytes) {
    bad('the early-message budget must hold at least one message of maxMessageBytes per replica');
  }
  if (c.maxOldBatchBytesPerReplica < 0 || c.maxVouchBytesPerReplica < 0) bad('budgets must be >= 0');
  if (!(c.vouchDelayTicks >= 0) || c.vouchDelayTicks > c.proposalTimeoutTicks) {
    bad('vouchDelayTicks must be in 0..proposalTimeoutTicks');
  }
  if (!(c.vouchFirstTicks >= 0) || !Number.isFinite(c.vouchFirstTicks)) {
    bad('vouchFirstTicks must be a finite number >= 0');
  }
  return problems;
}

/** Throws on a configuration that cannot give the PBFT guarantees (a bug in the caller's set-up). */
export function assertConfig(c: PbftConfig): void {
  const problems = configProblems(c);
  if (problems.length > 0) throw new RangeError(`invalid PBFT config: ${problems.join('; ')}`);
}

/** The primary of `view`. */
export function primaryOf(c: PbftConfig, view: number): ReplicaId {
  return view % c.n;
}

/** Every replica id except `self`, ascending: the receivers of a replica's authenticator. */
export function othersOf(c: PbftConfig, self: ReplicaId): ReplicaId[] {
  const out: ReplicaId[] = [];
  for (let r = 0; r < c.n; r++) if (r !== self) out.push(r);
  return out;
}

/** All replica ids ascending: the receivers of a client request's authenticator. */
export function allReplicas(c: PbftConfig): ReplicaId[] {
  return Array.from({ length: c.n }, (_, i) => i);
}
