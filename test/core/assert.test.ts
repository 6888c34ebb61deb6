import { describe, expect, it } from 'vitest';
import { assert, InvariantError } from '../../src/core/assert.ts';

describe('assert', () => {
  it('passes when the condition holds', () => {
    expect(() => assert(1 + 1 === 2, 'arithmetic')).not.toThrow();
  });
  it('throws an InvariantError naming the invariant and its values', () => {
    try {
      assert(false, 'low above executed', { low: 5, executed: 3 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvariantError);
      expect((e as InvariantError).message).toBe('low above executed {"low":5,"executed":3}');
      expect((e as InvariantError).detail).toEqual({ low: 5, executed: 3 });
    }
  });
});
