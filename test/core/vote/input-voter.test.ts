import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputVoter, pitchInputVoterConfig, type UnitValues } from '../../../src/core/vote/index.ts';

const T = 0.01;

function voter(units = 3) {
  return new InputVoter({ ...pitchInputVoterConfig({ units, frameRate: 50 }), probationFrames: 5 });
}

const s = (stick: number | null, pitch: number | null): UnitValues => ({ stick, pitch });

describe('input voter', () => {
  it('mid-value selects per field and strikes the unit outside tolerance', () => {
    const v = voter();
    const out = v.vote(0, [s(0.1, 0.02), s(0.1, 0.021), s(0.1, 0.9)]);
    expect(out.fields.pitch).toMatchObject({
      value: 0.021,
      supporters: [0, 1],
      judged: true,
      dissenters: [2],
    });
    expect(out.fields.stick).toMatchObject({ value: 0.1, supporters: [0, 1, 2], dissenters: [] });
    expect(out.events).toEqual([{ kind: 'strike', unit: 2, field: 'pitch', frame: 0, strikes: 1 }]);
  });

  it('latches a lying unit per field, then votes without it, and reintegrates it after probation', () => {
    const v = voter();
    for (let k = 0; k < 4; k++) v.vote(k, [s(0.1, 0.02), s(0.1, 0.02), s(0.1, -0.5)]);
    expect(v.health(2)).toMatchObject({ pitch: { latched: true }, stick: { latched: false } });
    // Latched: with one healthy sample missing, the other healthy one alone is used (quorum f - L + 1 = 1).
    const alone = v.vote(4, [s(0.1, 0.03), undefined, s(0.1, -0.5)]);
    expect(alone.fields.pitch).toMatchObject({ value: 0.03, supporters: [0] });
    let back = -1;
    for (let k = 5; k < 20 && back < 0; k++) {
      const out = v.vote(k, [s(0.1, 0.02), s(0.1, 0.02), s(0.1, 0.02)]);
      if (out.events.some((e) => e.kind === 'reintegrated')) back = k;
    }
    expect(back).toBe(9); // five agreeing judgments
  });

  it('two units that disagree give no value (nothing is averaged across tolerance) and nobody is judged', () => {
    const v = voter();
    const out = v.vote(0, [s(0.1, 0.02), s(0.1, 0.05), undefined]);
    expect(out.fields.pitch).toMatchObject({ value: null, judged: false, supporters: [] });
    expect(out.events).toEqual([]);
  });

  it('an invalid or missing value is never a strike', () => {
    const v = voter();
    for (let k = 0; k < 10; k++) v.vote(k, [s(0.1, 0.02), s(0.1, 0.02), s(0.1, null)]);
    expect(v.health(2).pitch).toMatchObject({ strikes: 0, latched: false });
  });

  it('exports and imports its state (a rebuilt channel votes like its peers)', () => {
    const a = voter();
    for (let k = 0; k < 4; k++) a.vote(k, [s(0.1, 0.02), s(0.1, 0.02), s(0.3, -0.5)]);
    const b = voter();
    b.importState(a.exportState());
    const frame = [s(0.1, 0.02), undefined, s(0.3, -0.5)];
    expect(b.vote(4, frame)).toEqual(a.vote(4, frame));
    expect(() => b.importState({ fields: [[]] })).toThrow(RangeError);
  });

  it('property: one lying unit of three, whatever it says, never strikes a correct unit', () => {
    const lie = fc.oneof(
      fc.constant(null),
      fc.double({ min: -3, max: 3, noNaN: true }),
      fc.constantFrom(0.99, 1, 1.01, 2, -1, -2).map((k) => k * T),
    );
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.array(
          fc.record({
            truth: fc.double({ min: -1, max: 1, noNaN: true }),
            noise: fc.tuple(fc.double({ min: -1, max: 1 }), fc.double({ min: -1, max: 1 })),
            stickLie: lie,
            pitchLie: lie,
            relative: fc.boolean(),
            present: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (liar, frames) => {
          const v = voter();
          frames.forEach((fr, k) => {
            const correct = fr.noise.map((n) => fr.truth + (n * T) / 2);
            const samples: (UnitValues | undefined)[] = [];
            let c = 0;
            for (let u = 0; u < 3; u++) {
              if (!fr.present[u]) samples.push(undefined);
              else if (u === liar) {
                const at = (x: number | null) =>
                  x === null ? null : fr.relative ? (correct[0] as number) + x : x;
                samples.push(s(at(fr.stickLie), at(fr.pitchLie)));
              } else {
                const x = correct[c] as number;
                samples.push(s(x, x));
              }
              if (u !== liar) c++;
            }
            const out = v.vote(k, samples);
            for (const e of out.events) expect(e.unit, JSON.stringify(e)).toBe(liar);
            // With both correct units present the voted value lies between them.
            const bothIn = [0, 1, 2].every((u) => u === liar || fr.present[u]);
            if (bothIn) {
              const lo = Math.min(...correct);
              const hi = Math.max(...correct);
              for (const field of ['stick', 'pitch']) {
                const value = out.fields[field]?.value;
                expect(value).not.toBeNull();
                expect(value as number).toBeGreaterThanOrEqual(lo);
                expect(value as number).toBeLessThanOrEqual(hi);
              }
            }
          });
        },
      ),
      { seed: 0x1a9b07, numRuns: 300 },
    );
  });
});
