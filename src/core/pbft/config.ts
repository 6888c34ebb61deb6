/**
 * Static parameters of one PBFT group. Every correct replica of a group must hold the same values
 * (they decide quorums, watermarks and checkpoint points, which all replicas must agree on).
 */
import { DEFAULT_LIMITS, type DecodeLimits } from '../codec/limits.ts';

export type ReplicaId = number;
export type ClientId = number;

/** How the primary decides when to cut a batch. */
export type BatchingPolicy =
  /** One batch per `frame` input (the control loop drives ordering). */
  | { readonly mode: 'frame' }
  /** Cut when `maxBatchRequests` are pending or the oldest pending request waited `maxDelayTicks`. */
  | { readonly mode: 'size'; readonly maxDelayTicks: number };

export interface PbftConfig {
  /** Number of replicas, n = 3f + 1 (more is allowed: quorums stay 2f+1 of any n >= 3f+1). */
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
  /** VIEW-CHANGEs for views further than this above ours are refused (a Byzantine replica cannot announce huge views). */
  readonly maxViewAhead: number;
  readonly limits: DecodeLimits;
}

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
    limits: DEFAULT_LIMITS,
    ...overrides,
  };
  assertConfig(config);
  return config;
}

/** Throws on a configuration that cannot give the PBFT guarantees (a bug in the caller's set-up). */
export function assertConfig(c: PbftConfig): void {
  const bad = (why: string): never => {
    throw new RangeError(`invalid PBFT config: ${why}`);
  };
  if (!Number.isInteger(c.f) || c.f < 1) bad(`f must be an integer >= 1, got ${c.f}`);
  if (!Number.isInteger(c.n) || c.n < 3 * c.f + 1) bad(`n must be >= 3f+1 = ${3 * c.f + 1}, got ${c.n}`);
  if (c.n > c.limits.maxReceivers) bad(`n ${c.n} exceeds the authenticator limit ${c.limits.maxReceivers}`);
  if (!Number.isInteger(c.checkpointInterval) || c.checkpointInterval < 1)
    bad('checkpointInterval must be >= 1');
  if (c.watermarkWindow < c.checkpointInterval || c.watermarkWindow % c.checkpointInterval !== 0) {
    bad('watermarkWindow must be a positive multiple of checkpointInterval');
  }
  if (c.maxBatchRequests < 1 || c.maxBatchRequests > c.limits.maxBatchRequests) {
    bad(`maxBatchRequests must be in 1..${c.limits.maxBatchRequests}`);
  }
  if (c.maxInFlight < 1) bad('maxInFlight must be >= 1');
  if (2 * c.f + 1 > c.limits.maxCheckpointProof) bad('checkpoint proof (2f+1) exceeds maxCheckpointProof');
  if (c.n > c.limits.maxViewChanges)
    bad('n exceeds maxViewChanges (a NEW-VIEW must carry up to n VIEW-CHANGEs)');
  if (c.watermarkWindow > c.limits.maxCertEntries)
    bad('watermarkWindow exceeds maxCertEntries (VIEW-CHANGE entries)');
  if (c.maxViewAhead < 1) bad('maxViewAhead must be >= 1');
  if (c.viewChangeTimeoutTicks <= 0 || c.maxViewChangeTimeoutTicks < c.viewChangeTimeoutTicks) {
    bad('view-change timeouts must be positive and the ceiling at least the first');
  }
}

/** 2f + 1: the size of a quorum certificate. */
export function quorum(c: PbftConfig): number {
  return 2 * c.f + 1;
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
