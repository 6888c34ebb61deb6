/**
 * Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): removes every 0x00 from a byte string at a
 * cost of at most one byte per 254, so 0x00 can delimit frames on a byte stream and a receiver resynchronizes
 * at the next 0x00 after any garbage.
 *
 * The encoded form here excludes the delimiter; serial-frame.ts adds it.
 */

/** Why an encoded block is not valid COBS. */
export type CobsRejection =
  | 'empty' // no bytes at all: even an empty payload encodes to one code byte
  | 'zero-byte' // a 0x00 inside the block (a delimiter that was not split off)
  | 'overrun'; // a code byte points past the end of the block

export type CobsDecodeResult = { ok: true; bytes: Uint8Array } | { ok: false; reason: CobsRejection };

/** Largest encoded length for a payload of `n` bytes: one code byte per started block of 254. */
export function cobsMaxEncodedLength(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`cobsMaxEncodedLength: bad length ${n}`);
  return n + 1 + Math.floor(n / 254);
}

/**
 * COBS-encode `payload` into `out` at `offset` (out must have room for cobsMaxEncodedLength(payload.length)).
 * Returns the number of bytes written. Split from cobsEncode so a framer can encode in place without a copy.
 */
export function cobsEncodeInto(payload: Uint8Array, out: Uint8Array, offset: number): number {
  return cobsEncodeConcatInto(payload, EMPTY, out, offset);
}

const EMPTY = new Uint8Array(0);

/**
 * COBS-encode the concatenation `head ‖ tail` into `out` at `offset`, without building the concatenation (a
 * serial frame is its payload followed by its CRC). Returns the number of bytes written.
 */
export function cobsEncodeConcatInto(
  head: Uint8Array,
  tail: Uint8Array,
  out: Uint8Array,
  offset: number,
): number {
  const needed = cobsMaxEncodedLength(head.length + tail.length);
  if (offset < 0 || offset + needed > out.length) {
    throw new RangeError(`cobsEncodeInto: need ${needed} bytes at ${offset}, have ${out.length - offset}`);
  }
  let codeAt = offset;
  let w = offset + 1;
  let code = 1;
  for (let part = 0; part < 2; part++) {
    const bytes = part === 0 ? head : tail;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 0) {
        out[codeAt] = code;
        codeAt = w++;
        code = 1;
        continue;
      }
      out[w++] = b;
      code++;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = w++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return w - offset;
}

/** COBS-encode `payload` (no delimiter). The result never contains 0x00. */
export function cobsEncode(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(payload.length));
  const n = cobsEncodeInto(payload, out, 0);
  return out.subarray(0, n);
}

/**
 * Decode the COBS block `buf[start, end)` in place: the decoded bytes overwrite it from `start` (decoding never
 * writes ahead of what it reads). Returns the decoded length, or the reason the block is not valid COBS (the
 * buffer is then partly overwritten). Saves the receiver an allocation and a copy per frame.
 */
export function cobsDecodeInPlace(
  buf: Uint8Array,
  start: number,
  end: number,
): { ok: true; length: number } | { ok: false; reason: CobsRejection } {
  if (start < 0 || end > buf.length || start > end) {
    throw new RangeError(`cobsDecodeInPlace: bad range [${start}, ${end}) of ${buf.length}`);
  }
  if (end === start) return { ok: false, reason: 'empty' };
  let w = start;
  let r = start;
  while (r < end) {
    const code = buf[r]!;
    if (code === 0) return { ok: false, reason: 'zero-byte' };
    const blockEnd = r + code;
    if (blockEnd > end) return { ok: false, reason: 'overrun' };
    for (let i = r + 1; i < blockEnd; i++) {
      const b = buf[i]!;
      if (b === 0) return { ok: false, reason: 'zero-byte' };
      buf[w++] = b;
    }
    r = blockEnd;
    if (code !== 0xff && r < end) buf[w++] = 0;
  }
  return { ok: true, length: w - start };
}

/**
 * Decode one COBS block `encoded[start, end)` (no delimiter). Total: any input gives bytes or a reason.
 * A trailing block of 0xFF whose code reaches exactly the end is accepted, as the encoder above never
 * appends a zero after a full 254-byte run at the very end.
 */
export function cobsDecode(encoded: Uint8Array, start = 0, end = encoded.length): CobsDecodeResult {
  if (start < 0 || end > encoded.length || start > end) {
    throw new RangeError(`cobsDecode: bad range [${start}, ${end}) of ${encoded.length}`);
  }
  if (end === start) return { ok: false, reason: 'empty' };
  const out = new Uint8Array(end - start);
  let w = 0;
  let r = start;
  while (r < end) {
    const code = encoded[r]!;
    if (code === 0) return { ok: false, reason: 'zero-byte' };
    const blockEnd = r + code;
    if (blockEnd > end) return { ok: false, reason: 'overrun' };
    for (let i = r + 1; i < blockEnd; i++) {
      const b = encoded[i]!;
      if (b === 0) return { ok: false, reason: 'zero-byte' };
      out[w++] = b;
    }
    r = blockEnd;
    // A code below 0xFF marks an implicit zero, except at the very end of the block.
    if (code !== 0xff && r < end) out[w++] = 0;
  }
  return { ok: true, bytes: out.subarray(0, w) };
}
