import * as nodeCrypto from 'node:crypto';
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { prefixEquals } from './ct.ts';
import { asPlainBytes } from './digest.ts';
import { MidstateHmac } from './hmac-midstate.ts';

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
export type MacBackendName = 'midstate' | 'node' | 'noble';

/**
 * Default backend, chosen from `npx tsx bench/mac.ts` on this machine: the midstates (MidstateKeyedMac) for
 * the short messages of the per-frame path, where a native call costs more than the hashing (1.5 to 1.8 times
 * node's rate for authenticators over 64 bytes), and node:crypto's createHmac for anything longer than three
 * blocks.
 */
export const DEFAULT_MAC_BACKEND: MacBackendName = 'midstate';

/** HMAC-SHA-256 bound to one key: computes full 32-byte MACs. Set up the key once, use many times. */
export interface KeyedMac {
  /** Full 32-byte HMAC-SHA-256 of `data`, truncated to `length` bytes (fresh array). */
  mac(data: Uint8Array, length: number): Uint8Array;
  /**
   * Whether `tag` is the HMAC-SHA-256 of `data` truncated to `tag.length` bytes (1 to 32), compared in constant
   * time against the full MAC: no truncated copy is made. The caller checks the length against the one it expects.
   */
  matches(data: Uint8Array, tag: Uint8Array): boolean;
}

/** Bind `key` to a backend. The key is copied so later changes by the caller do not leak in. */
export function keyedMac(key: Uint8Array, backend: MacBackendName = DEFAULT_MAC_BACKEND): KeyedMac {
  switch (backend) {
    case 'midstate':
      return new MidstateKeyedMac(key);
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
  return mac.matches(data, tag);
}

/** node:crypto's one-shot SHA-256 (`crypto.hash`, Node 20.12 and later); undefined on older releases. */
const oneShotHash: typeof nodeCrypto.hash | undefined =
  typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;
const SHA256_BLOCK = 64;
/**
 * Longest data MAC'd with two one-shot hashes: up to here they clearly beat createHmac (2.1 against 3.6 us at
 * 512 bytes); from about 1 KiB on the copy into the scratch eats the gain (bench/mac.ts tag1KiB about even).
 */
const ONE_SHOT_MAX_DATA = 512;
/** Scratch for (K ^ ipad) || data and (K ^ opad) || inner hash, shared: a MAC never re-enters another. */
const innerScratch = new Uint8Array(SHA256_BLOCK + ONE_SHOT_MAX_DATA);
const outerScratch = new Uint8Array(SHA256_BLOCK + 32);

/**
 * node:crypto backend. The key is set up once per peer: a KeyObject (for createHmac) and, where node:crypto has
 * its one-shot hash, the two key blocks K ^ ipad and K ^ opad of RFC 2104, so that a MAC over up to 512 bytes is
 * HMAC's definition, SHA-256((K ^ opad) || SHA-256((K ^ ipad) || data)), in two native calls and no objects.
 * Measured on this machine (quiet, minimum of 7 rounds of 50,000): 1.8 to 2.2 us per MAC from 8 to 300 bytes,
 * against 2.4 to 2.6 us for createHmac with the KeyObject and 1.9 to 3.6 us for @noble/hashes with a cloned
 * prepared state (cheaper than createHmac below 64 bytes only, and a third slower at 300).
 */
class NodeKeyedMac implements KeyedMac {
  private readonly key: KeyObject;
  private readonly innerPad: Uint8Array;
  private readonly outerPad: Uint8Array;

  constructor(key: Uint8Array) {
    const k = Uint8Array.from(key);
    this.key = createSecretKey(k);
    // RFC 2104: a key longer than the block is hashed first, a shorter one is padded with zeros.
    const block = k.length > SHA256_BLOCK ? nobleSha256(k) : k;
    this.innerPad = new Uint8Array(SHA256_BLOCK);
    this.outerPad = new Uint8Array(SHA256_BLOCK);
    for (let i = 0; i < SHA256_BLOCK; i++) {
      const b = block[i] ?? 0;
      this.innerPad[i] = b ^ 0x36;
      this.outerPad[i] = b ^ 0x5c;
    }
  }

  /** The full 32-byte MAC, in a buffer of its own (node:crypto's digests are not pooled). */
  private full(data: Uint8Array): Uint8Array {
    if (oneShotHash === undefined || data.length > ONE_SHOT_MAX_DATA) {
      return createHmac('sha256', this.key).update(data).digest();
    }
    innerScratch.set(this.innerPad, 0);
    innerScratch.set(data, SHA256_BLOCK);
    outerScratch.set(this.outerPad, 0);
    outerScratch.set(
      oneShotHash('sha256', innerScratch.subarray(0, SHA256_BLOCK + data.length), 'buffer'),
      SHA256_BLOCK,
    );
    return oneShotHash('sha256', outerScratch, 'buffer');
  }

  mac(data: Uint8Array, length: number): Uint8Array {
    // A plain Uint8Array over the digest's own buffer: no second copy of the tag.
    const full = this.full(data);
    return new Uint8Array(full.buffer, full.byteOffset, length);
  }

  matches(data: Uint8Array, tag: Uint8Array): boolean {
    return prefixEquals(this.full(data), tag);
  }
}

/**
 * Longest data MAC'd from the midstates in JavaScript: 183 bytes take three inner blocks (with the 9 bytes of
 * padding), four compressions with the outer one. Longer data goes to node:crypto's createHmac. Measured here
 * (bench/mac.ts, midstate over node): 1.85 at 40 bytes, 1.24 at 64, 1.07 at 128, 0.77 at 256.
 */
const MIDSTATE_MAX_DATA = 3 * SHA256_BLOCK - 9;
/** Scratch for a full MAC that is only compared (matches): one at a time, never re-entered. */
const compareScratch = new Uint8Array(MAX_TAG_LENGTH);

/**
 * Midstate backend: the key's two padded blocks are compressed once (hmac-midstate.ts), so a MAC over a short
 * protocol message costs its own blocks and one outer block, in JavaScript, without a native call or an
 * allocation; data over MIDSTATE_MAX_DATA takes createHmac with a KeyObject set up once. Same bytes as the
 * other backends (test/core/crypto/mac.test.ts).
 */
class MidstateKeyedMac implements KeyedMac {
  private readonly midstates: MidstateHmac;
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    const k = Uint8Array.from(key);
    this.midstates = new MidstateHmac(k);
    this.key = createSecretKey(k);
  }

  mac(data: Uint8Array, length: number): Uint8Array {
    if (data.length > MIDSTATE_MAX_DATA) {
      const full = createHmac('sha256', this.key).update(data).digest();
      return new Uint8Array(full.buffer, full.byteOffset, length);
    }
    const out = new Uint8Array(MAX_TAG_LENGTH);
    this.midstates.digestInto(data, out);
    return out.subarray(0, length);
  }

  matches(data: Uint8Array, tag: Uint8Array): boolean {
    if (data.length > MIDSTATE_MAX_DATA) {
      return prefixEquals(createHmac('sha256', this.key).update(data).digest(), tag);
    }
    this.midstates.digestInto(data, compareScratch);
    return prefixEquals(compareScratch, tag);
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

  matches(data: Uint8Array, tag: Uint8Array): boolean {
    const h = this.keyed._cloneInto(this.scratch);
    this.scratch = h;
    h.update(data);
    h.digestInto(this.out);
    return prefixEquals(this.out, tag);
  }
}

function assertNever(x: never): never {
  throw new Error(`unknown MAC backend: ${String(x)}`);
}
