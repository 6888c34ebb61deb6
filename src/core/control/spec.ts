/**
 * The pitch-attitude control law: ONE specification, several independent implementations.
 *
 * Structure: two-degree-of-freedom PID on pitch angle with a reference prefilter, derivative on the
 * (filtered) measurement, conditional-integration anti-windup, and position + rate limiting of the
 * elevator command matched to the actuator. Only pitch angle is sensed (three sensors, mid-value
 * selected); pitch rate is estimated from the selected measurement's frame-to-frame differences, so no
 * rate gyros are needed.
 *
 * Why a prefilter: theta/delta = (1.151 s + 0.1774) / (s (s^2 + 0.739 s + 0.921)) has a zero at
 * s = -0.154 (the path-lag zero). With attitude feedback alone a closed-loop pole stays near it and leaves
 * a creep that takes tens of seconds to settle. The prefilter F(s) = (Tz s + 1) / (Tp s + 1) with
 * Tp = 1/0.154 s cancels the zero's effect on the reference path and Tz = -1/p_slow moves the slow pole's
 * residue to zero. The integrator is deliberately slow (it trims constant moment disturbances; a fast one
 * reintroduces the creep).
 *
 * Reference semantics of one frame (dt = 1 / frameRate, all angles rad, rates rad/s):
 *
 *   pilot valid   := isFinite(pilot)
 *   r             := pilot valid ? clamp(pilot, -maxPitchCommand, +maxPitchCommand) : rf
 *   commandLimited:= !pilot valid || |pilot| > maxPitchCommand
 *   rf'           := ap rf + (1 - ap) r                    ap = exp(-dt / Tp)
 *   rs            := rf' + (Tz / Tp) (r - rf')             (shaped reference)
 *   valid         := sensor readings that are finite numbers with |x| <= maxPlausiblePitch
 *   y             := median of 3 | mean of 2 | the 1 | yp when none   (mode triplex|duplex|simplex|no-sensor)
 *   if !primed:   yp := y, d := 0, primed := true           (first frame: no rate estimate yet)
 *   d'            := ad d + cd (y - yp)                     ad = exp(-dt / tauD), cd = (1 - ad) / dt
 *   e             := rs - y
 *   uu            := kp e + I - kd d'
 *   lo, hi        := max(-maxDeflection, ul - maxRate dt), min(maxDeflection, ul + maxRate dt)
 *   u             := clamp(uu, lo, hi)
 *   I'            := clamp(I + ki dt e, -maxDeflection, maxDeflection)
 *                    except held (I' = I) when (u < uu and e > 0) or (u > uu and e < 0)
 *   yp' := y,  ul' := u
 *   output        := { elevator: u, mode, commandLimited }
 *
 * The abstract state (AbstractState) is exactly the set of variables carried between frames above, in
 * these units; every implementation converts to and from it.
 */
export interface PitchLawSpec {
  /** Frames per second; dt = 1 / frameRate. */
  readonly frameRate: number;
  readonly kp: number;
  readonly ki: number;
  readonly kd: number;
  /** Time constant of the rate-estimate filter, s. */
  readonly tauD: number;
  /** Prefilter lead time constant, s. */
  readonly prefilterTz: number;
  /** Prefilter lag time constant, s. */
  readonly prefilterTp: number;
  /** Elevator position limit, rad (matched to the actuator). */
  readonly maxDeflection: number;
  /** Elevator rate limit, rad/s (at most the actuator's, so that the command is always reachable). */
  readonly maxRate: number;
  /** Pilot pitch-attitude command authority, rad. */
  readonly maxPitchCommand: number;
  /** Sensor readings beyond this magnitude are implausible and ignored, rad. */
  readonly maxPlausiblePitch: number;
}

/** Gains tuned on the plant of src/core/plant with the default actuator (see test/core/control). */
export const DEFAULT_GAINS = {
  kp: 2.5,
  ki: 0.01,
  kd: 2.0,
  tauD: 0.1,
  prefilterTz: 8.5,
  prefilterTp: 1 / 0.154,
} as const;

