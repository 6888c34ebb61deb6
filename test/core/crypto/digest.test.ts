import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../../src/core/crypto/ct.ts';
import { digestEquals, sha256 } from '../../../src/core/crypto/digest.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('digests and constant-time comparison', () => {
  it('sha256 matches the FIPS 180-2 "abc" vector and returns a plain Uint8Array', () => {
    const d = sha256(new TextEncoder().encode('abc'));
    expect(hex(d)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(Buffer.isBuffer(d)).toBe(false);
    expect(d.buffer.byteLength).toBe(32);
  });

  it('sha256 equals createHash for any data (the one-shot path)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(hex(sha256(data))).toBe(createHash('sha256').update(data).digest('hex'));
      }),
      { seed: 0x5a, numRuns: 200 },
    );
  });

  it('constantTimeEqual agrees with plain equality and never throws on unequal lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(hex(a) === hex(b));
        expect(constantTimeEqual(a, Uint8Array.from(a))).toBe(true);
      }),
      { seed: 0xc7, numRuns: 300 },
    );
  });

  it('digestEquals requires 32 bytes on both sides', () => {
    const d = sha256(new Uint8Array(0));
    expect(digestEquals(d, Uint8Array.from(d))).toBe(true);
    expect(digestEquals(d.subarray(0, 16), d.subarray(0, 16))).toBe(false);
    expect(digestEquals(d, d.subarray(0, 31))).toBe(false);
    const other = Uint8Array.from(d);
    other[31]! ^= 1;
    expect(digestEquals(d, other)).toBe(false);
  });
});
