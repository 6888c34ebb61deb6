/**
 * The pitch-attitude control law: ONE specification, several independent implementations.
 *
 * Structure: two-degree-of-freedom PID on pitch angle with a reference prefilter, derivative on the
 * (filtered) measurement, conditional-integration anti-windup, and position + rate limiting of the
 * elevator command matched to the actuator. Only pitch angle is sensed (one sensor per input unit, voted by
 * mid-value select before the law); pitch rate is estimated from the voted measurement's frame-to-frame
 * differences, so no rate gyros are needed.
 *
 * Why a prefilter: theta/delta = (1.151 s + 0.1774) / (s (s^2 + 0.739 s + 0.921)) has a zero at
 * s = -0.154 (the path-lag zero). With attitude feedback alone a closed-loop pole stays near it and leaves
 * a creep that takes tens of seconds to settle. The prefilter F(s) = (Tz s + 1) / (Tp s + 1) with
 * Tp = 1/0.154 s cancels the zero's effect on the reference path and Tz = -1/p_slow moves the slow pole's
 * residue to zero. The integrator is deliberately slow (it trims constant moment disturbances; a fast one
 * reintroduces the creep).
 *
 * Reference semantics of one frame (dt = 1 / frameRate, all angles rad, rates rad/s). The law consumes
 * LawInputs: a voted pilot command, a voted pitch angle and the sensor mode, all decided before the law by
 * input voting (src/core/frame/inputs.ts), identically at every channel:
 *
 *   pilot valid   := pitchCommand !== null && isFinite(pitchCommand)
 *   commandLimited:= isCommandLimited(spec, pitchCommand)          (discrete: see below)
 *   mode          := sensorMode                                    (discrete: passed through unchanged)
 *   r             := pilot valid ? clamp(pitchCommand, -maxPitchCommand, +maxPitchCommand) : rf
 *   rf'           := ap rf + (1 - ap) r                    ap = exp(-dt / Tp)
 *   rs            := rf' + (Tz / Tp) (r - rf')             (shaped reference)
 *   y             := pitch valid (non-null, finite) ? pitch : yp
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
 * Discrete fields (voted by exact majority, so every implementation must compute them bit-identically):
 * each is decided on the LawInputs values exactly as delivered (IEEE 754 binary64), BEFORE any conversion
 * or rounding an implementation makes (the fixed-point one decides them on the float, then converts):
 *   commandLimited := pitchCommand === null || !isFinite(pitchCommand) || |pitchCommand| > maxPitchCommand
 *                     (Math.abs, then one binary64 comparison with the spec's maxPitchCommand);
 *   mode           := sensorMode, decided by input voting from unit health (see sensorModeOf).
 * The earlier raw form (FrameInputs: three sensor readings) is converted by `lawInputsOf` before any
 * implementation sees it, so its sensor plausibility (isPlausiblePitch, on the binary64 reading) and its
 * mode are decided once, in the specification's arithmetic, for all implementations. The remaining
 * comparisons of a frame (the clamps, the anti-windup test) only shape the analog elevator; there they may
 * differ by an implementation's rounding, which the voter's analog tolerance absorbs.
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

/**
 * Frame rates every implementation constructs and runs at without throwing (Hz, inclusive; any real number
 * in the range). The config schema takes its frame-rate bounds from here; `validateSpec` refuses others.
 */
export const SUPPORTED_FRAME_RATE_HZ = { min: 1, max: 1000 } as const;

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
  const { min, max } = SUPPORTED_FRAME_RATE_HZ;
  if (!(spec.frameRate >= min && spec.frameRate <= max))
    throw new RangeError(`PitchLawSpec.frameRate must be in [${min}, ${max}] Hz, got ${spec.frameRate}`);
  if (!(spec.ki >= 0) || !Number.isFinite(spec.ki)) throw new RangeError(`PitchLawSpec.ki must be >= 0`);
}

/** Sensor redundancy the frame was computed with (a discrete, voted field). */
export type SensorMode = 'triplex' | 'duplex' | 'simplex' | 'no-sensor';

