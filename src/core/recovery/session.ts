/**
 * Pairwise session keys after a proactive recovery, and the key-epoch rules.
 *
 * Each principal holds, per key epoch, one X25519 key pair: epoch 0 is the static pair of its key file (the
 * runtime's keyfiles.ts derives the boot keys from it); every recovery moves to epoch e+1 with a fresh pair,
 * announced by a signed NEW-KEY. The keys of a pair (a, b) come from X25519(a's current private key, b's current
 * public key), so they change whenever either end recovers, and both ends derive them without talking:
 *
 *   salt = public key of the lower id || public key of the higher id
 *   send(a -> b) = HKDF-SHA-256(secret, salt, "triplex/session/v1" 0x00 a b epoch_a epoch_b, 32)
 *   pair(a, b)   = HKDF-SHA-256(secret, salt, "triplex/session-pair/v1" 0x00 lo hi epoch_lo epoch_hi, 32)
 *   fingerprint  = HKDF-SHA-256(secret, salt, "triplex/session-id/v1" 0x00 lo hi epoch_lo epoch_hi, 8)
 *
 * ids are u16 and epochs u32, big-endian. `send`/`receive` are one key per direction (a tag from a to b cannot
 * be reflected back to a as b's); `pair` is the one symmetric key today's KeyRing holds per peer (KeyRing.rekey),
 * until the ring keeps a key per direction. The fingerprint names the key generation in logs and lets two ends
 * compare keys without revealing them. The salt binds the keys to the exact public keys announced.
 *
 * @example
 * const mine = sessionKeys({ id: 1, epoch: 4, privateKey, publicKey }, { id: 2, epoch: 7, publicKey: theirs });
 * if (mine.ok) ring.rekey(2, mine.keys.pair);
 */
import { bytesEqual } from '../bytes.ts';
import { hkdfSha256 } from '../crypto/hkdf.ts';
import { x25519Agree } from '../crypto/sign.ts';
import { MAX_KEY_EPOCH, MAX_PRINCIPAL, type NewKey, verifyNewKey } from './new-key.ts';

export const SESSION_SEND_INFO = 'triplex/session/v1';
export const SESSION_PAIR_INFO = 'triplex/session-pair/v1';
export const SESSION_ID_INFO = 'triplex/session-id/v1';
export const SESSION_KEY_BYTES = 32;
export const FINGERPRINT_BYTES = 8;

