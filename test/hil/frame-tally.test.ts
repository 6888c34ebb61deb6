/**
 * The rig's running summary (FrameTally, hil/summary.ts) against the definition it replaces: the element at
 * floor(p * n) of the sorted finite latencies, to the microsecond below about 1 s and to the millisecond
 * above; counts and the longest run without a write exact.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTally } from '../../hil/summary.ts';
import type { FrameRecord } from '../../src/runtime/report/trace.ts';

const frame = (latencyMs: number, outcome: FrameRecord['outcome'] = 'write', view = 0): FrameRecord =>
  ({ latencyMs, outcome, view }) as unknown as FrameRecord;

function sortedAt(xs: readonly number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

describe('FrameTally', () => {
  it('percentiles equal the sorted-list ones to the bin: 1 us up to 1 s, 1 ms above (a slow p99 is not clipped)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ min: 0, max: 50, noNaN: true }),
            fc.double({ min: 1100, max: 90_000, noNaN: true }),
          ),
          {
            minLength: 1,
            maxLength: 300,
          },
        ),
        fc.constantFrom(0.5, 0.9, 0.99),
        (lat, p) => {
          const t = new FrameTally();
          for (const l of lat) t.frame(frame(l));
          const exact = sortedAt(lat, p);
          const bin = exact < 1000 ? 0.001 : 1;
          expect(Math.abs(t.latencyAt(p) - exact)).toBeLessThanOrEqual(bin / 2 + 1e-9);
          expect(t.latencyMax).toBe(Math.max(...lat));
        },
      ),
      { seed: 0x7a11, numRuns: 200 },
    );
  });

  it('counts outcomes, the longest run without a write and the last view; non-finite latencies are not timed', () => {
    const t = new FrameTally();
    const outcomes: FrameRecord['outcome'][] = [
      'write',
      'hold',
      'hold',
      'write',
      'failsafe',
      'hold',
      'hold',
      'write',
    ];
    for (const [i, o] of outcomes.entries()) t.frame(frame(o === 'write' ? 1 + i : Number.NaN, o, i >> 2));
    expect(t.frames).toBe(8);
    expect(t.outcomes).toEqual({ write: 3, hold: 4, failsafe: 1 });
    expect(t.longestRunWithoutWrite).toBe(3);
    expect(t.lastView).toBe(1);
    expect(t.latencyAt(0.5)).toBe(4);
    expect(new FrameTally().latencyAt(0.5)).toBeNaN();
  });
});
