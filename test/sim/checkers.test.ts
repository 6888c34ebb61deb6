import { describe, expect, it } from 'vitest';
import { Replica } from '../../src/core/pbft/replica.ts';
import { InvariantViolation } from '../../src/sim/invariants.ts';
import { runSimulation } from '../../src/sim/simulator.ts';

// An equivocating primary (different batches for one seq to the two halves of the backups) is harmless to
// correct replicas but breaks replicas that accept certificates of f+1 instead of 2f+1.
const broken = { prepares: 1, commits: 2 };

describe('invariant checkers', () => {
  it('catch a broken replica (f+1 certificates) under an equivocating primary, naming seed and replay', () => {
    let caught: InvariantViolation | undefined;
    for (let seed = 1; seed <= 20 && caught === undefined; seed++) {
      try {
        runSimulation({
          seed,
          f: 1,
          primaryBehaviour: 'equivocate',
          faultyBackups: 0,
          checkLiveness: false,
          makeReplica: (o) => new Replica({ ...o, unsafeTestQuorums: broken }),
        });
      } catch (e) {
        if (!(e instanceof InvariantViolation)) throw e;
        caught = e;
      }
    }
    expect(caught).toBeInstanceOf(InvariantViolation);
    expect(caught!.invariant).toMatch(/agreement|prefix/);
    expect(caught!.message).toContain(`npm run sim:seeds -- --seed ${caught!.seed} --f 1`);
  });

  it('correct replicas stay safe and live under the same equivocating primary (view change replaces it)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      for (const f of [1, 2]) {
        const r = runSimulation({ seed, f, primaryBehaviour: 'equivocate', faultyBackups: 0 });
        expect(r.requestsCompleted).toBe(r.requestsIssued);
      }
    }
  });

  it('the liveness checker fails when requests cannot commit (replicas that never complete a certificate)', () => {
    expect(() =>
      runSimulation({
        seed: 3,
        f: 1,
        faultyBackups: 0,
        horizonMs: 20_000,
        // Such replicas also blame their correct primary after GST; this test is about the liveness checker.
        checkSuspicion: false,
        makeReplica: (o) => new Replica({ ...o, unsafeTestQuorums: { prepares: 2, commits: 99 } }),
      }),
    ).toThrow(/liveness after GST/);
  });
});
