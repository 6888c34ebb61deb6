/**
 * A board process's watch on its own host, for the rig's process to attribute missed frames to it: every window
 * (a frame period) it measures how late its own timer ran, how long its JavaScript thread waited for a CPU and
 * the GC pauses (host-probe.ts), and reports a window where any of them reached the threshold, or where a
 * counter that can explain a missed frame moved (REPORTED_COUNTERS). A stall in a replica's or a channel's
 * process, or a batch cut without a quorum of samples there, is then named in the flight's summary, not left
 * "unexplained".
 *
 * @example
 * const watch = new HostWatch({ board: 'b0', windowMs: 20, thresholdMs: 4, report: (r) => send({ type: 'host', report: r }) });
 * watch.stop(); // { eventLoopDelayMs: { p50, p99, max }, gc, reported: 3 }
 */
import { createHistogram } from 'node:perf_hooks';
import { HostProbe } from './host-probe.ts';
import { type HostReport, MAX_REPORT_COUNTERS } from './ipc.ts';

/** A board's counters that can explain a missed frame (lost or refused messages, view changes, frames without a quorum of samples). */
export const REPORTED_COUNTERS =
  /^(board\.|ipc\.|replica\.(view-change|new-view|retransmit)$|channel\.(no-frame\.|skipped-frames|stale-batch|malformed-samples)|clock\.rejected\.|input\.)/;

export interface HostWatchOptions {
  readonly board: string;
  /** Window length, ms (the frame period). */
  readonly windowMs: number;
  /** A window is reported when its timer lateness, CPU wait or GC reached this, ms. */
  readonly thresholdMs: number;
  readonly report: (r: HostReport) => void;
  /** The board's counters, read each window; deltas of REPORTED_COUNTERS go with the report. */
  readonly counters?: () => Readonly<Record<string, number>>;
}

/** Reports per second at most (a host that stalls every window still sends a bounded stream). */
const MAX_REPORTS_PER_SECOND = 50;

export class HostWatch {
  private readonly probe = new HostProbe({ eventLoop: false });
  private readonly lateness = createHistogram();
  private timer: NodeJS.Timeout | undefined;
  private last = performance.now();
  private reported = 0;
  private suppressed = 0;
  private budget = { second: 0, left: MAX_REPORTS_PER_SECOND };
  private counted: Record<string, number> = {};
  private stopped = false;

  constructor(private readonly o: HostWatchOptions) {
    if (!(o.windowMs >= 1 && o.windowMs <= 10_000))
      throw new RangeError(`windowMs must be 1 to 10000, got ${o.windowMs}`);
    this.arm();
  }

  /** Stops watching; the whole run's figures. */
  stop(): Record<string, unknown> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const totals = this.probe.totals();
    this.probe.close();
    const ms = (ns: number): number => Number((ns / 1e6).toFixed(3));
    return {
      eventLoopDelayMs: {
        p50: ms(this.lateness.percentile(50)),
        p99: ms(this.lateness.percentile(99)),
        max: ms(this.lateness.count > 0 ? this.lateness.max : 0),
      },
      gc: totals.gc,
      stallsReported: this.reported,
      stallsNotReported: this.suppressed,
    };
  }

  private arm(): void {
    // Stopped from inside a report (or while a tick ran): no further window.
    if (this.stopped) return;
    this.timer = setTimeout(() => this.tick(), this.o.windowMs);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.last - this.o.windowMs);
    const windowMs = now - this.last;
    this.last = now;
    this.lateness.record(Math.max(1, Math.round(late * 1e6)));
    const w = this.probe.window();
    const t = this.o.thresholdMs;
    const counters = this.counterDeltas();
    const stalled = late >= t || (w.cpuWaitMs ?? 0) >= t || w.gcMs >= t;
    if (stalled || counters !== undefined) this.send(now, windowMs, late, w.cpuWaitMs, w.gcMs, counters);
    this.arm();
  }

  private counterDeltas(): Record<string, number> | undefined {
    if (this.o.counters === undefined) return undefined;
    const now = this.o.counters();
    let out: Record<string, number> | undefined;
    let n = 0;
    for (const [name, value] of Object.entries(now)) {
      const delta = value - (this.counted[name] ?? 0);
      if (delta <= 0 || !REPORTED_COUNTERS.test(name) || n >= MAX_REPORT_COUNTERS) continue;
      out ??= {};
      out[name] = delta;
      n++;
    }
    this.counted = { ...now };
    return out;
  }

  private send(
    now: number,
    windowMs: number,
    late: number,
    cpuWaitMs: number | undefined,
    gcMs: number,
    counters: Record<string, number> | undefined,
  ): void {
    const second = Math.floor(now / 1000);
    if (second !== this.budget.second) this.budget = { second, left: MAX_REPORTS_PER_SECOND };
    if (this.budget.left <= 0) {
      this.suppressed++;
      return;
    }
    this.budget.left--;
    this.reported++;
    const r3 = (x: number): number => Number(x.toFixed(3));
    this.o.report({
      board: this.o.board,
      endedAt: performance.timeOrigin + now,
      windowMs: r3(windowMs),
      loopDelayMs: r3(late),
      ...(cpuWaitMs !== undefined ? { cpuWaitMs: r3(cpuWaitMs) } : {}),
      gcMs: r3(gcMs),
      ...(counters !== undefined ? { counters } : {}),
    });
  }
}
