/**
 * Class 5 of issue 9: from committed batches to law inputs, with one lying input unit of three of each kind:
 * the frame numbering holds, the voted values stay between the correct units', no correct unit is ever
 * struck, and the liar shows in its health.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultPitchLawSpec } from '../../../src/core/control/index.ts';
import {
  type BatchOutcome,
  FrameInputsMachine,
  pitchFrameInputsConfig,
} from '../../../src/core/frame/inputs.ts';
import { decodeInputSample, encodeInputSample, type InputSample } from '../../../src/core/frame/sample.ts';
import type { ExecutedRequest } from '../../../src/core/pbft/types.ts';
import { Prng } from '../../../src/core/prng.ts';

const FIRST = 100;
const spec = defaultPitchLawSpec(50);
const config = pitchFrameInputsConfig({ units: 3, firstClient: FIRST, spec });

let timestamp = 0;
function request(client: number, s: InputSample): ExecutedRequest {
  return { client, timestamp: ++timestamp, op: encodeInputSample(s), result: new Uint8Array(0) };
}

const UNIT_FAULTS = [
  'far-future',
  'ahead-in-window',
  'stuck',
  'random',
  'replay',
  'equivocate',
  'silent',
  'impostor',
  'garbage',
  'implausible',
] as const;
type UnitFault = (typeof UNIT_FAULTS)[number];

const truth = (k: number) => 0.2 * Math.sin(k / 20);
const pilot = (k: number) => (Math.floor(k / 50) % 2 === 0 ? 0.1 : -0.15);

/** What a unit submits for frame k: a correct sample, or the lie its fault calls for. */
class Unit {
  private readonly rng: Prng;
  private readonly history: InputSample[] = [];
  private stuck: InputSample | undefined;

  constructor(
    readonly unit: number,
    readonly fault: UnitFault | undefined,
    seed: number,
  ) {
    this.rng = new Prng(seed);
  }

  correct(k: number): InputSample {
    return {
      frame: k,
      unit: this.unit,
      stick: pilot(k),
      pitchValid: true,
      pitch: truth(k) + 0.0005 * this.rng.normal(),
    };
  }

  submit(k: number): ExecutedRequest[] {
    const good = this.correct(k);
    this.history.push(good);
    const client = FIRST + this.unit;
    switch (this.fault) {
      case undefined:
        return [request(client, good)];
      case 'far-future':
        return [request(client, { ...good, frame: k + 1e12 })];
      case 'ahead-in-window':
        return [request(client, { ...good, frame: k + 3, pitch: -good.pitch })];
      case 'stuck':
        this.stuck ??= good;
        return [request(client, { ...this.stuck, frame: k })];
      case 'random':
        return [
          request(client, { ...good, stick: this.rng.float() - 0.5, pitch: this.rng.float() * 3 - 1.5 }),
        ];
      case 'replay': {
        const old = this.history[
          Math.max(0, this.history.length - 1 - (1 + this.rng.int(20)))
        ] as InputSample;
        return [request(client, old)];
      }
      case 'equivocate':
        // Different samples to different replicas: the batch holds whichever one PBFT ordered.
        return [
          request(client, this.rng.chance(0.5) ? good : { ...good, pitch: good.pitch + 0.3, stick: 0.3 }),
        ];
      case 'silent':
        return [];
      case 'impostor':
        return [request(client, { ...good, unit: (this.unit + 1) % 3, pitch: 1 })];
      case 'garbage':
        return [
          { client, timestamp: ++timestamp, op: new Uint8Array([0xff, 0xff, 1]), result: new Uint8Array(0) },
        ];
      case 'implausible':
        return [request(client, { ...good, pitch: 9 })];
    }
  }
}

interface Run {
  readonly outcomes: BatchOutcome[];
  readonly machine: FrameInputsMachine;
  /** Per frame, the correct units' pitch and stick values. */
  readonly correct: { pitch: number[]; stick: number[] }[];
}

/** Frames 0..frames-1, one batch per frame; `straggle(k, u)` moves unit u's frame-k request to batch k+1. */
function run(
  fault: UnitFault | undefined,
  faulty: number,
  frames: number,
  straggle: (k: number, u: number) => boolean = () => false,
): Run {
  const units = [0, 1, 2].map((u) => new Unit(u, u === faulty ? fault : undefined, 11 + u));
  const machine = new FrameInputsMachine(config);
  const outcomes: BatchOutcome[] = [];
  const correct: Run['correct'] = [];
  let carry: ExecutedRequest[] = [];
  for (let k = 0; k < frames; k++) {
    const batch = carry;
    carry = [];
    const row = { pitch: [] as number[], stick: [] as number[] };
    for (const u of units) {
      const reqs = u.submit(k);
      if (u.fault === undefined)
        for (const r of reqs) {
          const s = decodeInputSample(r.op);
          if (s !== undefined && !straggle(k, u.unit)) {
            row.pitch.push(s.pitch);
            row.stick.push(s.stick);
          }
        }
      if (straggle(k, u.unit)) carry.push(...reqs);
      else batch.push(...reqs);
    }
    correct.push(row);
    outcomes.push(machine.step(batch));
  }
  return { outcomes, machine, correct };
}

