/** The frame clock driven on a scheduler: one timer, ticks once per period, cuts when the clock says so. */
import { describe, expect, it } from 'vitest';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { FrameCutter } from '../../../src/runtime/loop/frame-cutter.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

function cutter() {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const calls: string[] = [];
  const c = new FrameCutter({
    clock: { periodMs: 20, units: 3, cutFraction: 0.3, startQuorum: 2, maxAhead: 4 },
    scheduler,
    replica: {
      tick: (now) => calls.push(`tick@${now}`),
      frame: () => calls.push(`cut@${scheduler.now()}`),
    },
    counters,
  });
  return { c, scheduler, counters, calls };
}

describe('FrameCutter', () => {
  it('ticks the replica once per period from start, with a periodic cut when nothing else cut', () => {
    const t = cutter();
    t.c.start();
    t.scheduler.runUntil(45);
    expect(t.calls).toEqual(['tick@0', 'cut@0', 'tick@20', 'cut@20', 'tick@40', 'cut@40']);
    expect(t.counters.get('clock.cut.periodic')).toBe(3);
  });

  it('cuts at once when every unit is in, and at the timed cut when one is missing', () => {
    const t = cutter();
    t.c.start();
    t.scheduler.runUntil(1);
    t.c.sample(0, 0);
    t.c.sample(1, 0);
    t.c.sample(2, 0);
    t.scheduler.runUntil(21);
    t.c.sample(0, 1);
    t.c.sample(1, 1);
    t.scheduler.runUntil(39);
    expect(t.calls).toEqual(['tick@0', 'cut@0', 'cut@1', 'tick@20', 'cut@27']);
    expect(t.c.frame).toBe(1);
    expect(t.counters.get('clock.cut.complete')).toBe(1);
    expect(t.counters.get('clock.cut.timed')).toBe(1);
  });

  it('counts refused samples by reason; they move nothing', () => {
    const t = cutter();
    t.c.start();
    t.scheduler.runUntil(1);
    t.c.sample(0, 0);
    t.c.sample(1, 0);
    t.c.sample(2, 10_000);
    t.c.sample(5, 0);
    t.c.sample(0, -3);
    expect(t.c.frame).toBe(0);
    expect(t.counters.toJSON()).toMatchObject({
      'clock.rejected.too-far-ahead': 1,
      'clock.rejected.unknown-unit': 1,
      'clock.rejected.bad-frame': 1,
    });
  });

  it('samples before start are not counted; after stop nothing is ticked or cut', () => {
    const t = cutter();
    t.c.sample(0, 0);
    t.c.sample(1, 0);
    expect(t.c.frame).toBe(-1);
    t.c.start();
    t.scheduler.runUntil(1);
    t.c.stop();
    t.c.sample(0, 1);
    t.c.sample(1, 1);
    t.c.sample(2, 1);
    t.scheduler.runUntil(100);
    expect(t.calls).toEqual(['tick@0', 'cut@0']);
    expect(t.scheduler.pending).toBe(0);
  });
});
