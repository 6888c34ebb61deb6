import { describe, expect, it } from 'vitest';
import { DatagramBudget, IngressBudget } from '../../src/io/ingress-budget.ts';

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

describe('DatagramBudget (one datagram socket, a budget per source)', () => {
  const limits = {
    datagramsPerSecond: 1000,
    burstDatagrams: 100,
    bytesPerSecond: 100_000,
    burstBytes: 20_000,
    maxSources: 4,
  };

  it('a flooding source spends its own budget only; the others keep theirs', () => {
    let t = 0;
    const b = new DatagramBudget({ ...limits, now: () => t });
    let flood = 0;
    let quiet = 0;
    for (let i = 0; i < 10_000; i++) {
      t += 0.01; // 100,000 datagrams per second offered by the flooder for 0.1 s
      if (b.take('10.0.0.9:5000', 50) === undefined) flood++;
      if (i % 100 === 0 && b.take('10.0.0.2:5000', 50) === undefined) quiet++;
    }
    expect(flood).toBeLessThanOrEqual(100 + 1000 * 0.1 + 1);
    expect(quiet).toBe(100); // every one of the correct peer's datagrams
    expect(b.stats().refused.datagrams).toBe(10_000 - flood);
  });

  it('refuses by bytes when datagrams are large, and says so', () => {
    const t = 0;
    const b = new DatagramBudget({ ...limits, now: () => t });
    expect(b.take('a', 15_000)).toBeUndefined();
    expect(b.take('a', 15_000)).toBe('bytes');
    expect(b.take('a', 5_000)).toBeUndefined(); // a refusal spent nothing
    expect(b.stats().refused).toEqual({ datagrams: 0, bytes: 1 });
  });

  it('keeps a bounded table, evicting the source heard from least recently', () => {
    let t = 0;
    const b = new DatagramBudget({ ...limits, now: () => t });
    for (let i = 0; i < 1000; i++) {
      t++;
      b.take(`10.0.${i >> 8}.${i & 255}:1`, 10);
      b.take('keeper', 10); // heard from all along: never the oldest
      expect(b.size).toBeLessThanOrEqual(4);
    }
    // The keeper and three others fill the table; each later newcomer evicts the previous newcomer.
    expect(b.stats().evictions).toBe(997);
    expect(b.take('keeper', 10)).toBeUndefined();
  });

  it('refuses a budget that is not one', () => {
    expect(() => new DatagramBudget({ ...limits, datagramsPerSecond: 0, now: () => 0 })).toThrow(RangeError);
    expect(() => new DatagramBudget({ ...limits, maxSources: 0, now: () => 0 })).toThrow(RangeError);
  });
});
