import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { asPlainBytes } from './digest.ts';

/** Raw ed25519 / X25519 key length (private seed and public key alike). */
export const KEY_LENGTH = 32;
/** ed25519 signature length. */
export const SIGNATURE_LENGTH = 64;

/** Raw key pair: 32-byte private seed and 32-byte public key. */
export interface RawKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Result of an X25519 agreement with a peer's public key, which may be hostile. */
export type AgreementResult =
  | { readonly ok: true; readonly sharedSecret: Uint8Array }
  | { readonly ok: false; readonly reason: 'bad-private-key' | 'bad-public-key' | 'low-order-point' };

// DER prefixes that wrap a raw 32-byte key as PKCS#8 (private) or SPKI (public).
// OIDs: 1.3.101.112 = Ed25519 (2b6570), 1.3.101.110 = X25519 (2b656e).
const PKCS8_PREFIX = {
  ed25519: '302e020100300506032b657004220420',
  x25519: '302e020100300506032b656e04220420',
};
const SPKI_PREFIX = { ed25519: '302a300506032b6570032100', x25519: '302a300506032b656e032100' };
type Curve = keyof typeof PKCS8_PREFIX;

/** Public KeyObjects are cached by curve and hex (public keys are not secret); bounded. */
const PUBLIC_KEY_CACHE_LIMIT = 1024;
const publicKeyCache = new Map<string, KeyObject>();

/**
 * An ed25519 signing key held as a node KeyObject, built once from the raw seed.
 * Keep one per identity rather than calling `ed25519Sign` in a loop.
 */
export class SigningKey {
  readonly publicKey: Uint8Array;
  private readonly key: KeyObject;

  private constructor(key: KeyObject) {
    this.key = key;
    this.publicKey = rawPublicKey(createPublicKey(key));
  }

  /** The signing key whose ed25519 private seed is `seed` (32 bytes). Throws on a wrong size. */
  static fromSeed(seed: Uint8Array): SigningKey {
    return new SigningKey(privateKeyObject('ed25519', seed));
  }

  /** 64-byte ed25519 signature of `message` (deterministic, RFC 8032). */
  sign(message: Uint8Array): Uint8Array {
    return asPlainBytes(nodeSign(null, message, this.key));
  }
}

/** ed25519 signature of `message` under the raw 32-byte private seed. Throws on a wrong key size. */
export function ed25519Sign(privateSeed: Uint8Array, message: Uint8Array): Uint8Array {
  return SigningKey.fromSeed(privateSeed).sign(message);
}

/**
 * True iff `signature` is a valid ed25519 signature of `message` by `publicKey`.
 * Any malformed input (wrong sizes, a public key that is not a curve point) is `false`,
 * never a throw: the inputs come off the wire.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isBytes(publicKey, KEY_LENGTH) || !isBytes(signature, SIGNATURE_LENGTH) || !isBytes(message)) {
    return false;
  }
  try {
    return nodeVerify(null, message, cachedPublicKey('ed25519', publicKey), signature);
  } catch {
    return false;
  }
}

/** The ed25519 public key of a 32-byte private seed. */
export function ed25519PublicKey(privateSeed: Uint8Array): Uint8Array {
  return rawPublicKey(createPublicKey(privateKeyObject('ed25519', privateSeed)));
}

/** The X25519 public key of a 32-byte private key. */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return rawPublicKey(createPublicKey(privateKeyObject('x25519', privateKey)));
}

/**
 * Deterministic ed25519 key pair from a 32-byte seed (the ed25519 private key is the seed).
 * The caller supplies the seed: the core has no randomness of its own.
 */
export function ed25519KeyPairFromSeed(seed: Uint8Array): RawKeyPair {
  return { privateKey: Uint8Array.from(seed), publicKey: ed25519PublicKey(seed) };
}

/** Deterministic X25519 key pair from 32 seed bytes (used as the private key; clamping is internal). */
export function x25519KeyPairFromSeed(seed: Uint8Array): RawKeyPair {
  return { privateKey: Uint8Array.from(seed), publicKey: x25519PublicKey(seed) };
}

/**
 * X25519 shared secret of our private key and a peer's public key. A malformed or low-order
 * public key (which would give an all-zero secret an attacker can predict) is a rejection
 * with a reason, never a throw.
 */
export function x25519Agree(privateKey: Uint8Array, peerPublicKey: Uint8Array): AgreementResult {
  if (!isBytes(privateKey, KEY_LENGTH)) return { ok: false, reason: 'bad-private-key' };
  if (!isBytes(peerPublicKey, KEY_LENGTH)) return { ok: false, reason: 'bad-public-key' };
  let secret: Uint8Array;
  try {
    secret = asPlainBytes(
      diffieHellman({
        privateKey: privateKeyObject('x25519', privateKey),
        publicKey: cachedPublicKey('x25519', peerPublicKey),
      }),
    );
  } catch {
    // OpenSSL refuses to derive an all-zero secret (a low-order peer key).
    return { ok: false, reason: 'low-order-point' };
  }
  if (secret.every((b) => b === 0)) return { ok: false, reason: 'low-order-point' };
  return { ok: true, sharedSecret: secret };
}

function privateKeyObject(curve: Curve, raw: Uint8Array): KeyObject {
  if (!isBytes(raw, KEY_LENGTH)) {
    throw new RangeError(`${curve} private key must be ${KEY_LENGTH} bytes, got ${describeLength(raw)}`);
  }
  return createPrivateKey({ key: withPrefix(PKCS8_PREFIX[curve], raw), format: 'der', type: 'pkcs8' });
}

function cachedPublicKey(curve: Curve, raw: Uint8Array): KeyObject {
  const cacheKey = curve + Buffer.from(raw).toString('hex');
  const hit = publicKeyCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const key = createPublicKey({ key: withPrefix(SPKI_PREFIX[curve], raw), format: 'der', type: 'spki' });
  if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) {
    // Evict the oldest entry (Map iterates in insertion order): bounded memory under key churn.
    const oldest = publicKeyCache.keys().next();
    if (oldest.done !== true) publicKeyCache.delete(oldest.value);
  }
  publicKeyCache.set(cacheKey, key);
  return key;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return asPlainBytes(der.subarray(der.length - KEY_LENGTH));
}

function withPrefix(prefixHex: string, raw: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(prefixHex, 'hex'), raw]);
}

function isBytes(x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length);
}

function describeLength(x: unknown): string {
  return x instanceof Uint8Array ? `${x.length}` : typeof x;
}
