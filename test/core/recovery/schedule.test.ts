import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boardRolePlan } from '../../../src/core/recovery/board-plan.ts';
import { pbftQuorum, recoveryBudget } from '../../../src/core/recovery/budget.ts';
import {
  handoverFor,
  predictViewChanges,
  type RecoveryTopology,
  recoverySchedule,
  stepOrder,
} from '../../../src/core/recovery/schedule.ts';
import { vulnerabilityWindow } from '../../../src/core/recovery/vulnerability.ts';
import { loadTopology, parseTopology } from '../../../src/runtime/config.ts';
import { inputUnitBoard } from '../../../src/runtime/loop/board.ts';

const SEED = 0x7265632d; // 'rec-'

/** A topology like config/laptop.json: a monitor replica, n-1 boards with replica + channel, then channel-only boards. */
function topo(n: number, m: number, opts: { f?: number; k?: number; period?: number; units?: number } = {}) {
  const boards: { name: string; roles: string[] }[] = [{ name: 'mon', roles: ['replica'] }];
  for (let i = 0; i < Math.max(n - 1, m); i++) {
    const roles = [...(i < n - 1 ? ['replica'] : []), ...(i < m ? ['channel'] : [])];
    boards.push({ name: `b${i}`, roles });
  }
  boards.push({ name: 'aiu', roles: ['voter', 'input'] });
  return parseTopology(
    {
      name: `n${n}m${m}`,
      f: opts.f ?? 1,
      frameRateHz: 50,
      inputUnits: opts.units ?? 3,
      boards,
      links: [{ type: 'memory' }],
      recovery: { k: opts.k ?? 1, periodSeconds: opts.period ?? 60 },
    },
    `n${n}m${m}.json`,
  );
}

const ok = (t: RecoveryTopology, o = {}) => {
  const r = recoverySchedule(t, o);
  if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
  return r.schedule;
};

