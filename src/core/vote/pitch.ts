import type { Command } from '../control/spec.ts';
import type { InputVoterConfig } from './input-voter.ts';
import type { VoterConfig } from './voter.ts';

/** Options for the pitch voter; everything but the channels has a default. */
export interface PitchVoterOptions {
  readonly channels: readonly string[];
  readonly f?: number;
  readonly frameRate?: number;
  /** Elevator agreement tolerance, rad (default 0.01 rad, 0.57 deg). */
  readonly elevatorTolerance?: number;
  /**
   * Early-write band, rad (default half the tolerance): the voter writes before the deadline only when f+1
   * outputs are within this band of the value (0 <= band <= tolerance). `null` disables early writes.
   */
  readonly elevatorEarlyBand?: number | null;
  /** Frames of OUTPUT receipts remembered to tell replays from late outputs (default 64). */
  readonly receiptWindow?: number;
  readonly strikeThreshold?: number;
  readonly strikeDecayFrames?: number;
  /** Probation, seconds of continuous agreement (default 1 s). */
  readonly probationSeconds?: number;
  readonly failsafeAfterMisses?: number;
  /** Deadline as a fraction of the frame period after the frame starts (default 0.8). */
  readonly deadlineFraction?: number;
  /** Time at which frame 0 starts, in the caller's unit of seconds (default 0). */
  readonly origin?: number;
  readonly firstFrame?: number;
}

/**
 * Voter configuration for the elevator command of the pitch law. Time is in seconds.
 *
 * Why these defaults: correct dissimilar channels agree to about 1e-4 rad (see test/core/control), so
 * 0.01 rad leaves two orders of magnitude of margin while bounding how far one Byzantine channel can
 * pull the elevator. The early band of 0.005 rad keeps the early write's guarantee (within tolerance of
 * every correct channel, voter.ts) as long as correct channels agree within 0.005 rad: 50 times margin. Four strikes (80 ms at 50 Hz) keeps a single disagreeing frame from latching a
 * channel; failsafe after 5 misses (100 ms) is short against the aircraft's pitch dynamics (about 1 s).
 * Failsafe is the neutral elevator.
 */
export function pitchVoterConfig(o: PitchVoterOptions): VoterConfig<Command> {
  const frameRate = o.frameRate ?? 50;
  const period = 1 / frameRate;
  const tolerance = o.elevatorTolerance ?? 0.01;
  const band = o.elevatorEarlyBand === undefined ? tolerance / 2 : o.elevatorEarlyBand;
  return {
    channels: o.channels,
    f: o.f ?? 1,
    analog: [{ field: 'elevator', tolerance, ...(band === null ? {} : { earlyBand: band }) }],
    discrete: ['mode', 'commandLimited'],
    strikeThreshold: o.strikeThreshold ?? 4,
    strikeDecayFrames: o.strikeDecayFrames ?? 5,
    probationFrames: Math.max(1, Math.round((o.probationSeconds ?? 1) * frameRate)),
    failsafeAfterMisses: o.failsafeAfterMisses ?? 5,
    failsafe: { elevator: 0, mode: 'no-sensor', commandLimited: true },
    initial: { elevator: 0, mode: 'triplex', commandLimited: false },
    timing: { origin: o.origin ?? 0, period, deadline: period * (o.deadlineFraction ?? 0.8) },
    firstFrame: o.firstFrame ?? 0,
    maxFramesAhead: 8,
    receiptWindow: o.receiptWindow ?? 64,
  };
}

/** Options for the pitch law's input voter; everything but the unit count has a default. */
export interface PitchInputVoterOptions {
  readonly units: number;
  /** Lying units tolerated (default floor((units - 1) / 2)). */
  readonly f?: number;
  readonly frameRate?: number;
  /** Stick agreement tolerance, rad (default 0.01). */
  readonly stickTolerance?: number;
  /** Pitch-sensor agreement tolerance, rad (default 0.01). */
  readonly pitchTolerance?: number;
  readonly strikeThreshold?: number;
  readonly strikeDecayFrames?: number;
  /** Probation, seconds of continuous agreement (default 1 s). */
  readonly probationSeconds?: number;
}

/** The voted input fields of the pitch law, in voting order (src/core/frame/inputs.ts fills them). */
export const PITCH_INPUT_FIELDS = ['stick', 'pitch'] as const;

/**
 * Input voter configuration for the pitch law: the stick command and the pitch angle, voted across units.
 *
 * Why these defaults: correct pitch sensors differ by their noise (0.0005 rad standard deviation in
 * src/core/plant), so 0.01 rad is 14 standard deviations of a pairwise difference: a correct sensor is never
 * struck, while a lying one is outvoted (mid-value select) at once and latched after four frames out of
 * tolerance. The sticks of correct units read the same pilot to within the same order.
 */
export function pitchInputVoterConfig(o: PitchInputVoterOptions): InputVoterConfig {
  const frameRate = o.frameRate ?? 50;
  return {
    units: o.units,
    f: o.f ?? Math.floor((o.units - 1) / 2),
    fields: [
      { field: 'stick', tolerance: o.stickTolerance ?? 0.01 },
      { field: 'pitch', tolerance: o.pitchTolerance ?? 0.01 },
    ],
    strikeThreshold: o.strikeThreshold ?? 4,
    strikeDecayFrames: o.strikeDecayFrames ?? 5,
    probationFrames: Math.max(1, Math.round((o.probationSeconds ?? 1) * frameRate)),
  };
}
