/**
 * Byte-string helpers shared by the core: hex for map keys and logs, equality and ordering for digests.
 * Not constant-time: for MAC tags use `constantTimeEqual` (src/core/crypto/ct.ts).
 *
 * @example
 * const key = hex(digest); // 64 lowercase hex digits for a 32-byte digest
 * if (bytesEqual(a, b)) ...
 */

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex, two digits per byte. */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}

/** Same length and same bytes. */
/** The bytes of a lowercase hex string `hex` produced (its inverse; callers pass only such strings). */
export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order (a shorter prefix first): negative, zero or positive, as `Array.prototype.sort` wants. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
