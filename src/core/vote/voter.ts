/**
 * Output voter for one actuator: a pure state machine driven by `offer` (a channel's OUTPUT arrived)
 * and `decide` (the frame's deadline, or earlier once a majority is in). Time is whatever number the
 * caller passes as `now`, in the same unit as `timing`.
 *
 * Rules (see DESIGN.md, Voting):
 * - discrete fields: exact majority, f+1 identical values;
 * - analog fields: mid-value select over the non-latched channels that reported in time; the written
 *   command must be within tolerance (and equal on discrete fields) of at least f+1 reported commands,
 *   otherwise the frame is a miss: hold the last written command; after N consecutive misses, failsafe;
 * - a channel whose command is outside tolerance of the written one gets a strike; a strike is worked
 *   off by `strikeDecayFrames` agreeing frames; at `strikeThreshold` strikes it is latched (no longer
 *   voted, still compared) and reintegrated after `probationFrames` consecutive agreeing frames;
 * - silence and lateness are NOT strikes: they are counted per channel. A channel that says nothing
 *   cannot corrupt the vote, and latching it would only delay its return after a restart;
 * - bad messages (unknown channel, malformed, duplicate, late, stale, too far ahead) are counted
 *   rejections, never exceptions. Exceptions are reserved for caller bugs and violated invariants.
 */

export type FieldValue = number | string | boolean;
/** Any command type whose fields are all analog or discrete values (interfaces included). */
export type CommandShape<C> = { readonly [K in keyof C]: FieldValue };

export interface AnalogField<C extends CommandShape<C>> {
  readonly field: keyof C & string;
  /** Two values agree when |a - b| <= tolerance. */
  readonly tolerance: number;
}

export interface VoterTiming {
  /** Time at which frame 0 starts. */
  readonly origin: number;
  /** Frame period. */
  readonly period: number;
  /** Offset of a frame's deadline from its start (outputs after it are late). */
  readonly deadline: number;
}

export interface VoterConfig<C extends CommandShape<C>> {
  /** Channel ids, m of them (m >= 2f + 1). */
  readonly channels: readonly string[];
  /** Byzantine channels tolerated. */
  readonly f: number;
  readonly analog: readonly AnalogField<C>[];
  readonly discrete: readonly (keyof C & string)[];
  /** Strikes at which a channel is latched failed. */
  readonly strikeThreshold: number;
  /** Consecutive agreeing frames that remove one strike. */
  readonly strikeDecayFrames: number;
  /** Consecutive agreeing frames a latched channel needs to be reintegrated. */
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
}

export type RejectReason = 'unknown-channel' | 'malformed' | 'duplicate' | 'late' | 'stale' | 'too-far-ahead';

export type ChannelEvent =
  | { readonly kind: 'strike'; readonly channel: string; readonly frame: number; readonly strikes: number }
  | { readonly kind: 'latched'; readonly channel: string; readonly frame: number }
  | { readonly kind: 'reintegrated'; readonly channel: string; readonly frame: number };

export type OfferResult =
  | { readonly accepted: true; readonly status: 'buffered'; readonly majorityReady: boolean }
  /** Arrived in time but after an early decision: compared with the written command for health only. */
  | {
      readonly accepted: true;
      readonly status: 'monitored';
      readonly agreed: boolean;
      readonly events: ChannelEvent[];
    }
  | { readonly accepted: false; readonly reason: RejectReason };

export type DecisionKind = 'write' | 'hold' | 'failsafe';
export type DecisionReason = 'majority' | 'no-majority' | 'too-few-outputs';

/** One frame's decision, for the recorder. */
export interface DecisionRecord<C extends CommandShape<C>> {
  readonly frame: number;
  readonly time: number;
  readonly kind: DecisionKind;
  /** What the actuator gets this frame (written, held or failsafe). */
  readonly value: C;
  readonly reason: DecisionReason;
  /** Decided before the deadline (majority already in). */
  readonly early: boolean;
  /** Channels whose output was in time for this decision (voted or latched). */
  readonly reported: string[];
  /** Voted channels that support the written value (empty unless kind = write). */
  readonly contributors: string[];
  /** Reporting channels outside tolerance of the written value. */
  readonly dissenters: string[];
  /** Non-latched channels with no output in time. */
  readonly missing: string[];
  /** Channels latched after this decision. */
  readonly latched: string[];
  readonly strikes: Record<string, number>;
  readonly events: ChannelEvent[];
  readonly consecutiveMisses: number;
}

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
  readonly nextFrame: number;
}

