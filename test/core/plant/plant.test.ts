import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ACTUATOR_LIMITS,
  ElevatorActuator,
  expm,
  PitchPlant,
  PitchSensor,
  pitchDerivative,
  SensorTriplex,
} from '../../../src/core/plant/index.ts';
import { Prng } from '../../../src/core/prng.ts';

/** Fine-step RK4 of the continuous model with the elevator held over [0, dt]. */
function rk4(x: number[], delta: number, dt: number, substeps: number): number[] {
  const h = dt / substeps;
  let s = x;
  const f = (y: number[]) => pitchDerivative(y, delta);
  const axpy = (a: number[], k: number[], c: number) => a.map((v, i) => v + c * (k[i] as number));
  for (let i = 0; i < substeps; i++) {
    const k1 = f(s);
    const k2 = f(axpy(s, k1, h / 2));
    const k3 = f(axpy(s, k2, h / 2));
    const k4 = f(axpy(s, k3, h));
    s = s.map(
      (v, j) =>
        v + (h / 6) * ((k1[j] as number) + 2 * (k2[j] as number) + 2 * (k3[j] as number) + (k4[j] as number)),
    );
  }
  return s;
}

describe('matrix exponential', () => {
  it('matches the closed form of a rotation generator and of a diagonal matrix', () => {
    const r = expm([
      [0, -3],
      [3, 0],
    ]);
    expect(r[0]?.[0]).toBeCloseTo(Math.cos(3), 12);
    expect(r[1]?.[0]).toBeCloseTo(Math.sin(3), 12);
    const d = expm([
      [-2, 0],
      [0, 5],
    ]);
    expect(d[0]?.[0]).toBeCloseTo(Math.exp(-2), 12);
    expect((d[1]?.[1] as number) / Math.exp(5)).toBeCloseTo(1, 12);
  });
});

describe('pitch plant (ZOH discretization)', () => {
  for (const rate of [50, 1000]) {
    it(`matches a fine-step RK4 integration at ${rate} Hz over 10 s of varying elevator`, () => {
      const plant = new PitchPlant(rate);
      const rng = new Prng(11);
      let x = [0, 0, 0];
      let worst = 0;
      const substeps = rate >= 1000 ? 4 : 40;
      for (let k = 0; k < 10 * rate; k++) {
        const delta =
          k % Math.round(rate / 2) === 0 ? (rng.float() - 0.5) * 0.6 : plant.state.theta > 0 ? -0.05 : 0.05;
        plant.step(delta);
        x = rk4(x, delta, 1 / rate, substeps);
        const s = plant.state;
        worst = Math.max(
          worst,
          Math.abs(s.alpha - (x[0] as number)),
          Math.abs(s.q - (x[1] as number)),
          Math.abs(s.theta - (x[2] as number)),
        );
      }
      expect(worst).toBeLessThan(1e-9);
    });
  }

  it('has the tutorial open-loop steady pitch rate (theta integrates 0.193 rad/s per rad of elevator)', () => {
    const plant = new PitchPlant(50);
    for (let k = 0; k < 50 * 60; k++) plant.step(0.01);
    const before = plant.theta;
    plant.step(0.01);
    const rate = (plant.theta - before) * 50;
    // d(theta)/dt = 56.7 q with q = 0.00340 delta at equilibrium of alpha and q.
    expect(rate / 0.01).toBeCloseTo(
      (56.7 * (0.313 * 0.0203 - 0.0139 * 0.232)) / (0.313 * 0.426 + 56.7 * 0.0139),
      4,
    );
  });

  it('rejects a non-finite elevator', () => {
    expect(() => new PitchPlant(50).step(Number.NaN)).toThrow(RangeError);
    expect(() => new PitchPlant(0)).toThrow(RangeError);
  });
});

describe('elevator actuator', () => {
  it('limits rate and position', () => {
    const act = new ElevatorActuator();
    const dt = 0.02;
    expect(act.drive(1, dt)).toBeCloseTo(DEFAULT_ACTUATOR_LIMITS.maxRate * dt, 12);
    for (let i = 0; i < 100; i++) act.drive(1, dt);
    expect(act.position).toBe(DEFAULT_ACTUATOR_LIMITS.maxDeflection);
    expect(act.drive(-1, dt)).toBeCloseTo(
      DEFAULT_ACTUATOR_LIMITS.maxDeflection - DEFAULT_ACTUATOR_LIMITS.maxRate * dt,
      12,
    );
  });

  it('holds and counts a non-finite command', () => {
    const act = new ElevatorActuator({ maxDeflection: 0.3, maxRate: 1 });
    act.drive(0.01, 0.02);
    expect(act.drive(Number.NaN, 0.02)).toBe(0.01);
    expect(act.rejectedCommands).toBe(1);
    expect(() => new ElevatorActuator({ maxDeflection: 0, maxRate: 1 })).toThrow(RangeError);
  });
});

describe('pitch sensors', () => {
  it('are replayable from a seed and independent of one another', () => {
    const a = new SensorTriplex(new Prng(5));
    const b = new SensorTriplex(new Prng(5));
    const ra = Array.from({ length: 20 }, (_, k) => a.read(0.1, k * 0.02));
    const rb = Array.from({ length: 20 }, (_, k) => b.read(0.1, k * 0.02));
    expect(ra).toEqual(rb);
    expect(ra[0]?.[0]).not.toBe(ra[0]?.[1]);
  });

  it('add noise of the configured standard deviation and bias', () => {
    const s = new PitchSensor(new Prng(3), { noiseStd: 0.01, bias: 0.02 });
    const xs = Array.from({ length: 20_000 }, (_, k) => s.read(0, k) as number);
    const mean = xs.reduce((p, v) => p + v, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((p, v) => p + (v - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(0.02, 3);
    expect(std).toBeCloseTo(0.01, 3);
  });

  it('apply stuck, offset, drift, noise-burst and dead faults from their onset', () => {
    const cfg = { noiseStd: 0, bias: 0 };
    const mk = () => new PitchSensor(new Prng(1), cfg);
    const stuck = mk();
    stuck.inject({ kind: 'stuck', since: 1 });
    expect(stuck.read(0.1, 0.5)).toBe(0.1);
    expect(stuck.read(0.2, 1)).toBe(0.1);
    expect(stuck.read(0.3, 2)).toBe(0.1);
    const offset = mk();
    offset.inject({ kind: 'offset', since: 0, offset: 0.05 });
    expect(offset.read(0.1, 0)).toBeCloseTo(0.15, 12);
    const drift = mk();
    drift.inject({ kind: 'drift', since: 1, ratePerSecond: 0.01 });
    expect(drift.read(0, 3)).toBeCloseTo(0.02, 12);
    const burst = mk();
    burst.inject({ kind: 'noise-burst', since: 0, until: 1, std: 0.1 });
    expect(burst.read(0, 0.5)).not.toBe(0);
    expect(burst.read(0, 1.5)).toBe(0);
    const dead = mk();
    dead.inject({ kind: 'dead', since: 0 });
    expect(dead.read(0.1, 0)).toBeNull();
    dead.clearFault();
    expect(dead.read(0.1, 1)).toBe(0.1);
  });
});
