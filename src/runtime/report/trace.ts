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

/** How the channels' input voters judge an input unit at the end of a frame (the live status shows the same). */
export type InputState = 'ok' | 'striking' | 'latched' | 'probation' | 'silent';

export interface InputSample {
  /** Strikes summed over the unit's fields (stick, pitch). */
  readonly strikes: number;
  readonly state: InputState;
}

/** The part of an input unit's health (src/core/frame/inputs.ts UnitHealth) its state is judged from. */
export interface InputHealthLike {
  readonly latched: boolean;
  readonly fields: Readonly<
    Record<string, { readonly strikes: number; readonly probation: number; readonly latched: boolean }>
  >;
}

/**
 * An input unit's state from its health: latched on any field (probation once it agrees again), striking on any,
 * silent when the frame executed without its sample (`silent`), else ok.
 */
export function inputStateOf(u: InputHealthLike, silent: boolean): InputSample {
  const fields = Object.values(u.fields);
  const strikes = fields.reduce((n, f) => n + f.strikes, 0);
  if (u.latched) {
    const probation = fields.some((f) => f.latched && f.probation > 0);
    return { strikes, state: probation ? 'probation' : 'latched' };
  }
  if (strikes > 0) return { strikes, state: 'striking' };
  return { strikes, state: silent ? 'silent' : 'ok' };
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
  /** Garbage-collection pauses of this process during the frame, ms (absent: none). */
  readonly gcMs?: number;
  /** Per channel, in channel id order. */
  readonly channels: readonly ChannelSample[];
  /** Per input unit, in unit order, as the channels' input voters judge them (absent: not reachable). */
  readonly inputs?: readonly InputSample[];
  /**
   * When the frame's authentic channel outputs reached the voter's board, ms after the frame's start, ascending
   * (board processes only: the links' latency; absent in-process).
   */
  readonly outputsMs?: readonly number[];
}

/** A host stall a board process measured on itself and reported to the rig's process, placed on its frames. */
export interface RemoteStall {
  readonly board: string;
  /** Frames the board's measuring window overlapped. */
  readonly first: number;
  readonly last: number;
  /** How late the board's timers ran, how long its JS thread waited for a CPU, its GC pauses, ms. */
  readonly loopDelayMs: number;
  readonly cpuWaitMs?: number;
  readonly gcMs: number;
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
  /** Stalls the board processes reported (process mode; absent or empty otherwise). */
  readonly remoteStalls?: RemoteStall[];
}