describe('frame inputs with one faulty input unit of three', () => {
  for (const fault of UNIT_FAULTS) {
    it(`${fault}: frames numbered by the correct units, values between theirs, the liar shown`, () => {
      const r = run(fault, 2, 400);
      r.outcomes.forEach((o, k) => {
        expect(o.kind, `frame ${k}`).toBe('frame');
        if (o.kind !== 'frame') return;
        expect(o.frame).toBe(k);
        expect(o.skipped).toBe(0);
        for (const e of o.events) expect(e.unit, JSON.stringify(e)).toBe(2);
        const row = r.correct[k] as { pitch: number[]; stick: number[] };
        const p = o.inputs.pitch as number;
        expect(p).toBeGreaterThanOrEqual(Math.min(...row.pitch));
        expect(p).toBeLessThanOrEqual(Math.max(...row.pitch));
        expect(o.inputs.pitchCommand).toBe(pilot(k));
        expect(o.inputs.sensorMode === 'triplex' || o.inputs.sensorMode === 'duplex').toBe(true);
      });
      const h = r.machine.health();
      for (const u of [0, 1]) expect(h[u]).toMatchObject({ latched: false, used: 400, missing: 0 });
      const liar = h[2];
      const expected: Record<UnitFault, object> = {
        'far-future': { ahead: 400, missing: 400, used: 0 },
        'ahead-in-window': { missing: 400, used: 0 },
        stuck: { latched: true },
        random: { latched: true },
        replay: { missing: 399 },
        equivocate: { latched: true },
        silent: { missing: 400 },
        impostor: { impostor: 400, missing: 400 },
        garbage: { malformed: 400, missing: 400 },
        implausible: { implausible: 400, used: 400 },
      };
      expect(liar, JSON.stringify(liar)).toMatchObject(expected[fault]);
      if (fault === 'implausible')
        expect(r.outcomes.at(-1)).toMatchObject({ inputs: { sensorMode: 'duplex' } });
    });
  }

  it('a machine rebuilt from a peer’s exported state derives the same inputs from then on', () => {
    const batches: ExecutedRequest[][] = [];
    const units = [0, 1, 2].map((u) => new Unit(u, u === 1 ? 'random' : undefined, 5 + u));
    for (let k = 0; k < 200; k++) batches.push(units.flatMap((u) => u.submit(k)));
    const a = new FrameInputsMachine(config);
    for (const b of batches.slice(0, 100)) a.step(b);
    const b = new FrameInputsMachine(config, a.exportState());
    for (const batch of batches.slice(100)) expect(b.step(batch)).toEqual(a.step(batch));
    expect(() => new FrameInputsMachine(config, { lastFrame: -2, voter: a.exportState().voter })).toThrow(
      RangeError,
    );
  });

  it('property: any fault, any straggling of correct samples: never ahead, never a correct unit struck', () => {
    const stats = { frames: 0, none: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...UNIT_FAULTS),
        fc.nat(2),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 300, maxLength: 300 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (fault, faulty, coin, p) => {
          const r = run(fault, faulty, 100, (k, u) => u !== faulty && (coin[k * 3 + u] as number) < p);
          let last = -1;
          r.outcomes.forEach((o, k) => {
            for (const e of o.events) expect(e.unit).toBe(faulty);
            if (o.kind !== 'frame') return;
            expect(o.frame).toBeGreaterThan(last);
            expect(o.frame).toBeLessThanOrEqual(k); // never ahead of the frame the batch was cut for
            last = o.frame;
          });
          for (const h of r.machine.health()) if (h.unit !== faulty) expect(h.latched).toBe(false);
          stats.frames += r.outcomes.filter((o) => o.kind === 'frame').length;
          stats.none += r.outcomes.filter((o) => o.kind === 'none').length;
        },
      ),
      { seed: 0x15c0de, numRuns: 60 },
    );
    // The straggling must bite: some batches carry no frame quorum.
    expect(stats.none).toBeGreaterThan(0);
    expect(stats.frames).toBeGreaterThan(stats.none);
  });
});
