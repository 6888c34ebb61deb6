/**
 * The frame clock of an ordering replica: when to cut the batch of a control frame. Pure: time comes in as
 * numbers, nothing is scheduled here; the caller sets one timer at `wakeAt` and feeds every authentic sample.
 *
 * Frames are self-clocked, with no clock synchronization between boards:
 *
 * - Frame k starts when `startQuorum` distinct input units have sent a sample of frame k or later (their most
 *   highest authentic sample inside the window). With the default quorum, a majority of the units, one lying unit cannot start a
 *   frame, so a sample marked far ahead never moves the clock; a correct majority always can.
 * - The batch is cut as soon as every unit's highest sample is of the current frame or later (nothing is
 *   missing, so no waiting), or at `cutFraction` of a period after the frame started.
 * - Once per period the replica gets its time tick; a tick with no cut since the previous one cuts anyway
 *   (the periodic cut). That keeps one batch per frame when no fresh sample arrives, as after a view change
 *   when the units only retransmit the request the old primary dropped.
 * - A sample more than `maxAhead` frames beyond the frame the clock expects now (its current frame plus the
 *   periods elapsed since that frame started) is refused and not remembered: a unit's claims stay in a window
 *   that only time widens. A frame that starts late (its samples were held up behind a view change's messages)
 *   does not pull the expectation back: it counts from the latest frame that started on time or ahead.
 *   Otherwise a clock that started frame k seven periods late would refuse the units' current samples (k + 7,
 *   more than maxAhead beyond k) and, those being refused and the window widening as fast as the units count,
 *   never catch up.
 *
 * Times are in the caller's unit (the runtime uses milliseconds); `periodMs` is in the same unit.
 *
 * @example
 * const clock = new FrameClock({ periodMs: 20, units: 3, cutFraction: 0.3, startQuorum: 2, maxAhead: 4 }, 0);
 * let out = clock.step({ kind: 'sample', now: 1, unit: 0, frame: 0 }); // one unit: frame 0 not started yet
 * out = clock.step({ kind: 'sample', now: 1.2, unit: 1, frame: 0 }); // a majority: frame 0 starts
 * out = clock.step({ kind: 'sample', now: 1.3, unit: 2, frame: 0 }); // out.cut === 'complete': cut now
 * // ...and call clock.step({ kind: 'wake', now }) when now reaches out.wakeAt.
 */
import { assert } from '../assert.ts';

export interface FrameClockConfig {
  /** Length of a frame, in the caller's time unit. */
  readonly periodMs: number;
  /** Input units, numbered 0..units-1. */
  readonly units: number;
  /** When the batch is cut at the latest, as a fraction of the period after the frame started (0..1]. */
  readonly cutFraction: number;
  /** Distinct units whose latest sample must have reached a frame before it starts (1..units). */
  readonly startQuorum: number;
  /** How many frames a sample may be ahead of the frame the clock expects now. */
  readonly maxAhead: number;
}

/** A majority of the units: one lying unit of three cannot start a frame on its own. */
export function majorityQuorum(units: number): number {
  return Math.floor((units - 1) / 2) + 1;
}

export type FrameClockInput =
  /** An authentic sample of `frame` from input unit `unit` (identity from its MAC, not from the sample). */
  | { readonly kind: 'sample'; readonly now: number; readonly unit: number; readonly frame: number }
  /** Time reached `now` (the caller's timer at the last `wakeAt`, or any time). */
  | { readonly kind: 'wake'; readonly now: number };

export type SampleVerdict =
  /** The sample is of the current frame. */
  | 'current'
  /** The sample made the current frame start. */
  | 'started'
  /** Ahead of the current frame, within the window, not (yet) backed by a quorum of units. */
  | 'ahead'
  /** Older than the current frame. */
  | 'late'
  /** Beyond the window: refused, not remembered. */
  | 'too-far-ahead'
  /** A unit number outside 0..units-1. */
  | 'unknown-unit'
  /** A frame number that is not a non-negative safe integer. */
  | 'bad-frame';

/** Why the batch is cut now. */
export type CutReason = 'complete' | 'timed' | 'periodic';

export interface FrameClockOutput {
  /** Cut the current batch now (the primary proposes it), and why; undefined: no cut. */
  readonly cut: CutReason | undefined;
  /** A period boundary passed: give the replica its time tick (before cutting). */
  readonly tick: boolean;
  /** Period boundaries skipped because the caller woke more than a period late (a host stall). */
  readonly missedTicks: number;
  /** What the clock made of the sample (sample inputs only). */
  readonly verdict: SampleVerdict | undefined;
  /** When to wake the clock next (may be now or in the past: then wake it at once). */
  readonly wakeAt: number;
}

export interface FrameClockStatus {
  /** The current frame, -1 before the first. */
  readonly frame: number;
  readonly startedAt: number;
  readonly cutThisFrame: boolean;
  readonly nextTick: number;
  readonly cutDeadline: number | undefined;
}

export class FrameClock {
  private frame = -1;
  private startedAt: number;
  private cutThisFrame = false;
  private cutSinceTick = false;
  private nextTick: number;
  private cutDeadline: number | undefined;
  /** The expectation the window counts from: frame `anchorFrame` started at `anchorAt`. */
  private anchorFrame = -1;
  private anchorAt = 0;
  /** Each unit's highest accepted sample frame (-1: none yet). */
  private readonly latest: number[];

