/**
 * Time for the runtime. The loop is written against `Scheduler` only, so the same code runs under real timers
 * (`triplex sim`, benchmarks) and under a virtual clock (tests: thousands of frames in milliseconds, exactly
 * reproducible). Times are milliseconds.
 *
 * @example
 * const clock = new VirtualScheduler();
 * clock.at(20, () => console.log('frame 1'));
 * clock.runUntil(1000);
 */
import { EventQueue } from '../core/event-queue.ts';

export interface Scheduler {
  now(): number;
  /** Run `fn` at time `t` (or as soon as possible if `t` has passed). Returns a cancel function. */
  at(t: number, fn: () => void): () => void;
}

interface Timer {
  readonly fn: () => void;
  cancelled: boolean;
}

/** Timers on virtual time; ties run in scheduling order, so runs are deterministic. */
export class VirtualScheduler implements Scheduler {
  private time = 0;
  private readonly queue = new EventQueue<Timer>();

  constructor(private readonly maxPending = 1_000_000) {}

  now(): number {
    return this.time;
  }

  at(t: number, fn: () => void): () => void {
    if (this.queue.size >= this.maxPending)
      throw new Error(`VirtualScheduler: more than ${this.maxPending} pending timers`);
    const timer: Timer = { fn, cancelled: false };
    this.queue.push(Math.max(t, this.time), timer);
    return () => {
      timer.cancelled = true;
    };
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Runs every timer due at or before `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    for (let due = this.queue.peekTime(); due !== undefined && due <= t; due = this.queue.peekTime()) {
      const next = this.queue.pop()!;
      this.time = next.time;
      if (!next.value.cancelled) next.value.fn();
    }
    this.time = Math.max(this.time, t);
  }
}

/**
 * Real time from `performance.now()`. Timers due now run on `setImmediate` (no 1 ms floor); later ones on
 * `setTimeout`, re-armed if Node fires early, so a frame starts at its time and not a millisecond later.
 * A timer never runs inside `at()` itself, even when overdue: a loop that fell behind then catches up one
 * event-loop turn at a time, letting messages be delivered in between, instead of recursing through frames.
 */
export class RealScheduler implements Scheduler {
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  at(t: number, fn: () => void): () => void {
    let cancelled = false;
    let handle: NodeJS.Timeout | NodeJS.Immediate | undefined;
    const fire = (): void => {
      if (cancelled) return;
      const wait = t - this.now();
      if (wait > 1) handle = setTimeout(fire, wait - 1);
      else if (wait > 0) handle = setImmediate(fire);
      else fn();
    };
    const wait = t - this.now();
    handle = wait > 1 ? setTimeout(fire, wait - 1) : setImmediate(fire);
    return () => {
      cancelled = true;
      if (handle !== undefined) {
        clearTimeout(handle as NodeJS.Timeout);
        clearImmediate(handle as NodeJS.Immediate);
      }
    };
  }
}
