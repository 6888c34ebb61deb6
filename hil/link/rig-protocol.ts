/**
 * The rig protocol (docs/RIG-PROTOCOL.md): what the HIL rig and a board say to each other on the board's own
 * link, beside the triplex protocol. A rig message is one link payload (inside the serial frame's COBS and
 * CRC-32C, a CAN segment train, or a UDP datagram) that starts with RIG_MAGIC; triplex protocol messages start
 * with WIRE_VERSION (1), so a board that does not speak the rig protocol counts a rig message as a bad version
 * and drops it.
 *
 *   HELLO      rig -> board  magic, version, type 1, nonce u32, rig board name
 *   HELLO-ACK  board -> rig  magic, version, type 2, nonce u32, board name, triplex version, wire version u8,
 *                            key id (8 bytes), principal u16, MAC tag (length-prefixed)
 *
 * The ACK's tag is the board's MAC (its first principal, to the voter principal) over every byte before the tag:
 * a board that answers holds a private key of the key set, not only the public fingerprint.
 *
 * Decoding is total: a malformed payload is a typed rejection, never an exception.
 *
 * @example
 * const hello = encodeHello({ nonce: 7, rig: 'aiu' });
 * decodeRigMessage(hello); // { ok: true, message: { type: 'hello', nonce: 7, rig: 'aiu' } }
 */
import { hex } from '../../src/core/bytes.ts';
import { sha256 } from '../../src/core/crypto/digest.ts';

export const RIG_MAGIC = 0xa5;
export const RIG_PROTOCOL_VERSION = 1;
/** Largest rig message (names are short; the tag is at most 32 bytes). */
export const RIG_MAX_MESSAGE = 512;
const MAX_NAME = 64;

export type RigMessage =
  | { readonly type: 'hello'; readonly nonce: number; readonly rig: string }
  | {
      readonly type: 'hello-ack';
      readonly nonce: number;
      readonly board: string;
      readonly version: string;
      readonly wire: number;
      /** 8 bytes, hex. */
      readonly keyId: string;
      readonly principal: number;
      readonly tag: Uint8Array;
    };

export type RigDecode =
  | { readonly ok: true; readonly message: RigMessage; readonly signed: Uint8Array }
  | {
      readonly ok: false;
      readonly reason: 'not-rig' | 'version' | 'type' | 'truncated' | 'too-long' | 'name';
    };

const TYPE_HELLO = 1;
const TYPE_ACK = 2;

/** Whether a link payload is a rig message (cheap: the first byte). */
export const isRigMessage = (bytes: Uint8Array): boolean => bytes.length > 0 && bytes[0] === RIG_MAGIC;

