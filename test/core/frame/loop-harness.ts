/**
 * The whole pure control chain under virtual time, without the ordering protocol: each frame the three
 * input units sample (stick and their own pitch sensor), their samples form the frame's committed batch, each
 * channel turns the batch into law inputs with its own FrameInputsMachine and steps its implementation, and
 * the output voter (driven as the runtime's host drives it) writes the actuator. One unit may lie.
 */
import {
  CONTROL_IMPL_KINDS,
  type Command,
  createPitchLaw,
  defaultPitchLawSpec,
} from '../../../src/core/control/index.ts';
import {
  FrameInputsMachine,
  pitchFrameInputsConfig,
  type UnitHealth,
} from '../../../src/core/frame/inputs.ts';
import { encodeInputSample, type InputSample } from '../../../src/core/frame/sample.ts';
import type { ExecutedRequest } from '../../../src/core/pbft/types.ts';
import { ElevatorActuator, PitchPlant, SensorTriplex } from '../../../src/core/plant/index.ts';
import { Prng } from '../../../src/core/prng.ts';
import { type DecisionRecord, pitchVoterConfig, Voter } from '../../../src/core/vote/index.ts';
import { type Arrival, runFrame } from '../vote/host.ts';

export const INPUT_FAULTS = ['far-future', 'stuck', 'random', 'replay', 'equivocate', 'silent'] as const;
export type InputFault = (typeof INPUT_FAULTS)[number];

const FIRST_CLIENT = 100;
const CHANNELS = ['c0', 'c1', 'c2'];

export interface InputLoopRun {
  readonly records: DecisionRecord<Command>[];
  readonly elevator: number[];
  readonly theta: number[];
  readonly unitHealth: UnitHealth[];
  /** Per frame: did every channel derive the same law inputs? */
  readonly consistent: boolean;
}

export function flyInputs(o: {
  frameRate: number;
  frames: number;
  pilot: (k: number) => number;
  seed: number;
  faulty?: number;
  fault?: InputFault;
  onset?: number;
}): InputLoopRun {
  const dt = 1 / o.frameRate;
  const spec = defaultPitchLawSpec(o.frameRate);
  const laws = CONTROL_IMPL_KINDS.map((kind) => createPitchLaw(kind, spec));
  const machines = laws.map(
    () => new FrameInputsMachine(pitchFrameInputsConfig({ units: 3, firstClient: FIRST_CLIENT, spec })),
  );
  const voter = new Voter(pitchVoterConfig({ channels: CHANNELS, frameRate: o.frameRate }));
  const plant = new PitchPlant(o.frameRate);
  const act = new ElevatorActuator();
  const sensors = new SensorTriplex(new Prng(o.seed));
  const lies = new Prng(o.seed ^ 0x11e5);
  const history: InputSample[] = [];
  let stuck: InputSample | undefined;
  let ts = 0;
  let consistent = true;
  const records: DecisionRecord<Command>[] = [];
  const elevator: number[] = [];
  const theta: number[] = [];
  for (let k = 0; k < o.frames; k++) {
    theta.push(plant.theta);
    const readings = sensors.read(plant.theta, k * dt);
    const batch: ExecutedRequest[] = [];
    for (let u = 0; u < 3; u++) {
      const pitch = readings[u] ?? null;
      const good: InputSample = {
        frame: k,
        unit: u,
        stick: o.pilot(k),
        pitchValid: pitch !== null,
        pitch: pitch ?? 0,
      };
      const sample = u === o.faulty && k >= (o.onset ?? 0) ? lie(o.fault, good, k) : good;
      if (u === o.faulty) history.push(good);
      if (sample !== undefined)
        batch.push({
          client: FIRST_CLIENT + u,
          timestamp: ++ts,
          op: encodeInputSample(sample),
          result: new Uint8Array(0),
        });
    }
    const outcomes = machines.map((m) => m.step(batch));
    const first = JSON.stringify(outcomes[0]);
    if (outcomes.some((x) => JSON.stringify(x) !== first)) consistent = false;
    const start = k * dt;
    const arrivals: Arrival<Command>[] = [];
    outcomes.forEach((out, i) => {
      if (out.kind !== 'frame') return;
      const cmd = (laws[i] as (typeof laws)[number]).step(out.inputs);
      arrivals.push({ channel: CHANNELS[i] as string, command: cmd, time: start + dt * (0.2 + 0.1 * i) });
    });
    const { record } = runFrame(voter, k, arrivals);
    records.push(record);
    elevator.push(record.value.elevator);
    plant.step(act.drive(record.value.elevator, dt));
  }
  return { records, elevator, theta, unitHealth: (machines[0] as FrameInputsMachine).health(), consistent };

  function lie(fault: InputFault | undefined, good: InputSample, k: number): InputSample | undefined {
    switch (fault) {
      case undefined:
        return good;
      case 'far-future':
        return { ...good, frame: k + 1e12, pitch: good.pitch + 0.5 };
      case 'stuck':
        stuck ??= good;
        return { ...stuck, frame: k };
      case 'random':
        return { ...good, stick: lies.float() - 0.5, pitch: lies.float() * 3 - 1.5 };
      case 'replay':
        return history[Math.max(0, history.length - 2 - lies.int(20))] as InputSample;
      case 'equivocate':
        return lies.chance(0.5) ? good : { ...good, pitch: good.pitch + 0.2, stick: good.stick - 0.2 };
      case 'silent':
        return undefined;
    }
  }
}