/** The default specification at a frame rate (Hz, default 50). */
export function defaultPitchLawSpec(frameRate = 50): PitchLawSpec {
  const spec: PitchLawSpec = {
    frameRate,
    ...DEFAULT_GAINS,
    maxDeflection: 0.436,
    maxRate: 0.7,
    maxPitchCommand: 0.35,
    maxPlausiblePitch: Math.PI / 2,
  };
  validateSpec(spec);
  return spec;
}

/** Throws a RangeError naming the first field that is not a positive finite number (ki may be 0). */
export function validateSpec(spec: PitchLawSpec): void {
  const positive: (keyof PitchLawSpec)[] = [
    'frameRate',
    'kp',
    'kd',
    'tauD',
    'prefilterTz',
    'prefilterTp',
    'maxDeflection',
    'maxRate',
    'maxPitchCommand',
    'maxPlausiblePitch',
  ];
  for (const key of positive) {
    const v = spec[key];
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`PitchLawSpec.${key} must be > 0, got ${v}`);
  }
  if (!(spec.ki >= 0) || !Number.isFinite(spec.ki)) throw new RangeError(`PitchLawSpec.ki must be >= 0`);
}

/** Sensor redundancy the frame was computed with (a discrete, voted field). */
export type SensorMode = 'triplex' | 'duplex' | 'simplex' | 'no-sensor';

/**
 * One frame's inputs, as ordered by PBFT (identical at every channel). A dead sensor reads null; a
 * non-finite or implausible reading is treated the same way.
 */
export interface FrameInputs {
  /** Pilot pitch-attitude command, rad. */
  readonly pitchCommand: number;
  /** The three pitch-angle sensor readings, rad. */
  readonly pitchSensors: readonly [number | null, number | null, number | null];
}

/**
 * A channel's output for one frame. `elevator` is analog (voted by mid-value select with a tolerance);
 * `mode` and `commandLimited` are discrete (voted by exact majority). Both discrete fields are functions
 * of the frame inputs only, so correct dissimilar channels always agree on them exactly. A saturation
 * flag is deliberately not a voted field: it depends on analog arithmetic, so correct channels with
 * different numerics can legitimately disagree on it right at the limit.
 */
export interface Command {
  readonly elevator: number;
  readonly mode: SensorMode;
  readonly commandLimited: boolean;
}

/** The state carried between frames, in spec units (see the reference semantics above). */
export interface AbstractState {
  readonly primed: boolean;
  /** Prefilter state rf, rad. */
  readonly referenceFilter: number;
  /** Integrator I, rad of elevator. */
  readonly integrator: number;
  /** Filtered pitch-rate estimate d, rad/s. */
  readonly rateEstimate: number;
  /** Previous selected measurement yp, rad. */
  readonly lastMeasurement: number;
  /** Previous elevator command ul, rad. */
  readonly lastElevator: number;
}

export const INITIAL_STATE: AbstractState = {
  primed: false,
  referenceFilter: 0,
  integrator: 0,
  rateEstimate: 0,
  lastMeasurement: 0,
  lastElevator: 0,
};

/** The interface every implementation of the law offers. */
export interface PitchLaw {
  /** Which implementation (for records and reports). */
  readonly kind: ControlImplKind;
  step(inputs: FrameInputs): Command;
  exportState(): AbstractState;
  importState(state: AbstractState): void;
}

export type ControlImplKind = 'float64' | 'fixed-q24' | 'modal';

/** Throws on an abstract state with a non-finite field (imported state is trusted input from peers only after voting). */
export function validateState(state: AbstractState): void {
  for (const key of [
    'referenceFilter',
    'integrator',
    'rateEstimate',
    'lastMeasurement',
    'lastElevator',
  ] as const) {
    if (!Number.isFinite(state[key]))
      throw new RangeError(`AbstractState.${key} is not finite: ${state[key]}`);
  }
  if (typeof state.primed !== 'boolean') throw new RangeError('AbstractState.primed must be a boolean');
}
