import type { Command } from '../control/spec.ts';
import type { VoterConfig } from './voter.ts';

/** Options for the pitch voter; everything but the channels has a default. */
export interface PitchVoterOptions {
  readonly channels: readonly string[];
  readonly f?: number;
  readonly frameRate?: number;
  /** Elevator agreement tolerance, rad (default 0.01 rad, 0.57 deg). */
  readonly elevatorTolerance?: number;
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
 * pull the elevator. Four strikes (80 ms at 50 Hz) keeps a single disagreeing frame from latching a
 * channel; failsafe after 5 misses (100 ms) is short against the aircraft's pitch dynamics (about 1 s).
 * Failsafe is the neutral elevator.
 */
export function pitchVoterConfig(o: PitchVoterOptions): VoterConfig<Command> {
  const frameRate = o.frameRate ?? 50;
  const period = 1 / frameRate;
  return {
    channels: o.channels,
    f: o.f ?? 1,
    analog: [{ field: 'elevator', tolerance: o.elevatorTolerance ?? 0.01 }],
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
  };
}