interface ChannelState {
  strikes: number;
  agreeStreak: number;
  latched: boolean;
  probation: number;
  latchCount: number;
  inTime: number;
  late: number;
  silentFrames: number;
  consecutiveSilent: number;
}

interface LastDecision<C> {
  readonly frame: number;
  readonly deadline: number;
  readonly written: C | null;
  /** Channels that may still deliver in time after an early decision. */
  readonly awaiting: Set<string>;
}

interface Vote<C> {
  readonly value: C | null;
  readonly contributors: string[];
  readonly reason: DecisionReason;
}

export class Voter<C extends CommandShape<C>> {
  readonly config: VoterConfig<C>;
  private readonly channelState = new Map<string, ChannelState>();
  private readonly pending = new Map<number, Map<string, C>>();
  private nextFrame: number;
  private lastWritten: C;
  private consecutiveMisses = 0;
  private last: LastDecision<C> | null = null;
  private readonly decisions: Record<DecisionKind, number> = { write: 0, hold: 0, failsafe: 0 };
  private readonly rejections: Record<RejectReason, number> = {
    'unknown-channel': 0,
    malformed: 0,
    duplicate: 0,
    late: 0,
    stale: 0,
    'too-far-ahead': 0,
  };

  constructor(config: VoterConfig<C>) {
    validateConfig(config);
    this.config = config;
    for (const ch of config.channels) {
      this.channelState.set(ch, {
        strikes: 0,
        agreeStreak: 0,
        latched: false,
        probation: 0,
        latchCount: 0,
        inTime: 0,
        late: 0,
        silentFrames: 0,
        consecutiveSilent: 0,
      });
    }
    this.nextFrame = config.firstFrame;
    this.lastWritten = config.initial;
  }

  /** Deadline of a frame in caller time. */
  deadlineOf(frame: number): number {
    const t = this.config.timing;
    return t.origin + frame * t.period + t.deadline;
  }

  /** A channel's OUTPUT for a frame arrived at time `now`. */
  offer(frame: number, channel: string, command: C, now: number): OfferResult {
    const st = this.channelState.get(channel);
    if (st === undefined) return this.reject('unknown-channel');
    if (!Number.isInteger(frame) || !this.wellFormed(command)) return this.reject('malformed');
    const late = now > this.deadlineOf(frame);
    if (frame < this.nextFrame) return this.offerAfterDecision(frame, channel, command, st, late);
    if (late) {
      st.late++;
      return this.reject('late');
    }
    if (frame > this.nextFrame + this.config.maxFramesAhead) return this.reject('too-far-ahead');
    let outputs = this.pending.get(frame);
    if (outputs === undefined) {
      outputs = new Map();
      this.pending.set(frame, outputs);
    }
    if (outputs.has(channel)) return this.reject('duplicate');
    outputs.set(channel, command);
    const majorityReady = frame === this.nextFrame && this.vote(outputs).value !== null;
    return { accepted: true, status: 'buffered', majorityReady };
  }

  /** True when the next frame already has a majority (the caller may decide early). */
  majorityReady(): boolean {
    const outputs = this.pending.get(this.nextFrame);
    return outputs !== undefined && this.vote(outputs).value !== null;
  }

  /** The frame the voter expects to decide next. */
  get frame(): number {
    return this.nextFrame;
  }

  /**
   * Decide `frame` (which must be the next frame: deciding is the caller's clock and a skipped or
   * repeated frame is a caller bug). Returns the record of what the actuator gets.
   */
  decide(frame: number, now: number): DecisionRecord<C> {
    if (frame !== this.nextFrame)
      throw new Error(`Voter.decide: expected frame ${this.nextFrame}, got ${frame}`);
    const events: ChannelEvent[] = [];
    this.settleAwaiting();
    const outputs = this.pending.get(frame) ?? new Map<string, C>();
    this.pending.delete(frame);
    const deadline = this.deadlineOf(frame);
    const early = now < deadline;
    const vote = this.vote(outputs);
    if (vote.value !== null) this.assertSupported(vote.value, outputs);

    const dissenters: string[] = [];
    if (vote.value !== null) {
      for (const [ch, cmd] of outputs) {
        if (!this.compare(ch, frame, cmd, vote.value, events)) dissenters.push(ch);
      }
    }
    const missing = this.config.channels.filter((ch) => !outputs.has(ch) && !this.state(ch).latched);
    for (const ch of outputs.keys()) {
      const st = this.state(ch);
      st.inTime++;
      st.consecutiveSilent = 0;
    }
    if (!early) for (const ch of missing) this.countSilent(ch);

    const { kind, value } = this.outcome(vote.value);
    this.decisions[kind]++;
    this.last = {
      frame,
      deadline,
      written: vote.value,
      // Latched channels too: they are still compared after an early decision, or probation could only
      // progress on frames where the latched channel happened to report before the majority.
      awaiting: new Set(early ? this.config.channels.filter((ch) => !outputs.has(ch)) : []),
    };
    this.nextFrame = frame + 1;
    this.dropStale();
    return {
      frame,
      time: now,
      kind,
      value,
      reason: vote.reason,
      early,
      reported: [...outputs.keys()],
      contributors: vote.contributors,
      dissenters,
      missing,
      latched: this.config.channels.filter((ch) => this.state(ch).latched),
      strikes: Object.fromEntries(this.config.channels.map((ch) => [ch, this.state(ch).strikes])),
      events,
      consecutiveMisses: this.consecutiveMisses,
    };
  }

