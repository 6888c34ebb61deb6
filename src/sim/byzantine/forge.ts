/**
 * Message forging for the Byzantine catalog: what a faulty node can build with its own keys (re-signed
 * PRE-PREPAREs, votes, VIEW-CHANGEs, NEW-VIEWs), what a node without keys can build (well-formed messages with
 * garbage authentication), and byte strings the codec cannot express (integers beyond 2^53). Pure helpers: the
 * randomness comes from the caller's Prng, so a seed replays exactly.
 */
import { authPayload, decodeMessage, encodeBatch, encodeMessage } from '../../core/codec/encode.ts';
import {
  type Batch,
  type CertEntry,
  type Checkpoint,
  DIGEST_BYTES,
  MESSAGE_KINDS,
  type Message,
  type NewView,
  type PrePrepare,
  type Request,
  SIGNATURE_BYTES,
  type ViewChange,
  WIRE_VERSION,
} from '../../core/codec/messages.ts';
import { sha256 } from '../../core/crypto/digest.ts';
import type { NodeCrypto } from '../../core/pbft/crypto.ts';
import { Prng } from '../../core/prng.ts';

/** Tag bytes a forger without keys puts in each authenticator slot (the real length, so only the MAC fails). */
export const FORGED_TAG_BYTES = 16;

/**
 * An integer the codec can encode: whatever arithmetic an attack does on a huge view or seq (view + 1 at 2^53),
 * the forger itself must not throw. Values beyond the range are built on purpose, as bytes (`withFirstField`).
 */
export function encodable(v: number): number {
  return Math.min(Math.max(0, Math.floor(v)), Number.MAX_SAFE_INTEGER);
}

/** Who forges: its node id, and its keys if it has any (a faulty replica or client does; an intruder does not). */
export interface Forger {
  readonly id: number;
  readonly crypto: NodeCrypto | undefined;
  readonly rng: Prng;
}

/** An authenticator to `receivers`: real tags with keys, random ones without. */
export function authenticatorOf(
  forger: Forger,
  receivers: readonly number[],
  payload: () => Uint8Array,
): Uint8Array[] {
  if (forger.crypto !== undefined) return forger.crypto.authenticator(receivers, payload());
  return receivers.map(() => forger.rng.bytes(FORGED_TAG_BYTES));
}

/** A signature by the forger (real with keys, random without). */
export function signatureOf(forger: Forger, payload: () => Uint8Array): Uint8Array {
  if (forger.crypto !== undefined) return forger.crypto.sign(payload());
  return forger.rng.bytes(SIGNATURE_BYTES);
}

let pool: Uint8Array | undefined;

/** 64 KiB of fixed pseudo-random bytes (the same on every run) for forged request payloads. */
function junkPool(): Uint8Array {
  pool ??= new Prng(0x5eed).bytes(64 * 1024);
  return pool;
}

/** Requests from random client ids with random ops and garbage authenticators (valid encodings). */
export function junkRequests(rng: Prng, count: number, opBytes: number, receivers: number): Request[] {
  const pool = junkPool();
  const size = Math.min(opBytes, pool.length);
  return Array.from({ length: count }, () => ({
    client: 1000 + rng.int(60_000),
    timestamp: 1 + rng.int(1 << 30),
    // A window into a fixed random pool: the batch is distinct by client and timestamp, and a flood of large
    // messages costs its sender a copy, not a random draw per byte.
    op: pool.subarray(rng.int(pool.length - size + 1)).subarray(0, size),
    auth: Array.from({ length: receivers }, () => rng.bytes(FORGED_TAG_BYTES)),
  }));
}

/**
 * A PRE-PREPARE for (view, seq) carrying `requests`, claiming to come from `replica`, authenticated by the
 * forger for `receivers` (real tags only if the forger is `replica`). Its digest is the true batch digest, so
 * everything but the authenticator checks out (anyone can hash: no keys are needed for a digest).
 */
export function forgedPrePrepare(
  forger: Forger,
  fields: { view: number; seq: number; replica: number; requests: readonly Request[] },
  receivers: readonly number[],
): PrePrepare {
  const batch: Batch = { kind: 'full', requests: fields.requests };
  const unsigned: PrePrepare = {
    kind: 'pre-prepare',
    view: encodable(fields.view),
    seq: encodable(fields.seq),
    batchDigest: sha256(encodeBatch(batch)),
    replica: fields.replica,
    batch,
    auth: [],
  };
  const own = forger.id === fields.replica ? forger : { ...forger, crypto: undefined };
  return { ...unsigned, auth: authenticatorOf(own, receivers, () => authPayload(unsigned)) };
}

