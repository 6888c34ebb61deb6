/** Closed-loop test harness under virtual time: law(s) -> (voter) -> actuator -> plant -> sensors. */
import {
  CONTROL_IMPL_KINDS,
  type Command,
  createPitchLaw,
  defaultPitchLawSpec,
  type FrameInputs,
  type PitchLaw,
} from '../../../src/core/control/index.ts';
import { ElevatorActuator, PitchPlant, SensorTriplex } from '../../../src/core/plant/index.ts';
import { Prng } from '../../../src/core/prng.ts';
import {
  type ChannelEvent,
  type DecisionRecord,
  pitchVoterConfig,
  Voter,
} from '../../../src/core/vote/index.ts';
import { type Arrival, runFrame } from '../vote/host.ts';

export interface LoopTrace {
  readonly theta: number[];
  /** Elevator command sent to the actuator each frame (the law's or the voter's). */
  readonly command: number[];
}

/** One implementation alone flying the plant. */
export function flySingle(
  law: PitchLaw,
  frameRate: number,
  frames: number,
  pilot: (k: number) => number,
  seed = 1,
): LoopTrace {
  const plant = new PitchPlant(frameRate);
  const act = new ElevatorActuator();
  const sensors = new SensorTriplex(new Prng(seed));
  const theta: number[] = [];
  const command: number[] = [];
  for (let k = 0; k < frames; k++) {
    theta.push(plant.theta);
    const cmd = law.step({ pitchCommand: pilot(k), pitchSensors: sensors.read(plant.theta, k / frameRate) });
    command.push(cmd.elevator);
    plant.step(act.drive(cmd.elevator, 1 / frameRate));
  }
  theta.push(plant.theta);
  return { theta, command };
}

/** What a Byzantine channel does to its correct output from frame `onset` on. */
export type ChannelFault =
  | { readonly kind: 'none' }
  | { readonly kind: 'stuck' }
  | { readonly kind: 'random' }
  | { readonly kind: 'drift'; readonly ratePerSecond: number }
  | { readonly kind: 'oscillating'; readonly amplitude: number; readonly hz: number }
  | { readonly kind: 'silent' }
  | { readonly kind: 'late' }
  /** Sees the other channels' outputs first, then reports before them, 1.99 tolerances beyond one of them. */
  | { readonly kind: 'adaptive' };

export interface VotedRun extends LoopTrace {
  readonly records: DecisionRecord<Command>[];
  readonly voter: Voter<Command>;
  /** Per frame, every channel's correct output (before any fault). */
  readonly outputs: Command[][];
  /** Per frame, the channel events of every call the host made in it (judgments fixed then). */
  readonly events: ChannelEvent[][];
}

export const CHANNELS = ['ch0', 'ch1', 'ch2'] as const;

/**
 * Three dissimilar channels, a voter driven as the runtime's host drives it (a decision as soon as the voter
 * is ready, else at the deadline), the actuator and the plant. Channel `faulty` misbehaves per `fault` from
 * frame `onset`. Offers arrive at staggered times inside the frame.
 */
export function flyVoted(opts: {
  frameRate: number;
  frames: number;
  pilot: (k: number) => number;
  seed?: number;
  faulty?: number;
  fault?: ChannelFault;
  onset?: number;
}): VotedRun {
  const { frameRate, frames, pilot } = opts;
  const dt = 1 / frameRate;
  const spec = defaultPitchLawSpec(frameRate);
  const laws = CONTROL_IMPL_KINDS.map((kind) => createPitchLaw(kind, spec));
  const voter = new Voter(pitchVoterConfig({ channels: CHANNELS, frameRate }));
  const plant = new PitchPlant(frameRate);
  const act = new ElevatorActuator();
  const sensors = new SensorTriplex(new Prng(opts.seed ?? 1));
  const byz = new Prng((opts.seed ?? 1) ^ 0x5eed);
  const fault = opts.fault ?? { kind: 'none' };
  const onset = opts.onset ?? 0;
  let stuckAt: Command | null = null;
  const theta: number[] = [];
  const command: number[] = [];
  const records: DecisionRecord<Command>[] = [];
  const outputs: Command[][] = [];
  const events: ChannelEvent[][] = [];
  const tolerance = voter.config.analog[0]?.tolerance ?? 0;
  for (let k = 0; k < frames; k++) {
    theta.push(plant.theta);
    const start = k * dt;
    const inputs: FrameInputs = { pitchCommand: pilot(k), pitchSensors: sensors.read(plant.theta, start) };
    const correct = laws.map((law) => law.step(inputs));
    outputs.push(correct);
    const arrivals: Arrival<Command>[] = [];
    for (const [i, cmd] of correct.entries()) {
      const channel = CHANNELS[i] as string;
      const time = start + dt * (0.2 + 0.1 * i);
      if (i !== opts.faulty || k < onset || fault.kind === 'none') {
        arrivals.push({ channel, command: cmd, time });
        continue;
      }
      if (stuckAt === null) stuckAt = cmd;
      const t = (k - onset) * dt;
      const lie = (command: Command, at = time): void => {
        arrivals.push({ channel, command, time: at });
      };
      switch (fault.kind) {
        case 'stuck':
          lie(stuckAt);
          break;
        case 'random':
          lie({
            elevator: (byz.float() * 2 - 1) * 0.436,
            mode: cmd.mode,
            commandLimited: byz.chance(0.5),
          });
          break;
        case 'drift':
          lie({ ...cmd, elevator: cmd.elevator + fault.ratePerSecond * t });
          break;
        case 'oscillating':
          lie({
            ...cmd,
            elevator: cmd.elevator + fault.amplitude * Math.sin(2 * Math.PI * fault.hz * t),
          });
          break;
        case 'silent':
          break;
        case 'late':
          // Correct value, delivered after the deadline (and after the decision).
          lie(cmd, start + dt * 1.5);
          break;
        case 'adaptive': {
          const others = correct.filter((_, j) => j !== i).map((c) => c.elevator);
          const [a, b] = others as [number, number];
          const away = a >= b ? 1 : -1;
          lie({ ...cmd, elevator: a + away * 1.99 * tolerance }, start + dt * 0.05);
        }
      }
    }
    const run = runFrame(voter, k, arrivals);
    const record = run.record;
    events.push(run.events);
    records.push(record);
    command.push(record.value.elevator);
    plant.step(act.drive(record.value.elevator, dt));
  }
  theta.push(plant.theta);
  return { theta, command, records, voter, outputs, events };
}

/** A seeded random pilot: a new attitude target every 0.5..3 s, within the command authority and beyond. */
export function randomPilot(seed: number, frameRate: number, frames: number): (k: number) => number {
  const rng = new Prng(seed);
  const targets: number[] = [];
  let target = 0;
  let left = 0;
  for (let k = 0; k < frames; k++) {
    if (left <= 0) {
      target = (rng.float() * 2 - 1) * 0.4;
      left = Math.round((0.5 + rng.float() * 2.5) * frameRate);
    }
    left--;
    targets.push(target);
  }
  return (k) => targets[k] ?? 0;
}