  /** `now`: when the clock starts; the first tick is due then. */
  constructor(
    private readonly config: FrameClockConfig,
    now: number,
  ) {
    const c = config;
    assert(c.periodMs > 0 && Number.isFinite(c.periodMs), 'frame period must be positive', { ...c });
    assert(Number.isInteger(c.units) && c.units >= 1, 'at least one input unit', { ...c });
    assert(c.cutFraction > 0 && c.cutFraction <= 1, 'cut fraction in (0, 1]', { ...c });
    assert(
      Number.isInteger(c.startQuorum) && c.startQuorum >= 1 && c.startQuorum <= c.units,
      'start quorum in 1..units',
      {
        ...c,
      },
    );
    assert(Number.isInteger(c.maxAhead) && c.maxAhead >= 0, 'maxAhead a non-negative integer', { ...c });
    this.startedAt = now;
    this.nextTick = now;
    this.latest = Array.from({ length: c.units }, () => -1);
  }

  step(input: FrameClockInput): FrameClockOutput {
    return input.kind === 'wake' ? this.wake(input.now) : this.sample(input.now, input.unit, input.frame);
  }

  status(): FrameClockStatus {
    return {
      frame: this.frame,
      startedAt: this.startedAt,
      cutThisFrame: this.cutThisFrame,
      nextTick: this.nextTick,
      cutDeadline: this.cutDeadline,
    };
  }

  /** The highest frame a sample may carry at `now` (Infinity before the first frame: nothing to compare with). */
  windowTop(now: number): number {
    if (this.frame < 0) return Number.POSITIVE_INFINITY;
    return this.expected(now) + this.config.maxAhead;
  }

  /** The frame the clock expects at `now`: the anchor frame plus the periods elapsed since it started. */
  private expected(now: number): number {
    return this.anchorFrame + Math.max(0, Math.floor((now - this.anchorAt) / this.config.periodMs));
  }

  private wake(now: number): FrameClockOutput {
    let cut: CutReason | undefined;
    if (this.cutDeadline !== undefined && now >= this.cutDeadline) {
      this.cutDeadline = undefined;
      if (!this.cutThisFrame) cut = this.markCut('timed');
    }
    let tick = false;
    let missedTicks = 0;
    if (now >= this.nextTick) {
      tick = true;
      if (!this.cutSinceTick && cut === undefined) cut = 'periodic';
      this.cutSinceTick = false;
      // One tick per wake; boundaries more than a period overdue are skipped (counted), not replayed in a burst.
      const overdue = Math.floor((now - this.nextTick) / this.config.periodMs);
      missedTicks = overdue;
      this.nextTick += (overdue + 1) * this.config.periodMs;
    }
    assert(this.nextTick > now, 'next tick in the future after a wake', { now, nextTick: this.nextTick });
    return { cut, tick, missedTicks, verdict: undefined, wakeAt: this.wakeAt() };
  }

  private sample(now: number, unit: number, frame: number): FrameClockOutput {
    const verdict = this.admit(now, unit, frame);
    let cut: CutReason | undefined;
    if (!this.cutThisFrame && this.frame >= 0 && this.unitsIn() === this.config.units)
      cut = this.markCut('complete');
    return { cut, tick: false, missedTicks: 0, verdict, wakeAt: this.wakeAt() };
  }

  private admit(now: number, unit: number, frame: number): SampleVerdict {
    if (!Number.isInteger(unit) || unit < 0 || unit >= this.config.units) return 'unknown-unit';
    if (!Number.isSafeInteger(frame) || frame < 0) return 'bad-frame';
    if (frame > this.windowTop(now)) return 'too-far-ahead';
    // The highest, not the last: a retransmitted older sample must not take a unit out of the current frame.
    if (frame > this.latest[unit]!) this.latest[unit] = frame;
    const backed = this.quorumFrame();
    if (backed > this.frame) {
      this.startFrame(backed, now);
      return frame === backed ? 'started' : 'ahead';
    }
    if (frame === this.frame) return 'current';
    return frame > this.frame ? 'ahead' : 'late';
  }

  private startFrame(frame: number, now: number): void {
    assert(frame > this.frame, 'frames only move forward', { frame, current: this.frame });
    // A frame behind the expectation started late: the expectation keeps counting from its own anchor.
    if (this.frame < 0 || frame >= this.expected(now)) {
      this.anchorFrame = frame;
      this.anchorAt = now;
    }
    this.frame = frame;
    this.startedAt = now;
    this.cutThisFrame = false;
    this.cutDeadline = now + this.config.cutFraction * this.config.periodMs;
  }

  /** The highest frame that `startQuorum` units have reached (the quorum-th highest latest frame). */
  private quorumFrame(): number {
    const sorted = [...this.latest].sort((a, b) => b - a);
    return sorted[this.config.startQuorum - 1]!;
  }

  private unitsIn(): number {
    let n = 0;
    for (const f of this.latest) if (f >= this.frame) n++;
    return n;
  }

  private markCut(reason: CutReason): CutReason {
    this.cutThisFrame = true;
    this.cutSinceTick = true;
    this.cutDeadline = undefined;
    return reason;
  }

  private wakeAt(): number {
    return this.cutDeadline === undefined ? this.nextTick : Math.min(this.nextTick, this.cutDeadline);
  }
}