  health(): ChannelHealth[] {
    return this.config.channels.map((channel) => {
      const s = this.state(channel);
      return {
        channel,
        latched: s.latched,
        strikes: s.strikes,
        latchCount: s.latchCount,
        probation: s.probation,
        inTime: s.inTime,
        late: s.late,
        silentFrames: s.silentFrames,
        consecutiveSilent: s.consecutiveSilent,
      };
    });
  }

  stats(): VoterStats {
    return {
      decisions: { ...this.decisions },
      rejections: { ...this.rejections },
      nextFrame: this.nextFrame,
    };
  }

  /** The command the actuator currently holds. */
  get current(): C {
    return this.lastWritten;
  }

  private outcome(voted: C | null): { kind: DecisionKind; value: C } {
    if (voted !== null) {
      this.consecutiveMisses = 0;
      this.lastWritten = voted;
      return { kind: 'write', value: voted };
    }
    this.consecutiveMisses++;
    if (this.consecutiveMisses >= this.config.failsafeAfterMisses) {
      this.lastWritten = this.config.failsafe;
      return { kind: 'failsafe', value: this.config.failsafe };
    }
    return { kind: 'hold', value: this.lastWritten };
  }

  /** An output for a frame already decided: monitor it if it was in time, else count it. */
  private offerAfterDecision(
    frame: number,
    channel: string,
    command: C,
    st: ChannelState,
    late: boolean,
  ): OfferResult {
    const last = this.last;
    if (late) {
      st.late++;
      return this.reject('late');
    }
    if (last === null || last.frame !== frame) return this.reject('stale');
    if (!last.awaiting.delete(channel)) return this.reject('duplicate');
    st.inTime++;
    st.consecutiveSilent = 0;
    const events: ChannelEvent[] = [];
    const agreed = last.written === null ? true : this.compare(channel, frame, command, last.written, events);
    return { accepted: true, status: 'monitored', agreed, events };
  }

  /** Channels that never delivered after the previous early decision were silent for that frame. */
  private settleAwaiting(): void {
    if (this.last === null) return;
    for (const ch of this.last.awaiting) this.countSilent(ch);
    this.last.awaiting.clear();
  }

  private countSilent(ch: string): void {
    const st = this.state(ch);
    st.silentFrames++;
    st.consecutiveSilent++;
  }

  /** Mid-value select per analog field, exact majority per discrete field, then whole-command support. */
  private vote(outputs: Map<string, C>): Vote<C> {
    const f = this.config.f;
    const voters = [...outputs].filter(([ch]) => !this.state(ch).latched);
    if (voters.length < f + 1) return { value: null, contributors: [], reason: 'too-few-outputs' };
    const value: Record<string, FieldValue> = {};
    for (const { field } of this.config.analog) {
      value[field] = midValue(voters.map(([, cmd]) => cmd[field] as number));
    }
    for (const field of this.config.discrete) {
      const winner = majority(
        voters.map(([, cmd]) => cmd[field] as FieldValue),
        f + 1,
      );
      if (winner === undefined) return { value: null, contributors: [], reason: 'no-majority' };
      value[field] = winner;
    }
    const selected = value as C;
    const contributors = voters.filter(([, cmd]) => this.agrees(cmd, selected)).map(([ch]) => ch);
    if (contributors.length < f + 1) return { value: null, contributors: [], reason: 'no-majority' };
    return { value: selected, contributors, reason: 'majority' };
  }