/**
 * One frame's inputs as the law consumes them: voted across the input units (src/core/frame/inputs.ts), so
 * identical at every channel.
 *
 * @example
 * { pitchCommand: 0.2, pitch: 0.013, sensorMode: 'triplex' }
 */
export interface LawInputs {
  /** Voted pilot pitch-attitude command, rad; null when none could be voted (the law holds its reference). */
  readonly pitchCommand: number | null;
  /** Voted pitch angle, rad; null when none could be voted (the law holds its last measurement). */
  readonly pitch: number | null;
  /** How many healthy units support the voted pitch (sensorModeOf); 'no-sensor' when pitch is null. */
  readonly sensorMode: SensorMode;
}

/**
 * The earlier raw form of a frame's inputs: the pilot command and the three units' pitch readings (a dead
 * sensor reads null; a non-finite or implausible reading counts as dead). Converted by `lawInputsOf`.
 * Kept while the runtime still builds it (src/runtime/loop/frame-inputs.ts); new code uses LawInputs.
 */
export interface FrameInputs {
  /** Pilot pitch-attitude command, rad. */
  readonly pitchCommand: number;
  /** The three pitch-angle sensor readings, rad. */
  readonly pitchSensors: readonly [number | null, number | null, number | null];
}

/** What `PitchLaw.step` accepts. */
export type AnyLawInputs = LawInputs | FrameInputs;

/** The discrete field commandLimited (see the reference semantics): decided on the binary64 value as given. */
export function isCommandLimited(spec: PitchLawSpec, pitchCommand: number | null): boolean {
  return (
    pitchCommand === null || !Number.isFinite(pitchCommand) || Math.abs(pitchCommand) > spec.maxPitchCommand
  );
}

/** A pitch reading the law may use: a finite binary64 with |x| <= maxPlausiblePitch (decided before conversion). */
export function isPlausiblePitch(spec: PitchLawSpec, x: number | null): x is number {
  return x !== null && Number.isFinite(x) && Math.abs(x) <= spec.maxPlausiblePitch;
}

/** The sensor mode for a number of healthy units supporting the voted pitch (0: no-sensor, 3 or more: triplex). */
export function sensorModeOf(supporters: number): SensorMode {
  return supporters >= 3
    ? 'triplex'
    : supporters === 2
      ? 'duplex'
      : supporters === 1
        ? 'simplex'
        : 'no-sensor';
}

/**
 * The LawInputs of either input form. LawInputs pass through (a non-finite number becomes null). Raw inputs:
 * the plausible readings (isPlausiblePitch), sorted ascending, give pitch = lo + (hi - lo) / 2 of the middle
 * pair (the median of three, the mean of two, the one) and mode = sensorModeOf(their count).
 */
export function lawInputsOf(spec: PitchLawSpec, inputs: AnyLawInputs): LawInputs {
  if (!('pitchSensors' in inputs)) {
    const finite = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);
    return {
      pitchCommand: finite(inputs.pitchCommand),
      pitch: finite(inputs.pitch),
      sensorMode: inputs.sensorMode,
    };
  }
  const valid = inputs.pitchSensors.filter((x) => isPlausiblePitch(spec, x)).sort((a, b) => a - b);
  const n = valid.length;
  const pitch =
    n === 0
      ? null
      : (valid[(n - 1) >> 1] as number) + ((valid[n >> 1] as number) - (valid[(n - 1) >> 1] as number)) / 2;
  const pilot = inputs.pitchCommand;
  return { pitchCommand: Number.isFinite(pilot) ? pilot : null, pitch, sensorMode: sensorModeOf(n) };
}

/**
 * A channel's output for one frame. `elevator` is analog (voted by mid-value select with a tolerance);
 * `mode` and `commandLimited` are discrete (voted by exact majority). Both discrete fields are functions
 * of the frame inputs only, decided on the same binary64 values by the same comparison in every
 * implementation (see the reference semantics), so correct dissimilar channels always agree on them exactly. A saturation
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
  step(inputs: AnyLawInputs): Command;
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
