/**
 * The largest message of each kind a correct node of a PBFT group can produce, from the group's parameters:
 * a VIEW-CHANGE with full P and Q sets (one entry per sequence number of the watermark window each) and a
 * checkpoint proof of n signatures, a NEW-VIEW carrying n such VIEW-CHANGEs and a window of PRE-PREPARE entries,
 * a state reply with the whole replica state, a PRE-PREPARE with a full batch of the largest requests, and so
 * on. Sizes come from encoding maximal messages with the real encoder (maximal.ts).
 *
 * Why n and not 2f+1 for proofs and view-change sets: a NEW-VIEW carries every VIEW-CHANGE its primary holds
 * for the view (up to n), and a stable checkpoint proof adopted from a peer may carry every distinct signer
 * (validProof accepts q or more), which a correct replica then relays in its own VIEW-CHANGE.
 *
 * @example
 * const sizes = worstCaseSizes({ n: 4, f: 1, watermarkWindow: 128, maxBatchRequests: 12, maxOpBytes: 24,
 *   tagBytes: 8, clients: 3, maxResultBytes: 8, appSnapshotBytes: 240, outputDiscrete: 2, outputAnalog: 1 });
 * sizes.bytes['new-view']; // the largest NEW-VIEW, in bytes
 */
import { DEFAULT_LIMITS, type DecodeLimits, type LimitKey } from '../codec/limits.ts';
import { MESSAGE_KINDS, type MessageKind } from '../codec/messages.ts';
import { type CachedReply, encodeReplicaState } from '../pbft/snapshot.ts';
import { type FieldBounds, maximalMessage } from './maximal.ts';

/** The parameters of one PBFT group and of what it orders that bound its messages. */
export interface OrderingInput {
  /** Replicas. */
  readonly n: number;
  readonly f: number;
  /** L: sequence numbers between the low and high watermark (P and Q entries per VIEW-CHANGE). */
  readonly watermarkWindow: number;
  /** Requests in one batch. */
  readonly maxBatchRequests: number;
  /** Largest request operation a correct client sends. */
  readonly maxOpBytes: number;
  /** Bytes per MAC tag of the ordering traffic (requests, agreement, vouches, state and fetch messages). */
  readonly tagBytes: number;
  /** Bytes of the tag of a channel's OUTPUT and of a heartbeat (default: tagBytes). */
  readonly outputTagBytes?: number;
  /** Clients (input units) whose replies the replica state caches. */
  readonly clients: number;
  /** Largest result of one executed request (a REPLY's result, and each entry of the reply cache). */
  readonly maxResultBytes: number;
  /** Largest application snapshot (the service's part of the replica state). */
  readonly appSnapshotBytes: number;
  /** Discrete and analog fields of a channel OUTPUT. */
  readonly outputDiscrete: number;
  readonly outputAnalog: number;
  /** Committed entries a state reply carries (0: the state alone, as state-transfer.ts sends today). */
  readonly stateEntries?: number;
  /**
   * Largest value of a sequence number, view, timestamp or frame (default 2^42 - 1: 139 years of frames at
   * 1000 Hz; a 6-byte varint). A smaller value gives the sizes of a young run.
   */
  readonly maxCounter?: number;
}

export const DEFAULT_MAX_COUNTER = 2 ** 42 - 1;

export interface WorstCaseSizes {
  /** Encoded bytes of the largest message of each kind. */
  readonly bytes: Readonly<Record<MessageKind, number>>;
  /** Bytes of a checkpoint proof of n signatures (part of a VIEW-CHANGE and of a state reply). */
  readonly checkpointProofBytes: number;
  /** Bytes of the replica state a state reply carries. */
  readonly snapshotBytes: number;
  /** The largest kind and its size. */
  readonly largest: { readonly kind: MessageKind; readonly bytes: number };
}

