import { describe, expect, it } from 'vitest';
import { behaviours } from '../../../src/sim/byzantine.ts';
import { intruders } from '../../../src/sim/intruders.ts';
import {
  DEFAULT_BEHAVIOURS,
  replayCommandFor,
  runSimulation,
  type SimOptions,
} from '../../../src/sim/simulator.ts';
import { ISSUE_3_BEHAVIOURS } from '../hardening.ts';

describe('Byzantine catalog', () => {
  it('every entry is named and documented', () => {
    for (const b of behaviours()) {
      expect(b.name).toMatch(/^[a-z-]+$/);
      expect(b.summary.length).toBeGreaterThan(20);
    }
    for (const name of DEFAULT_BEHAVIOURS) expect(behaviours().some((b) => b.name === name)).toBe(true);
    for (const i of intruders()) {
      expect(i.name).toMatch(/^[a-z-]+$/);
      expect(i.summary.length).toBeGreaterThan(20);
      expect(behaviours().some((b) => b.name === i.name)).toBe(false);
    }
  });

  // The issue-3 entries (the later ones have their own suites, hardening-replicas.test.ts here and
  // test/sim/intruders/hardening-intruders.test.ts).
  // f faulty replicas of one kind, f = 1 and 2, random network faults before GST: safe, and live within the
  // bound the simulator states (SimResult.livenessBoundMs). Primary attacks sit on the first primary (and the
  // other faulty replicas of that kind attack when they become primary); the others alternate.
  for (const entry of behaviours().filter((b) => ISSUE_3_BEHAVIOURS.includes(b.name))) {
    for (const f of [1, 2]) {
      for (let seed = 9000; seed < 9004; seed++) {
        const asPrimary = entry.role === 'primary' || seed % 2 === 1;
        const name = entry.name;
        const options: SimOptions = asPrimary
          ? { seed, f, behaviours: [name], primaryBehaviour: name, faultyBackups: f - 1 }
          : { seed, f, behaviours: [name], faultyBackups: f, faultyMayIncludePrimary: false };
        it(`${name} x${f} seed ${seed} (replay: ${replayCommandFor(options)})`, () => {
          const r = runSimulation(options);
          expect(r.faulty).toHaveLength(f);
          expect(r.requestsCompleted).toBe(r.requestsIssued);
          expect(r.maxLatencyAfterGstMs).toBeLessThanOrEqual(r.livenessBoundMs);
        });
      }
    }
  }
});
