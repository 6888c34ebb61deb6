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

/** Timers a held clock keeps before `begin()` (the boards' start asks for a handful). */
const MAX_HELD_TIMERS = 10_000;

export interface RealSchedulerOptions {
  /**
   * Time stands at 0 until `begin()`: timers asked for meanwhile are armed then. A flight builds and starts its
   * boards on a held clock, so frame 0 starts when the boards are ready instead of already late.
   */
  readonly held?: boolean;
  /**
   * How close to its time (ms) a timer stops sleeping on `setTimeout` and polls on `setImmediate` (default 1:
   * libuv timers have 1 ms granularity). Polling costs CPU, which a loaded machine charges back as wait.
   */
  readonly spinMs?: number;
}

/**
 * Real time from `performance.now()`. Timers due now run on `setImmediate` (no 1 ms floor); later ones on
 * `setTimeout`, re-armed if Node fires early, so a frame starts at its time and not a millisecond later.
 * A timer never runs inside `at()` itself, even when overdue: a loop that fell behind then catches up one
 * event-loop turn at a time, letting messages be delivered in between, instead of recursing through frames.
 */
export class RealScheduler implements Scheduler {
  private origin = performance.now();
  private held: (() => void)[] | undefined;
  private readonly spinMs: number;

  constructor(o: RealSchedulerOptions = {}) {
    this.spinMs = o.spinMs ?? 1;
    if (!(this.spinMs >= 0 && this.spinMs <= 20))
      throw new RangeError(`spinMs must be 0 to 20, got ${o.spinMs}`);
    if (o.held) this.held = [];
  }

  /** Whether time still stands at 0 (a held clock before `begin`). */
  get isHeld(): boolean {
    return this.held !== undefined;
  }

  now(): number {
    return this.held !== undefined ? 0 : performance.now() - this.origin;
  }

  /** Time 0 is now: a held clock starts, and the timers asked for while it was held are armed. Once only. */
  begin(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    this.origin = performance.now();
    for (const arm of held) arm();
  }

  at(t: number, fn: () => void): () => void {
    let cancelled = false;
    let handle: NodeJS.Timeout | NodeJS.Immediate | undefined;
    const fire = (): void => {
      if (cancelled) return;
      const wait = t - this.now();
      if (wait > this.spinMs) handle = setTimeout(fire, wait - this.spinMs);
      else if (wait > 0) handle = setImmediate(fire);
      else fn();
    };
    const arm = (): void => {
      if (cancelled) return;
      const wait = t - this.now();
      handle = wait > this.spinMs ? setTimeout(fire, wait - this.spinMs) : setImmediate(fire);
    };
    if (this.held === undefined) arm();
    else if (this.held.length >= MAX_HELD_TIMERS)
      throw new Error(`RealScheduler: more than ${MAX_HELD_TIMERS} timers asked for before begin()`);
    else this.held.push(arm);
    return () => {
      cancelled = true;
      if (handle !== undefined) {
        clearTimeout(handle as NodeJS.Timeout);
        clearImmediate(handle as NodeJS.Immediate);
      }
    };
  }
}
