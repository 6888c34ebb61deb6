/** The fuzzers' byte mutations: deterministic per seed, never touching their input, each doing what it says. */
import { describe, expect, it } from 'vitest';
import {
  BASIC_MUTATIONS,
  flipBit,
  insertBytes,
  mutateBytes,
  seededNoise,
  specialByte,
  spliceFrom,
  truncate,
} from '../../../src/core/codec/mutate.ts';
import { Prng } from '../../../src/core/prng.ts';

const frame = Uint8Array.from({ length: 40 }, (_, i) => i + 1);

describe('byte mutations', () => {
  it('are the same for the same seed, and leave their input as it was', () => {
    const pool = [frame, Uint8Array.of(9, 9, 9)];
    const all = [...BASIC_MUTATIONS, spliceFrom(pool), seededNoise];
    const run = (seed: number) => {
      const rng = new Prng(seed);
      return Array.from({ length: 200 }, () => mutateBytes(frame, rng, all));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
    expect(frame).toEqual(Uint8Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('each one changes what it says and no more', () => {
    const rng = new Prng(11);
    for (let i = 0; i < 100; i++) {
      const flipped = flipBit(frame.slice(), rng);
      const diff = flipped.reduce((n, b, k) => n + (b === frame[k] ? 0 : 1), 0);
      const bits = flipped.reduce((n, b, k) => n + ((b ^ frame[k]!).toString(2).split('1').length - 1), 0);
      expect([diff, bits]).toEqual([1, 1]);
      const cut = truncate(frame.slice(), rng);
      expect(cut).toEqual(frame.subarray(0, cut.length));
      const special = specialByte(frame.slice(), rng);
      expect(
        special.filter((b, k) => b !== frame[k]).every((b) => [0xff, 0x80, 0x7f, 0x00].includes(b)),
      ).toBe(true);
      const grown = insertBytes(frame.slice(), rng);
      expect(grown.length - frame.length).toBeGreaterThanOrEqual(1);
      expect(grown.length - frame.length).toBeLessThanOrEqual(8);
      expect(seededNoise(frame.slice(), rng).length).toBeLessThan(96);
      const spliced = spliceFrom([Uint8Array.of(7, 7, 7, 7, 7)])(frame.slice(), rng);
      expect(spliced.length === 5 || spliced.every((b, k) => (k < 5 ? true : b === frame[k]))).toBe(true);
    }
    expect(flipBit(new Uint8Array(0), rng)).toEqual(new Uint8Array(0));
  });
});
