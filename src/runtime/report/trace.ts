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

/** How the voter saw one channel at the end of a frame (the live status shows the same states). */
export type ChannelState = 'ok' | 'striking' | 'latched' | 'probation' | 'silent' | 'down';

export interface ChannelSample {
  readonly strikes: number;
  readonly state: ChannelState;
}

/** What the flight measured around frame `frame`, besides the rig's record of it. */
export interface FrameSample {
  readonly frame: number;
  /** Worst event-loop delay of this process during the frame, ms (a timer that ran late by this much). */
  readonly loopDelayMs: number;
  /** How late the next frame's timer ran, ms: how far this process fell behind its frame schedule. */
  readonly lagMs: number;
  /**
   * Time the JavaScript thread spent runnable but waiting for a CPU during the frame, ms (Linux schedstat; absent
   * elsewhere): a busy machine starving the process in short slices shows here while no single delay is long.
   */
  readonly cpuWaitMs?: number;
  /** Per channel, in channel id order. */
  readonly channels: readonly ChannelSample[];
}

/** A counter that moved during a frame: a link's error or drop count, or a runtime counter. */
export interface Incident {
  readonly frame: number;
  /** The link (`link aiu`, `link aiu-b0`) or `counters` for the runtime's own counters. */
  readonly source: string;
  readonly counter: string;
  readonly delta: number;
}

/** A flight's whole record: the rig's trace plus what the flight measured per frame. */
export interface FlightTrace extends Trace {
  readonly samples: FrameSample[];
  readonly incidents: Incident[];
  /** Incidents not kept once the list was full (the list is bounded). */
  incidentsDropped: number;
}
