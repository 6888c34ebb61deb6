import { describe, expect, it } from 'vitest';
import {
  CONTROL_IMPL_KINDS,
  createPitchLaw,
  defaultPitchLawSpec,
  FixedQ24PitchLaw,
  Float64PitchLaw,
  type FrameInputs,
  INITIAL_STATE,
  ModalPitchLaw,
  meetsTutorialCriteria,
  stepMetrics,
} from '../../../src/core/control/index.ts';
import { Prng } from '../../../src/core/prng.ts';
import { flySingle, randomPilot } from './harness.ts';

const TOLERANCE = 0.01; // the voter's default elevator tolerance, rad

describe('step response meets the tutorial criteria (0.2 rad step)', () => {
  for (const frameRate of [50, 100, 1000]) {
    for (const kind of CONTROL_IMPL_KINDS) {
      it(`${kind} at ${frameRate} Hz`, () => {
        const trace = flySingle(
          createPitchLaw(kind, defaultPitchLawSpec(frameRate)),
          frameRate,
          20 * frameRate,
          () => 0.2,
        );
        const m = stepMetrics(trace.theta, 1 / frameRate, 0.2);
        if (frameRate === 50) console.log(`step ${kind} @${frameRate}Hz`, JSON.stringify(m));
        expect(meetsTutorialCriteria(m), JSON.stringify(m)).toBe(true);
      });
    }
  }

  it('also for a negative and a small step', () => {
    for (const r of [-0.2, 0.05]) {
      const trace = flySingle(new Float64PitchLaw(defaultPitchLawSpec(50)), 50, 1000, () => r);
      expect(meetsTutorialCriteria(stepMetrics(trace.theta, 0.02, r))).toBe(true);
    }
  });
});

/** Run all three laws on identical inputs (the sensors read the float64 loop's plant). */
function lockstep(frameRate: number, frames: number, seed: number) {
  const spec = defaultPitchLawSpec(frameRate);
  const laws = CONTROL_IMPL_KINDS.map((kind) => createPitchLaw(kind, spec));
  const pilot = randomPilot(seed, frameRate, frames);
  const rng = new Prng(seed);
  const trace = flySingle(new Float64PitchLaw(spec), frameRate, frames, pilot, seed);
  let worst = 0;
  for (let k = 0; k < frames; k++) {
    const theta = trace.theta[k] as number;
    // Sensor dropouts exercise every selection mode.
    const read = () => (rng.chance(0.02) ? null : theta + 0.0005 * rng.normal());
    const inputs: FrameInputs = { pitchCommand: pilot(k), pitchSensors: [read(), read(), read()] };
    const out = laws.map((law) => law.step(inputs));
    const [a, b, c] = out as [(typeof out)[0], (typeof out)[0], (typeof out)[0]];
    expect(b.mode).toBe(a.mode);
    expect(c.mode).toBe(a.mode);
    expect(b.commandLimited).toBe(a.commandLimited);
    expect(c.commandLimited).toBe(a.commandLimited);
    worst = Math.max(
      worst,
      Math.abs(a.elevator - b.elevator),
      Math.abs(a.elevator - c.elevator),
      Math.abs(b.elevator - c.elevator),
    );
  }
  return worst;
}

describe('the three implementations agree', () => {
  for (const frameRate of [50, 1000]) {
    it(`within the voter tolerance on every frame of 10,000 frames of random pilot input at ${frameRate} Hz`, () => {
      const worst = lockstep(frameRate, 10_000, 42);
      console.log(`max disagreement @${frameRate}Hz: ${worst.toExponential(3)} rad`);
      expect(worst).toBeLessThan(TOLERANCE / 10);
    });
  }
});