class Out {
  private readonly bytes: number[] = [];
  u8(x: number): this {
    this.bytes.push(x & 0xff);
    return this;
  }
  u16(x: number): this {
    return this.u8(x >> 8).u8(x);
  }
  u32(x: number): this {
    return this.u16(x >>> 16).u16(x & 0xffff);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (b.length > MAX_NAME) throw new RangeError(`rig protocol: '${s}' longer than ${MAX_NAME} bytes`);
    this.u8(b.length);
    for (const x of b) this.u8(x);
    return this;
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.u8(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

class In {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  get offset(): number {
    return this.pos;
  }
  u8(): number | undefined {
    return this.pos < this.b.length ? this.b[this.pos++] : undefined;
  }
  u16(): number | undefined {
    const hi = this.u8();
    const lo = this.u8();
    return hi === undefined || lo === undefined ? undefined : (hi << 8) | lo;
  }
  u32(): number | undefined {
    const hi = this.u16();
    const lo = this.u16();
    return hi === undefined || lo === undefined ? undefined : hi * 65536 + lo;
  }
  bytes(n: number): Uint8Array | undefined {
    if (this.pos + n > this.b.length) return undefined;
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(): string | undefined {
    const n = this.u8();
    if (n === undefined || n > MAX_NAME) return undefined;
    const b = this.bytes(n);
    if (b === undefined) return undefined;
    const s = new TextDecoder('utf-8', { fatal: false }).decode(b);
    return /^[\x20-\x7e]*$/.test(s) ? s : undefined;
  }
  get done(): boolean {
    return this.pos === this.b.length;
  }
}

const head = (type: number): Out => new Out().u8(RIG_MAGIC).u8(RIG_PROTOCOL_VERSION).u8(type);

export function encodeHello(m: { nonce: number; rig: string }): Uint8Array {
  return head(TYPE_HELLO)
    .u32(m.nonce >>> 0)
    .str(m.rig)
    .finish();
}

/** The ACK without its tag: the bytes the tag covers. */
export function ackSignedPart(
  m: Omit<Extract<RigMessage, { type: 'hello-ack' }>, 'type' | 'tag'>,
): Uint8Array {
  const key = hexBytes(m.keyId);
  if (key.length !== 8) throw new RangeError(`rig protocol: key id must be 8 bytes, got '${m.keyId}'`);
  return head(TYPE_ACK)
    .u32(m.nonce >>> 0)
    .str(m.board)
    .str(m.version)
    .u8(m.wire)
    .raw(key)
    .u16(m.principal)
    .finish();
}

export function encodeAck(signed: Uint8Array, tag: Uint8Array): Uint8Array {
  if (tag.length > 32) throw new RangeError('rig protocol: tag longer than 32 bytes');
  return new Out().raw(signed).u8(tag.length).raw(tag).finish();
}

export function decodeRigMessage(bytes: Uint8Array): RigDecode {
  if (!isRigMessage(bytes)) return { ok: false, reason: 'not-rig' };
  if (bytes.length > RIG_MAX_MESSAGE) return { ok: false, reason: 'too-long' };
  const r = new In(bytes);
  r.u8();
  if (r.u8() !== RIG_PROTOCOL_VERSION) return { ok: false, reason: 'version' };
  const type = r.u8();
  if (type === TYPE_HELLO) {
    const nonce = r.u32();
    const rig = r.str();
    if (nonce === undefined || rig === undefined)
      return { ok: false, reason: rig === undefined && nonce !== undefined ? 'name' : 'truncated' };
    if (!r.done) return { ok: false, reason: 'too-long' };
    return { ok: true, message: { type: 'hello', nonce, rig }, signed: bytes };
  }
  if (type === TYPE_ACK) {
    const nonce = r.u32();
    const board = r.str();
    const version = r.str();
    const wire = r.u8();
    const key = r.bytes(8);
    const principal = r.u16();
    const signedEnd = r.offset;
    const n = r.u8();
    const tag = n === undefined || n > 32 ? undefined : r.bytes(n);
    if (
      nonce === undefined ||
      wire === undefined ||
      key === undefined ||
      principal === undefined ||
      tag === undefined
    ) {
      return { ok: false, reason: 'truncated' };
    }
    if (board === undefined || version === undefined) return { ok: false, reason: 'name' };
    if (!r.done) return { ok: false, reason: 'too-long' };
    const message: RigMessage = {
      type: 'hello-ack',
      nonce,
      board,
      version,
      wire,
      keyId: hex(key),
      principal,
      tag,
    };
    return { ok: true, message, signed: bytes.slice(0, signedEnd) };
  }
  return { ok: false, reason: 'type' };
}

function hexBytes(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) return new Uint8Array(0);
  return Uint8Array.from(s.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
}

/**
 * The key set's id: the first 8 bytes of SHA-256 over every replica's ed25519 public key in id order. Every board
 * of one key set computes the same id from its public directory; a board with another key set differs.
 */
export function keySetId(replicaPublicKeys: ReadonlyMap<number, Uint8Array>): string {
  const ids = [...replicaPublicKeys.keys()].sort((a, b) => a - b);
  const all = new Uint8Array(ids.length * 32);
  for (const [i, id] of ids.entries()) all.set(replicaPublicKeys.get(id)!.subarray(0, 32), i * 32);
  return hex(sha256(all).subarray(0, 8));
}
