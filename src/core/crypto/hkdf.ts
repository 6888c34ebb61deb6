import { hkdfSync } from 'node:crypto';
import type { PrincipalId } from './keyring.ts';

/** HKDF-SHA-256 can produce at most 255 blocks of 32 bytes. */
export const HKDF_MAX_LENGTH = 255 * 32;

/** Domain label for pairwise MAC keys derived from an X25519 shared secret. */
export const PAIRWISE_MAC_INFO = 'triplex/mac/v1';
/** Domain label for pairwise MAC keys derived from a shared master secret (initial key set). */
export const MASTER_MAC_INFO = 'triplex/mac-master/v1';

/** Domain label for the key that tags EPOCH-REPORTs, derived from the key files' X25519 shared secret. */
export const EPOCH_REPORT_INFO = 'triplex/epoch-report/v1';

const encoder = new TextEncoder();

/** HKDF-SHA-256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_MAX_LENGTH) {
    throw new RangeError(`HKDF output length must be from 1 to ${HKDF_MAX_LENGTH} bytes, got ${length}`);
  }
  // node requires info <= 1024 bytes; our labels are far shorter.
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/**
 * The pairwise MAC key of principals `a` and `b` for key epoch `epoch`, from their X25519
 * shared secret. Symmetric: pairwiseKey(s, a, b, e) equals pairwiseKey(s, b, a, e), so both
 * ends derive the same key without talking. The epoch advances at each proactive recovery,
 * so a key never repeats across refreshes even if a shared secret did.
 */
export function pairwiseKey(
  sharedSecret: Uint8Array,
  a: PrincipalId,
  b: PrincipalId,
  epoch: number,
): Uint8Array {
  if (sharedSecret.length < 32) {
    throw new RangeError(`shared secret must be at least 32 bytes, got ${sharedSecret.length}`);
  }
  assertU32(epoch, 'key epoch');
  return hkdfSha256(sharedSecret, new Uint8Array(0), pairInfo(PAIRWISE_MAC_INFO, a, b, epoch), 32);
}

/**
 * The key that tags an EPOCH-REPORT between `a` and `b`, from the shared secret of their key files' (epoch 0)
 * X25519 pairs: a report must reach a node whose session keys the receiver no longer shares (that is why it
 * reports), so it cannot be tagged under them. Symmetric, and domain-separated from every MAC key.
 */
export function epochReportKey(sharedSecret: Uint8Array, a: PrincipalId, b: PrincipalId): Uint8Array {
  if (sharedSecret.length < 32) {
    throw new RangeError(`shared secret must be at least 32 bytes, got ${sharedSecret.length}`);
  }
  return hkdfSha256(sharedSecret, new Uint8Array(0), pairInfo(EPOCH_REPORT_INFO, a, b, 0), 32);
}

/**
 * The initial pairwise MAC key of `a` and `b` from a master secret every principal holds
 * (simulation and test set-ups; epoch 0). Symmetric in (a, b), and domain-separated from
 * keys derived by X25519.
 */
export function sessionKeysFromMaster(masterSecret: Uint8Array, a: PrincipalId, b: PrincipalId): Uint8Array {
  if (masterSecret.length < 16) {
    throw new RangeError(`master secret must be at least 16 bytes, got ${masterSecret.length}`);
  }
  return hkdfSha256(masterSecret, new Uint8Array(0), pairInfo(MASTER_MAC_INFO, a, b, 0), 32);
}

/** info = label || 0x00 || lower id (u16 BE) || higher id (u16 BE) || epoch (u32 BE). */
function pairInfo(label: string, a: PrincipalId, b: PrincipalId, epoch: number): Uint8Array {
  assertU16(a, 'principal id');
  assertU16(b, 'principal id');
  const labelBytes = encoder.encode(label);
  const info = new Uint8Array(labelBytes.length + 9);
  info.set(labelBytes, 0);
  const view = new DataView(info.buffer);
  const at = labelBytes.length + 1; // the 0x00 separator keeps labels prefix-free
  view.setUint16(at, Math.min(a, b));
  view.setUint16(at + 2, Math.max(a, b));
  view.setUint32(at + 4, epoch);
  return info;
}

function assertU16(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffff) throw new RangeError(`${what} must be a u16, got ${x}`);
}

function assertU32(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff)
    throw new RangeError(`${what} must be a u32, got ${x}`);
}
