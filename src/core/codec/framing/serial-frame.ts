/**
 * Serial link framing: each payload travels as
 *
 *     0x00  COBS(payload ‖ CRC-32C(payload) little-endian)  0x00
 *
 * The leading delimiter ends whatever garbage came before, so line noise between frames costs at most that
 * noise, not the next good frame. Back-to-back delimiters are idle fill, not errors. The receiver
 * (SerialDeframer) buffers at most one maximal encoded frame; a longer run without a delimiter is discarded
 * and counted, so memory stays bounded whatever arrives.
 */

import { cobsDecodeInPlace, cobsEncodeConcatInto, cobsMaxEncodedLength } from './cobs.ts';
import { crc32c, crc32cUpdate, readU32LE, writeU32LE } from './crc.ts';

/** Why a delimited frame was dropped. */
export type SerialRejection =
  | 'cobs' // not valid COBS (code byte overruns)
  | 'crc' // CRC mismatch (corrupt bytes, or garbage merged with a frame)
  | 'too-long' // more bytes than the largest allowed frame before a delimiter
  | 'empty'; // decodes to no payload bytes (too short to hold a payload and its CRC)

export const SERIAL_REJECTIONS: readonly SerialRejection[] = ['cobs', 'crc', 'too-long', 'empty'];

const CRC_BYTES = 4;
const DELIMITER = 0x00;
/** Hard cap so a misconfiguration cannot allocate an absurd buffer. */
export const SERIAL_MAX_PAYLOAD_LIMIT = 1 << 20;

/** Bytes on the wire for a payload of `n` bytes, both delimiters included (for bandwidth budgets). */
export function serialFrameLength(n: number): number {
  return cobsMaxEncodedLength(n + CRC_BYTES) + 2;
}

/** Encode one payload as a complete serial frame (both delimiters). Empty payloads are a caller bug. */
export function encodeSerialFrame(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) throw new RangeError('encodeSerialFrame: empty payload');
  if (payload.length > SERIAL_MAX_PAYLOAD_LIMIT) {
    throw new RangeError(
      `encodeSerialFrame: payload of ${payload.length} bytes exceeds ${SERIAL_MAX_PAYLOAD_LIMIT}`,
    );
  }
  // The CRC goes through COBS right after the payload, without first copying the two into one buffer.
  writeU32LE(crcScratch, 0, crc32c(payload));
  const out = new Uint8Array(serialFrameLength(payload.length));
  out[0] = DELIMITER;
  const n = cobsEncodeConcatInto(payload, crcScratch, out, 1);
  out[1 + n] = DELIMITER;
  return n + 2 === out.length ? out : out.subarray(0, n + 2);
}

/** Encoding never re-enters itself, so one 4-byte buffer serves every frame's CRC. */
const crcScratch = new Uint8Array(CRC_BYTES);

export interface SerialDeframerOptions {
  /** Largest payload accepted; longer frames are dropped as 'too-long'. */
  maxPayload: number;
}

/**
 * Incremental receiver: feed it chunks as they arrive (split or merged arbitrarily) and get back the
 * verified payloads completed by each chunk. Never throws on input bytes.
 */
export class SerialDeframer {
  private readonly buffer: Uint8Array;
  private length = 0;
  /** True after an overlong run: bytes are skipped until the next delimiter. */
  private discarding = false;
  private readonly rejections: Record<SerialRejection, number> = { cobs: 0, crc: 0, 'too-long': 0, empty: 0 };
  private accepted = 0;

  constructor(private readonly options: SerialDeframerOptions) {
    const { maxPayload } = options;
    if (!Number.isInteger(maxPayload) || maxPayload < 1 || maxPayload > SERIAL_MAX_PAYLOAD_LIMIT) {
      throw new RangeError(
        `SerialDeframer: maxPayload must be 1..${SERIAL_MAX_PAYLOAD_LIMIT}, got ${maxPayload}`,
      );
    }
    this.buffer = new Uint8Array(cobsMaxEncodedLength(maxPayload + CRC_BYTES));
  }

  /** Consume one chunk; return the payloads (fresh copies) of the frames it completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let start = 0;
    while (start < chunk.length) {
      const zero = chunk.indexOf(DELIMITER, start);
      const end = zero === -1 ? chunk.length : zero;
      this.append(chunk, start, end);
      if (zero === -1) break;
      this.endFrame(out);
      start = zero + 1;
    }
    return out;
  }

  /** Rejections so far, by reason. */
  stats(): Record<SerialRejection, number> {
    return { ...this.rejections };
  }

  /** Frames accepted so far. */
  frames(): number {
    return this.accepted;
  }

  /**
   * Bytes were lost before the next chunk (the link dropped them): whatever comes up to the next delimiter
   * belongs to a frame whose start or middle is gone, so it is skipped (a frame already pending is dropped).
   */
  resync(): void {
    this.discarding = true;
    this.length = 0;
  }

  /** Bytes held waiting for a delimiter (bounded by the largest encoded frame). */
  pending(): number {
    return this.length;
  }

  private append(chunk: Uint8Array, start: number, end: number): void {
    if (this.discarding || start === end) return;
    const n = end - start;
    if (this.length + n > this.buffer.length) {
      // Count once per overlong run, then skip to the next delimiter without buffering.
      this.rejections['too-long']++;
      this.discarding = true;
      this.length = 0;
      return;
    }
    this.buffer.set(chunk.subarray(start, end), this.length);
    this.length += n;
  }

  private endFrame(out: Uint8Array[]): void {
    const wasDiscarding = this.discarding;
    const length = this.length;
    this.discarding = false;
    this.length = 0;
    if (wasDiscarding || length === 0) return; // overlong run already counted; or idle fill
    const payload = this.verify(length);
    if (payload !== undefined) out.push(payload);
  }

  private verify(length: number): Uint8Array | undefined {
    // Decoded in place: the frame's bytes are not needed once decoded, and this spares a buffer per frame.
    const decoded = cobsDecodeInPlace(this.buffer, 0, length);
    if (!decoded.ok) {
      this.rejections.cobs++;
      return undefined;
    }
    if (decoded.length <= CRC_BYTES) {
      this.rejections.empty++;
      return undefined;
    }
    const payloadLength = decoded.length - CRC_BYTES;
    if (payloadLength > this.options.maxPayload) {
      this.rejections['too-long']++;
      return undefined;
    }
    if (crc32cUpdate(0, this.buffer, 0, payloadLength) !== readU32LE(this.buffer, payloadLength)) {
      this.rejections.crc++;
      return undefined;
    }
    this.accepted++;
    return this.buffer.slice(0, payloadLength);
  }
}
