import { at, expm, type Matrix } from './matrix.ts';

/**
 * Linearized longitudinal pitch dynamics of a Boeing commercial aircraft, from the University of Michigan
 * "Control Tutorials for MATLAB and Simulink", Aircraft Pitch: System Modeling.
 *
 *   d(alpha)/dt = -0.313 alpha + 56.7 q + 0.232 delta
 *   d(q)/dt     = -0.0139 alpha - 0.426 q + 0.0203 delta
 *   d(theta)/dt = 56.7 q
 *
 * State x = [alpha, q, theta] (angle of attack, pitch rate as scaled in the tutorial, pitch angle; rad),
 * input delta (elevator deflection, rad), output theta (rad).
 */
export const PITCH_A: readonly (readonly number[])[] = [
  [-0.313, 56.7, 0],
  [-0.0139, -0.426, 0],
  [0, 56.7, 0],
];
export const PITCH_B: readonly number[] = [0.232, 0.0203, 0];

/** Plant state [alpha, q, theta] in rad (q as scaled by the tutorial model). */
export interface PitchState {
  readonly alpha: number;
  readonly q: number;
  readonly theta: number;
}

export const PITCH_TRIM: PitchState = { alpha: 0, q: 0, theta: 0 };

/** Zero-order-hold discretization: x[k+1] = Ad x[k] + Bd u[k] for a frame period dt. */
export interface DiscreteModel {
  readonly dt: number;
  readonly ad: Matrix;
  readonly bd: number[];
}

/**
 * Exact ZOH discretization of (A, B) at period dt: the exponential of the augmented matrix
 * [[A, B], [0, 0]] * dt holds Ad in its top-left block and Bd in its last column.
 */
export function discretizeZoh(
  a: readonly (readonly number[])[],
  b: readonly number[],
  dt: number,
): DiscreteModel {
  if (!(dt > 0) || !Number.isFinite(dt)) throw new RangeError(`discretizeZoh: dt must be > 0, got ${dt}`);
  const n = a.length;
  const aug: Matrix = [];
  for (let i = 0; i < n; i++) {
    const row = a[i];
    if (row === undefined || row.length !== n) throw new RangeError('discretizeZoh: A must be square');
    aug.push([...row.map((v) => v * dt), (b[i] ?? Number.NaN) * dt]);
  }
  aug.push(new Array<number>(n + 1).fill(0));
  const e = expm(aug);
  const ad: Matrix = [];
  const bd: number[] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) row.push(at(e, i, j));
    ad.push(row);
    bd.push(at(e, i, n));
  }
  return { dt, ad, bd };
}

/** The pitch model discretized at a frame rate (Hz). */
export function pitchModelAt(frameRate: number): DiscreteModel {
  if (!(frameRate > 0) || !Number.isFinite(frameRate)) {
    throw new RangeError(`pitchModelAt: frame rate must be > 0, got ${frameRate}`);
  }
  return discretizeZoh(PITCH_A, PITCH_B, 1 / frameRate);
}

/**
 * The pitch plant advanced one frame at a time with the elevator held constant over the frame (ZOH),
 * which is exact for a piecewise-constant elevator.
 */
export class PitchPlant {
  readonly model: DiscreteModel;
  private x: [number, number, number];

  constructor(frameRate: number, initial: PitchState = PITCH_TRIM) {
    this.model = pitchModelAt(frameRate);
    this.x = [initial.alpha, initial.q, initial.theta];
  }

  /** Advance one frame with elevator deflection delta (rad); returns the new state. */
  step(delta: number): PitchState {
    if (!Number.isFinite(delta)) throw new RangeError(`PitchPlant.step: non-finite elevator ${delta}`);
    const { ad, bd } = this.model;
    const [a0, q0, t0] = this.x;
    const next: [number, number, number] = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      next[i] = at(ad, i, 0) * a0 + at(ad, i, 1) * q0 + at(ad, i, 2) * t0 + (bd[i] ?? 0) * delta;
    }
    this.x = next;
    return this.state;
  }

  get state(): PitchState {
    return { alpha: this.x[0], q: this.x[1], theta: this.x[2] };
  }

  get theta(): number {
    return this.x[2];
  }

  reset(state: PitchState = PITCH_TRIM): void {
    this.x = [state.alpha, state.q, state.theta];
  }
}

/** Continuous-time derivative of the pitch model (used by tests to check the discretization). */
export function pitchDerivative(x: readonly number[], delta: number): number[] {
  return PITCH_A.map((row, i) => row.reduce((s, v, j) => s + v * (x[j] ?? 0), 0) + (PITCH_B[i] ?? 0) * delta);
}
