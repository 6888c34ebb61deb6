import type { Prng } from '../prng.ts';

/**
 * A pitch-angle sensor fault. Faults start at `since` (s, the time passed to `read`) and last until
 * cleared. `stuck` freezes the reading at the first faulty sample; `offset` adds a constant; `drift`
 * adds rate * (t - since); `noise-burst` adds extra white noise; `dead` reads null (no data).
 */
export type SensorFault =
  | { readonly kind: 'none' }
  | { readonly kind: 'stuck'; readonly since: number }
  | { readonly kind: 'offset'; readonly since: number; readonly offset: number }
  | { readonly kind: 'drift'; readonly since: number; readonly ratePerSecond: number }
  | { readonly kind: 'noise-burst'; readonly since: number; readonly std: number; readonly until: number }
  | { readonly kind: 'dead'; readonly since: number };

export interface SensorConfig {
  /** Standard deviation of white measurement noise, rad. */
  readonly noiseStd: number;
  /** Constant bias, rad. */
  readonly bias: number;
}

export const DEFAULT_SENSOR_CONFIG: SensorConfig = { noiseStd: 0.0005, bias: 0 };

/**
 * One pitch-angle sensor. Noise comes from a Prng owned by this sensor (forked from the caller's),
 * so adding a fault to one sensor does not change another's noise stream.
 */
export class PitchSensor {
  readonly config: SensorConfig;
  private readonly rng: Prng;
  private fault: SensorFault = { kind: 'none' };
  private stuckValue: number | null = null;
  private last: number | null = null;

  constructor(rng: Prng, config: SensorConfig = DEFAULT_SENSOR_CONFIG) {
    if (!(config.noiseStd >= 0) || !Number.isFinite(config.bias)) {
      throw new RangeError(`PitchSensor: bad config ${JSON.stringify(config)}`);
    }
    this.rng = rng;
    this.config = config;
  }

  inject(fault: SensorFault): void {
    this.fault = fault;
    this.stuckValue = null;
  }

  clearFault(): void {
    this.inject({ kind: 'none' });
  }

  get currentFault(): SensorFault {
    return this.fault;
  }

  /** Sample the true pitch angle theta (rad) at time t (s). Null means no data (dead sensor). */
  read(theta: number, t: number): number | null {
    // Always draw the noise sample so that the stream stays aligned whatever the fault.
    const noise = this.config.noiseStd * this.rng.normal();
    const healthy = theta + this.config.bias + noise;
    const value = this.applyFault(healthy, t);
    this.last = value;
    return value;
  }

  private applyFault(healthy: number, t: number): number | null {
    const f = this.fault;
    if (f.kind === 'none' || t < f.since) return healthy;
    switch (f.kind) {
      case 'stuck':
        if (this.stuckValue === null) this.stuckValue = this.last ?? healthy;
        return this.stuckValue;
      case 'offset':
        return healthy + f.offset;
      case 'drift':
        return healthy + f.ratePerSecond * (t - f.since);
      case 'noise-burst':
        return t <= f.until ? healthy + f.std * this.rng.normal() : healthy;
      case 'dead':
        return null;
    }
  }
}

/** Three independent pitch sensors, each with its own noise stream forked from `rng`. */
export class SensorTriplex {
  readonly sensors: readonly [PitchSensor, PitchSensor, PitchSensor];

  constructor(rng: Prng, configs: readonly SensorConfig[] = []) {
    const make = (i: number) => new PitchSensor(rng.fork(), configs[i] ?? DEFAULT_SENSOR_CONFIG);
    this.sensors = [make(0), make(1), make(2)];
  }

  /** Read all three at time t (s). */
  read(theta: number, t: number): [number | null, number | null, number | null] {
    return [this.sensors[0].read(theta, t), this.sensors[1].read(theta, t), this.sensors[2].read(theta, t)];
  }

  sensor(i: number): PitchSensor {
    const s = this.sensors[i];
    if (s === undefined) throw new RangeError(`SensorTriplex: no sensor ${i}`);
    return s;
  }
}
