/**
 * Constant-time equality of two byte strings (for MAC tags and digests).
 * Unequal lengths return false at once: lengths are public (the tag length is configured),
 * only the contents must not leak through timing. A branch-free XOR-OR over every byte, in JS:
 * for the 8 to 32 bytes of a tag or digest it costs less than the call into node:crypto's
 * timingSafeEqual (which also checks its arguments' types on every call).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return a.length === 0 || prefixEquals(a, b);
}

/**
 * Whether `tag` equals the first `tag.length` bytes of `full`, in time that depends only on the length
 * (a truncated MAC tag against the full MAC). False when `tag` is longer than `full`, and false when `tag` is
 * empty: an empty tag is a prefix of every MAC, so it must never verify (KeyedMac.matches relies on this; the
 * length checks before it are a second line, not the only one).
 */
export function prefixEquals(full: Uint8Array, tag: Uint8Array): boolean {
  if (tag.length === 0 || tag.length > full.length) return false;
  let diff = 0;
  for (let i = 0; i < tag.length; i++) diff |= full[i]! ^ tag[i]!;
  return diff === 0;
}
