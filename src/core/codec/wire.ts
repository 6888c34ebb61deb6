/**
 * Byte-level reader and writer for the canonical encoding. Integers are unsigned LEB128 varints that must be
 * minimal (a longer encoding of the same value is rejected), so every value has exactly one byte string.
 * Floats are IEEE-754 binary64 big-endian and must be finite. The reader never reads out of bounds: it throws a
 * DecodeFailure that the top-level decoder turns into a typed rejection.
 */

export type RejectionReason =
  | 'empty'
  | 'too-long'
  | 'bad-version'
  | 'unknown-kind'
  | 'truncated'
  | 'trailing-bytes'
  | 'non-minimal-varint'
  | 'integer-out-of-range'
  | 'non-finite-float'
  | 'length-over-limit'
  | 'count-over-limit'
  | 'bad-fixed-length'
  | 'unknown-variant'
  | 'bad-bool';

/** Internal control flow of the decoder; never escapes `decode`. */
export class DecodeFailure {
  constructor(
    readonly reason: RejectionReason,
    readonly detail: string,
  ) {}
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  uvar(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > MAX_SAFE) throw new RangeError(`uvar out of range: ${v}`);
    this.reserve(8);
    // Values above 2^31 cannot use bit operators; divide instead.
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  f64(v: number): void {
    if (!Number.isFinite(v)) throw new RangeError(`f64 must be finite: ${v}`);
    this.reserve(8);
    this.view.setFloat64(this.len, v, false);
    this.len += 8;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** Forget what was written, keeping the buffer (for a scratch writer reused across messages). */
  reset(): void {
    this.len = 0;
  }

  /** The bytes written so far, as a view valid until the next write (no copy). */
  written(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Drop the last `n` bytes written. */
  unwrite(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.len) throw new RangeError(`unwrite ${n} of ${this.len}`);
    this.len -= n;
  }
}

export class Reader {
  private pos = 0;
  /** Made on the first float read: most messages have none. */
  private view: DataView | undefined;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.remaining < n)
      throw new DecodeFailure('truncated', `${what}: need ${n} bytes, have ${this.remaining}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  uvar(what: string): number {
    let value = 0;
    let scale = 1;
    // 8 bytes of 7 bits cover 2^53; a ninth byte is always out of range.
    for (let i = 0; i < 8; i++) {
      this.need(1, what);
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new DecodeFailure('non-minimal-varint', what);
        if (value > MAX_SAFE) throw new DecodeFailure('integer-out-of-range', what);
        return value;
      }
      scale *= 0x80;
    }
    throw new DecodeFailure('integer-out-of-range', what);
  }

  f64(what: string): number {
    this.need(8, what);
    this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    if (!Number.isFinite(v)) throw new DecodeFailure('non-finite-float', what);
    return v;
  }

  /**
   * The next `n` bytes as a view into the input, not a copy: a decoded message's byte fields (ops, digests,
   * tags) share the buffer it was decoded from. Safe because nothing writes into a received buffer after it is
   * handed over (transports and deframers hand over fresh buffers, and a replica keeps the received bytes of
   * what it logs anyway); a caller that must change one copies it first.
   */
  raw(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
