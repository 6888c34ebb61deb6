/**
 * The output voter's configuration, records and results (the rules are in voter.ts).
 */
import type { AnalogField, CommandShape, FieldRules, RoundReason } from './select.ts';

/** Receipts remembered behind the next frame when a config does not say (about 1 s at 64 Hz). */
export const DEFAULT_RECEIPT_WINDOW = 64;

export interface VoterTiming {
  /** Time at which frame 0 starts. */
  readonly origin: number;
  /** Frame period. */
  readonly period: number;
  /** Offset of a frame's deadline from its start (outputs after it are late). */
  readonly deadline: number;
}

/** Deadline of a frame in caller time: (origin + frame * period) + deadline (the TS voter's and the firmware's). */
export function frameDeadline(t: VoterTiming, frame: number): number {
  return t.origin + frame * t.period + t.deadline;
}

export interface VoterConfig<C extends CommandShape<C>> extends FieldRules<C> {
  /** Channel ids, m of them (m >= 2f + 1). */
  readonly channels: readonly string[];
  /** Byzantine channels tolerated. */
  readonly f: number;
  /** Strikes at which a channel is latched failed. */
  readonly strikeThreshold: number;
  /** Consecutive agreeing judgments that remove one strike. */
  readonly strikeDecayFrames: number;
  /** Consecutive agreeing judgments a latched channel needs to be reintegrated. */
  readonly probationFrames: number;
  /** Consecutive missed frames after which the failsafe command is written. */
  readonly failsafeAfterMisses: number;
  readonly failsafe: C;
  /** Held before the first successful vote. */
  readonly initial: C;
  readonly timing: VoterTiming;
  /** The first frame to decide. */
  readonly firstFrame: number;
  /** Outputs for frames further ahead than this are rejected (bounds the buffer). */
  readonly maxFramesAhead: number;
  /** Frames behind the next one whose receipts are remembered (default DEFAULT_RECEIPT_WINDOW). */
  readonly receiptWindow?: number;
}

export type RejectReason = 'unknown-channel' | 'malformed' | 'duplicate' | 'late' | 'stale' | 'too-far-ahead';

export type ChannelEvent =
  | { readonly kind: 'strike'; readonly channel: string; readonly frame: number; readonly strikes: number }
  | { readonly kind: 'latched'; readonly channel: string; readonly frame: number }
  | { readonly kind: 'reintegrated'; readonly channel: string; readonly frame: number };

/** Frame k's judgment: R fixed, and who was compared with it. */
export interface FrameJudgment<C> {
  readonly frame: number;
  /** When it was fixed (caller time). */
  readonly time: number;
  /** R over the in-time voted outputs; null when there is none. */
  readonly reference: C | null;
  /** Strikes and credits were given (the round was judgeable). */
  readonly judged: boolean;
  /** Channels compared with R, by outcome, in channel order (empty unless judged). */
  readonly agreed: string[];
  readonly dissenters: string[];
  readonly events: ChannelEvent[];
}

export type OfferResult<C = unknown> =
  | {
      readonly accepted: true;
      /** Buffered for a frame not yet written; `ready`: the caller may `decide` it now. */
      readonly status: 'buffered';
      readonly ready: boolean;
      /** Same as `ready` (the earlier name). */
      readonly majorityReady: boolean;
      readonly events: ChannelEvent[];
      readonly judgments: FrameJudgment<C>[];
    }
  | {
      readonly accepted: true;
      /** In time for a frame already written early: it joins that frame's judgment. */
      readonly status: 'monitored';
      readonly ready: false;
      readonly majorityReady: false;
      /** Events of judgments this output completed (and its own comparison, if R was already fixed). */
      readonly events: ChannelEvent[];
      readonly judgments: FrameJudgment<C>[];
    }
  | { readonly accepted: false; readonly reason: RejectReason };

export type DecisionKind = 'write' | 'hold' | 'failsafe';
export type DecisionReason = RoundReason;