/** This principal's current key pair. */
export interface LocalKeys {
  readonly id: number;
  readonly epoch: number;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A peer's current public key, as last accepted. */
export interface PeerKey {
  readonly id: number;
  readonly epoch: number;
  readonly publicKey: Uint8Array;
}

export interface SessionKeys {
  readonly peer: number;
  /** Tags this principal makes for the peer. */
  readonly send: Uint8Array;
  /** Tags the peer makes for this principal (the peer's `send`). */
  readonly receive: Uint8Array;
  /** One symmetric key for both directions (what KeyRing.rekey takes today). */
  readonly pair: Uint8Array;
  /** Names this key generation: `lo.epoch-hi.epoch`, lower principal id first. */
  readonly keyId: string;
  /** 8 bytes derived alongside the keys: equal at both ends iff they hold the same keys. */
  readonly fingerprint: Uint8Array;
}

export type SessionKeysResult =
  | { readonly ok: true; readonly keys: SessionKeys }
  | { readonly ok: false; readonly reason: 'bad-private-key' | 'bad-public-key' | 'low-order-point' };

/** Session keys of `self` with `peer`. A hostile public key is a rejection with a reason, never a throw. */
export function sessionKeys(self: LocalKeys, peer: PeerKey): SessionKeysResult {
  if (!validId(self.id) || !validId(peer.id) || !validEpoch(self.epoch) || !validEpoch(peer.epoch)) {
    throw new RangeError(`session keys: ids must be u16 and epochs u32 (self ${self.id}, peer ${peer.id})`);
  }
  const agreed = x25519Agree(self.privateKey, peer.publicKey);
  if (!agreed.ok) return agreed;
  const secret = agreed.sharedSecret;
  const selfIsLow = self.id <= peer.id;
  const lo = selfIsLow ? self : peer;
  const hi = selfIsLow ? peer : self;
  const salt = new Uint8Array(lo.publicKey.length + hi.publicKey.length);
  salt.set(lo.publicKey, 0);
  salt.set(hi.publicKey, lo.publicKey.length);
  const derive = (label: string, a: number, b: number, ea: number, eb: number, length: number): Uint8Array =>
    hkdfSha256(secret, salt, info(label, a, b, ea, eb), length);
  return {
    ok: true,
    keys: {
      peer: peer.id,
      send: derive(SESSION_SEND_INFO, self.id, peer.id, self.epoch, peer.epoch, SESSION_KEY_BYTES),
      receive: derive(SESSION_SEND_INFO, peer.id, self.id, peer.epoch, self.epoch, SESSION_KEY_BYTES),
      pair: derive(SESSION_PAIR_INFO, lo.id, hi.id, lo.epoch, hi.epoch, SESSION_KEY_BYTES),
      keyId: `${lo.id}.${lo.epoch}-${hi.id}.${hi.epoch}`,
      fingerprint: derive(SESSION_ID_INFO, lo.id, hi.id, lo.epoch, hi.epoch, FINGERPRINT_BYTES),
    },
  };
}

const encoder = new TextEncoder();

/** label || 0x00 || a (u16) || b (u16) || epoch a (u32) || epoch b (u32). */
function info(label: string, a: number, b: number, ea: number, eb: number): Uint8Array {
  const l = encoder.encode(label);
  const out = new Uint8Array(l.length + 13);
  out.set(l, 0);
  const v = new DataView(out.buffer);
  const at = l.length + 1;
  v.setUint16(at, a);
  v.setUint16(at + 2, b);
  v.setUint32(at + 4, ea);
  v.setUint32(at + 8, eb);
  return out;
}

function validId(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= MAX_PRINCIPAL;
}

function validEpoch(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= MAX_KEY_EPOCH;
}

/** What a receiver knows of one peer's keys: the last NEW-KEY it accepted (epoch 0: the key-file keys). */
export interface PeerKeyState {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly recoveryPoint: number;
}

export type NewKeyRefusal =
  | 'unknown-node'
  | 'own-node'
  | 'stale-epoch'
  | 'duplicate'
  | 'epoch-too-far'
  | 'bad-signature'
  | 'bad-public-key'
  | 'low-order-point';

export type NewKeyVerdict =
  | { readonly ok: true; readonly state: PeerKeyState; readonly keys: SessionKeys }
  | { readonly ok: false; readonly reason: NewKeyRefusal };

/** Largest jump in a peer's epoch accepted at once (a node burning epochs would run out of them). */
export const DEFAULT_MAX_EPOCH_AHEAD = 1024;

/**
 * The key-epoch rule for an incoming NEW-KEY. Refused, cheapest check first (a flood of replays costs no
 * signature check): an unknown node; one naming the receiver itself (a principal never learns its own keys from
 * the network: a reflected copy of one it signed before a restart that lost its counter could be above the epoch
 * it holds of itself); an epoch at or below the accepted one (a replayed or stale NEW-KEY:
 * 'duplicate' if it is the very message accepted, 'stale-epoch' otherwise); an epoch further ahead than
 * `maxEpochAhead`; a bad signature; a public key that yields no usable secret. Accepted: the new state for the
 * peer and the session keys to install. The caller must install them and forget the old ones at once: from
 * then on, messages under the old keys are refused (`senderEpochVerdict`).
 */
export function acceptNewKey(p: {
  readonly self: LocalKeys;
  readonly current: PeerKeyState | undefined;
  readonly message: NewKey;
  /** The sender's long-term ed25519 identity key, or undefined if the node is not in the topology. */
  readonly identityPublicKey: Uint8Array | undefined;
  readonly maxEpochAhead?: number;
}): NewKeyVerdict {
  const { message: m, current } = p;
  if (p.identityPublicKey === undefined || current === undefined)
    return { ok: false, reason: 'unknown-node' };
  if (m.node === p.self.id) return { ok: false, reason: 'own-node' };
  if (m.epoch <= current.epoch) {
    const same = m.epoch === current.epoch && bytesEqual(m.publicKey, current.publicKey);
    return { ok: false, reason: same ? 'duplicate' : 'stale-epoch' };
  }
  if (m.epoch - current.epoch > (p.maxEpochAhead ?? DEFAULT_MAX_EPOCH_AHEAD)) {
    return { ok: false, reason: 'epoch-too-far' };
  }
  if (!verifyNewKey(m, p.identityPublicKey)) return { ok: false, reason: 'bad-signature' };
  const derived = sessionKeys(p.self, { id: m.node, epoch: m.epoch, publicKey: m.publicKey });
  if (!derived.ok)
    return { ok: false, reason: derived.reason === 'low-order-point' ? 'low-order-point' : 'bad-public-key' };
  return {
    ok: true,
    state: { epoch: m.epoch, publicKey: m.publicKey, recoveryPoint: m.recoveryPoint },
    keys: derived.keys,
  };
}

/**
 * Which keys a message was made under, against the sender's epoch we hold. Messages carry the sender's key
 * epoch; the receiver checks the MAC only for 'current'.
 * - 'current': same epoch: check the MAC.
 * - 'stale': made under keys the sender has since replaced: refuse (counted), never check the MAC with old keys.
 * - 'ahead': the sender recovered and we missed its NEW-KEY: refuse and ask the sender for its NEW-KEY.
 * - 'no-key': we hold no keys for this sender: refuse.
 */
export type KeyEpochVerdict = 'current' | 'stale' | 'ahead' | 'no-key';

export function senderEpochVerdict(held: number | undefined, claimed: number): KeyEpochVerdict {
  if (held === undefined) return 'no-key';
  if (claimed === held) return 'current';
  return claimed < held ? 'stale' : 'ahead';
}

/**
 * The epoch a restarted node announces: one above the last it used. `persisted` is its own counter (written
 * before each NEW-KEY is sent, so a crash cannot make it reuse an epoch); `reports` are the epochs its peers
 * say they last accepted from it (used when the counter was lost). A faulty peer could report a huge epoch to
 * make the node burn its epoch space, so reports more than `maxAhead` above the (f+1)-th highest report (which
 * at least one correct peer vouches for) are ignored.
 */
export function nextEpoch(
  persisted: number,
  reports: readonly number[],
  f: number,
  maxAhead: number = DEFAULT_MAX_EPOCH_AHEAD,
):
  | { readonly ok: true; readonly epoch: number }
  | { readonly ok: false; readonly reason: 'epoch-space-exhausted' } {
  const epoch = Math.max(persisted, credibleEpoch(reports, f, maxAhead, persisted) ?? 0) + 1;
  if (epoch > MAX_KEY_EPOCH) return { ok: false, reason: 'epoch-space-exhausted' };
  return { ok: true, epoch };
}

/**
 * The highest of `reports` (one per board: the epoch it holds of a node) that is credible: one above it (the
 * epoch the node then announces) is at most `maxAhead` above what a correct board holds. That is the (f+1)-th
 * highest report, which at least one correct board vouches for, or `floor` where higher: the epoch the node
 * knows correct boards hold of it (its own current one, which they accepted; 0, its key-file key, at a first
 * start). Undefined when no report is valid. A faulty board reporting a huge epoch moves the result by less than
 * `maxAhead`, never past what the correct boards would accept (one jump further would freeze every link of the
 * node); f+1 correct boards that hold the node at a high epoch (its faulty incarnation pushed them there) move
 * it all the way.
 */
export function credibleEpoch(
  reports: readonly number[],
  f: number,
  maxAhead: number = DEFAULT_MAX_EPOCH_AHEAD,
  floor = 0,
): number | undefined {
  const sorted = reports.filter((r) => validEpoch(r)).sort((a, b) => b - a);
  if (sorted.length === 0) return undefined;
  const vouched = Math.max(sorted[f] ?? 0, floor);
  return sorted.find((r) => r + 1 <= vouched + maxAhead);
}
