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
export interface Scheduler {
  now(): number;
  /** Run `fn` at time `t` (or as soon as possible if `t` has passed). Returns a cancel function. */
  at(t: number, fn: () => void): () => void;
}

interface Timer {
  readonly t: number;
  readonly order: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A binary-heap event queue on virtual time; ties run in scheduling order, so runs are deterministic. */
export class VirtualScheduler implements Scheduler {
  private time = 0;
  private counter = 0;
  private readonly heap: Timer[] = [];

  constructor(private readonly maxPending = 1_000_000) {}

  now(): number {
    return this.time;
  }

  at(t: number, fn: () => void): () => void {
    if (this.heap.length >= this.maxPending)
      throw new Error(`VirtualScheduler: more than ${this.maxPending} pending timers`);
    const timer: Timer = { t: Math.max(t, this.time), order: this.counter++, fn, cancelled: false };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs every timer due at or before `t`, then sets the clock to `t`. */
  runUntil(t: number): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.t > t) break;
      this.pop();
      this.time = top.t;
      if (!top.cancelled) top.fn();
    }
    this.time = Math.max(this.time, t);
  }

  private less(a: Timer, b: Timer): boolean {
    return a.t < b.t || (a.t === b.t && a.order < b.order);
  }

  private push(x: Timer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
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
