/**
 * Class 7 of issue 9: the three dissimilar implementations compute every discrete field (commandLimited,
 * mode) identically, at and around every limit: binary64 neighbours of each bound, the Q24 quantisation step
 * and its rounding boundary around each bound, and the specials (null, NaN, infinities).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTROL_IMPL_KINDS,
  createPitchLaw,
  defaultPitchLawSpec,
  type FrameInputs,
  type LawInputs,
  type PitchLaw,
  type PitchLawSpec,
  type SensorMode,
  SUPPORTED_FRAME_RATE_HZ,
} from '../../../src/core/control/index.ts';

/** The next binary64 above x (x finite). */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] = (bits[0] as bigint) + (x > 0 ? 1n : -1n);
  return f[0] as number;
}
const nextDown = (x: number): number => -nextUp(-x);

const Q = 2 ** -24;

/** Values at and around a limit b (and -b): ulp neighbours, the Q24 step and the Q24 rounding boundary. */
function around(b: number): number[] {
  const out = new Set<number>();
  const n = Math.round(b / Q);
  const anchors = [b, n * Q, (n + 0.5) * Q, (n - 0.5) * Q, (n + 1) * Q, (n - 1) * Q, b + 1e-9, b - 1e-9];
  for (const a of anchors) {
    let up = a;
    let down = a;
    out.add(a);
    for (let i = 0; i < 3; i++) {
      up = nextUp(up);
      down = nextDown(down);
      out.add(up);
      out.add(down);
    }
  }
  return [...out].flatMap((x) => [x, -x]);
}

const spec50 = defaultPitchLawSpec(50);
const pilotLimits = around(spec50.maxPitchCommand);
const pitchLimits = around(spec50.maxPlausiblePitch);
const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e300, -1e300, 0, -0];

const pilotArb = fc.oneof(
  fc.constantFrom(...pilotLimits),
  fc.constantFrom(...specials),
  fc.double({ min: -1, max: 1, noNaN: true }),
);
const readingArb = fc.oneof(
  fc.constantFrom(...pitchLimits),
  fc.constantFrom<number | null>(null, ...specials),
  fc.double({ min: -2, max: 2, noNaN: true }),
);
const rawArb: fc.Arbitrary<FrameInputs> = fc.record({
  pitchCommand: pilotArb,
  pitchSensors: fc.tuple(readingArb, readingArb, readingArb),
});
const modeArb = fc.constantFrom<SensorMode>('triplex', 'duplex', 'simplex', 'no-sensor');
const votedArb: fc.Arbitrary<LawInputs> = fc.record({
  pitchCommand: fc.oneof(pilotArb, fc.constant(null)),
  pitch: fc.oneof(readingArb, fc.constant(null)),
  sensorMode: modeArb,
});

function lawsAt(spec: PitchLawSpec): PitchLaw[] {
  return CONTROL_IMPL_KINDS.map((kind) => createPitchLaw(kind, spec));
}

/** Step every law on every frame; the discrete fields must match the first law's exactly. */
function expectDiscreteAgreement(laws: PitchLaw[], frames: readonly (FrameInputs | LawInputs)[]): void {
  for (const [k, inputs] of frames.entries()) {
    const out = laws.map((law) => law.step(inputs));
    const ref = out[0] as (typeof out)[number];
    for (const [i, o] of out.entries()) {
      const where = `frame ${k}, ${laws[i]?.kind}, inputs ${JSON.stringify(inputs, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`;
      expect(o.commandLimited, where).toBe(ref.commandLimited);
      expect(o.mode, where).toBe(ref.mode);
      expect(Number.isFinite(o.elevator), where).toBe(true);
    }
  }
}

describe('discrete fields agree across implementations at the limits (class 7)', () => {
  it('the reported cases: a command of 0.35 + 1e-9, a sensor just past pi/2', () => {
    const laws = lawsAt(spec50);
    const pastHalfPi = nextUp(Math.PI / 2);
    expectDiscreteAgreement(laws, [
      { pitchCommand: 0.35 + 1e-9, pitchSensors: [0, 0, 0] },
      { pitchCommand: -0.35 - 1e-9, pitchSensors: [0, 0, 0] },
      { pitchCommand: 0.1, pitchSensors: [pastHalfPi, Math.PI / 2, -pastHalfPi] },
      { pitchCommand: 0.1, pitchSensors: [pastHalfPi, pastHalfPi, 0.1] },
    ]);
    const out = laws.map((law) => law.step({ pitchCommand: 0.35 + 1e-9, pitchSensors: [0, 0, pastHalfPi] }));
    expect(out.map((o) => [o.commandLimited, o.mode])).toEqual([
      [true, 'duplex'],
      [true, 'duplex'],
      [true, 'duplex'],
    ]);
  });

  it('property: raw inputs (three sensor readings) at and around every limit', () => {
    fc.assert(
      fc.property(fc.array(rawArb, { minLength: 1, maxLength: 20 }), (frames) => {
        expectDiscreteAgreement(lawsAt(spec50), frames);
      }),
      { seed: 0x7d15c7, numRuns: 400 },
    );
  });

  it('property: voted inputs at and around every limit', () => {
    fc.assert(
      fc.property(fc.array(votedArb, { minLength: 1, maxLength: 20 }), (frames) => {
        expectDiscreteAgreement(lawsAt(spec50), frames);
      }),
      { seed: 0x7d15c8, numRuns: 400 },
    );
  });
});

describe('supported frame rates', () => {
  it('exports the range and refuses a spec outside it', () => {
    expect(SUPPORTED_FRAME_RATE_HZ).toEqual({ min: 1, max: 1000 });
    expect(() => defaultPitchLawSpec(nextDown(1))).toThrow(RangeError);
    expect(() => defaultPitchLawSpec(nextUp(1000))).toThrow(RangeError);
    expect(() => defaultPitchLawSpec(10_000)).toThrow(/frameRate must be in \[1, 1000\]/);
  });

  it('property: every implementation constructs and runs at any rate in the range, and they agree', () => {
    const rate = fc.oneof(
      fc.constantFrom(1, 1000, nextUp(1), nextDown(1000), 2, 999),
      fc.integer({ min: 1, max: 1000 }),
      fc.double({ min: 1, max: 1000, noNaN: true }),
    );
    fc.assert(
      fc.property(rate, fc.array(votedArb, { minLength: 1, maxLength: 30 }), (hz, frames) => {
        const spec = defaultPitchLawSpec(hz);
        const laws = lawsAt(spec);
        expectDiscreteAgreement(laws, frames);
        // Smooth inputs: the implementations agree on the analog field well within the voter's tolerance.
        const smooth = lawsAt(spec);
        let worst = 0;
        for (let k = 0; k < 30; k++) {
          const inputs: LawInputs = {
            pitchCommand: 0.2,
            pitch: 0.01 * Math.sin(k / 5),
            sensorMode: 'triplex',
          };
          const e = smooth.map((law) => law.step(inputs).elevator);
          worst = Math.max(worst, Math.max(...e) - Math.min(...e));
        }
        expect(worst, `${hz} Hz`).toBeLessThan(0.001);
      }),
      { seed: 0xf7a3e5, numRuns: 300 },
    );
  });
});
