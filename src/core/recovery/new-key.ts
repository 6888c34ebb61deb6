/**
 * NEW-KEY: how a node that has just restarted announces its fresh session keys (Castro-Liskov proactive
 * recovery). The restarted node has discarded every session key; it draws a fresh X25519 key pair, signs the
 * public half with its long-term ed25519 identity key, and sends this message to every peer. Each peer checks
 * the signature against the node's identity key (public.json), checks that the epoch moved forward, and derives
 * new pairwise keys with HKDF (session.ts). Messages under the old keys are refused from then on.
 *
 * Wire form, canonical like every triplex message: [WIRE_VERSION][node][epoch][recoveryPoint][publicKey]
 * [signature], varints minimal. The signature covers a domain label and every other field (`newKeySigningBytes`),
 * so a NEW-KEY signature can never be taken for the signature of another message kind, whatever tag the kind
 * gets once NEW-KEY joins the shared Message union (messages.ts: replace its 'new-key' variant by
 * `newKeyFields`, keep the signature check here).
 *
 * @example
 * const { message, keyPair } = createNewKey({ node: 2, epoch: 5, recoveryPoint: 640, x25519Seed, identity });
 * const bytes = encodeNewKey(message);
 * const back = decodeNewKey(bytes);
 * back.ok && verifyNewKey(back.message, identityPublicKey); // true
 */
import { DEFAULT_LIMITS, type DecodeLimits } from '../codec/limits.ts';
import { WIRE_VERSION } from '../codec/messages.ts';
import { fixedBytes, type Infer, struct, uvar } from '../codec/schema.ts';
import { DecodeFailure, Reader, type RejectionReason, Writer } from '../codec/wire.ts';
import {
  ed25519Verify,
  KEY_LENGTH,
  type RawKeyPair,
  SIGNATURE_LENGTH,
  type SigningKey,
  x25519KeyPairFromSeed,
} from '../crypto/sign.ts';

/** Domain label of the bytes a NEW-KEY signature covers. */
export const NEW_KEY_DOMAIN = 'triplex/new-key/v1';
/** Key epochs are u32 (the HKDF info encodes them in 4 bytes). */
export const MAX_KEY_EPOCH = 0xffff_ffff;
/** Principal ids are u16. */
export const MAX_PRINCIPAL = 0xffff;

/**
 * The fields, in wire order.
 * - node: the principal announcing its keys (replica id, or 100+ input, 200+ channel, 300+ voter).
 * - epoch: its key epoch, +1 at every recovery; peers refuse an epoch at or below the last one they accepted,
 *   which is what makes a replayed NEW-KEY useless.
 * - recoveryPoint: the sequence number after which the node counts again: its estimate of the high watermark
 *   (last stable checkpoint it knew + the watermark window, 0 after a restart with no state). The recovery
 *   request ordered through PBFT fixes the point every replica agrees on; this one bounds it from below.
 * - publicKey: the fresh X25519 public key.
 * - signature: ed25519 by the node's long-term identity key over `newKeySigningBytes`.
 */
export const newKeyFields = {
  node: uvar,
  epoch: uvar,
  recoveryPoint: uvar,
  publicKey: fixedBytes(KEY_LENGTH),
  signature: fixedBytes(SIGNATURE_LENGTH),
};
export const newKeySchema = struct(newKeyFields);
export type NewKey = Infer<typeof newKeySchema>;
export type NewKeyBody = Omit<NewKey, 'signature'>;

const domainBytes = new TextEncoder().encode(NEW_KEY_DOMAIN);

/** The bytes the signature covers: label || 0x00 || WIRE_VERSION || every field but the signature. */
export function newKeySigningBytes(body: NewKeyBody): Uint8Array {
  const w = new Writer(128);
  w.raw(domainBytes);
  w.u8(0);
  w.u8(WIRE_VERSION);
  newKeySchema.writeExcept(w, { ...body, signature: new Uint8Array(SIGNATURE_LENGTH) }, 'signature');
  return w.finish();
}

export interface CreateNewKey {
  readonly node: number;
  readonly epoch: number;
  readonly recoveryPoint: number;
  /** 32 fresh random bytes from the caller (the core has no randomness): the X25519 private key. */
  readonly x25519Seed: Uint8Array;
  /** The node's long-term identity key. */
  readonly identity: SigningKey;
}