describe('abstract state (BASE)', () => {
  it('a channel rebuilt from another implementation continues the trajectory within tolerance', () => {
    const frameRate = 50;
    const spec = defaultPitchLawSpec(frameRate);
    const pilot = randomPilot(7, frameRate, 3000);
    for (const from of CONTROL_IMPL_KINDS) {
      for (const to of CONTROL_IMPL_KINDS) {
        const source = createPitchLaw(from, spec);
        const rng = new Prng(9);
        const inputs = Array.from({ length: 3000 }, (_, k): FrameInputs => {
          const t = pilot(k) * 0.8;
          return {
            pitchCommand: pilot(k),
            pitchSensors: [t + 0.001 * rng.normal(), t, t + 0.001 * rng.normal()],
          };
        });
        for (let k = 0; k < 1500; k++) source.step(inputs[k] as FrameInputs);
        const rebuilt = createPitchLaw(to, spec, source.exportState());
        let worst = 0;
        for (let k = 1500; k < 3000; k++) {
          const a = source.step(inputs[k] as FrameInputs);
          const b = rebuilt.step(inputs[k] as FrameInputs);
          worst = Math.max(worst, Math.abs(a.elevator - b.elevator));
          expect(b.mode).toBe(a.mode);
        }
        expect(worst, `${from} -> ${to}`).toBeLessThan(TOLERANCE / 10);
      }
    }
  });

  it('export then import is the identity on the abstract state (within Q24 resolution)', () => {
    const spec = defaultPitchLawSpec(50);
    const law = new ModalPitchLaw(spec);
    for (let k = 0; k < 100; k++) law.step({ pitchCommand: 0.1, pitchSensors: [0.01 * k, 0.01 * k, null] });
    const s = law.exportState();
    const fixed = new FixedQ24PitchLaw(spec, s);
    const back = fixed.exportState();
    for (const key of [
      'referenceFilter',
      'integrator',
      'rateEstimate',
      'lastMeasurement',
      'lastElevator',
    ] as const) {
      expect(Math.abs(back[key] - s[key])).toBeLessThan(2 ** -24);
    }
    expect(new Float64PitchLaw(spec, s).exportState()).toEqual(s);
  });

  it('rejects a malformed abstract state', () => {
    const law = new Float64PitchLaw(defaultPitchLawSpec(50));
    expect(() => law.importState({ ...INITIAL_STATE, integrator: Number.NaN })).toThrow(RangeError);
  });
});

describe('frame semantics', () => {
  const spec = defaultPitchLawSpec(50);
  for (const kind of CONTROL_IMPL_KINDS) {
    it(`${kind}: sensor modes, command authority, invalid pilot, limits`, () => {
      const law = createPitchLaw(kind, spec);
      expect(law.step({ pitchCommand: 0, pitchSensors: [0, 0, 0] }).mode).toBe('triplex');
      expect(law.step({ pitchCommand: 0, pitchSensors: [0, null, 0] }).mode).toBe('duplex');
      expect(law.step({ pitchCommand: 0, pitchSensors: [Number.NaN, null, 0] }).mode).toBe('simplex');
      expect(law.step({ pitchCommand: 0, pitchSensors: [null, 9, Number.POSITIVE_INFINITY] }).mode).toBe(
        'no-sensor',
      );
      const big = law.step({ pitchCommand: 5, pitchSensors: [0, 0, 0] });
      expect(big.commandLimited).toBe(true);
      // Rate limit: one frame moves at most maxRate * dt.
      expect(Math.abs(big.elevator)).toBeLessThanOrEqual(spec.maxRate / spec.frameRate + 1e-7);
      expect(law.step({ pitchCommand: Number.NaN, pitchSensors: [0, 0, 0] }).commandLimited).toBe(true);
      let u = 0;
      for (let k = 0; k < 200; k++) u = law.step({ pitchCommand: 0.35, pitchSensors: [0, 0, 0] }).elevator;
      expect(u).toBeCloseTo(spec.maxDeflection, 6);
    });
  }

  it('a mid-value selected sensor masks one wild sensor', () => {
    const a = new Float64PitchLaw(spec);
    const b = new Float64PitchLaw(spec);
    for (let k = 0; k < 50; k++) {
      const x = a.step({ pitchCommand: 0.1, pitchSensors: [0.05, 0.051, 1.2] });
      const y = b.step({ pitchCommand: 0.1, pitchSensors: [0.05, 0.051, 0.0505] });
      expect(Math.abs(x.elevator - y.elevator)).toBeLessThan(0.002);
    }
  });

  it('anti-windup: after a long saturation the response does not overshoot wildly', () => {
    const law = new Float64PitchLaw(spec);
    // Hold the aircraft (sensors stuck at 0) while commanding full nose-up for 20 s, then release.
    for (let k = 0; k < 1000; k++) law.step({ pitchCommand: 0.35, pitchSensors: [0, 0, 0] });
    expect(Math.abs(law.exportState().integrator)).toBeLessThan(0.05);
  });

  it('refuses a spec the fixed-point format cannot carry', () => {
    expect(() => new FixedQ24PitchLaw({ ...spec, kp: 500 })).toThrow(RangeError);
    expect(() => new FixedQ24PitchLaw(defaultPitchLawSpec(1_000_000))).toThrow(RangeError);
  });
});
