import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { constantTimeEqual } from './ct.ts';
import { asPlainBytes } from './digest.ts';

/** Shortest tag allowed by default: 64 bits keeps forgery odds at 2^-64 per attempt on any link. */
export const MIN_TAG_LENGTH = 8;
/**
 * Shortest tag allowed at all, for a link whose frame rate bounds the forgery attempts (a CAN bus, a serial
 * line): 32 bits, within AUTOSAR SecOC's 24 to 64. The argument is in docs/MAC-TAGS.md; the runtime allows it
 * per link kind only (runtime/link-tags.ts), never for a channel's OUTPUT to the voter.
 */
export const MIN_LINK_TAG_LENGTH = 4;
/** Full HMAC-SHA-256 output. */
export const MAX_TAG_LENGTH = 32;
/** Default tag length: 16 bytes (128 bits), as in common truncated-HMAC practice. */
export const DEFAULT_TAG_LENGTH = 16;

/** Which HMAC-SHA-256 implementation computes tags. Both give identical bytes. */
export type MacBackendName = 'node' | 'noble';

/**
 * Default backend, chosen from `npx tsx bench/mac.ts` on this machine: node:crypto is about
 * twice as fast as @noble/hashes for short messages (see README / bench output).
 */
export const DEFAULT_MAC_BACKEND: MacBackendName = 'node';

/** HMAC-SHA-256 bound to one key: computes full 32-byte MACs. Set up the key once, use many times. */
export interface KeyedMac {
  /** Full 32-byte HMAC-SHA-256 of `data`, truncated to `length` bytes (fresh array). */
  mac(data: Uint8Array, length: number): Uint8Array;
}

/** Bind `key` to a backend. The key is copied so later changes by the caller do not leak in. */
export function keyedMac(key: Uint8Array, backend: MacBackendName = DEFAULT_MAC_BACKEND): KeyedMac {
  switch (backend) {
    case 'node':
      return new NodeKeyedMac(key);
    case 'noble':
      return new NobleKeyedMac(key);
    default:
      return assertNever(backend);
  }
}

/** Throws unless `length` is an integer in [floor, MAX_TAG_LENGTH] (floor: MIN_TAG_LENGTH unless a link's). */
export function assertTagLength(length: number, floor = MIN_TAG_LENGTH): void {
  if (floor < MIN_LINK_TAG_LENGTH) throw new RangeError(`tag length floor ${floor} < ${MIN_LINK_TAG_LENGTH}`);
  if (!Number.isInteger(length) || length < floor || length > MAX_TAG_LENGTH) {
    throw new RangeError(
      `MAC tag length must be an integer from ${floor} to ${MAX_TAG_LENGTH} bytes, got ${length}`,
    );
  }
}

/** Truncated HMAC-SHA-256 tag of `data` (`tagLength` validated). */
export function macTag(mac: KeyedMac, data: Uint8Array, tagLength: number): Uint8Array {
  assertTagLength(tagLength);
  return mac.mac(data, tagLength);
}

/**
 * True iff `tag` is the `tagLength`-byte tag of `data`. A tag of any other length is rejected
 * (never padded or compared on a prefix), and the comparison runs in constant time.
 */
export function macVerify(
  mac: KeyedMac,
  data: Uint8Array,
  tag: Uint8Array,
  tagLength: number,
  floor = MIN_TAG_LENGTH,
): boolean {
  assertTagLength(tagLength, floor);
  if (tag.length !== tagLength) return false;
  return constantTimeEqual(mac.mac(data, tagLength), tag);
}

/** node:crypto backend: the key lives in a KeyObject so it is not re-imported per call. */
class NodeKeyedMac implements KeyedMac {
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    this.key = createSecretKey(Uint8Array.from(key));
  }

  mac(data: Uint8Array, length: number): Uint8Array {
    return asPlainBytes(createHmac('sha256', this.key).update(data).digest(), length);
  }
}

type NobleHmac = ReturnType<typeof hmac.create>;

/**
 * @noble/hashes backend: the keyed inner/outer states are computed once and cloned per
 * message into a reused scratch object (saves two compression calls and the allocations).
 */
class NobleKeyedMac implements KeyedMac {
  private readonly keyed: NobleHmac;
  private scratch: NobleHmac | undefined;
  private readonly out = new Uint8Array(MAX_TAG_LENGTH);

  constructor(key: Uint8Array) {
    this.keyed = hmac.create(nobleSha256, Uint8Array.from(key));
  }

  mac(data: Uint8Array, length: number): Uint8Array {
    const h = this.keyed._cloneInto(this.scratch);
    this.scratch = h;
    h.update(data);
    h.digestInto(this.out);
    return asPlainBytes(this.out, length);
  }
}

function assertNever(x: never): never {
  throw new Error(`unknown MAC backend: ${String(x)}`);
}
