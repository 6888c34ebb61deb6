import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromFloat, Q_MAX, Q_MIN, qAdd, qMul, qSub, toFloat } from '../../../src/core/control/q24.ts';

/** Reference: exact product via BigInt, rounded half away from zero, saturated. */
function refMul(a: number, b: number): number {
  const p = BigInt(a) * BigInt(b);
  const neg = p < 0n;
  const mag = (neg ? -p : p) + (1n << 23n);
  let q = mag >> 24n;
  if (q > BigInt(Q_MAX)) q = BigInt(Q_MAX);
  return Number(neg ? -q : q);
}

const int32 = fc.integer({ min: Q_MIN, max: Q_MAX });

describe('Q7.24 arithmetic', () => {
  it('qMul equals the exact rounded, saturated product', () => {
    fc.assert(
      fc.property(int32, int32, (a, b) => {
        expect(qMul(a, b)).toBe(refMul(a, b));
      }),
      { seed: 424242, numRuns: 20_000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: -(1 << 26), max: 1 << 26 }),
        fc.integer({ min: -(1 << 26), max: 1 << 26 }),
        (a, b) => {
          expect(qMul(a, b)).toBe(refMul(a, b));
        },
      ),
      { seed: 424243, numRuns: 20_000 },
    );
  });

  it('adds and subtracts with saturation instead of wrapping', () => {
    expect(qAdd(Q_MAX, 1)).toBe(Q_MAX);
    expect(qSub(Q_MIN, 1)).toBe(Q_MIN);
    expect(qAdd(-5, 3)).toBe(-2);
  });

  it('converts at the boundary with rounding and saturation', () => {
    expect(toFloat(fromFloat(0.25))).toBe(0.25);
    expect(fromFloat(1e9)).toBe(Q_MAX);
    expect(fromFloat(-1e9)).toBe(Q_MIN);
    expect(() => fromFloat(Number.NaN)).toThrow(RangeError);
  });
});