/** A PREPARE or COMMIT by `replica`; authentic when the forger is that replica and has keys. */
export function forgedVote(
  forger: Forger,
  kind: 'prepare' | 'commit',
  fields: { view: number; seq: number; batchDigest: Uint8Array; replica: number },
  receivers: readonly number[],
): Message {
  const unsigned = {
    kind,
    ...fields,
    view: encodable(fields.view),
    seq: encodable(fields.seq),
    auth: [] as Uint8Array[],
  } as Message;
  const own = forger.id === fields.replica ? forger : { ...forger, crypto: undefined };
  return { ...unsigned, auth: authenticatorOf(own, receivers, () => authPayload(unsigned)) } as Message;
}

/** A different batch for the same (view, seq): requests reversed, or the last one dropped. */
export function twinPrePrepare(x: PrePrepare, crypto: NodeCrypto, receivers: readonly number[]): PrePrepare {
  const requests = x.batch.kind === 'full' ? [...x.batch.requests] : [];
  const twin = requests.length > 1 ? requests.reverse() : [];
  const batch = { kind: 'full' as const, requests: twin };
  const unsigned: PrePrepare = { ...x, batch, batchDigest: crypto.digest(encodeBatch(batch)), auth: [] };
  return { ...unsigned, auth: crypto.authenticator(receivers, authPayload(unsigned)) };
}

/** The faulty replica's own vote on a PRE-PREPARE (it holds its keys). */
export function signedVote(
  kind: 'prepare' | 'commit',
  pp: PrePrepare,
  replica: number,
  crypto: NodeCrypto,
  receivers: readonly number[],
): Message {
  const unsigned = { kind, view: pp.view, seq: pp.seq, batchDigest: pp.batchDigest, replica, auth: [] };
  return { ...unsigned, auth: crypto.authenticator(receivers, authPayload(unsigned as Message)) } as Message;
}

/** Flip one bit in every tag, authenticator slot and signature of a message. */
export function corruptAuth(message: Message, rng: Prng): Message {
  const flip = (b: Uint8Array): Uint8Array => {
    const c = Uint8Array.from(b);
    if (c.length > 0) c[rng.int(c.length)]! ^= 1 << rng.int(8);
    return c;
  };
  const m = message as unknown as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...m };
  if (Array.isArray(m.auth)) copy.auth = (m.auth as Uint8Array[]).map(flip);
  if (m.tag instanceof Uint8Array) copy.tag = flip(m.tag);
  if (m.signature instanceof Uint8Array) copy.signature = flip(m.signature);
  // Keep the result a valid encoding: the attack is on authentication, not on the codec.
  const bytes = encodeMessage(copy as unknown as Message);
  const back = decodeMessage(bytes);
  if (!back.ok) throw new Error('invariant: corrupted message no longer encodes');
  return back.message;
}

/** Re-sign a PRE-PREPARE after changing its seq and/or batch (a faulty primary holds its own keys). */
export function reforge(
  pp: PrePrepare,
  crypto: NodeCrypto,
  receivers: readonly number[],
  changes: { seq?: number; requests?: readonly Request[] },
): PrePrepare {
  const requests = changes.requests ?? (pp.batch.kind === 'full' ? pp.batch.requests : []);
  const batch = { kind: 'full' as const, requests };
  const unsigned: PrePrepare = {
    ...pp,
    seq: changes.seq ?? pp.seq,
    batch,
    batchDigest: crypto.digest(encodeBatch(batch)),
    auth: [],
  };
  return { ...unsigned, auth: crypto.authenticator(receivers, authPayload(unsigned)) };
}

/** A VIEW-CHANGE signed by replica `id` itself, with the given prepared (and pre-prepared) entries. */
export function forgedViewChange(
  crypto: NodeCrypto,
  id: number,
  newView: number,
  entries: CertEntry[],
  base?: Pick<ViewChange, 'stableSeq' | 'stableDigest' | 'checkpointProof'>,
): ViewChange {
  const unsigned: ViewChange = {
    kind: 'view-change',
    newView: encodable(newView),
    replica: id,
    stableSeq: base?.stableSeq ?? 0,
    stableDigest: base?.stableDigest ?? new Uint8Array(DIGEST_BYTES),
    checkpointProof: base?.checkpointProof ?? [],
    prepared: entries,
    prePrepared: entries,
    signature: new Uint8Array(SIGNATURE_BYTES),
  };
  return { ...unsigned, signature: crypto.sign(authPayload(unsigned)) };
}

