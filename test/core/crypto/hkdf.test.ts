import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hkdfSha256, pairwiseKey, sessionKeysFromMaster } from '../../../src/core/crypto/hkdf.ts';

const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const id = fc.integer({ min: 0, max: 0xffff });
const secret = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('HKDF key schedule', () => {
  it('matches RFC 5869 test case 1', () => {
    const okm = hkdfSha256(
      new Uint8Array(22).fill(0x0b),
      h('000102030405060708090a0b0c'),
      h('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(hex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('pairwiseKey is symmetric in the two principals and 32 bytes long', () => {
    fc.assert(
      fc.property(secret, id, id, fc.integer({ min: 0, max: 0xffffffff }), (s, a, b, e) => {
        const k = pairwiseKey(s, a, b, e);
        expect(k.length).toBe(32);
        expect(k).toEqual(pairwiseKey(s, b, a, e));
      }),
      { seed: 0x4b, numRuns: 200 },
    );
  });

  it('pairwiseKey separates pairs, epochs and the master-secret schedule', () => {
    fc.assert(
      fc.property(secret, id, id, id, fc.integer({ min: 0, max: 1000 }), (s, a, b, c, e) => {
        fc.pre(c !== a && c !== b);
        const k = hex(pairwiseKey(s, a, b, e));
        expect(hex(pairwiseKey(s, a, c, e))).not.toBe(k);
        expect(hex(pairwiseKey(s, a, b, e + 1))).not.toBe(k);
        expect(hex(sessionKeysFromMaster(s, a, b))).not.toBe(hex(pairwiseKey(s, a, b, 0)));
        expect(sessionKeysFromMaster(s, a, b)).toEqual(sessionKeysFromMaster(s, b, a));
      }),
      { seed: 0x4c, numRuns: 200 },
    );
  });

  it('rejects bad ids, epochs, short secrets and output lengths', () => {
    const s = new Uint8Array(32);
    expect(() => pairwiseKey(s, -1, 0, 0)).toThrow(/principal id/);
    expect(() => pairwiseKey(s, 0, 0x10000, 0)).toThrow(/principal id/);
    expect(() => pairwiseKey(s, 0, 1, -1)).toThrow(/epoch/);
    expect(() => pairwiseKey(new Uint8Array(16), 0, 1, 0)).toThrow(/at least 32 bytes/);
    expect(() => sessionKeysFromMaster(new Uint8Array(8), 0, 1)).toThrow(/at least 16 bytes/);
    expect(() => hkdfSha256(s, s, s, 0)).toThrow(RangeError);
    expect(() => hkdfSha256(s, s, s, 255 * 32 + 1)).toThrow(RangeError);
  });
});
