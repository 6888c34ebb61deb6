/**
 * Seeds that once violated an invariant in `npm run sim:seeds`, replayed exactly as their replay commands say, and
 * the budget the simulator grants an intruder that the core's stated bound lets force view changes.
 */
import { describe, expect, it } from 'vitest';
import { ForcedViewChanges, runSimulation, type SimOptions } from '../../src/sim/simulator.ts';

const AFTER_GST = 1520;

/** Each fails on 6d94e3e (before rule W4 of requests.ts, or before the forced-view budget); the reason is the note. */
const REPLAYS: readonly { readonly options: SimOptions; readonly why: string }[] = [
  {
    options: { seed: 9586, f: 1, n: 5, intruders: ['big-mac'], loadAfterGstMs: AFTER_GST },
    why: 'five clients, one request a batch: a big-MAC request learnt late by the primary waited behind older ones (W4)',
  },
  {
    options: { seed: 1618, f: 1, n: 7, intruders: ['big-mac'], loadAfterGstMs: AFTER_GST },
    why: 'the same slow-primary vote with a reuse-seq replica beside the big-MAC client (W4)',
  },
  {
    options: { seed: 2014, f: 2, intruders: ['big-mac-primary-only'], loadAfterGstMs: AFTER_GST },
    why: 'an unmarked new primary proposes a request only it can authenticate: one of the f views the bound allows',
  },
];

describe('sim:seeds regressions', () => {
  for (const { options, why } of REPLAYS) {
    it(`seed ${options.seed} (n=${options.n ?? 3 * options.f + 1} f=${options.f}): ${why}`, () => {
      const r = runSimulation(options);
      expect(r.requestsCompleted).toBeGreaterThan(0);
      expect(r.maxLatencyAfterGstMs).toBeLessThanOrEqual(r.livenessBoundMs);
      const intruderBudget = options.intruders?.includes('big-mac-primary-only') ? options.f : 0;
      expect(r.forcedViewChanges).toBeLessThanOrEqual(intruderBudget);
    });
  }

  it('seed 2014 uses the forced-view budget (so the budget is what let it pass, and it is counted)', () => {
    const r = runSimulation(REPLAYS[2]!.options);
    expect(r.forcedViewChanges).toBe(1);
  });
});

describe('ForcedViewChanges: at most `budget` distinct views within any period', () => {
  const cases: readonly {
    readonly name: string;
    readonly budget: number;
    readonly period: number;
    readonly leaves: readonly (readonly [view: number, at: number])[];
    readonly allowed: readonly boolean[];
  }[] = [
    { name: 'no budget forgives nothing', budget: 0, period: 100, leaves: [[1, 0]], allowed: [false] },
    {
      name: 'the same view counts once, whoever votes',
      budget: 1,
      period: 100,
      leaves: [
        [1, 0],
        [1, 5],
        [2, 10],
      ],
      allowed: [true, true, false],
    },
    {
      name: 'f = 2 forgives two views, not a third in the period',
      budget: 2,
      period: 100,
      leaves: [
        [1, 0],
        [2, 50],
        [3, 99],
      ],
      allowed: [true, true, false],
    },
    {
      name: 'the budget comes back once the period has passed',
      budget: 1,
      period: 100,
      leaves: [
        [1, 0],
        [2, 100],
        [3, 150],
      ],
      allowed: [true, true, false],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const budget = new ForcedViewChanges(c.budget, c.period);
      expect(c.leaves.map(([view, at]) => budget.allows(view, at))).toEqual(c.allowed);
    });
  }
});