  /** The voter's last line: a written command is supported by at least f+1 voted outputs. */
  private assertSupported(value: C, outputs: Map<string, C>): void {
    let support = 0;
    for (const [ch, cmd] of outputs) if (!this.state(ch).latched && this.agrees(cmd, value)) support++;
    if (support < this.config.f + 1) {
      throw new Error(`Voter invariant violated: writing a value supported by ${support} < f+1 channels`);
    }
  }

  private agrees(cmd: C, value: C): boolean {
    for (const { field, tolerance } of this.config.analog) {
      if (!(Math.abs((cmd[field] as number) - (value[field] as number)) <= tolerance)) return false;
    }
    for (const field of this.config.discrete) if (cmd[field] !== value[field]) return false;
    return true;
  }

  /** Compare one channel's output with the written command: strike, decay, latch, probation. */
  private compare(ch: string, frame: number, cmd: C, written: C, events: ChannelEvent[]): boolean {
    const st = this.state(ch);
    const cfg = this.config;
    if (this.agrees(cmd, written)) {
      st.agreeStreak++;
      if (st.agreeStreak % cfg.strikeDecayFrames === 0 && st.strikes > 0) st.strikes--;
      if (st.latched) {
        st.probation++;
        if (st.probation >= cfg.probationFrames) {
          st.latched = false;
          st.strikes = 0;
          st.probation = 0;
          events.push({ kind: 'reintegrated', channel: ch, frame });
        }
      }
      return true;
    }
    st.agreeStreak = 0;
    st.probation = 0;
    st.strikes = Math.min(cfg.strikeThreshold, st.strikes + 1);
    events.push({ kind: 'strike', channel: ch, frame, strikes: st.strikes });
    if (!st.latched && st.strikes >= cfg.strikeThreshold) {
      st.latched = true;
      st.latchCount++;
      events.push({ kind: 'latched', channel: ch, frame });
    }
    return false;
  }

  private wellFormed(command: C): boolean {
    if (typeof command !== 'object' || command === null) return false;
    for (const { field } of this.config.analog) {
      const v = command[field];
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    }
    for (const field of this.config.discrete) {
      const v = command[field];
      if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') return false;
    }
    return true;
  }

  private dropStale(): void {
    for (const frame of this.pending.keys()) if (frame < this.nextFrame) this.pending.delete(frame);
  }

  private reject(reason: RejectReason): OfferResult {
    this.rejections[reason]++;
    return { accepted: false, reason };
  }

  private state(ch: string): ChannelState {
    const st = this.channelState.get(ch);
    if (st === undefined) throw new Error(`Voter: unknown channel ${ch}`);
    return st;
  }
}

/** Mid-value select: the median, or the mean of the two middle values for an even count. */
export function midValue(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('midValue: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const hi = sorted[sorted.length >> 1] as number;
  const lo = sorted[(sorted.length - 1) >> 1] as number;
  return lo + (hi - lo) / 2;
}

/** The value with at least `quorum` identical votes, if exactly one value has the most votes. */
export function majority(values: readonly FieldValue[], quorum: number): FieldValue | undefined {
  const counts = new Map<FieldValue, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: FieldValue | undefined;
  let bestCount = 0;
  let tie = false;
  for (const [v, n] of counts) {
    if (n > bestCount) {
      best = v;
      bestCount = n;
      tie = false;
    } else if (n === bestCount) {
      tie = true;
    }
  }
  return bestCount >= quorum && !tie ? best : undefined;
}

function validateConfig<C extends CommandShape<C>>(c: VoterConfig<C>): void {
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
    if (!Number.isInteger(c[key]) || c[key] < 1) fail(`${key} must be a positive integer, got ${c[key]}`);
  }
  if (!Number.isInteger(c.maxFramesAhead) || c.maxFramesAhead < 0) fail('maxFramesAhead must be >= 0');
  if (!Number.isInteger(c.firstFrame)) fail('firstFrame must be an integer');
  if (c.analog.length + c.discrete.length === 0) fail('no fields to vote');
  for (const [name, cmd] of [
    ['failsafe', c.failsafe],
    ['initial', c.initial],
  ] as const) {
    for (const a of c.analog)
      if (!Number.isFinite(cmd[a.field])) fail(`${name}.${a.field} must be a finite number`);
    for (const d of c.discrete) if (cmd[d] === undefined) fail(`${name}.${d} is missing`);
  }
  for (const a of c.analog)
    if (!(a.tolerance >= 0) || !Number.isFinite(a.tolerance)) fail(`bad tolerance for ${a.field}`);
  const t = c.timing;
  if (!(t.period > 0) || !Number.isFinite(t.origin) || !(t.deadline >= 0)) fail('bad timing');
}
