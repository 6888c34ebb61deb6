/**
 * The catalog's flooding client: authentic requests in bursts every tick (fresh, replayed, conflicting), next
 * to correct clients, with network faults before GST and up to f faulty replicas from the issue-3 catalog. Safety
 * holds and every correct client's request commits within the stated liveness bound.
 */
import { describe, expect, it } from 'vitest';
import { replayCommandFor, runSimulation, type SimOptions } from '../../src/sim/simulator.ts';
import { ISSUE_3_BEHAVIOURS } from './hardening.ts';

describe('flooding client', () => {
  for (const f of [1, 2]) {
    for (const seed of [31, 32, 33, 34, 35, 36]) {
      const options: SimOptions = { seed, f, floodingClients: f, behaviours: ISSUE_3_BEHAVIOURS };
      it(`f=${f} with ${f} flooder(s), seed ${seed} (replay: ${replayCommandFor(options)})`, () => {
        const r = runSimulation(options);
        expect(r.requestsCompleted).toBe(r.requestsIssued);
        expect(r.maxLatencyAfterGstMs).toBeLessThanOrEqual(r.livenessBoundMs);
        // The flood reached the replicas and was absorbed (refused or de-duplicated), not executed wholesale.
        const absorbed = Object.entries(r.rejections)
          .filter(([k]) => /stale|duplicate|pending/.test(k))
          .reduce((a, [, v]) => a + v, 0);
        expect(absorbed).toBeGreaterThan(0);
      });
    }
  }
});
