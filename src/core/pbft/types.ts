/** Inputs to and actions out of the PBFT state machines (replica and client). */
import type { Message, MessageKind, Reply, Request } from '../codec/messages.ts';
import type { RejectionReason } from '../codec/wire.ts';
import type { ClientId, ReplicaId } from './config.ts';

/**
 * The replicated application. Deterministic: the same calls in the same order give the same results and
 * snapshots on every correct replica. The replica calls `execute` for each request of each committed batch,
 * strictly in sequence order, and never twice for one (client, timestamp).
 */
export interface Service {
  execute(client: ClientId, op: Uint8Array, seq: number): Uint8Array;
  /**
   * Canonical bytes of the whole application state after batch `seq`, the checkpoint's (checkpoints hash them;
   * state transfer ships them). The seq lets a service record where its state stands even when the last batches
   * executed nothing on it (an empty batch, or only duplicates).
   */
  snapshot(seq: number): Uint8Array;
  /** Replace the application state by a snapshot (state transfer). */
  restore(snapshot: Uint8Array): void;
}

export type ReplicaInput =
  /** Bytes off the wire from transport peer `from` (untrusted: identity comes from the MACs inside). */
  | { readonly kind: 'receive'; readonly from: number; readonly bytes: Uint8Array }
  /** An already decoded message (a co-located client, or a runtime that decoded once). */
  | { readonly kind: 'deliver'; readonly from: number; readonly message: Message }
  /** Abstract time advanced to `now` (ticks). Drives batching delays and stall detection. */
  | { readonly kind: 'tick'; readonly now: number }
  /** A control frame: the primary cuts one batch (batching mode 'frame'). */
  | { readonly kind: 'frame' };

/** A request as executed, with its result (what the co-located channel consumes). */
export interface ExecutedRequest {
  readonly client: ClientId;
  readonly timestamp: number;
  readonly op: Uint8Array;
  readonly result: Uint8Array;
}

export type ReplicaAction =
  | { readonly kind: 'send'; readonly to: ReplicaId; readonly message: Message; readonly bytes: Uint8Array }
  /** To every other replica. */
  | { readonly kind: 'multicast'; readonly message: Message; readonly bytes: Uint8Array }
  | { readonly kind: 'reply'; readonly client: ClientId; readonly message: Reply; readonly bytes: Uint8Array }
  /** Batch `seq` committed and executed (in order); `requests` excludes duplicates skipped by the reply cache. */
  | {
      readonly kind: 'execute';
      readonly seq: number;
      readonly view: number;
      readonly batchDigest: Uint8Array;
      readonly requests: readonly ExecutedRequest[];
    }
  | { readonly kind: 'event'; readonly event: ReplicaEvent };

/** Why a replica refused an input (counted by the runtime; never a crash). */
export type ReplicaRejection =
  | RejectionReason
  | 'bad-mac'
  | 'bad-signature'
  | 'wrong-view'
  | 'not-from-primary'
  | 'prepare-from-primary'
  | 'outside-watermarks'
  | 'conflicting-pre-prepare'
  | 'batch-digest-mismatch'
  | 'digest-batch-unsupported'
  | 'empty-batch'
  | 'oversized-batch'
  | 'stale-request'
  | 'duplicate-request-in-batch'
  | 'request-auth-pending'
  | 'held-full'
  | 'bad-replica-id'
  | 'not-for-replica'
  | 'duplicate-request'
  | 'pending-full'
  | 'bad-checkpoint'
  | 'checkpoint-mismatch'
  | 'bad-state'
  | 'unsupported-kind'
  | 'not-a-checkpoint-seq'
  | 'view-change-in-progress'
  | 'view-too-far'
  | 'bad-view-change'
  | 'bad-new-view'
  /** A view number above MAX_VIEW (view-change.ts): no correct replica ever gets there. */
  | 'view-out-of-range'
  /** A sender's share of a buffer is used up (early messages, old-view batches, vouches). */
  | 'over-budget'
  /** A costly check (a far NEW-VIEW, a batch fetch) asked again too soon by the same replica. */
  | 'rate-limited'
  /** A batch reply nobody asked for, or one that does not hash to its digest. */
  | 'unwanted-batch';

