/**
 * Sensor and input-unit faults: the rig produces the readings and the samples, so it faults them itself, on any
 * bench. Each frame the three sensors' healthy readings go through the sensor faults, then each unit's sample
 * (stick and its sensor's reading) through the unit faults. Faults on one target compose in onset order.
 *
 * Histories (for `delayed`) are ring buffers sized by the scenario's largest delay, so memory is bounded by the
 * scenario, not by the run's length.
 *
 * @example
 * const f = new SampleFaults(3, new Prng(1), 5);
 * const clear = f.add('sensor', 0, 'wrong', 0.05, 0);
 * f.frame(0, [0.1, 0.1, 0.1], 0.2); // unit 0 reads 0.15
 */
import type { Prng } from '../../src/core/prng.ts';
import type { UnitSample } from '../bench/bench.ts';

type Kind = 'sensor' | 'input-unit';

interface Active {
  readonly id: number;
  readonly type: string;
  readonly severity: number | undefined;
  readonly since: number;
  /** stuck/hang: the value frozen at onset. */
  frozen: { stick: number; pitch: number | null } | undefined;
  /** slow: the value last updated. */
  held: { stick: number; pitch: number | null } | undefined;
}

class Ring<T> {
  private readonly items: (T | undefined)[];
  private count = 0;

  constructor(readonly size: number) {
    this.items = Array.from({ length: size }, () => undefined);
  }

  push(x: T): void {
    this.items[this.count % this.size] = x;
    this.count++;
  }

  /** The item pushed `age` pushes ago (0: the newest); the oldest kept when fewer were pushed. */
  ago(age: number): T | undefined {
    if (this.count === 0) return undefined;
    const a = Math.min(age, this.count - 1, this.size - 1);
    return this.items[(this.count - 1 - a) % this.size];
  }
}

export class SampleFaults {
  private readonly sensorFaults: Active[][] = [[], [], []];
  private readonly unitFaults: Active[][];
  private readonly sensorHistory: Ring<number | null>[];
  private readonly unitHistory: Ring<{ stick: number; pitch: number | null }>[];
  private nextId = 1;

  constructor(
    private readonly units: number,
    private readonly rng: Prng,
    maxDelayFrames: number,
  ) {
    const size = Math.max(2, Math.min(10_001, Math.ceil(maxDelayFrames) + 1));
    this.unitFaults = Array.from({ length: units }, () => []);
    this.sensorHistory = [0, 1, 2].map(() => new Ring(size));
    this.unitHistory = Array.from({ length: units }, () => new Ring(size));
  }

  /** Starts a fault on sensor or unit `index` from `frame`; returns the function that ends it. */
  add(kind: Kind, index: number, type: string, severity: number | undefined, frame: number): () => void {
    const list = kind === 'sensor' ? this.sensorFaults[index] : this.unitFaults[index];
    if (list === undefined) throw new RangeError(`no ${kind} ${index}`);
    const id = this.nextId++;
    list.push({ id, type, severity, since: frame, frozen: undefined, held: undefined });
    return () => {
      const i = list.findIndex((a) => a.id === id);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /**
   * One frame: the healthy readings of the three sensors and the pilot's stick in, what each sensor reads and
   * what each unit submits (null: nothing) out.
   */
  frame(
    frame: number,
    healthy: readonly (number | null)[],
    stick: number,
  ): { readings: (number | null)[]; samples: (UnitSample | null)[] } {
    const readings = healthy.map((h, i) => {
      this.sensorHistory[i]!.push(h);
      let v: number | null = h;
      for (const a of this.sensorFaults[i]!) v = this.sensor(a, v, i, frame);
      return v;
    });
    const samples = Array.from({ length: this.units }, (_, u): UnitSample | null => {
      const own = { stick, pitch: readings[u % 3] ?? null };
      this.unitHistory[u]!.push(own);
      let s: UnitSample | null = own;
      for (const a of this.unitFaults[u]!) s = s === null ? null : this.unit(a, s, u);
      return s;
    });
    return { readings, samples };
  }

  private sensor(a: Active, v: number | null, i: number, frame: number): number | null {
    switch (a.type) {
      case 'off':
      case 'crash':
        return null;
      case 'stuck':
      case 'hang':
        a.frozen ??= { stick: 0, pitch: this.sensorHistory[i]!.ago(1) ?? v };
        return a.frozen.pitch;
      case 'garbage':
        return (this.rng.float() * 2 - 1) * (a.severity ?? 1);
      case 'wrong':
        return v === null ? null : v + (a.severity ?? 0.05);
      case 'slow': {
        const every = Math.max(1, Math.round(a.severity ?? 5));
        if (a.held === undefined || (frame - a.since) % every === 0) a.held = { stick: 0, pitch: v };
        return a.held.pitch;
      }
      case 'delayed':
        return this.sensorHistory[i]!.ago(Math.round(a.severity ?? 5)) ?? null;
      default:
        return v;
    }
  }

  private unit(a: Active, s: UnitSample, u: number): UnitSample | null {
    switch (a.type) {
      case 'off':
      case 'crash':
      case 'hang':
        return null;
      case 'stuck':
        a.frozen ??= { stick: s.stick, pitch: s.pitch };
        return { ...s, ...a.frozen };
      case 'garbage': {
        const amp = a.severity ?? 1;
        return { ...s, stick: (this.rng.float() * 2 - 1) * amp, pitch: (this.rng.float() * 2 - 1) * amp };
      }
      case 'wrong': {
        const d = a.severity ?? 0.05;
        return { ...s, stick: s.stick + d, pitch: s.pitch === null ? null : s.pitch + d };
      }
      case 'slow':
        return { ...s, lateMs: (s.lateMs ?? 0) + (a.severity ?? 0) };
      case 'delayed': {
        const old = this.unitHistory[u]!.ago(Math.round(a.severity ?? 5));
        return old === undefined ? s : { ...s, ...old };
      }
      default:
        return s;
    }
  }
}
