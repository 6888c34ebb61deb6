import { timingSafeEqual } from 'node:crypto';

/**
 * Constant-time equality of two byte strings (for MAC tags and digests).
 * Unequal lengths return false at once: lengths are public (the tag length is configured),
 * only the contents must not leak through timing.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