export type ReplicaEvent =
  | {
      readonly type: 'rejected';
      readonly reason: ReplicaRejection;
      readonly from: number;
      readonly kind?: MessageKind;
    }
  | { readonly type: 'committed'; readonly seq: number; readonly requests: number }
  /**
   * Batch `seq` executed as proven committed in `view` by q COMMITs of others, without this replica's own
   * commit certificate: a view it had left, or its own view when it could not prepare (learn.ts).
   */
  | { readonly type: 'learned'; readonly seq: number; readonly view: number }
  | { readonly type: 'checkpoint'; readonly seq: number; readonly stateDigest: Uint8Array }
  | { readonly type: 'checkpoint-stable'; readonly seq: number; readonly truncated: number }
  | { readonly type: 'state-restored'; readonly seq: number; readonly from: ReplicaId }
  | { readonly type: 'retransmit'; readonly to: ReplicaId; readonly messages: number }
  | { readonly type: 'cached-reply'; readonly client: ClientId; readonly timestamp: number }
  /** This replica moved to `view` and sent its VIEW-CHANGE (`reason`: why it suspects the primary). */
  | {
      readonly type: 'view-change';
      readonly view: number;
      readonly reason:
        | 'request-timeout'
        | 'slow-primary'
        | 'view-change-timeout'
        | 'joined'
        | 'bad-new-view'
        | 'handover'
        | 'reunion';
    }
  /** A NEW-VIEW was accepted (or sent) and `view` is active; `reproposed` batches carried over (nulls included). */
  | {
      readonly type: 'new-view';
      readonly view: number;
      readonly stableSeq: number;
      readonly reproposed: number;
    };

export type ClientInput =
  | { readonly kind: 'receive'; readonly from: number; readonly bytes: Uint8Array }
  /**
   * A message the caller has decoded already (a router that dispatches by kind), with the bytes it arrived as:
   * the tag is checked over those bytes, never over a re-encoding.
   */
  | { readonly kind: 'decoded'; readonly from: number; readonly message: Message; readonly bytes: Uint8Array }
  | { readonly kind: 'tick'; readonly now: number };

export type ClientAction =
  /** Send the request to every replica. */
  | {
      readonly kind: 'multicast';
      readonly message: Request & { kind: 'request' };
      readonly bytes: Uint8Array;
    }
  /** f+1 replicas agreed on this result. */
  | {
      readonly kind: 'result';
      readonly timestamp: number;
      readonly result: Uint8Array;
      readonly latencyTicks: number;
    }
  | { readonly kind: 'event'; readonly event: ClientEvent };

export type ClientEvent =
  | {
      readonly type: 'rejected';
      readonly reason: RejectionReason | 'bad-mac' | 'unexpected-reply' | 'unsupported-kind';
      readonly from: number;
    }
  | { readonly type: 'retransmit'; readonly timestamp: number; readonly attempt: number };

/**
 * Bytes a faulty node sends exactly as it likes, to a node by index (replicas 0..n-1, then the clients in
 * order). Only Byzantine behaviours produce it: a correct replica speaks through `ReplicaAction`.
 */
export interface RawSend {
  readonly kind: 'raw';
  readonly to: number;
  readonly bytes: Uint8Array;
}

/** What a replica's host may carry out: a protocol action, or raw bytes from a faulty node. */
export type StepOutput = ReplicaAction | RawSend;

/**
 * The one Byzantine seam: what drives a replica slot. A correct `Replica` is one; every catalog behaviour
 * wraps a correct replica and is one too. The simulator, the loop and the rig all hold their replicas as this.
 *
 * @example
 * const slot: ReplicaStepper = faulty ? behaviour('equivocate').create(ctx) : new Replica(options);
 * for (const out of slot.step({ kind: 'tick', now })) host.carryOut(out);
 */
export interface ReplicaStepper {
  step(input: ReplicaInput): readonly StepOutput[];
}
