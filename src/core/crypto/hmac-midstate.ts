/**
 * HMAC-SHA-256 from precomputed midstates, in plain JavaScript, for the short messages of the per-frame path.
 *
 * Why: HMAC is SHA-256((K ^ opad) || SHA-256((K ^ ipad) || data)). The two key blocks are the same for every
 * message under one key, so their compressions can be done once, when the key is set up (the "midstate", as
 * in RFC 2104 section 4 and every high-rate HMAC implementation). node:crypto cannot resume from a midstate: it
 * hashes the key block again each time and pays a native call per hash (about 0.9 us each here). A protocol
 * message of 40 to 120 bytes then needs 2 or 3 compressions instead of 4, with no native call and no
 * allocation: measured in bench/mac.ts (hmacSha256.midstate against hmacSha256.node).
 *
 * Constant time: SHA-256 has no data-dependent branches or table lookups; the work depends only on the length.
 *
 * @example
 * const mac = new MidstateHmac(key);
 * const out = new Uint8Array(32);
 * mac.digestInto(message, out); // out = HMAC-SHA-256(key, message)
 */
import { sha256 } from '@noble/hashes/sha2.js';

const BLOCK = 64;
/** SHA-256 round constants (FIPS 180-4, 4.2.2). */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
/** SHA-256 initial hash value (FIPS 180-4, 5.3.3). */
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/** Scratch shared by every key: a digest never re-enters another (single-threaded, no callbacks). */
const schedule = new Int32Array(64);
const state = new Int32Array(8);
const tail = new Uint8Array(BLOCK);

/** One SHA-256 compression of the 64 bytes of `b` at offset `o` into `s` (FIPS 180-4, 6.2.2). */
function compress(s: Int32Array, b: Uint8Array, o: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++, o += 4)
    w[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = s[0]!;
  let bb = s[1]!;
  let c = s[2]!;
  let d = s[3]!;
  let e = s[4]!;
  let f = s[5]!;
  let g = s[6]!;
  let h = s[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  s[0] = (s[0]! + a) | 0;
  s[1] = (s[1]! + bb) | 0;
  s[2] = (s[2]! + c) | 0;
  s[3] = (s[3]! + d) | 0;
  s[4] = (s[4]! + e) | 0;
  s[5] = (s[5]! + f) | 0;
  s[6] = (s[6]! + g) | 0;
  s[7] = (s[7]! + h) | 0;
}

/** The state's 32 bytes, big-endian, into `out` at `at`. */
function writeState(s: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++) {
    const v = s[i]!;
    out[at + 4 * i] = v >>> 24;
    out[at + 4 * i + 1] = v >>> 16;
    out[at + 4 * i + 2] = v >>> 8;
    out[at + 4 * i + 3] = v;
  }
}

/**
 * Finish a hash whose state `s` has absorbed `prefix` bytes (whole blocks) and must now absorb `data` and the
 * padding: the message is prefix || data, `prefix + data.length` bytes in all.
 */
function absorbAndPad(s: Int32Array, prefix: number, data: Uint8Array): void {
  const n = data.length;
  let o = 0;
  for (; o + BLOCK <= n; o += BLOCK) compress(s, data, o);
  const rest = n - o;
  tail.fill(0);
  for (let i = 0; i < rest; i++) tail[i] = data[o + i]!;
  tail[rest] = 0x80;
  if (rest >= BLOCK - 8) {
    compress(s, tail, 0);
    tail.fill(0);
  }
  const bits = (prefix + n) * 8;
  // The length field is 64 bits; messages here are far below 2^53 bits, so the high word comes from a division.
  const high = Math.floor(bits / 0x1_0000_0000);
  tail[56] = high >>> 24;
  tail[57] = high >>> 16;
  tail[58] = high >>> 8;
  tail[59] = high;
  tail[60] = bits >>> 24;
  tail[61] = bits >>> 16;
  tail[62] = bits >>> 8;
  tail[63] = bits;
  compress(s, tail, 0);
}

/** HMAC-SHA-256 under one key, resumed from the two key blocks' midstates for every message. */
export class MidstateHmac {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);

  /** `key`: any length (RFC 2104: a key longer than the 64-byte block is hashed first). */
  constructor(key: Uint8Array) {
    const k = key.length > BLOCK ? sha256(key) : key;
    const pad = new Uint8Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) pad[i] = (k[i] ?? 0) ^ 0x36;
    this.inner.set(IV);
    compress(this.inner, pad, 0);
    for (let i = 0; i < BLOCK; i++) pad[i] = (k[i] ?? 0) ^ 0x5c;
    this.outer.set(IV);
    compress(this.outer, pad, 0);
    pad.fill(0);
  }

  /** The full 32-byte HMAC of `data` into `out` (at least 32 bytes). */
  digestInto(data: Uint8Array, out: Uint8Array): void {
    state.set(this.inner);
    absorbAndPad(state, BLOCK, data);
    // The outer hash absorbs the 32-byte inner digest: one block with its padding (96 bytes in all).
    tail.fill(0);
    writeState(state, tail, 0);
    tail[32] = 0x80;
    tail[62] = (96 * 8) >>> 8;
    tail[63] = (96 * 8) & 0xff;
    state.set(this.outer);
    compress(state, tail, 0);
    writeState(state, out, 0);
  }
}
