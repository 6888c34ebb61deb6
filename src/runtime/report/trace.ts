/** What the loop records each frame and at each notable event: the input of every report format. */

export type VoterOutcome = 'write' | 'hold' | 'failsafe';

export interface FrameRecord {
  readonly frame: number;
  /** Simulated seconds since the start. */
  readonly t: number;
  /** Pilot pitch command, rad. */
  readonly reference: number;
  /** True pitch angle of the plant, rad. */
  readonly theta: number;
  /** Elevator position at the actuator, rad. */
  readonly elevator: number;
  /** Value the voter wrote (or held), rad. */
  readonly voted: number;
  readonly outcome: VoterOutcome;
  /** Each channel's elevator command for this frame, null when none arrived in time. */
  readonly channels: readonly (number | null)[];
  readonly view: number;
  readonly primary: number;
  /** Input sampled to actuator written, milliseconds (real time in `sim`, virtual time in tests). */
  readonly latencyMs: number;
}

export interface EventRecord {
  readonly frame: number;
  readonly t: number;
  readonly kind: string;
  readonly detail: string;
}

export interface Trace {
  readonly frames: FrameRecord[];
  readonly events: EventRecord[];
}
