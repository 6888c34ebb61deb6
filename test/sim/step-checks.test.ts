/**
 * The checks the simulator runs after every step of a correct replica can fail: each is shown catching a
 * deliberately broken replica (and naming the invariant, the seed and the replay command).
 */
import { describe, expect, it } from 'vitest';
import { Replica, type ReplicaOptions } from '../../src/core/pbft/replica.ts';
import type { ReplicaInput } from '../../src/core/pbft/types.ts';
import { InvariantViolation } from '../../src/sim/invariants.ts';
import { runSimulation, SETTLED_LOAD_MS, type SimOptions } from '../../src/sim/simulator.ts';

/** The violation a run throws (fails the test if it throws something else, or nothing). */
function violationOf(options: SimOptions): InvariantViolation {
  try {
    runSimulation(options);
  } catch (e) {
    if (e instanceof InvariantViolation) return e;
    throw e;
  }
  throw new Error('expected an invariant violation');
}

/** A replica that misbehaves after `after` steps in the way `twist` says, as a correct one would never do. */
function broken(
  after: number,
  twist: { step?: () => void; status?: (s: ReturnType<Replica['status']>) => ReturnType<Replica['status']> },
): (o: ReplicaOptions) => Replica {
  return (o) => {
    let steps = 0;
    class Broken extends Replica {
      override step(input: ReplicaInput) {
        if (++steps > after) twist.step?.();
        return super.step(input);
      }
      override status() {
        const s = super.status();
        return steps > after && twist.status !== undefined ? twist.status(s) : s;
      }
    }
    return new Broken(o);
  };
}

const base: SimOptions = { seed: 4, f: 1, faultyBackups: 0, clients: 2, requestsPerClient: 4 };

describe('per-step checks of correct replicas', () => {
  it('a correct replica that throws from step() is a violation, not a crash of the run', () => {
    const v = violationOf({
      ...base,
      makeReplica: broken(200, {
        step: () => {
          throw new RangeError('uvar out of range');
        },
      }),
    });
    expect(v.invariant).toBe('a correct replica never throws');
    expect(v.message).toContain('RangeError');
    expect(v.message).toContain('npm run sim:seeds -- --seed 4 --f 1');
  });

  it('a view far above every correct replica is caught (views advance one at a time)', () => {
    const v = violationOf({
      ...base,
      makeReplica: broken(100, { status: (s) => ({ ...s, view: s.view + 5 }) }),
    });
    expect(v.invariant).toBe('views advance one at a time');
  });

  it('a low watermark that moves backwards is caught', () => {
    let flip = false;
    const v = violationOf({
      ...base,
      makeReplica: broken(0, {
        status: (s) => {
          flip = !flip;
          return flip && s.lowWatermark > 0 ? { ...s, lowWatermark: s.lowWatermark - 1 } : s;
        },
      }),
    });
    expect(v.invariant).toBe('low watermark never decreases');
  });

  it('a replica whose own checkInvariants() throws is a violation', () => {
    const make = (o: ReplicaOptions): Replica => {
      let calls = 0;
      class Broken extends Replica {
        override checkInvariants(): void {
          super.checkInvariants();
          if (++calls > 50) throw new Error('log outside the watermark window');
        }
      }
      return new Broken(o);
    };
    const v = violationOf({ ...base, makeReplica: make });
    expect(v.invariant).toBe('replica invariants (checkInvariants)');
  });

  it('correct replicas that suspect a correct primary after GST are caught (timers far too short)', () => {
    const v = violationOf({
      ...base,
      loadAfterGstMs: SETTLED_LOAD_MS,
      checkLiveness: false,
      makeReplica: (o) =>
        new Replica({
          ...o,
          config: { ...o.config, requestTimeoutTicks: 5 },
        }),
    });
    expect(v.invariant).toBe('a correct primary keeps its view after GST');
  });
});
