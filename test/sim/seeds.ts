/** Shared runner for the seeded simulation suites: one test per seed, the seed and replay command in its name. */
import { expect, it } from 'vitest';
import { replayCommand, runSimulation } from '../../src/sim/simulator.ts';

export function seededSuite(f: number, first: number, count: number): void {
  for (let seed = first; seed < first + count; seed++) {
    it(`seed ${seed} f=${f} (replay: ${replayCommand(seed, f)})`, () => {
      const r = runSimulation({ seed, f });
      expect(r.requestsCompleted).toBe(r.requestsIssued);
    });
  }
}