describe('fault budget during recovery', () => {
  it.each([
    // n, m, u, f, c, ordering masked, voting masked, inputs masked, closed
    [4, 3, 3, 1, 1, false, false, false, false],
    [6, 4, 3, 1, 1, true, true, false, false],
    [6, 4, 4, 1, 1, true, true, true, true],
    [5, 4, 4, 1, 1, false, true, true, false],
    [4, 3, 3, 1, 0, true, true, true, true],
    [7, 5, 5, 2, 0, true, true, true, true],
    [8, 6, 6, 2, 1, false, true, true, false],
    [9, 6, 6, 2, 1, true, true, true, true],
  ])('n=%i m=%i u=%i f=%i c=%i', (n, m, u, f, c, ord, vote, inputs, closed) => {
    const b = recoveryBudget({ n, m, u, f }, c);
    expect(b.ordering.maskedDuringRecovery).toBe(ord);
    expect(b.voting.maskedDuringRecovery).toBe(vote);
    expect(b.inputs.maskedDuringRecovery).toBe(inputs);
    expect(b.closed).toBe(closed);
  });

  it('the quorum rule is exactly the design bounds n >= 3f+2k+1 and m >= 2f+k+1', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 4 }),
        fc.nat(20),
        (f, c, extra) => {
          const n = 3 * f + 1 + extra;
          const m = 2 * f + 1 + extra;
          const b = recoveryBudget({ n, m, u: m, f }, c);
          expect(b.ordering.maskedDuringRecovery).toBe(n >= 3 * f + 2 * c + 1);
          expect(b.voting.maskedDuringRecovery).toBe(m >= 2 * f + c + 1);
          // Two quorums always meet in f+1 replicas: at least one correct.
          expect(2 * pbftQuorum(n, f) - n).toBeGreaterThanOrEqual(f + 1);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('recovery schedule', () => {
  it('default topology (config/laptop.json, 60 s): reverse replica order, inputs and voter on their own steps', () => {
    const s = ok(loadTopology('config/laptop.json'), { periodSeconds: 60 });
    expect(s.steps.map((x) => [x.board, x.roles.map((r) => `${r.kind}${r.id}`).join('+')])).toEqual([
      ['b2', 'replica3+channel2'],
      ['b1', 'replica2+channel1'],
      ['b0', 'replica1+channel0'],
      ['mon', 'replica0'],
      ['aiu', 'input2'],
      ['aiu', 'input1'],
      ['aiu', 'input0'],
      ['aiu', 'voter0'],
    ]);
    expect(s.steps.map((x) => x.startMs)).toEqual([0, 7500, 15000, 22500, 30000, 37500, 45000, 52500]);
    expect(s.steps.map((x) => x.handover)).toEqual([
      ...Array(4).fill('view-change-if-primary'),
      ...Array(3).fill('none'),
      'make-before-break',
    ]);
    // Only the primary of view 0 (mon, replica 0) hands over in the first period.
    expect(s.steps.filter((x) => x.expectedViewChange).map((x) => x.board)).toEqual(['mon']);
    expect(s.concurrency).toBe(1);
    expect(s.budget.closed).toBe(false);
    expect(s.exposure).toBeCloseTo(18 / 60, 9); // 4 replica steps of 2.5 s, 4 others of 2 s
    expect(s.stallWindow).toBeCloseTo(16 / 60, 9); // every step but the voter's
    expect(s.window).toMatchObject({ bounded: true, tkMs: 60_000, trMs: 62_500, tvMs: 182_500 });
    expect(s.statement).toContain('one more fault stalls ordering');
    expect(s.statement).toContain('n >= 6 closes this');
    expect(s.statement).toContain('m >= 4 closes this');
  });

  it('n=6, m=4 closes the ordering and voting windows; 3 input units still leave the input window', () => {
    const s = ok(topo(6, 4));
    expect(s.budget.ordering.maskedDuringRecovery).toBe(true);
    expect(s.budget.voting.maskedDuringRecovery).toBe(true);
    expect(s.budget.inputs.maskedDuringRecovery).toBe(false);
    expect(s.stallWindow).toBeCloseTo((3 * 2) / 60, 9);
    expect(s.statement).toContain('still masks f=1 more faults');
    expect(s.statement).toContain('4 input units close this');
    const closed = ok(topo(6, 4, { units: 4 }));
    expect(closed.budget.closed).toBe(true);
    expect(closed.stallWindow).toBe(0);
    expect(closed.statement).toContain('No window in which one more fault stalls progress');
  });

  it.each([
    // n, m, k, period, expected outcome
    [4, 3, 1, 60, 'ok'],
    [4, 3, 1, 19, 'period-too-short'],
    [4, 3, 1, 20, 'ok'],
    [4, 3, 0, 60, 'k-zero'],
    [4, 3, 2, 10, 'stalls-without-faults'], // two replicas of four down: 2 < quorum 3
    [7, 5, 2, 20, 'ok'], // 11 steps of up to 2.5 s: two overlap
    [7, 5, 2, 10, 'period-too-short'], // three would
  ])('n=%i m=%i k=%i period=%i s: %s', (n, m, k, period, expected) => {
    const r = recoverySchedule(topo(n, m, { k, period }));
    expect(r.ok ? 'ok' : r.reason).toBe(expected);
    if (r.ok) expect(r.schedule.concurrency).toBeLessThanOrEqual(k);
    else expect(r.detail.length).toBeGreaterThan(10);
  });

  it('period 0 turns recovery off and says the window is unbounded', () => {
    const s = ok(loadTopology('config/laptop.json'), { periodSeconds: 0 });
    expect(s.steps).toEqual([]);
    expect(s.window.bounded).toBe(false);
    expect(s.statement).toContain('Proactive recovery is off');
  });

  it('at most k steps overlap, every role appears exactly once, for any topology and period', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 10 }),
        fc.integer({ min: 3, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 5, max: 400 }),
        fc.integer({ min: 1, max: 6 }),
        (n, m, k, period, units) => {
          const t = topo(n, m, { k, period, units });
          const r = recoverySchedule(t);
          if (!r.ok) return;
          const s = r.schedule;
          expect(s.concurrency).toBeLessThanOrEqual(k);
          const seen = s.steps.flatMap((x) => x.roles.map((role) => `${role.kind}${role.id}`)).sort();
          const all = [
            ...t.replicas.map((x) => `replica${x.id}`),
            ...t.channels.map((x) => `channel${x.id}`),
            ...Array.from({ length: t.inputUnits }, (_, u) => `input${u}`),
            ...t.voters.map((x) => `voter${x.id}`),
          ].sort();
          expect(seen).toEqual(all);
          for (const step of s.steps) {
            expect(step.startMs + step.budgetMs).toBeLessThanOrEqual(s.periodMs + step.budgetMs);
            for (const role of step.roles) if (role.kind === 'input') expect(step.roles.length).toBe(1);
          }
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('places input units on the boards the runtime runs them on', () => {
    const t = loadTopology('config/laptop.json');
    const twoBoards = { ...t, inputs: [...t.inputs, { board: 'mon', id: 1 }] };
    for (const step of stepOrder(twoBoards)) {
      for (const r of step.roles)
        if (r.kind === 'input') expect(step.board).toBe(inputUnitBoard(twoBoards, r.id));
    }
  });

  it('reverse id order costs at most 2 planned view changes a period; ascending order costs up to n', () => {
    for (const n of [4, 6, 7, 10]) {
      const reverse = Array.from({ length: n }, (_, i) => ({
        roles: [{ kind: 'replica' as const, id: n - 1 - i }],
      }));
      const ascending = [...reverse].reverse();
      for (let v = 0; v < n; v++) {
        expect(predictViewChanges(reverse, n, v).worstPeriod).toBeLessThanOrEqual(2);
      }
      expect(predictViewChanges(ascending, n, 0).firstPeriod).toBe(n);
    }
  });

  it('the handover is decided from the view at the step, not the prediction', () => {
    const s = ok(loadTopology('config/laptop.json'), { periodSeconds: 60 });
    const b2 = s.steps[0]!; // replica 3
    expect(handoverFor(b2, 0, 4)).toEqual({ viewChange: false });
    expect(handoverFor(b2, 3, 4)).toEqual({ viewChange: true, toView: 4 });
    expect(handoverFor(b2, 7, 4)).toEqual({ viewChange: true, toView: 8 });
    expect(handoverFor(s.steps[4]!, 0, 4)).toEqual({ viewChange: false }); // an input unit
  });
});

describe('window of vulnerability', () => {
  it.each([
    [60_000, 2_500, 182_500],
    [600_000, 2_000, 1_802_000],
    [1_000, 100, 3_100],
  ])('P=%i ms, R=%i ms: T_v = 3P + R = %i ms', (periodMs, stepBudgetMs, tv) => {
    const w = vulnerabilityWindow({ periodMs, stepBudgetMs });
    expect(w.bounded && w.tvMs).toBe(tv);
    expect(w.bounded && w.tvMs).toBe(w.bounded && 2 * w.tkMs + w.trMs);
  });
});

describe("a board's share of the schedule", () => {
  it('default topology: b0 restarts its replica and channel together, aiu its units and voter one by one', () => {
    const t = loadTopology('config/laptop.json');
    const r = recoverySchedule(t, { periodSeconds: 60 });
    const s = r.ok ? r.schedule : undefined;
    expect(boardRolePlan(t, 'b0', s)).toEqual([
      { name: 'replica-1', kind: 'replica', id: 1, group: 2, proactiveOffsetMs: 15_000, handover: true },
      { name: 'channel-0', kind: 'channel', id: 0, group: 2, proactiveOffsetMs: 15_000, handover: true },
    ]);
    expect(boardRolePlan(t, 'aiu', s).map((p) => [p.name, p.group, p.proactiveOffsetMs, p.handover])).toEqual(
      [
        ['input-2', 4, 30_000, false],
        ['input-1', 5, 37_500, false],
        ['input-0', 6, 45_000, false],
        ['voter-0', 7, 52_500, false],
      ],
    );
    // Recovery off: the same roles and groups, no offsets.
    const off = boardRolePlan(t, 'aiu');
    expect(off.map((p) => p.name)).toEqual(['input-2', 'input-1', 'input-0', 'voter-0']);
    expect(off.every((p) => p.proactiveOffsetMs === undefined)).toBe(true);
    // Every role of the topology is on exactly one board's plan.
    const all = t.boards.flatMap((b) => boardRolePlan(t, b.name, s).map((p) => p.name));
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(4 + 3 + 3 + 1);
  });
});
