/**
 * Output voter for one actuator: a pure state machine driven by `offer` (a channel's OUTPUT arrived),
 * `decide` (write the next frame: at its deadline, or earlier once `ready`) and `closeDue` (a frame's
 * deadline passed). Time is whatever number the caller passes as `now`, in the unit of `timing`; nothing
 * here reads a clock. The C99 firmware ports this file; the rules below are normative, bit for bit.
 *
 * Notation. Channels are indexed 0..m-1 in `config.channels` order, and every loop below runs in that order.
 * f = config.f. T_x = the tolerance of analog field x, B_x = its early band (select.ts). Floats are IEEE 754
 * binary64, round to nearest, no fused multiply-add. deadline(k) = (origin + k * period) + deadline, evaluated
 * in that order. V, R, supporters, writable and judgeable are defined in select.ts (`voteRound`), with
 * quorum f + 1; "agrees" means within tolerance (|a - b| <= T_x on every analog field, === on every discrete
 * field) and "agrees early" the same with B_x. L = the number of latched channels at the moment of use.
 *
 * offer(k, c, cmd, now), in this order; each rejection increments rejections[reason] and nothing else:
 *   1. c unknown -> 'unknown-channel'. 2. k not an integer in [0, 2^53) or cmd not well formed (analog finite,
 *   discrete a number, string or boolean) -> 'malformed'. 3. k > next + maxFramesAhead -> 'too-far-ahead'.
 *   4. k < next - receiptWindow -> 'stale'. 5. c's receipt ring already holds k -> 'duplicate' (a replay or
 *   a retransmission: never counted against c). 6. Record k in c's ring. 7. now > deadline(k) -> late[c] += 1,
 *   'late' (the first copy after the deadline: genuinely late). 8. Frame k already closed -> 'stale'.
 *   9. Accept: store cmd as c's output for k; inTime[c] += 1; consecutiveSilent[c] = 0. If k is not yet
 *   written, the result says whether `decide(k)` may run now (`ready`). If k was written early and its
 *   reference is not fixed, fix it once every non-latched channel has reported (below). If the reference
 *   was fixed before cmd arrived (c was latched then), c alone is judged against R if the frame is judged.
 *   The frame closes once every channel has reported and R is fixed.
 *
 * ready(k) (k = next, before deadline(k)): every non-latched channel has reported ("complete"), or the early
 *   round is writable: R = reference of V, and at least f + 1 members of V agree early with R.
 *
 * decide(k, now): k must be next (else a caller bug: Error). First closeDue(now). Then, if now >= deadline(k) or
 *   complete: the standard round (agree = within tolerance). Otherwise, if the frame is ready (re-evaluated
 *   now: closeDue may have latched one of its early supporters), the early round; if it is not, the decision
 *   is declined: nothing else changes, k stays next, declined += 1, and the result carries closeDue's
 *   judgments (the firmware does the same; a caller driven by the network must never see an exception).
 *   Written: R if writable, else nothing. Outcome: written ->
 *   consecutiveMisses = 0, the actuator gets R; not written -> consecutiveMisses += 1, the actuator gets
 *   `failsafe` if consecutiveMisses >= failsafeAfterMisses, else the last value it got (`initial` at first).
 *   next = k + 1. If the standard round was used, R is fixed now (this same round). The frame closes now if
 *   now >= deadline(k), or if R is fixed and every channel has reported. Frames below next -
 *   maxFramesAhead - 1 still open are closed (a bound; correct timing never reaches it).
 *
 * closeDue(now): every written, open frame k with deadline(k) <= now, ascending: fix R if not fixed, close.
 *
 * skipTo(k): a voter that restarted (a watchdog reset: it remembers nothing) joins at frame k > next: the
 *   frames next..k-1 were never decided and count as misses (consecutiveMisses += k - next), unwritten open
 *   frames below k are dropped (no silence counted), next = k. k <= next: nothing.
 *
 * Fixing R of frame k: the standard round over the outputs received in time so far (V = the non-latched
 *   ones). If judgeable, every channel with an output for k (latched or not) is judged against R:
 *   agrees -> HealthBook agree, else a strike (health.ts), events in channel order.
 * Closing frame k: every channel without an in-time output for k gets silentFrames += 1 and
 *   consecutiveSilent += 1. Silence and lateness are never strikes.
 *
 * Guarantees, for any behaviour (values and timing, adaptive: chosen after seeing the correct outputs) of at
 * most f faulty channels, while every correct channel's output is in time and correct outputs are pairwise
 * within S on every analog field (S <= T_x - B_x; with no early band, S <= T_x) and equal on discrete fields:
 * - no correct channel is ever struck, hence never latched: R is fixed only when V is complete or at the
 *   deadline, so V holds every non-latched correct channel, and the judgeable condition does the rest
 *   (select.ts);
 * - every frame is written (never a hold, never failsafe): with all correct outputs in V (at most f faulty),
 *   R lies within S of each correct output, so the m - f >= f + 1 correct channels support it;
 * - a written value is within T_x of every correct output: the standard R is within S; an early value has
 *   f + 1 supporters within B_x, one of them correct, so it is within B_x + S <= T_x of every correct one;
 * - never a written value that fewer than f + 1 voted channels support (asserted).
 * Latency: when correct outputs also agree pairwise within B_x, then at the last correct arrival R lies
 * between correct values (as above), within B_x of each of the m - f >= f + 1 correct ones, so the frame is
 * ready: no faulty channel can hold the write past the last correct arrival. Otherwise a silent faulty
 * channel can delay it to the deadline (never past it).
 * Replays: a channel's late count only grows for a first copy received after the deadline, and its receipt
 * memory is bounded: receiptWindow + maxFramesAhead + 1 frame numbers per channel.
 */