/** A NEW-VIEW for `view` signed by the forger, with whatever V and O sets it likes. */
export function forgedNewView(
  forger: Forger,
  view: number,
  viewChanges: NewView['viewChanges'],
  prePrepares: NewView['prePrepares'],
): NewView {
  const unsigned: NewView = {
    kind: 'new-view',
    view: encodable(view),
    replica: forger.id,
    viewChanges,
    prePrepares,
    signature: new Uint8Array(SIGNATURE_BYTES),
  };
  return { ...unsigned, signature: signatureOf(forger, () => authPayload(unsigned)) };
}

/** A CHECKPOINT signed by the forger (its own vote, any seq and digest it likes). */
export function forgedCheckpoint(forger: Forger, seq: number, stateDigest: Uint8Array): Checkpoint {
  const unsigned: Checkpoint = {
    kind: 'checkpoint',
    seq: encodable(seq),
    stateDigest,
    replica: forger.id,
    signature: new Uint8Array(SIGNATURE_BYTES),
  };
  return { ...unsigned, signature: signatureOf(forger, () => authPayload(unsigned)) };
}

/** The largest view <= `ceiling` whose primary is `id` in a group of `n` (so a NEW-VIEW passes the primary check). */
export function viewLedBy(ceiling: number, n: number, id: number): number {
  const v = ceiling - ((((ceiling - id) % n) + n) % n);
  return v < 0 ? id : v;
}

/** Unsigned LEB128 of any non-negative integer, including values the codec refuses (>= 2^53). */
export function bigVarint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/**
 * `bytes` (a canonical encoding whose first field, right after version and kind, is a varint) with that field
 * replaced by `value`, which may lie beyond what the codec can encode. Only the first field moves, so the
 * rest of the message stays well formed and the decoder's integer range is what is tested.
 */
export function withFirstField(bytes: Uint8Array, value: bigint): Uint8Array {
  let end = 2;
  while (end < bytes.length && (bytes[end]! & 0x80) !== 0) end++;
  const field = bigVarint(value);
  const out = new Uint8Array(bytes.length - (end + 1 - 2) + field.length);
  out.set(bytes.subarray(0, 2), 0);
  out.set(field, 2);
  out.set(bytes.subarray(end + 1), 2 + field.length);
  return out;
}

/** Random bytes; half the time with a valid version and kind header so they reach the field decoders. */
export function garbage(rng: Prng, maxBytes: number): Uint8Array {
  const bytes = rng.bytes(rng.int(Math.max(1, maxBytes)));
  if (bytes.length >= 2 && rng.chance(0.5)) {
    bytes[0] = WIRE_VERSION;
    bytes[1] = rng.int(MESSAGE_KINDS.length);
  }
  return bytes;
}

/** Integer values at the edges a decoder or a comparison may get wrong. */
const EDGES = [0, 1, 2, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 52, Number.MAX_SAFE_INTEGER - 1];

/**
 * A mutation of a captured message: a bit flip, a cut, an extension, or (when it decodes) one numeric field
 * set to an edge value or nudged by one, re-encoded with its authentication left as captured (so it fails).
 */
export function mutateCapture(capture: Uint8Array, rng: Prng): Uint8Array {
  const pick = rng.int(5);
  if (pick === 0 && capture.length > 0) {
    const c = Uint8Array.from(capture);
    c[rng.int(c.length)]! ^= 1 << rng.int(8);
    return c;
  }
  if (pick === 1) return capture.slice(0, rng.int(capture.length + 1));
  if (pick === 2) {
    const c = new Uint8Array(capture.length + 1 + rng.int(16));
    c.set(capture);
    c.set(rng.bytes(c.length - capture.length), capture.length);
    return c;
  }
  const decoded = decodeMessage(capture);
  if (!decoded.ok) return Uint8Array.from(capture);
  const m = { ...(decoded.message as unknown as Record<string, unknown>) };
  const numeric = Object.keys(m).filter((k) => typeof m[k] === 'number');
  const key = numeric[rng.int(Math.max(1, numeric.length))];
  if (key === undefined) return Uint8Array.from(capture);
  const old = m[key] as number;
  // Nudged inside what the codec encodes: a captured field at 2^53 - 1 (a huge nonce) plus one would not encode.
  const next = pick === 3 ? EDGES[rng.int(EDGES.length)]! : encodable(old + (rng.chance(0.5) ? 1 : -1));
  m[key] = next;
  return encodeMessage(m as unknown as Message);
}
