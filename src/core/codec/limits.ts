/**
 * Caps on every count and length the decoder accepts. A message over a cap is rejected before anything is
 * allocated for it, so a forged length cannot make a node run out of memory.
 */
export interface DecodeLimits {
  /** Largest encoded message accepted at all. */
  readonly maxMessageBytes: number;
  /** Request operation payload. */
  readonly maxOpBytes: number;
  /** Requests per batch. */
  readonly maxBatchRequests: number;
  /** Tags per authenticator (one per receiver). */
  readonly maxReceivers: number;
  /** Bytes per MAC tag. */
  readonly maxTagBytes: number;
  /** Reply result payload. */
  readonly maxResultBytes: number;
  /** Checkpoint messages in one checkpoint certificate. */
  readonly maxCheckpointProof: number;
  /** Prepared and pre-prepared entries in one VIEW-CHANGE. */
  readonly maxCertEntries: number;
  /** VIEW-CHANGE messages carried by one NEW-VIEW. */
  readonly maxViewChanges: number;
  /** Batches carried by one state-transfer reply. */
  readonly maxStateEntries: number;
  /** Application snapshot bytes in one state-transfer reply. */
  readonly maxSnapshotBytes: number;
  /** Discrete or analog fields in one channel OUTPUT. */
  readonly maxOutputFields: number;
}

export const DEFAULT_LIMITS: DecodeLimits = Object.freeze({
  maxMessageBytes: 1 << 20,
  maxOpBytes: 4096,
  maxBatchRequests: 256,
  maxReceivers: 32,
  maxTagBytes: 32,
  maxResultBytes: 4096,
  maxCheckpointProof: 32,
  maxCertEntries: 512,
  maxViewChanges: 32,
  maxStateEntries: 256,
  maxSnapshotBytes: 256 * 1024,
  maxOutputFields: 16,
});

export type LimitKey = keyof DecodeLimits;