/**
 * A signed NEW-KEY and the fresh key pair it announces. Throws on arguments out of range (a bug in the caller:
 * the epoch comes from the node's own counter, never from the network).
 */
export function createNewKey(p: CreateNewKey): { readonly message: NewKey; readonly keyPair: RawKeyPair } {
  checkRanges(p);
  if (p.x25519Seed.length !== KEY_LENGTH) {
    throw new RangeError(`x25519 seed must be ${KEY_LENGTH} bytes, got ${p.x25519Seed.length}`);
  }
  const keyPair = x25519KeyPairFromSeed(p.x25519Seed);
  const body: NewKeyBody = {
    node: p.node,
    epoch: p.epoch,
    recoveryPoint: p.recoveryPoint,
    publicKey: keyPair.publicKey,
  };
  return { message: { ...body, signature: p.identity.sign(newKeySigningBytes(body)) }, keyPair };
}

/** True iff `m` is signed by the holder of `identityPublicKey`. Never throws. */
export function verifyNewKey(m: NewKey, identityPublicKey: Uint8Array): boolean {
  // The lengths too: a decoded NEW-KEY has them, an object from elsewhere may not (the signing bytes would throw).
  if (!inRanges(m) || !isBytes(m.publicKey, KEY_LENGTH) || !isBytes(m.signature, SIGNATURE_LENGTH))
    return false;
  return ed25519Verify(identityPublicKey, newKeySigningBytes(m), m.signature);
}

/** Canonical bytes: [WIRE_VERSION][fields in schema order]. */
export function encodeNewKey(m: NewKey): Uint8Array {
  checkRanges(m);
  const w = new Writer(128);
  w.u8(WIRE_VERSION);
  newKeySchema.write(w, m);
  return w.finish();
}

export type NewKeyDecode =
  | { readonly ok: true; readonly message: NewKey }
  | {
      readonly ok: false;
      readonly reason: RejectionReason | 'field-out-of-range';
      readonly detail: string;
    };

/** Decodes a NEW-KEY; total: any byte string gives a message or a typed rejection, never a throw. */
export function decodeNewKey(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): NewKeyDecode {
  if (bytes.length === 0) return { ok: false, reason: 'empty', detail: 'zero-length NEW-KEY' };
  if (bytes.length > limits.maxMessageBytes) {
    return { ok: false, reason: 'too-long', detail: `${bytes.length} > maxMessageBytes` };
  }
  const r = new Reader(bytes);
  try {
    const version = r.u8('version');
    if (version !== WIRE_VERSION) return { ok: false, reason: 'bad-version', detail: `version ${version}` };
    const message = newKeySchema.read(r, limits, 'new-key');
    if (r.remaining !== 0) {
      return { ok: false, reason: 'trailing-bytes', detail: `${r.remaining} bytes after new-key` };
    }
    if (!inRanges(message)) {
      return { ok: false, reason: 'field-out-of-range', detail: 'node above u16 or epoch above u32' };
    }
    return { ok: true, message };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, reason: e.reason, detail: e.detail };
    throw e;
  }
}

function isBytes(x: unknown, length: number): boolean {
  return x instanceof Uint8Array && x.length === length;
}

function inRanges(m: {
  readonly node: number;
  readonly epoch: number;
  readonly recoveryPoint: number;
}): boolean {
  return (
    Number.isInteger(m.node) &&
    m.node >= 0 &&
    m.node <= MAX_PRINCIPAL &&
    Number.isInteger(m.epoch) &&
    m.epoch >= 1 &&
    m.epoch <= MAX_KEY_EPOCH &&
    Number.isSafeInteger(m.recoveryPoint) &&
    m.recoveryPoint >= 0
  );
}

function checkRanges(m: {
  readonly node: number;
  readonly epoch: number;
  readonly recoveryPoint: number;
}): void {
  if (!inRanges(m)) {
    throw new RangeError(
      `NEW-KEY fields out of range: node ${m.node} (u16), epoch ${m.epoch} (1..u32), recoveryPoint ${m.recoveryPoint}`,
    );
  }
}
