import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairwiseKey } from '../../../src/core/crypto/hkdf.ts';
import {
  ed25519KeyPairFromSeed,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  SigningKey,
  x25519Agree,
  x25519KeyPairFromSeed,
  x25519PublicKey,
} from '../../../src/core/crypto/sign.ts';

const SEED = 0x736967; // 'sig'
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 300 });

describe('ed25519', () => {
  it('matches RFC 8032 test 1', () => {
    const seed = h('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(hex(ed25519PublicKey(seed))).toBe(
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    );
    const sig = ed25519Sign(seed, new Uint8Array(0));
    expect(hex(sig)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('signatures verify; a tampered message or signature, or another key, is rejected', () => {
    fc.assert(
      fc.property(key32, key32, message, fc.nat(), (s1, s2, msg, at) => {
        fc.pre(hex(s1) !== hex(s2));
        const signer = SigningKey.fromSeed(s1);
        const sig = signer.sign(msg);
        expect(sig.length).toBe(64);
        expect(signer.publicKey).toEqual(ed25519KeyPairFromSeed(s1).publicKey);
        expect(ed25519Verify(signer.publicKey, msg, sig)).toBe(true);
        expect(ed25519Verify(ed25519PublicKey(s2), msg, sig)).toBe(false);
        const badSig = Uint8Array.from(sig);
        badSig[at % 64]! ^= 1 << (at % 8);
        expect(ed25519Verify(signer.publicKey, msg, badSig)).toBe(false);
        if (msg.length > 0) {
          const badMsg = Uint8Array.from(msg);
          badMsg[at % msg.length]! ^= 1 << (at % 8);
          expect(ed25519Verify(signer.publicKey, badMsg, sig)).toBe(false);
        }
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('malformed keys and signatures give false, never a throw', () => {
    const seed = new Uint8Array(32).fill(1);
    const pub = ed25519PublicKey(seed);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = ed25519Sign(seed, msg);
    expect(ed25519Verify(pub.subarray(0, 31), msg, sig)).toBe(false);
    expect(ed25519Verify(new Uint8Array(33), msg, sig)).toBe(false);
    expect(ed25519Verify(pub, msg, sig.subarray(0, 63))).toBe(false);
    expect(ed25519Verify(pub, msg, new Uint8Array(65))).toBe(false);
    expect(ed25519Verify(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false); // not a curve point
    expect(ed25519Verify(pub, msg, new Uint8Array(64).fill(0xff))).toBe(false); // s out of range
    expect(ed25519Verify(null as unknown as Uint8Array, msg, sig)).toBe(false);
    expect(ed25519Verify(pub, 'abc' as unknown as Uint8Array, sig)).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 70 }), message, (k, s, m) => {
        expect(typeof ed25519Verify(k, m, s)).toBe('boolean');
      }),
      { seed: SEED + 1, numRuns: 300 },
    );
  });

  it('signing with a wrong-size seed throws a clear error', () => {
    expect(() => ed25519Sign(new Uint8Array(31), new Uint8Array(0))).toThrow(
      /ed25519 private key must be 32 bytes, got 31/,
    );
  });
});

describe('X25519', () => {
  it('matches RFC 7748 section 6.1', () => {
    const alice = h('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = h('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    expect(hex(x25519PublicKey(alice))).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    expect(hex(x25519PublicKey(bob))).toBe(
      'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    );
    const shared = x25519Agree(alice, x25519PublicKey(bob));
    expect(shared.ok && hex(shared.sharedSecret)).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('pairwise keys agree from both sides', () => {
    fc.assert(
      fc.property(
        key32,
        key32,
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 100 }),
        (sa, sb, a, b, epoch) => {
          const A = x25519KeyPairFromSeed(sa);
          const B = x25519KeyPairFromSeed(sb);
          const ab = x25519Agree(A.privateKey, B.publicKey);
          const ba = x25519Agree(B.privateKey, A.publicKey);
          if (!ab.ok || !ba.ok) throw new Error('agreement failed on honest keys');
          expect(pairwiseKey(ab.sharedSecret, a, b, epoch)).toEqual(
            pairwiseKey(ba.sharedSecret, b, a, epoch),
          );
        },
      ),
      { seed: SEED + 2, numRuns: 100 },
    );
  });

  it('a low-order or malformed peer key is a rejection with a reason, never a throw', () => {
    const mine = new Uint8Array(32).fill(3);
    expect(x25519Agree(mine, new Uint8Array(32))).toEqual({ ok: false, reason: 'low-order-point' });
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(x25519Agree(mine, one)).toEqual({ ok: false, reason: 'low-order-point' });
    expect(x25519Agree(mine, new Uint8Array(31))).toEqual({ ok: false, reason: 'bad-public-key' });
    expect(x25519Agree(new Uint8Array(5), one)).toEqual({ ok: false, reason: 'bad-private-key' });
  });
});
