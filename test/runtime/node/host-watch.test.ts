/** A board process's host reports: what it sends its parent, and what the parent accepts from it. */
import { describe, expect, it } from 'vitest';
import { HostWatch } from '../../../src/runtime/node/host-watch.ts';
import {
  type HostReport,
  hostReportFrames,
  MAX_REPORT_COUNTERS,
  parseFromBoard,
} from '../../../src/runtime/node/ipc.ts';

const good: HostReport = {
  board: 'b1',
  endedAt: 1_700_000_000_000,
  windowMs: 20,
  loopDelayMs: 12.5,
  cpuWaitMs: 3,
  gcMs: 0,
  counters: { 'board.send-dropped': 2 },
};

describe('host reports over IPC', () => {
  it('accepts a well-formed report', () => {
    expect(parseFromBoard({ type: 'host', report: good })).toEqual({ type: 'host', report: good });
    const { cpuWaitMs: _, counters: __, ...bare } = good;
    expect(parseFromBoard({ type: 'host', report: bare })).toEqual({ type: 'host', report: bare });
  });

  it('refuses every malformed field a faulty child controls (a typed drop, never a throw)', () => {
    const bad: unknown[] = [
      undefined,
      'x',
      { ...good, board: 7 },
      { ...good, board: 'b'.repeat(65) },
      { ...good, endedAt: Number.NaN },
      { ...good, windowMs: -1 },
      { ...good, windowMs: 10_001 },
      { ...good, loopDelayMs: Number.POSITIVE_INFINITY },
      { ...good, gcMs: '3' },
      { ...good, cpuWaitMs: -2 },
      { ...good, counters: [] },
      { ...good, counters: { x: 1.5 } },
      { ...good, counters: { x: 0 } },
      { ...good, counters: { ['k'.repeat(81)]: 1 } },
      {
        ...good,
        counters: Object.fromEntries(Array.from({ length: MAX_REPORT_COUNTERS + 1 }, (_, i) => [`c${i}`, 1])),
      },
    ];
    for (const report of bad) expect(parseFromBoard({ type: 'host', report })).toBeUndefined();
  });

  it('places a report on the frames its window overlapped', () => {
    const zero = 1_000_000;
    expect(hostReportFrames({ ...good, endedAt: zero + 65, windowMs: 30 }, zero, 20)).toEqual({
      first: 1,
      last: 3,
    });
    // A window that ended before frame 0 lies on negative frames (the flight drops it).
    expect(hostReportFrames({ ...good, endedAt: zero - 5 }, zero, 20).last).toBeLessThan(0);
  });
});

describe('HostWatch', () => {
  it('reports a window in which a counter that can explain a missed frame moved, and only those counters', async () => {
    let n = 0;
    const reports: HostReport[] = [];
    const got = new Promise<void>((done) => {
      const watch = new HostWatch({
        board: 'b2',
        windowMs: 5,
        thresholdMs: 10_000, // no stall can reach this: only the counters make a report
        report: (r) => {
          reports.push(r);
          const totals = watch.stop();
          expect(totals['stallsReported']).toBe(1);
          done();
        },
        counters: () => {
          n++;
          return { 'board.send-dropped': n, 'voter.write': 10 * n, 'replica.view-change': 0 };
        },
      });
    });
    await got;
    expect(reports).toHaveLength(1);
    expect(reports[0]!.board).toBe('b2');
    expect(reports[0]!.counters).toEqual({ 'board.send-dropped': 1 });
  });

  it('refuses a window outside 1 ms to 10 s', () => {
    const o = { board: 'b0', thresholdMs: 4, report: () => {} };
    expect(() => new HostWatch({ ...o, windowMs: 0 })).toThrow(/windowMs must be 1 to 10000/);
  });
});
