import { describe, expect, it } from 'vitest';
import { constantTimeEqual, prefixEquals } from '../../../src/core/crypto/ct.ts';
import { keyedMac, type MacBackendName } from '../../../src/core/crypto/mac.ts';

describe('constant-time comparison of tags', () => {
  const full = Uint8Array.from({ length: 32 }, (_, i) => i * 7);

  it('prefixEquals: a true prefix matches, a changed byte, a longer tag or an empty tag does not', () => {
    expect(prefixEquals(full, full.subarray(0, 8))).toBe(true);
    const changed = full.slice(0, 8);
    changed[7]! ^= 1;
    expect(prefixEquals(full, changed)).toBe(false);
    expect(prefixEquals(full.subarray(0, 4), full.subarray(0, 8))).toBe(false);
    expect(prefixEquals(full, new Uint8Array(0))).toBe(false);
  });

  it('constantTimeEqual: equal contents only; two empty strings are equal', () => {
    expect(constantTimeEqual(full.slice(), full.slice())).toBe(true);
    expect(constantTimeEqual(full, full.subarray(0, 31))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it.each<MacBackendName>([
    'midstate',
    'node',
    'noble',
  ])('%s: KeyedMac.matches refuses an empty tag on its own (no caller length check needed)', (backend) => {
    const mac = keyedMac(new Uint8Array(32).fill(9), backend);
    const data = new Uint8Array([1, 2, 3]);
    expect(mac.matches(data, mac.mac(data, 8))).toBe(true);
    expect(mac.matches(data, new Uint8Array(0))).toBe(false);
  });
});
