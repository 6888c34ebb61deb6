import { createHash } from 'node:crypto';
import { constantTimeEqual } from './ct.ts';

/** Length in bytes of a SHA-256 digest. */
export const DIGEST_LENGTH = 32;

/** SHA-256 of `data` (node:crypto). Returns a fresh 32-byte array. */
export function sha256(data: Uint8Array): Uint8Array {
  return asPlainBytes(createHash('sha256').update(data).digest());
}

/** Digest equality in constant time; a digest of the wrong length is never equal. */
export function digestEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === DIGEST_LENGTH && constantTimeEqual(a, b);
}

/**
 * Copy into a plain Uint8Array. A Buffer is a Uint8Array, but it may view a shared pool and
 * compares differently in tests; callers of the core get plain arrays they own.
 */
export function asPlainBytes(buf: Uint8Array, length: number = buf.length): Uint8Array {
  const out = new Uint8Array(length);
  out.set(buf.subarray(0, length));
  return out;
}
