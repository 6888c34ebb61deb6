import { describe, expect, it } from 'vitest';
import { bytesEqual, compareBytes, fromHex, hex } from '../../src/core/bytes.ts';

describe('byte helpers', () => {
  it('hex: two lowercase digits per byte, as Buffer does', () => {
    const b = Uint8Array.from([0, 1, 15, 16, 171, 255]);
    expect(hex(b)).toBe('00010f10abff');
    expect(hex(b)).toBe(Buffer.from(b).toString('hex'));
    expect(hex(new Uint8Array(0))).toBe('');
  });

  it('fromHex: the inverse of hex', () => {
    const b = Uint8Array.from([0, 1, 15, 16, 171, 255]);
    expect(fromHex(hex(b))).toEqual(b);
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('bytesEqual: length and content', () => {
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 2]))).toBe(true);
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 3]))).toBe(false);
    expect(bytesEqual(Uint8Array.from([1, 2]), Uint8Array.from([1, 2, 0]))).toBe(false);
  });

  it('compareBytes: lexicographic, shorter prefix first', () => {
    const sorted = [[2], [1, 5], [1], [], [1, 0]].map((a) => Uint8Array.from(a)).sort(compareBytes);
    expect(sorted.map((b) => [...b])).toEqual([[], [1], [1, 0], [1, 5], [2]]);
  });
});