import { assert } from '../assert.ts';
import { HealthBook } from './health.ts';
import { ReceiptRing } from './receipts.ts';
import {
  type CommandShape,
  type FieldRules,
  type Round,
  voteRound,
  withinEarlyBand,
  withinTolerance,
} from './select.ts';
import {
  type ChannelEvent,
  type ChannelHealth,
  DEFAULT_RECEIPT_WINDOW,
  type Decision,
  type DecisionKind,
  type FrameJudgment,
  frameDeadline,
  type OfferResult,
  type RejectReason,
  type VoterConfig,
  type VoterStats,
  validateVoterConfig,
} from './voter-types.ts';

export type { AnalogField, CommandShape, FieldValue } from './select.ts';
export { majority, midValue } from './select.ts';
export {
  type ChannelEvent,
  type ChannelHealth,
  DEFAULT_RECEIPT_WINDOW,
  type Decision,
  type DecisionKind,
  type DecisionReason,
  type DecisionRecord,
  type DeclinedDecision,
  type FrameJudgment,
  frameDeadline,
  type OfferResult,
  type RejectReason,
  type VoterConfig,
  type VoterStats,
  type VoterTiming,
} from './voter-types.ts';

interface Traffic {
  inTime: number;
  late: number;
  silentFrames: number;
  consecutiveSilent: number;
}

interface Slot<C> {
  readonly frame: number;
  /** By channel index: the output received in time, if any. */
  readonly outputs: (C | undefined)[];
  reported: number;
  written: boolean;
  /** Fixed once every non-latched channel reported, or at the deadline. */
  fixed: { readonly reference: C | null; readonly judged: boolean } | null;
}