/** The field bounds of a correct node's largest messages. */
export function worstCaseBounds(
  o: OrderingInput,
  counter = o.maxCounter ?? DEFAULT_MAX_COUNTER,
): FieldBounds {
  checkInput(o);
  const counts: Record<LimitKey, number> = {
    maxMessageBytes: 0, // not a field: the whole message
    maxOpBytes: o.maxOpBytes,
    maxBatchRequests: o.maxBatchRequests,
    maxReceivers: o.n,
    maxTagBytes: o.tagBytes,
    maxResultBytes: o.maxResultBytes,
    maxCheckpointProof: o.n,
    maxCertEntries: o.watermarkWindow,
    maxViewChanges: o.n,
    maxStateEntries: o.stateEntries ?? 0,
    maxSnapshotBytes: snapshotBytes(o, counter),
    maxOutputFields: Math.max(o.outputDiscrete, o.outputAnalog),
  };
  const others = o.n - 1; // a replica's multicast authenticator: one tag per other replica
  return {
    counts,
    paths: {
      'pre-prepare.auth': others,
      'prepare.auth': others,
      'commit.auth': others,
      'output.discrete': o.outputDiscrete,
      'output.analog': o.outputAnalog,
      'output.tag': o.outputTagBytes ?? o.tagBytes,
      'heartbeat.tag': o.outputTagBytes ?? o.tagBytes,
    },
    counter,
    id: o.n + o.clients,
    values: { 'output.discrete[]': 127 },
  };
}

/**
 * Worst-case encoded size of every message kind.
 *
 * @example
 * worstCaseSizes(input).largest; // { kind: 'new-view', bytes: ... }
 */
export function worstCaseSizes(o: OrderingInput): WorstCaseSizes {
  const bounds = worstCaseBounds(o);
  const bytes = {} as Record<MessageKind, number>;
  for (const kind of MESSAGE_KINDS) bytes[kind] = maximalMessage(kind, bounds).bytes.length;
  const noProof = maximalMessage('view-change', {
    ...bounds,
    counts: { ...bounds.counts, maxCheckpointProof: 0 },
  }).bytes.length;
  let largest: { kind: MessageKind; bytes: number } = { kind: 'request', bytes: 0 };
  for (const kind of MESSAGE_KINDS) if (bytes[kind] > largest.bytes) largest = { kind, bytes: bytes[kind] };
  return {
    bytes,
    checkpointProofBytes: bytes['view-change'] - noProof,
    snapshotBytes: bounds.counts.maxSnapshotBytes,
    largest,
  };
}

/** The replica state at a checkpoint, encoded by the replica's own encoder: app snapshot plus reply cache. */
function snapshotBytes(o: OrderingInput, counter: number): number {
  const replies = new Map<number, CachedReply>();
  for (let c = 0; c < o.clients; c++) {
    replies.set(o.n + c, { timestamp: counter, result: new Uint8Array(o.maxResultBytes) });
  }
  return encodeReplicaState(new Uint8Array(o.appSnapshotBytes), replies).length;
}

/** A bound of the input that the receivers' decoder refuses: a correct message would be dropped. */
export interface DecoderProblem {
  readonly limit: LimitKey;
  readonly needed: number;
  readonly allowed: number;
  readonly text: string;
}

/** Bounds of `o` above the decoder limits (every receiver drops such a message as count- or length-over-limit). */
export function decoderProblems(o: OrderingInput, limits: DecodeLimits = DEFAULT_LIMITS): DecoderProblem[] {
  const sizes = worstCaseSizes(o);
  const counts = worstCaseBounds(o).counts;
  const out: DecoderProblem[] = [];
  for (const key of Object.keys(counts) as LimitKey[]) {
    const needed = key === 'maxMessageBytes' ? sizes.largest.bytes : counts[key];
    if (needed > limits[key]) {
      out.push({
        limit: key,
        needed,
        allowed: limits[key],
        text:
          key === 'maxMessageBytes'
            ? `the largest ${sizes.largest.kind} (${needed} bytes) exceeds the decoder's maxMessageBytes ${limits[key]}`
            : `messages need ${key} ${needed}, the decoder allows ${limits[key]}`,
      });
    }
  }
  return out;
}

function checkInput(o: OrderingInput): void {
  const ints: [string, number][] = [
    ['n', o.n],
    ['f', o.f],
    ['watermarkWindow', o.watermarkWindow],
    ['maxBatchRequests', o.maxBatchRequests],
    ['maxOpBytes', o.maxOpBytes],
    ['tagBytes', o.tagBytes],
    ['clients', o.clients],
    ['maxResultBytes', o.maxResultBytes],
    ['appSnapshotBytes', o.appSnapshotBytes],
    ['outputDiscrete', o.outputDiscrete],
    ['outputAnalog', o.outputAnalog],
  ];
  for (const [name, v] of ints) {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`wire budget: ${name} must be an integer >= 0, got ${v}`);
  }
  if (o.n < 3 * o.f + 1) throw new RangeError(`wire budget: n ${o.n} < 3f+1`);
}
