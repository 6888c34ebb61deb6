import { fromFloat, Q_ONE, qAdd, qClamp, qMax, qMin, qMul, qSub, toFloat } from './q24.ts';
import {
  type AbstractState,
  type AnyLawInputs,
  type Command,
  INITIAL_STATE,
  isCommandLimited,
  lawInputsOf,
  type PitchLaw,
  type PitchLawSpec,
  validateSpec,
  validateState,
} from './spec.ts';

/** Coefficients of the law in Q24, fixed at construction (the only place floats are used besides I/O). */
interface Q24Coefficients {
  readonly ap: number;
  readonly oneMinusAp: number;
  readonly shape: number;
  readonly ad: number;
  readonly cd: number;
  readonly kp: number;
  readonly kd: number;
  readonly kiDt: number;
  readonly maxDeflection: number;
  readonly rateStep: number;
  readonly maxPitchCommand: number;
}

/** Below this many LSBs a coefficient has too little precision for the law (about 0.1% error). */
const MIN_COEFFICIENT_LSB = 500;

/**
 * Implementation (b): fixed-point, Q7.24 on Int32. step() converts the frame's floats to Q24 at its
 * boundary, then runs integer-only saturating arithmetic (see q24.ts), and converts the command back.
 */
export class FixedQ24PitchLaw implements PitchLaw {
  readonly kind = 'fixed-q24' as const;
  private readonly spec: PitchLawSpec;
  private readonly k: Q24Coefficients;
  private primed = false;
  private rf = 0;
  private integ = 0;
  private d = 0;
  private yp = 0;
  private ul = 0;

  constructor(spec: PitchLawSpec, state: AbstractState = INITIAL_STATE) {
    validateSpec(spec);
    this.spec = spec;
    this.k = quantize(spec);
    this.importState(state);
  }

  step(inputs: AnyLawInputs): Command {
    const li = lawInputsOf(this.spec, inputs);
    // Discrete fields are decided on the binary64 inputs BEFORE conversion to Q24 (spec.ts): rounding to
    // Q24 would move a command just past the limit onto it.
    const commandLimited = isCommandLimited(this.spec, li.pitchCommand);
    const pilot = li.pitchCommand === null ? null : fromFloat(li.pitchCommand);
    const pitch = li.pitch === null ? null : fromFloat(li.pitch);
    const elevator = this.stepQ(pilot, pitch);
    return { elevator: toFloat(elevator), mode: li.sensorMode, commandLimited };
  }

  /** The integer-only step on Q24 values (null: no voted value). Returns the elevator command in Q24. */
  private stepQ(pilot: number | null, pitch: number | null): number {
    const k = this.k;
    const r = pilot !== null ? qClamp(pilot, -k.maxPitchCommand, k.maxPitchCommand) : this.rf;
    this.rf = qAdd(qMul(k.ap, this.rf), qMul(k.oneMinusAp, r));
    const rs = qAdd(this.rf, qMul(k.shape, qSub(r, this.rf)));

    const y = pitch ?? this.yp;
    if (!this.primed) {
      this.yp = y;
      this.d = 0;
      this.primed = true;
    }
    this.d = qAdd(qMul(k.ad, this.d), qMul(k.cd, qSub(y, this.yp)));
    const e = qSub(rs, y);
    const uu = qSub(qAdd(qMul(k.kp, e), this.integ), qMul(k.kd, this.d));
    const lo = qMax(-k.maxDeflection, qSub(this.ul, k.rateStep));
    const hi = qMin(k.maxDeflection, qAdd(this.ul, k.rateStep));
    const u = qClamp(uu, lo, hi);
    const windingUp = (u < uu && e > 0) || (u > uu && e < 0);
    if (!windingUp) this.integ = qClamp(qAdd(this.integ, qMul(k.kiDt, e)), -k.maxDeflection, k.maxDeflection);
    this.yp = y;
    this.ul = u;
    return u;
  }

  exportState(): AbstractState {
    return {
      primed: this.primed,
      referenceFilter: toFloat(this.rf),
      integrator: toFloat(this.integ),
      rateEstimate: toFloat(this.d),
      lastMeasurement: toFloat(this.yp),
      lastElevator: toFloat(this.ul),
    };
  }

  importState(state: AbstractState): void {
    validateState(state);
    this.primed = state.primed;
    this.rf = fromFloat(state.referenceFilter);
    this.integ = fromFloat(state.integrator);
    this.d = fromFloat(state.rateEstimate);
    this.yp = fromFloat(state.lastMeasurement);
    this.ul = fromFloat(state.lastElevator);
  }
}

/** Quantize the spec's coefficients, refusing a spec that Q24 cannot represent well. */
function quantize(spec: PitchLawSpec): Q24Coefficients {
  const dt = 1 / spec.frameRate;
  const ap = Math.exp(-dt / spec.prefilterTp);
  const ad = Math.exp(-dt / spec.tauD);
  const q = (name: string, x: number, mustBePrecise = true): number => {
    if (Math.abs(x) >= 127) throw new RangeError(`FixedQ24PitchLaw: ${name} = ${x} exceeds the Q7.24 range`);
    const v = fromFloat(x);
    if (mustBePrecise && x !== 0 && Math.abs(v) < MIN_COEFFICIENT_LSB) {
      throw new RangeError(`FixedQ24PitchLaw: ${name} = ${x} too small for Q24 at ${spec.frameRate} Hz`);
    }
    return v;
  };
  return {
    ap: q('ap', ap),
    // 1 - ap taken from the quantized ap so that the prefilter's DC gain is exactly one.
    oneMinusAp: q('1 - ap', 1 - ap) === 0 ? 0 : Q_ONE - fromFloat(ap),
    shape: q('Tz / Tp', spec.prefilterTz / spec.prefilterTp),
    ad: q('ad', ad),
    cd: q('cd', (1 - ad) / dt),
    kp: q('kp', spec.kp),
    kd: q('kd', spec.kd),
    // The integrator gain may be tiny or zero: its precision only scales a slow trim.
    kiDt: q('ki dt', spec.ki * dt, false),
    maxDeflection: q('maxDeflection', spec.maxDeflection),
    rateStep: q('maxRate dt', spec.maxRate * dt),
    maxPitchCommand: q('maxPitchCommand', spec.maxPitchCommand),
  };
}
