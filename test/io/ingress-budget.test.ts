import { describe, expect, it } from 'vitest';
import { IngressBudget } from '../../src/io/ingress-budget.ts';

describe('IngressBudget (a link accepts what its wire carries)', () => {
  it('takes a burst, then only the sustained rate; a refusal spends nothing', () => {
    let t = 0;
    const b = new IngressBudget({ bytesPerSecond: 1000, burstBytes: 500, now: () => t });
    expect(b.take(500)).toBe(true);
    expect(b.take(1)).toBe(false);
    t = 100; // 100 bytes refilled
    expect(b.take(150)).toBe(false);
    expect(b.take(100)).toBe(true);
    t = 10_000; // capped at the burst
    expect(b.available()).toBe(0);
    expect(b.take(501)).toBe(false);
    expect(b.take(500)).toBe(true);
  });

  it('over a long flood, accepts at most burst + rate x time, whatever is offered', () => {
    let t = 0;
    const b = new IngressBudget({ bytesPerSecond: 11_520, burstBytes: 50_000, now: () => t });
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      t += 0.1; // 64 KiB offered every 0.1 ms: 640 MB/s for 10 s
      if (b.take(65_536 / 64)) accepted += 65_536 / 64;
    }
    expect(accepted).toBeLessThanOrEqual(50_000 + 11_520 * 10);
    expect(accepted).toBeGreaterThan(11_520 * 10 * 0.9);
  });

  it('a clock that steps back neither refills nor throws', () => {
    let t = 1000;
    const b = new IngressBudget({ bytesPerSecond: 1000, burstBytes: 10, now: () => t });
    expect(b.take(10)).toBe(true);
    t = 0;
    expect(b.take(1)).toBe(false);
    t = 1001;
    expect(b.take(1)).toBe(true);
  });

  it('refuses a budget that is not one', () => {
    expect(() => new IngressBudget({ bytesPerSecond: 0, burstBytes: 1, now: () => 0 })).toThrow(RangeError);
    expect(() => new IngressBudget({ bytesPerSecond: 1, burstBytes: 0, now: () => 0 })).toThrow(RangeError);
  });
});
