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

type Vec3 = [number, number, number];
type Mat3x2 = [[number, number], [number, number], [number, number]];

/**
 * The linear part of the law as a discrete state-space system in modal (diagonal) coordinates.
 *
 * In spec coordinates z = [rf, d, yp] with input v = [r, y]:
 *   z' = A z + B v,  A = [[ap, 0, 0], [0, ad, -cd], [0, 0, 0]],  B = [[1 - ap, 0], [0, cd], [0, 1]]
 *   linear elevator  ul = Cu z + Du v,  tracking error  e = Ce z + De v
 * A has eigenvalues ap, ad, 0 with eigenvectors the columns of V = [[1, 0, 0], [0, 1, cd], [0, 0, ad]];
 * the implementation keeps w = V^-1 z, so that w' = diag(ap, ad, 0) w + V^-1 B v and ul = Cu V w + Du v.
 */
interface ModalRealization {
  readonly lambda: Vec3;
  readonly bw: Mat3x2;
  readonly cu: Vec3;
  readonly du: [number, number];
  readonly ce: Vec3;
  readonly de: [number, number];
  /** V, to map modal state back to spec coordinates. */
  readonly v: [Vec3, Vec3, Vec3];
  /** V^-1. */
  readonly vInv: [Vec3, Vec3, Vec3];
}

/**
 * Implementation (c): the dynamics run as a modal state-space realization (no named filters), and the
 * integrator and the limits as a separate nonlinear block.
 */
export class ModalPitchLaw implements PitchLaw {
  readonly kind = 'modal' as const;
  private readonly spec: PitchLawSpec;
  private readonly m: ModalRealization;
  private readonly rateStep: number;
  private readonly kiDt: number;
  private w: Vec3 = [0, 0, 0];
  private primed = false;
  private integ = 0;
  private ul = 0;

  constructor(spec: PitchLawSpec, state: AbstractState = INITIAL_STATE) {
    validateSpec(spec);
    this.spec = spec;
    this.m = realize(spec);
    const dt = 1 / spec.frameRate;
    this.rateStep = spec.maxRate * dt;
    this.kiDt = spec.ki * dt;
    this.importState(state);
  }

  step(inputs: AnyLawInputs): Command {
    const s = this.spec;
    const { pitchCommand, pitch, sensorMode } = lawInputsOf(s, inputs);
    // Discrete fields first, on the inputs as delivered (spec.ts).
    const commandLimited = isCommandLimited(s, pitchCommand);
    // An invalid pilot command holds the reference: r = rf, which is w[0] (rf maps to itself).
    const r =
      pitchCommand !== null
        ? Math.min(s.maxPitchCommand, Math.max(-s.maxPitchCommand, pitchCommand))
        : this.w[0];
    // No voted pitch holds the last measurement yp (the third spec coordinate).
    const y = pitch ?? this.specState()[2];
    if (!this.primed) {
      this.setSpecState(this.w[0], 0, y);
      this.primed = true;
    }
    const v: [number, number] = [r, y];
    const linear = dot3(this.m.cu, this.w) + this.m.du[0] * v[0] + this.m.du[1] * v[1];
    const e = dot3(this.m.ce, this.w) + this.m.de[0] * v[0] + this.m.de[1] * v[1];
    const uu = linear + this.integ;
    const u = Math.min(
      s.maxDeflection,
      this.ul + this.rateStep,
      Math.max(-s.maxDeflection, this.ul - this.rateStep, uu),
    );
    const integrate = !((u < uu && e > 0) || (u > uu && e < 0));
    if (integrate)
      this.integ = Math.min(s.maxDeflection, Math.max(-s.maxDeflection, this.integ + this.kiDt * e));
    for (let i = 0; i < 3; i++) {
      const row = this.m.bw[i as 0 | 1 | 2];
      this.w[i] = this.m.lambda[i as 0 | 1 | 2] * this.w[i as 0 | 1 | 2] + row[0] * v[0] + row[1] * v[1];
    }
    this.ul = u;
    return { elevator: u, mode: sensorMode, commandLimited };
  }

  private specState(): Vec3 {
    return mulVec(this.m.v, this.w);
  }

  private setSpecState(rf: number, d: number, yp: number): void {
    this.w = mulVec(this.m.vInv, [rf, d, yp]);
  }

  exportState(): AbstractState {
    const [rf, d, yp] = this.specState();
    return {
      primed: this.primed,
      referenceFilter: rf,
      integrator: this.integ,
      rateEstimate: d,
      lastMeasurement: yp,
      lastElevator: this.ul,
    };
  }

  importState(state: AbstractState): void {
    validateState(state);
    this.primed = state.primed;
    this.setSpecState(state.referenceFilter, state.rateEstimate, state.lastMeasurement);
    this.integ = state.integrator;
    this.ul = state.lastElevator;
  }
}

/** Build the modal realization from the spec's continuous-time parameters. */
function realize(spec: PitchLawSpec): ModalRealization {
  const dt = 1 / spec.frameRate;
  const ap = Math.exp(-dt / spec.prefilterTp);
  const ad = Math.exp(-dt / spec.tauD);
  const cd = (1 - ad) / dt;
  const g = spec.prefilterTz / spec.prefilterTp;
  if (!(ad > 1e-9))
    throw new RangeError('ModalPitchLaw: rate filter pole too fast for a well-conditioned basis');
  const v: [Vec3, Vec3, Vec3] = [
    [1, 0, 0],
    [0, 1, cd],
    [0, 0, ad],
  ];
  const vInv: [Vec3, Vec3, Vec3] = [
    [1, 0, 0],
    [0, 1, -cd / ad],
    [0, 0, 1 / ad],
  ];
  const b: Mat3x2 = [
    [1 - ap, 0],
    [0, cd],
    [0, 1],
  ];
  // Spec-coordinate output rows (uses z before the update and v of this frame):
  //   rs = (1 - g)(ap rf + (1 - ap) r) + g r;   d' = ad d - cd yp + cd y
  //   ul = kp (rs - y) - kd d';   e = rs - y
  const ceZ: Vec3 = [(1 - g) * ap, 0, 0];
  const deV: [number, number] = [(1 - g) * (1 - ap) + g, -1];
  const cuZ: Vec3 = [spec.kp * ceZ[0], -spec.kd * ad, spec.kd * cd];
  const duV: [number, number] = [spec.kp * deV[0], -spec.kp - spec.kd * cd];
  const bw = [0, 1, 2].map((i) => [
    dot3(vInv[i as 0 | 1 | 2], [b[0][0], b[1][0], b[2][0]]),
    dot3(vInv[i as 0 | 1 | 2], [b[0][1], b[1][1], b[2][1]]),
  ]) as Mat3x2;
  return {
    lambda: [ap, ad, 0],
    bw,
    cu: rowTimes(cuZ, v),
    du: duV,
    ce: rowTimes(ceZ, v),
    de: deV,
    v,
    vInv,
  };
}

function dot3(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

function mulVec(m: [Vec3, Vec3, Vec3], x: Vec3): Vec3 {
  return [dot3(m[0], x), dot3(m[1], x), dot3(m[2], x)];
}

/** Row vector times matrix: (c V)_j = sum_i c_i V_ij. */
function rowTimes(c: Vec3, m: [Vec3, Vec3, Vec3]): Vec3 {
  return [0, 1, 2].map((j) => c[0] * m[0][j as 0] + c[1] * m[1][j as 0] + c[2] * m[2][j as 0]) as Vec3;
}
