import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HealthBook, majority, midValue, voteRound, withinTolerance } from '../../../src/core/vote/index.ts';

const rules = { analog: [{ field: 'u' as const, tolerance: 0.01 }], discrete: ['m' as const] };
type R = { u: number; m: string };
const agree = (a: R, b: R) => withinTolerance(a, b, rules);

describe('voting round (select.ts)', () => {
  it('property: midValue and majority do not depend on the order of the reports (+0 and -0 included)', () => {
    const value = fc.oneof(
      fc.constantFrom(0, -0, 1, -1, 0.1),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 7 }),
        fc.array(fc.nat(), { maxLength: 7 }),
        (xs, keys) => {
          const shuffled = xs
            .map((x, i) => ({ x, k: keys[i] ?? i }))
            .sort((a, b) => a.k - b.k)
            .map((e) => e.x);
          expect(Object.is(midValue(xs), midValue(shuffled))).toBe(true);
          const labels = xs.map((x) => (x > 0 ? 'p' : x < 0 ? 'n' : 'z'));
          const shuffledLabels = shuffled.map((x) => (x > 0 ? 'p' : x < 0 ? 'n' : 'z'));
          expect(majority(labels, 1)).toBe(majority(shuffledLabels, 1));
        },
      ),
      { seed: 0x5e1ec7, numRuns: 1000 },
    );
    expect(Object.is(midValue([-0]), 0)).toBe(true);
  });

  it('judges only when the correct members must outnumber the faulty ones among the voters', () => {
    const r = (u: number): R => ({ u, m: 'n' });
    // m = 5, f = 2, nobody latched: four voters are not enough to judge (2 correct + 2 faulty possible).
    const four = voteRound(
      {
        reports: [r(0), r(0.001), r(0.019), r(0.019), undefined],
        latched: [false, false, false, false, false],
        f: 2,
        quorum: 3,
      },
      rules,
      agree,
    );
    expect(four).toMatchObject({ writable: true, judgeable: false });
    // With one latched member, at most one unlatched faulty member: three voters judge.
    const latched = voteRound(
      {
        reports: [r(0), r(0.001), r(0.5), undefined, r(0.9)],
        latched: [false, false, false, false, true],
        f: 2,
        quorum: 3,
      },
      rules,
      agree,
    );
    expect(latched).toMatchObject({ judgeable: false, writable: false, reason: 'no-majority' });
    const ok = voteRound(
      {
        reports: [r(0), r(0.001), r(0.002), undefined, r(0.9)],
        latched: [false, false, false, false, true],
        f: 2,
        quorum: 3,
      },
      rules,
      agree,
    );
    expect(ok).toMatchObject({ judgeable: true, writable: true, supporters: [0, 1, 2], voters: [0, 1, 2] });
    // A discrete field without a unique plurality has no reference.
    const tie = voteRound(
      {
        reports: [{ u: 0, m: 'a' }, { u: 0, m: 'b' }, undefined],
        latched: [false, false, false],
        f: 1,
        quorum: 2,
      },
      rules,
      agree,
    );
    expect(tie).toMatchObject({ reference: null, writable: false, reason: 'no-majority' });
  });
});

describe('health book', () => {
  it('strikes, decay, latch, probation, and a validated import', () => {
    const book = new HealthBook(2, { strikeThreshold: 2, strikeDecayFrames: 3, probationFrames: 2 });
    expect(book.judge(0, false)).toEqual({ kind: 'strike', strikes: 1, latched: false });
    for (let i = 0; i < 3; i++) book.judge(0, true);
    expect(book.state(0).strikes).toBe(0); // decayed after three agreeing judgments
    book.judge(0, false);
    expect(book.judge(0, false)).toEqual({ kind: 'strike', strikes: 2, latched: true });
    expect(book.judge(0, true)).toEqual({ kind: 'agree', reintegrated: false });
    expect(book.judge(0, true)).toEqual({ kind: 'agree', reintegrated: true });
    expect(book.state(0)).toMatchObject({ latched: false, strikes: 0, latchCount: 1 });
    const copy = new HealthBook(2, book.rules);
    copy.import(book.export());
    expect(copy.export()).toEqual(book.export());
    expect(() => copy.import([{ ...book.state(0), strikes: 9 }, book.state(1)])).toThrow(RangeError);
    expect(() => copy.import([book.state(0)])).toThrow(RangeError);
  });
});
