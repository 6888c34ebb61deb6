/**
 * The simulator's invariant checker runs over batches a replica learns from a view it left (learn.ts): they reach
 * it as `execute` actions like any other, so agreement, prefix order, validity and no double execution are
 * judged on them. These seeds (found by counting 'learned' events over seeds 1..120 of the mixed run) have
 * replicas that leave a view before GST without the others and learn its batches afterwards.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/sim/simulator.ts';

const SEEDS = [
  { seed: 20, f: 2 },
  { seed: 53, f: 1 },
  { seed: 56, f: 1, n: 5 },
] as const;

describe('learned batches under the simulator’s invariants', () => {
  it.each(SEEDS)('seed $seed: replicas learn batches of views they left, with no violation', (o) => {
    const r = runSimulation(o); // throws on any violated invariant
    expect(r.events.learned ?? 0).toBeGreaterThan(0);
    expect(r.requestsCompleted).toBe(r.requestsIssued);
  });
});