export class Voter<C extends CommandShape<C>> {
  readonly config: VoterConfig<C>;
  private readonly index = new Map<string, number>();
  private readonly book: HealthBook;
  private readonly traffic: Traffic[];
  private readonly receipts: ReceiptRing[];
  private readonly receiptWindow: number;
  private readonly slots = new Map<number, Slot<C>>();
  private nextFrame: number;
  private lastWritten: C;
  private consecutiveMisses = 0;
  private declined = 0;
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
    validateVoterConfig(config);
    this.config = config;
    config.channels.forEach((ch, i) => {
      this.index.set(ch, i);
    });
    this.book = new HealthBook(config.channels.length, config);
    this.traffic = config.channels.map(() => ({ inTime: 0, late: 0, silentFrames: 0, consecutiveSilent: 0 }));
    this.receiptWindow = config.receiptWindow ?? DEFAULT_RECEIPT_WINDOW;
    const ring = this.receiptWindow + config.maxFramesAhead + 1;
    this.receipts = config.channels.map(() => new ReceiptRing(ring));
    this.nextFrame = config.firstFrame;
    this.lastWritten = config.initial;
  }

  /** Deadline of a frame in caller time: (origin + frame * period) + deadline. */
  deadlineOf(frame: number): number {
    return frameDeadline(this.config.timing, frame);
  }

  /** A channel's OUTPUT for a frame arrived at time `now` (rules: header, offer). */
  offer(frame: number, channel: string, command: C, now: number): OfferResult<C> {
    const i = this.index.get(channel);
    if (i === undefined) return this.reject('unknown-channel');
    if (!Number.isSafeInteger(frame) || frame < 0 || !this.wellFormed(command))
      return this.reject('malformed');
    if (frame > this.nextFrame + this.config.maxFramesAhead) return this.reject('too-far-ahead');
    if (frame < this.nextFrame - this.receiptWindow) return this.reject('stale');
    const ring = this.receipts[i] as ReceiptRing;
    if (ring.has(frame)) return this.reject('duplicate');
    ring.add(frame);
    const traffic = this.traffic[i] as Traffic;
    if (now > this.deadlineOf(frame)) {
      traffic.late++;
      return this.reject('late');
    }
    let slot = this.slots.get(frame);
    if (slot === undefined) {
      if (frame < this.nextFrame) return this.reject('stale');
      slot = {
        frame,
        outputs: this.config.channels.map(() => undefined),
        reported: 0,
        written: false,
        fixed: null,
      };
      this.slots.set(frame, slot);
    }
    assert(slot.outputs[i] === undefined, 'an output stored twice despite the receipt ring', {
      frame,
      channel,
    });
    slot.outputs[i] = command;
    slot.reported++;
    traffic.inTime++;
    traffic.consecutiveSilent = 0;
    if (!slot.written) {
      const ready = frame === this.nextFrame && this.isReady(slot);
      return { accepted: true, status: 'buffered', ready, majorityReady: ready, events: [], judgments: [] };
    }
    const judgments: FrameJudgment<C>[] = [];
    const events: ChannelEvent[] = [];
    if (slot.fixed === null) {
      if (this.complete(slot)) {
        const j = this.fix(slot, now, undefined);
        judgments.push(j);
        events.push(...j.events);
      }
    } else if (slot.fixed.judged && slot.fixed.reference !== null) {
      this.judgeOne(i, frame, command, slot.fixed.reference, events);
    }
    if (slot.fixed !== null && slot.reported === this.config.channels.length) this.close(slot);
    return { accepted: true, status: 'monitored', ready: false, majorityReady: false, events, judgments };
  }

  /** True when the next frame may be decided before its deadline (rules: header, ready). */
  ready(): boolean {
    const slot = this.slots.get(this.nextFrame);
    return slot === undefined ? this.book.latchedCount() === this.config.channels.length : this.isReady(slot);
  }

  /** The earlier name of `ready`. */
  majorityReady(): boolean {
    return this.ready();
  }

  /** The frame the voter expects to decide next. */
  get frame(): number {
    return this.nextFrame;
  }

  /**
   * Decide `frame`, which must be the next frame, at its deadline or earlier once `ready()`. Returns what the
   * actuator gets, or, before the deadline, `declined` when the frame is not ready once closeDue has run (rules:
   * header, decide). A skipped or repeated frame is a caller bug.
   */
  decide(frame: number, now: number): Decision<C> {
    if (frame !== this.nextFrame)
      throw new Error(`Voter.decide: expected frame ${this.nextFrame}, got ${frame}`);
    const judgments = this.closeDue(now);
    let slot = this.slots.get(frame);
    if (slot === undefined) {
      slot = {
        frame,
        outputs: this.config.channels.map(() => undefined),
        reported: 0,
        written: false,
        fixed: null,
      };
      this.slots.set(frame, slot);
    }
    const deadline = this.deadlineOf(frame);
    const atDeadline = now >= deadline;
    const standard = atDeadline || this.complete(slot);
    if (!standard && !this.isReady(slot)) {
      this.declined++;
      return { kind: 'declined', frame, time: now, events: judgments.flatMap((j) => j.events), judgments };
    }
    const round = standard ? this.round(slot, withinTolerance) : this.round(slot, withinEarlyBand);
    const written = round.writable ? (round.reference as C) : null;
    if (written !== null) this.assertSupported(written, slot);
    const { kind, value } = this.outcome(written);
    this.decisions[kind]++;
    slot.written = true;
    this.nextFrame = frame + 1;
    const names = this.config.channels;
    const reported = names.filter((_, i) => slot.outputs[i] !== undefined);
    const missing = names.filter((_, i) => slot.outputs[i] === undefined && !this.book.latched(i));
    let dissenters: string[] = [];
    if (standard) {
      const own = this.fix(slot, now, round);
      judgments.push(own);
      dissenters = own.dissenters;
    }
    if (atDeadline || (slot.fixed !== null && slot.reported === names.length)) this.close(slot);
    this.closeBeyondBound(now, judgments);
    return {
      frame,
      time: now,
      kind,
      value,
      reason: round.reason,
      early: now < deadline,
      earlyRound: !standard,
      reported,
      contributors: round.writable ? round.supporters.map((i) => names[i] as string) : [],
      dissenters,
      missing,
      latched: names.filter((_, i) => this.book.latched(i)),
      strikes: Object.fromEntries(names.map((ch, i) => [ch, this.book.state(i).strikes])),
      events: judgments.flatMap((j) => j.events),
      judgments,
      consecutiveMisses: this.consecutiveMisses,
    };
  }

  /** A restarted voter joins at `frame`: the frames before it count as misses (rules: header, skipTo). */
  skipTo(frame: number): void {
    if (!Number.isSafeInteger(frame) || frame <= this.nextFrame) return;
    for (const slot of [...this.slots.values()]) {
      if (!slot.written && slot.frame < frame) this.slots.delete(slot.frame);
    }
    this.consecutiveMisses += frame - this.nextFrame;
    this.nextFrame = frame;
  }

  /** Fix and close every written frame whose deadline is at or before `now` (rules: header, closeDue). */
  closeDue(now: number): FrameJudgment<C>[] {
    const judgments: FrameJudgment<C>[] = [];
    for (const slot of this.openSlots()) {
      if (this.deadlineOf(slot.frame) > now) continue;
      if (slot.fixed === null) judgments.push(this.fix(slot, now, undefined));
      this.close(slot);
    }
    return judgments;
  }

  health(): ChannelHealth[] {
    return this.config.channels.map((channel, i) => {
      const s = this.book.state(i);
      const t = this.traffic[i] as Traffic;
      return {
        channel,
        latched: s.latched,
        strikes: s.strikes,
        latchCount: s.latchCount,
        probation: s.probation,
        inTime: t.inTime,
        late: t.late,
        silentFrames: t.silentFrames,
        consecutiveSilent: t.consecutiveSilent,
      };
    });
  }

  stats(): VoterStats {
    return {
      decisions: { ...this.decisions },
      rejections: { ...this.rejections },
      declined: this.declined,
      nextFrame: this.nextFrame,
    };
  }

  /** The command the actuator currently holds. */
  get current(): C {
    return this.lastWritten;
  }

  private outcome(written: C | null): { kind: DecisionKind; value: C } {
    if (written !== null) {
      this.consecutiveMisses = 0;
      this.lastWritten = written;
      return { kind: 'write', value: written };
    }
    this.consecutiveMisses++;
    if (this.consecutiveMisses >= this.config.failsafeAfterMisses) {
      this.lastWritten = this.config.failsafe;
      return { kind: 'failsafe', value: this.config.failsafe };
    }
    return { kind: 'hold', value: this.lastWritten };
  }

  private round(slot: Slot<C>, agree: (a: C, b: C, rules: FieldRules<C>) => boolean): Round<C> {
    return voteRound(
      {
        reports: slot.outputs,
        latched: this.book.latchedFlags(),
        f: this.config.f,
        quorum: this.config.f + 1,
      },
      this.config,
      (a, b) => agree(a, b, this.config),
    );
  }

  /** Every non-latched channel has reported for this frame. */
  private complete(slot: Slot<C>): boolean {
    for (let i = 0; i < slot.outputs.length; i++) {
      if (slot.outputs[i] === undefined && !this.book.latched(i)) return false;
    }
    return true;
  }

  private isReady(slot: Slot<C>): boolean {
    return this.complete(slot) || this.round(slot, withinEarlyBand).writable;
  }

  /** Fix R of a frame and judge it (rules: header, fixing R). `round` is the standard round if at hand. */
  private fix(slot: Slot<C>, now: number, round: Round<C> | undefined): FrameJudgment<C> {
    assert(slot.fixed === null, 'frame judged twice', { frame: slot.frame });
    const r = round ?? this.round(slot, withinTolerance);
    slot.fixed = { reference: r.reference, judged: r.judgeable };
    const agreed: string[] = [];
    const dissenters: string[] = [];
    const events: ChannelEvent[] = [];
    if (r.judgeable && r.reference !== null) {
      for (let i = 0; i < slot.outputs.length; i++) {
        const cmd = slot.outputs[i];
        if (cmd === undefined) continue;
        const name = this.config.channels[i] as string;
        if (this.judgeOne(i, slot.frame, cmd, r.reference, events)) agreed.push(name);
        else dissenters.push(name);
      }
    }
    return {
      frame: slot.frame,
      time: now,
      reference: r.reference,
      judged: r.judgeable,
      agreed,
      dissenters,
      events,
    };
  }

  /** Judge channel i's output against R; true when it agrees. */
  private judgeOne(i: number, frame: number, cmd: C, reference: C, events: ChannelEvent[]): boolean {
    const channel = this.config.channels[i] as string;
    const verdict = this.book.judge(i, withinTolerance(cmd, reference, this.config));
    if (verdict.kind === 'agree') {
      if (verdict.reintegrated) events.push({ kind: 'reintegrated', channel, frame });
      return true;
    }
    events.push({ kind: 'strike', channel, frame, strikes: verdict.strikes });
    if (verdict.latched) events.push({ kind: 'latched', channel, frame });
    return false;
  }

  /** Channels with no in-time output for the frame were silent; the frame is forgotten. */
  private close(slot: Slot<C>): void {
    for (let i = 0; i < slot.outputs.length; i++) {
      if (slot.outputs[i] !== undefined) continue;
      const t = this.traffic[i] as Traffic;
      t.silentFrames++;
      t.consecutiveSilent++;
    }
    this.slots.delete(slot.frame);
  }

  /** Written frames still open, ascending. */
  private openSlots(): Slot<C>[] {
    const open: Slot<C>[] = [];
    for (const slot of this.slots.values()) if (slot.written) open.push(slot);
    return open.sort((a, b) => a.frame - b.frame);
  }

  private closeBeyondBound(now: number, judgments: FrameJudgment<C>[]): void {
    const oldest = this.nextFrame - this.config.maxFramesAhead - 1;
    for (const slot of this.openSlots()) {
      if (slot.frame >= oldest) continue;
      if (slot.fixed === null) judgments.push(this.fix(slot, now, undefined));
      this.close(slot);
    }
  }

  /** The voter's last line: a written command is supported by at least f+1 voted outputs. */
  private assertSupported(value: C, slot: Slot<C>): void {
    let support = 0;
    slot.outputs.forEach((cmd, i) => {
      if (cmd !== undefined && !this.book.latched(i) && withinTolerance(cmd, value, this.config)) support++;
    });
    assert(support >= this.config.f + 1, 'Voter: writing a value supported by fewer than f+1 channels', {
      support,
      frame: slot.frame,
    });
  }

  private wellFormed(command: C): boolean {
    if (typeof command !== 'object' || command === null) return false;
    for (const { field } of this.config.analog) {
      const v = command[field];
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    }
    for (const field of this.config.discrete) {
      const v = command[field] as unknown;
      if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') return false;
    }
    return true;
  }

  private reject(reason: RejectReason): OfferResult<C> {
    this.rejections[reason]++;
    return { accepted: false, reason };
  }
}