/** One frame's decision, for the recorder. */
export interface DecisionRecord<C extends CommandShape<C>> {
  readonly frame: number;
  readonly time: number;
  readonly kind: DecisionKind;
  /** What the actuator gets this frame (written, held or failsafe). */
  readonly value: C;
  readonly reason: DecisionReason;
  /** Decided before the deadline. */
  readonly early: boolean;
  /** Written by the early round (its value's supporters are within the early band). */
  readonly earlyRound: boolean;
  /** Channels whose output was in time for this decision (voted or latched), in channel order. */
  readonly reported: string[];
  /** Voted channels that support the written value (empty unless kind = write). */
  readonly contributors: string[];
  /** Channels struck in this frame's judgment, if it was fixed by this decision (else see `judgments`). */
  readonly dissenters: string[];
  /** Non-latched channels with no output in time for this decision. */
  readonly missing: string[];
  /** Channels latched after this decision. */
  readonly latched: string[];
  readonly strikes: Record<string, number>;
  /** Events of every judgment fixed during this call (`judgments`), in order. */
  readonly events: ChannelEvent[];
  /** Judgments fixed during this call: earlier frames whose deadline passed, then this frame's if fixed. */
  readonly judgments: FrameJudgment<C>[];
  readonly consecutiveMisses: number;
}

/**
 * `decide` before the deadline found the frame no longer ready: closeDue, run first, judged an earlier frame and
 * latched one of this frame's early supporters (or the call was early and the frame never ready). Nothing is
 * written, the frame stays next, and its deadline decides it. `judgments` are those closeDue fixed.
 */
export interface DeclinedDecision<C> {
  readonly kind: 'declined';
  readonly frame: number;
  readonly time: number;
  /** Events of `judgments`, in order. */
  readonly events: ChannelEvent[];
  readonly judgments: FrameJudgment<C>[];
}

/** What `decide` returns: the frame's decision, or an early decision declined. */
export type Decision<C extends CommandShape<C>> = DecisionRecord<C> | DeclinedDecision<C>;

export interface ChannelHealth {
  readonly channel: string;
  readonly latched: boolean;
  readonly strikes: number;
  readonly latchCount: number;
  readonly probation: number;
  readonly inTime: number;
  readonly late: number;
  readonly silentFrames: number;
  readonly consecutiveSilent: number;
}

export interface VoterStats {
  readonly decisions: Record<DecisionKind, number>;
  readonly rejections: Record<RejectReason, number>;
  /** Early decisions declined (DeclinedDecision). */
  readonly declined: number;
  readonly nextFrame: number;
}

export function validateVoterConfig<C extends CommandShape<C>>(c: VoterConfig<C>): void {
  const fail = (msg: string): never => {
    throw new RangeError(`VoterConfig: ${msg}`);
  };
  if (!Number.isInteger(c.f) || c.f < 0) fail(`f must be a non-negative integer, got ${c.f}`);
  if (new Set(c.channels).size !== c.channels.length) fail('channel ids must be unique');
  if (c.channels.length < 2 * c.f + 1) fail(`m = ${c.channels.length} < 2f+1 = ${2 * c.f + 1}`);
  for (const key of [
    'strikeThreshold',
    'strikeDecayFrames',
    'probationFrames',
    'failsafeAfterMisses',
  ] as const) {
    if (!Number.isSafeInteger(c[key]) || c[key] < 1) fail(`${key} must be a positive integer, got ${c[key]}`);
  }
  if (!Number.isSafeInteger(c.maxFramesAhead) || c.maxFramesAhead < 0 || c.maxFramesAhead > 100_000)
    fail(`maxFramesAhead must be in [0, 1e5], got ${c.maxFramesAhead}`);
  const w = c.receiptWindow ?? DEFAULT_RECEIPT_WINDOW;
  if (!Number.isSafeInteger(w) || w < 1 || w > 1_000_000) fail(`receiptWindow must be in [1, 1e6], got ${w}`);
  if (!Number.isSafeInteger(c.firstFrame) || c.firstFrame < 0)
    fail('firstFrame must be a non-negative integer');
  if (c.analog.length + c.discrete.length === 0) fail('no fields to vote');
  for (const [name, cmd] of [
    ['failsafe', c.failsafe],
    ['initial', c.initial],
  ] as const) {
    for (const a of c.analog)
      if (!Number.isFinite(cmd[a.field])) fail(`${name}.${a.field} must be a finite number`);
    for (const d of c.discrete) if (cmd[d] === undefined) fail(`${name}.${d} is missing`);
  }
  for (const a of c.analog as readonly AnalogField<C>[]) {
    if (!(a.tolerance >= 0) || !Number.isFinite(a.tolerance)) fail(`bad tolerance for ${a.field}`);
    if (a.earlyBand !== undefined && !(a.earlyBand >= 0 && a.earlyBand <= a.tolerance))
      fail(`earlyBand of ${a.field} must be in [0, tolerance], got ${a.earlyBand}`);
  }
  const t = c.timing;
  if (!(t.period > 0) || !Number.isFinite(t.origin) || !(t.deadline >= 0) || !Number.isFinite(t.deadline))
    fail('bad timing');
}
