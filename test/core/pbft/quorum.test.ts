import { describe, expect, it } from 'vitest';
import { quorums } from '../../../src/core/pbft/quorum.ts';

/** Every certificate size for the groups triplex runs: n = 3f+1 (the default) and larger n. */
const TABLE: readonly { n: number; f: number; quorum: number; weak: number }[] = [
  { n: 4, f: 1, quorum: 3, weak: 2 },
  { n: 5, f: 1, quorum: 4, weak: 2 },
  { n: 6, f: 1, quorum: 4, weak: 2 },
  { n: 7, f: 1, quorum: 5, weak: 2 },
  { n: 7, f: 2, quorum: 5, weak: 3 },
  { n: 8, f: 2, quorum: 6, weak: 3 },
  { n: 10, f: 3, quorum: 7, weak: 4 },
  { n: 13, f: 4, quorum: 9, weak: 5 },
];

describe('certificate sizes (quorum.ts)', () => {
  for (const row of TABLE) {
    it(`n = ${row.n}, f = ${row.f}: q = ${row.quorum}, weak = ${row.weak}`, () => {
      const q = quorums(row.n, row.f);
      expect(q).toEqual({
        quorum: row.quorum,
        weak: row.weak,
        prepares: row.quorum - 1,
        commits: row.quorum,
        checkpointProof: row.quorum,
        viewChanges: row.quorum,
        joinViewChange: row.weak,
        newViewNoConflict: row.quorum,
        newViewPrePrepared: row.weak,
        newViewNull: row.quorum,
        vouch: row.weak,
        behind: row.weak,
        reply: row.weak,
        suspect: 2 * row.f + 1,
      });
    });
  }

  it('any two quorums share a correct replica, and the correct replicas alone make one', () => {
    for (let f = 1; f <= 6; f++) {
      for (let n = 3 * f + 1; n <= 3 * f + 12; n++) {
        const q = quorums(n, f).quorum;
        expect(2 * q - n, `n=${n} f=${f}`).toBeGreaterThanOrEqual(f + 1);
        expect(q, `n=${n} f=${f}`).toBeLessThanOrEqual(n - f);
        // And no smaller quorum would do.
        expect(2 * (q - 1) - n, `n=${n} f=${f}`).toBeLessThan(f + 1);
      }
    }
  });
});
