/**
 * Shared runner for the seeded simulation suites: one test per seed, the seed and replay command in its name.
 * Faulty replicas are drawn from the issue-3 catalog (as these suites always did, so each seed keeps its
 * scenario); the later entries have their own suites (test/sim/byzantine/hardening-replicas.test.ts,
 * test/sim/intruders/hardening-intruders.test.ts) and run in sim:seeds.
 */
import { expect, it } from 'vitest';
import { replayCommandFor, runSimulation, type SimOptions } from '../../src/sim/simulator.ts';
import { ISSUE_3_BEHAVIOURS } from './hardening.ts';

export function seededSuite(f: number, first: number, count: number): void {
  for (let seed = first; seed < first + count; seed++) {
    const options: SimOptions = { seed, f, behaviours: ISSUE_3_BEHAVIOURS };
    it(`seed ${seed} f=${f} (replay: ${replayCommandFor(options)})`, () => {
      const r = runSimulation(options);
      expect(r.requestsCompleted).toBe(r.requestsIssued);
    });
  }
}
