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

/** Implementation (a): float64, written directly from the reference semantics in spec.ts. */
export class Float64PitchLaw implements PitchLaw {
  readonly kind = 'float64' as const;
  private readonly spec: PitchLawSpec;
  private readonly dt: number;
  private readonly ap: number;
  private readonly ad: number;
  private readonly cd: number;
  private readonly shape: number;
  private primed = false;
  private rf = 0;
  private integ = 0;
  private d = 0;
  private yp = 0;
  private ul = 0;

  constructor(spec: PitchLawSpec, state: AbstractState = INITIAL_STATE) {
    validateSpec(spec);
    this.spec = spec;
    this.dt = 1 / spec.frameRate;
    this.ap = Math.exp(-this.dt / spec.prefilterTp);
    this.ad = Math.exp(-this.dt / spec.tauD);
    this.cd = (1 - this.ad) / this.dt;
    this.shape = spec.prefilterTz / spec.prefilterTp;
    this.importState(state);
  }

  step(inputs: AnyLawInputs): Command {
    const s = this.spec;
    const { pitchCommand, pitch, sensorMode } = lawInputsOf(s, inputs);
    // Discrete fields first, on the inputs as delivered (spec.ts).
    const commandLimited = isCommandLimited(s, pitchCommand);
    const r = pitchCommand !== null ? clamp(pitchCommand, -s.maxPitchCommand, s.maxPitchCommand) : this.rf;
    this.rf = this.ap * this.rf + (1 - this.ap) * r;
    const rs = this.rf + this.shape * (r - this.rf);

    const y = pitch ?? this.yp;
    if (!this.primed) {
      this.yp = y;
      this.d = 0;
      this.primed = true;
    }
    this.d = this.ad * this.d + this.cd * (y - this.yp);
    const e = rs - y;
    const uu = s.kp * e + this.integ - s.kd * this.d;
    const lo = Math.max(-s.maxDeflection, this.ul - s.maxRate * this.dt);
    const hi = Math.min(s.maxDeflection, this.ul + s.maxRate * this.dt);
    const u = clamp(uu, lo, hi);
    const windingUp = (u < uu && e > 0) || (u > uu && e < 0);
    if (!windingUp) this.integ = clamp(this.integ + s.ki * this.dt * e, -s.maxDeflection, s.maxDeflection);
    this.yp = y;
    this.ul = u;
    return { elevator: u, mode: sensorMode, commandLimited };
  }

  exportState(): AbstractState {
    return {
      primed: this.primed,
      referenceFilter: this.rf,
      integrator: this.integ,
      rateEstimate: this.d,
      lastMeasurement: this.yp,
      lastElevator: this.ul,
    };
  }

  importState(state: AbstractState): void {
    validateState(state);
    this.primed = state.primed;
    this.rf = state.referenceFilter;
    this.integ = state.integrator;
    this.d = state.rateEstimate;
    this.yp = state.lastMeasurement;
    this.ul = state.lastElevator;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
