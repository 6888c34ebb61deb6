/**
 * Issue 9 catalog entries (faulty replicas), f = 1 and f = 2, a few seeds each: safe, live after GST, no correct
 * replica throws or breaks its invariants, views advance one at a time, no correct primary is blamed.
 */
import { describe } from 'vitest';
import { behaviourRuns, HARDENING_BEHAVIOURS } from '../hardening.ts';

describe('hardening catalog: faulty replicas', () => {
  for (const entry of HARDENING_BEHAVIOURS) {
    describe(entry.name, () => {
      for (const f of [1, 2]) behaviourRuns(entry.name, entry.role, f, [9100 + f, 9110 + f]);
    });
  }
});
