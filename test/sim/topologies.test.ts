/**
 * Groups larger than 3f+1 (n = 5, 6, 7 at f = 1; n = 8 at f = 2): quorums must follow n and f. Faulty replicas
 * from the whole catalog, and the equivocating primary that split n = 5 on c4c883f (issue 9, class 3).
 */
import { describe } from 'vitest';
import { runIt } from './hardening.ts';

const TOPOLOGIES = [
  { n: 5, f: 1 },
  { n: 6, f: 1 },
  { n: 7, f: 1 },
  { n: 8, f: 2 },
] as const;

describe('topologies with n > 3f+1', () => {
  for (const { n, f } of TOPOLOGIES) {
    describe(`n=${n} f=${f}`, () => {
      for (const seed of [9301, 9302, 9303]) runIt(`catalog mix seed ${seed}`, { seed, f, n });
      for (const seed of [9311, 9312])
        runIt(`equivocating primary seed ${seed}`, {
          seed,
          f,
          n,
          primaryBehaviour: 'equivocate',
          faultyBackups: 0,
        });
    });
  }
});
