import { describe, expect, it } from 'vitest';
import { RealScheduler, VirtualScheduler } from '../../src/runtime/scheduler.ts';

describe('VirtualScheduler', () => {
  it('runs timers in time order, ties in scheduling order, and skips cancelled ones', () => {
    const s = new VirtualScheduler();
    const log: string[] = [];
    s.at(30, () => log.push('c'));
    s.at(10, () => log.push('a'));
    s.at(10, () => log.push('b'));
    const cancel = s.at(20, () => log.push('x'));
    cancel();
    s.runUntil(25);
    expect(log).toEqual(['a', 'b']);
    expect(s.now()).toBe(25);
    s.runUntil(100);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('runs timers scheduled from timers, and clamps past times to now', () => {
    const s = new VirtualScheduler();
    const times: number[] = [];
    const tick = (): void => {
      times.push(s.now());
      if (times.length < 5) s.at(s.now() + 20, tick);
    };
    s.at(0, tick);
    s.runUntil(50);
    s.at(10, () => times.push(s.now()));
    s.runUntil(1000);
    expect(times).toEqual([0, 20, 40, 50, 60]); // the clamped timer ran at 50, before the tick at 60
  });

  it('refuses an unbounded timer queue', () => {
    const s = new VirtualScheduler(3);
    for (let i = 0; i < 3; i++) s.at(i, () => {});
    expect(() => s.at(9, () => {})).toThrow(/more than 3 pending/);
  });
});

describe('RealScheduler', () => {
  it('never runs an overdue timer inside at(): it waits for the next event-loop turn', async () => {
    const s = new RealScheduler();
    let ran = false;
    s.at(s.now() - 100, () => {
      ran = true;
    });
    expect(ran).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(ran).toBe(true);
  });

  it('fires at or after the requested time, in order', async () => {
    const s = new RealScheduler();
    const start = s.now();
    const fired: number[] = [];
    await new Promise<void>((done) => {
      s.at(start + 15, () => fired.push(s.now() - start));
      s.at(start + 5, () => fired.push(s.now() - start));
      s.at(start + 25, () => {
        fired.push(s.now() - start);
        done();
      });
    });
    expect(fired).toHaveLength(3);
    expect(fired[0]).toBeGreaterThanOrEqual(5);
    expect(fired[1]).toBeGreaterThanOrEqual(15);
    expect(fired[2]).toBeGreaterThanOrEqual(25);
    expect([...fired].sort((a, b) => a - b)).toEqual(fired);
  });

  it('a held clock stands at 0 and runs no timer until begin(), then arms them from time 0', async () => {
    const s = new RealScheduler({ held: true });
    const fired: string[] = [];
    s.at(0, () => fired.push('zero'));
    const cancel = s.at(1, () => fired.push('cancelled'));
    cancel();
    await new Promise((r) => setTimeout(r, 5));
    expect(s.isHeld).toBe(true);
    expect(s.now()).toBe(0);
    expect(fired).toEqual([]);
    s.begin();
    expect(s.isHeld).toBe(false);
    await new Promise<void>((done) => s.at(2, done));
    expect(fired).toEqual(['zero']);
    s.begin(); // once only: a second call changes nothing
    expect(s.now()).toBeGreaterThanOrEqual(2);
  });

  it('refuses a spin margin outside 0 to 20 ms', () => {
    expect(() => new RealScheduler({ spinMs: -1 })).toThrow(/spinMs must be 0 to 20/);
    expect(() => new RealScheduler({ spinMs: 21 })).toThrow(/spinMs must be 0 to 20/);
  });
});
