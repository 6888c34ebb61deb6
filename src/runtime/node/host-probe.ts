/**
 * What this process's host did to it, measured in windows (one per frame): the worst event-loop delay (a timer
 * that ran late: a long task, a GC pause, the process not scheduled), the time its JavaScript thread ran and the
 * time it waited for a CPU while runnable (Linux schedstat), and the garbage collector's pauses. A flight samples
 * it once per frame to attribute missed deadlines; a board process sends its windows' worst values to the parent,
 * so a stall in a child board is attributed too.
 *
 * @example
 * const probe = new HostProbe();
 * // ... once per frame:
 * const w = probe.window(); // { loopDelayMs: 1.2, cpuMs: 0.9, cpuWaitMs: 0.1, gcMs: 0, gcMaxMs: 0, gcCount: 0 }
 * probe.close();
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** One window's host figures, ms. `cpuMs` and `cpuWaitMs` are absent where schedstat is not available. */
export interface HostWindow {
  /** Worst event-loop delay in the window (1 ms resolution monitor). */
  readonly loopDelayMs: number;
  /** Time the JavaScript thread ran in the window. */
  readonly cpuMs?: number;
  /** Time the JavaScript thread was runnable but waited for a CPU in the window. */
  readonly cpuWaitMs?: number;
  /** Garbage-collection pauses observed in the window: their sum, the longest, and how many. */
  readonly gcMs: number;
  readonly gcMaxMs: number;
  readonly gcCount: number;
}

/** Whole-run figures of a probe: event-loop delay percentiles and GC totals by kind. */
export interface HostTotals {
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly gc: Readonly<
    Record<string, { readonly count: number; readonly totalMs: number; readonly maxMs: number }>
  >;
}

/** Resolution of the event-loop delay monitors, ms. */
const MONITOR_RESOLUTION_MS = 1;

const round3 = (x: number): number => Number(x.toFixed(3));

/** GC kinds by perf_hooks' numbers (NODE_PERFORMANCE_GC_*: minor 1, major 4, incremental 8, weak callbacks 16). */
const GC_KIND: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-sweep-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

export class HostProbe {
  private readonly windowDelay = monitorEventLoopDelay({ resolution: MONITOR_RESOLUTION_MS });
  private readonly runDelay = monitorEventLoopDelay({ resolution: MONITOR_RESOLUTION_MS });
  private readonly sched = new SchedStat();
  private readonly gcObserver: PerformanceObserver | undefined;
  private gcWindow = { ms: 0, max: 0, count: 0 };
  private readonly gcTotals: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
  private closed = false;
  /** GC pauses that started before this (performance.now() ms) are not counted. */
  private ignoreBefore = 0;

  /**
   * `eventLoop: false` leaves out the event-loop delay monitor (a 1 ms timer of its own): a caller that measures
   * delay by its own timer's lateness (a board process's HostWatch) saves the wake-ups.
   */
  constructor(o: { readonly gc?: boolean; readonly eventLoop?: boolean } = {}) {
    if (o.eventLoop !== false) {
      this.windowDelay.enable();
      this.runDelay.enable();
    }
    if (o.gc !== false) {
      this.gcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries())
          if (e.startTime >= this.ignoreBefore)
            this.onGc(e.duration, (e as { detail?: { kind?: number } }).detail?.kind);
      });
      this.gcObserver.observe({ entryTypes: ['gc'] });
    }
  }

  /**
   * A new window, and new run totals, from now, leaving out GC pauses which started earlier: their entries reach the observer
   * asynchronously, so a collection run just before (gc.ts collectNow, before frame 0) would otherwise land in
   * the next window.
   */
  restart(): void {
    this.ignoreBefore = performance.now();
    this.window();
    // The run's figures too: what came before (the start, the forced collection) belongs to no frame.
    this.runDelay.reset();
    for (const k of Object.keys(this.gcTotals)) delete this.gcTotals[k];
  }

  /** The figures since the previous window (or since the probe started), and a new window. */
  window(): HostWindow {
    const loopDelayMs = this.windowDelay.count > 0 ? this.windowDelay.max / 1e6 : 0;
    this.windowDelay.reset();
    const s = this.sched.read();
    const gc = this.gcWindow;
    this.gcWindow = { ms: 0, max: 0, count: 0 };
    return {
      loopDelayMs: round3(loopDelayMs),
      ...(s !== undefined ? { cpuMs: round3(s.runMs), cpuWaitMs: round3(s.waitMs) } : {}),
      gcMs: round3(gc.ms),
      gcMaxMs: round3(gc.max),
      gcCount: gc.count,
    };
  }

  totals(): HostTotals {
    const ms = (ns: number): number => round3(ns / 1e6);
    const gc: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
    for (const [k, v] of Object.entries(this.gcTotals))
      gc[k] = { count: v.count, totalMs: round3(v.totalMs), maxMs: round3(v.maxMs) };
    return {
      eventLoopDelayMs: {
        p50: ms(this.runDelay.percentile(50)),
        p99: ms(this.runDelay.percentile(99)),
        max: ms(this.runDelay.max),
      },
      gc,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.windowDelay.disable();
    this.runDelay.disable();
    this.gcObserver?.disconnect();
    this.sched.close();
  }

  private onGc(duration: number, kind: number | undefined): void {
    this.gcWindow.ms += duration;
    this.gcWindow.max = Math.max(this.gcWindow.max, duration);
    this.gcWindow.count++;
    const name = (kind !== undefined ? GC_KIND[kind] : undefined) ?? `kind-${kind ?? '?'}`;
    const t = this.gcTotals[name] ?? { count: 0, totalMs: 0, maxMs: 0 };
    t.count++;
    t.totalMs += duration;
    t.maxMs = Math.max(t.maxMs, duration);
    this.gcTotals[name] = t;
  }
}

/**
 * Run and run-queue wait time of this process's main (JavaScript) thread from Linux's /proc/self/schedstat
 * ("run-ns wait-ns slices"), read through one open descriptor; `read` returns the times since the last read, ms,
 * or undefined where the file does not exist (not Linux, or a kernel without schedstat).
 */
export class SchedStat {
  private fd: number | undefined;
  private last: { run: number; wait: number } | undefined;
  private readonly buf = Buffer.alloc(128);

  constructor(path = '/proc/self/schedstat') {
    try {
      this.fd = openSync(path, 'r');
      this.last = this.readNs();
    } catch {
      this.close();
    }
  }

  read(): { runMs: number; waitMs: number } | undefined {
    if (this.last === undefined) return undefined;
    const now = this.readNs();
    if (now === undefined) return undefined;
    const out = { runMs: (now.run - this.last.run) / 1e6, waitMs: (now.wait - this.last.wait) / 1e6 };
    this.last = now;
    return out;
  }

  private readNs(): { run: number; wait: number } | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const [run, wait] = this.buf.toString('latin1', 0, n).split(' ').map(Number);
      return Number.isFinite(run) && Number.isFinite(wait) ? { run: run!, wait: wait! } : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
