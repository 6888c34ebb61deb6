/**
 * Drives the core frame clock (src/core/frame/clock.ts) on a board's replica: feeds it the frame of every
 * authentic sample and the time, keeps one timer at the clock's next wake-up, and carries out what it says:
 * the replica's time tick, then the cut (the primary proposes the frame's batch).
 *
 * @example
 * const cutter = new FrameCutter({ clock: { periodMs: 20, units: 3, ... }, scheduler, replica: host, counters });
 * cutter.start();            // first tick now, then one per period
 * cutter.sample(unit, 12);   // an authentic REQUEST carrying a sample of frame 12
 */
import { FrameClock, type FrameClockConfig, type FrameClockOutput } from '../../core/frame/clock.ts';
import type { Scheduler } from '../scheduler.ts';
import type { Counters } from './counters.ts';

/** What the cutter drives: a replica's time tick and its batch cut. */
export interface CutTarget {
  tick(now: number): void;
  frame(): void;
}

export interface FrameCutterOptions {
  readonly clock: FrameClockConfig;
  readonly scheduler: Scheduler;
  readonly replica: CutTarget;
  readonly counters: Counters;
}

export class FrameCutter {
  private clock: FrameClock | undefined;
  private cancel: (() => void) | undefined;
  private armedAt: number | undefined;
  private stopped = false;

  constructor(private readonly o: FrameCutterOptions) {}

  /** The current frame (-1 before the first, or before start). */
  get frame(): number {
    return this.clock?.status().frame ?? -1;
  }

  /** Starts the clock now: the first time tick is due at once. */
  start(): void {
    if (this.clock !== undefined || this.stopped) return;
    this.clock = new FrameClock(this.o.clock, this.o.scheduler.now());
    this.arm(this.clock.status().nextTick);
  }

  /** An authentic sample of `frame` from input unit `unit`; a sample before start is not counted. */
  sample(unit: number, frame: number): void {
    if (this.clock === undefined || this.stopped) return;
    const out = this.clock.step({ kind: 'sample', now: this.o.scheduler.now(), unit, frame });
    if (out.verdict === 'too-far-ahead' || out.verdict === 'unknown-unit' || out.verdict === 'bad-frame')
      this.o.counters.add(`clock.rejected.${out.verdict}`);
    else if (out.verdict === 'late') this.o.counters.add('clock.late-sample');
    this.carryOut(out);
  }

  /** No more ticks or cuts (the board died or closed). */
  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  private wake(): void {
    this.cancel = undefined;
    this.armedAt = undefined;
    if (this.clock === undefined || this.stopped) return;
    this.carryOut(this.clock.step({ kind: 'wake', now: this.o.scheduler.now() }));
  }

  private carryOut(out: FrameClockOutput): void {
    if (out.missedTicks > 0) this.o.counters.add('clock.missed-ticks', out.missedTicks);
    if (out.tick) this.o.replica.tick(Math.round(this.o.scheduler.now()));
    if (out.cut !== undefined) {
      this.o.counters.add(`clock.cut.${out.cut}`);
      this.o.replica.frame();
    }
    if (!this.stopped) this.arm(out.wakeAt);
  }

  /** One timer, at the clock's next wake-up. */
  private arm(at: number): void {
    if (this.armedAt === at && this.cancel !== undefined) return;
    this.cancel?.();
    this.armedAt = at;
    this.cancel = this.o.scheduler.at(at, () => this.wake());
  }
}
