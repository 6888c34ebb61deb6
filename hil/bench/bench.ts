/**
 * A bench: the boards the rig flies, wherever they run. The rig (hil/rig.ts) owns the plant, the sensors, the
 * pilot and the frame clock; a bench owns the boards and carries out the faults that need them.
 *
 * - EmulatedBench (emulated.ts): every board in this process on a memory hub, under virtual time (lockstep,
 *   bit-for-bit repeatable) or real timers.
 * - ProcessBench (process.ts): the rig's board here on real links; the other boards real hardware or emulated
 *   board processes, as discovery found them.
 * - LoopBench (legacy.ts): any ControlLoop (src/runtime/node/control-loop.ts), for the built-in scenarios of
 *   `triplex sim`.
 */
import type { Command } from '../../src/core/control/spec.ts';
import type { Prng } from '../../src/core/prng.ts';
import type { ChannelEvent, ChannelHealth, DecisionRecord } from '../../src/core/vote/voter.ts';
import type { Counters } from '../../src/runtime/loop/counters.ts';
import type { VoterEvent } from '../../src/runtime/loop/ports.ts';
import type { Backend } from '../grid.ts';
import type { Resolved } from '../scenario/targets.ts';

/** What one input unit submits this frame. */
export interface UnitSample {
  readonly stick: number;
  readonly pitch: number | null;
  /** Submitted this many ms after the frame starts (an input unit's `slow` fault). */
  readonly lateMs?: number;
}

/** What the rig hears from the boards: the voter's decisions and channel events, the readback of each output. */
export interface BenchHooks {
  readonly onDecision: (record: DecisionRecord<Command>) => void;
  readonly onChannelEvents: (events: readonly ChannelEvent[]) => void;
  /** An authentic channel OUTPUT as it reached the voter (the actuator readback of each channel). */
  readonly onOutput: (channel: number, frame: number, command: Command) => void;
  /** The voter's own hang, watchdog reset and rejoin (the `voter hang` fault). */
  readonly onVoterEvent?: (event: VoterEvent) => void;
}

/** A fault the bench carries out: a resolved target, a type that is not `intermittent` (the rig toggles those). */
export interface BenchFault {
  readonly target: Resolved;
  readonly type: string;
  /** The cell's severity (the scenario's or the cell's fallback), when the cell has one. */
  readonly severity: number | undefined;
  /** First frame it applies to. */
  readonly frame: number;
}

export type FaultHandle =
  | { readonly applied: true; readonly detail: string; readonly clear?: () => string }
  | { readonly applied: false; readonly reason: string };

/** One board of the bench, as the report's board table shows it. */
export interface BoardInfo {
  readonly name: string;
  readonly roles: readonly string[];
  readonly mode: Backend | 'rig';
  /** The link or port the board is reached by. */
  readonly link: string;
  /** Why it runs where it runs (discovery's verdict). */
  readonly why: string;
  readonly pid?: number;
  /** What the board answered to the rig protocol hello. */
  readonly hello?: { readonly version: string; readonly wire: number; readonly keyId: string };
}

export interface Bench {
  /** 'lockstep' (virtual time) or 'realtime'. */
  readonly timing: 'lockstep' | 'realtime';
  readonly periodMs: number;
  readonly counters: Counters;
  start(): Promise<void>;
  /** Time at which frame k starts (scheduler ms). */
  frameTime(frame: number): number;
  /** Frame k starts now: each unit's sample (null: the unit submits nothing); the voter arms the deadline. */
  startFrame(frame: number, samples: readonly (UnitSample | null)[]): void;
  /** The current view and primary, as far as the bench knows. */
  view(): { view: number; primary: number };
  /** Carries out a fault, or says why it cannot. */
  apply(fault: BenchFault, rng: Prng): FaultHandle;
  channelRunning(channel: number): boolean;
  voterHealth(): readonly ChannelHealth[];
  boards(): readonly BoardInfo[];
  close(): Promise<void>;
}

export type BenchFactory = (hooks: BenchHooks) => Bench;

/** Channel fault kinds (channel-fault.ts) behind the generic channel types. */
export const CHANNEL_KIND_OF: Readonly<Record<string, string>> = {
  off: 'silent',
  stuck: 'stuck',
  garbage: 'random',
  wrong: 'oscillating',
  slow: 'late',
  hang: 'silent',
};

/** Catalog replica behaviours behind the generic replica types. */
export const REPLICA_BEHAVIOUR_OF: Readonly<Record<string, string>> = {
  off: 'silent',
  garbage: 'random-bytes',
  wrong: 'equivocate',
  slow: 'slow-primary',
};
