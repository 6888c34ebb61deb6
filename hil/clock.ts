/**
 * Clocks of a run. Lockstep runs drive a VirtualScheduler, as fast as the CPU allows or, with a speedup, paced
 * against the wall clock (X times real time, so live telemetry looks like a flight) without giving up
 * determinism: pacing only waits between slices, it never changes what runs in them. Realtime runs use real
 * timers, optionally scaled (`--speedup 0.5` flies at half speed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RealScheduler, type Scheduler, type VirtualScheduler } from '../src/runtime/scheduler.ts';

/**
 * Real timers, `speedup` times faster than the wall clock (1: real time). `rebase()` moves time 0 to now while no
 * timer is pending: the bench opens its links first, and frame 0 then starts at time 0 instead of catching up.
 */
export class WallClock implements Scheduler {
  private real = new RealScheduler();
  private pending = 0;

  constructor(private readonly speedup = 1) {
    if (!(speedup > 0) || !Number.isFinite(speedup))
      throw new RangeError(`speedup must be positive, got ${speedup}`);
  }

  now(): number {
    return this.real.now() * this.speedup;
  }

  at(t: number, fn: () => void): () => void {
    this.pending++;
    let done = false;
    const settle = (): void => {
      if (!done) this.pending--;
      done = true;
    };
    const cancel = this.real.at(t / this.speedup, () => {
      settle();
      fn();
    });
    return () => {
      settle();
      cancel();
    };
  }

  /** Time 0 is now, if nothing is scheduled yet; returns whether it moved. */
  rebase(): boolean {
    if (this.pending > 0) return false;
    this.real = new RealScheduler();
    return true;
  }
}

/**
 * Runs `scheduler` to `end` (ms) in slices of `sliceMs`, yielding to the event loop between slices (so Ctrl-C is
 * heard) and, with a speedup, waiting until the wall clock has caught up with X x virtual time. Slicing never
 * changes what runs or in which order: the result is the same as one `runUntil(end)`. Stops early when `signal`
 * is aborted.
 */
export async function runLockstep(
  scheduler: VirtualScheduler,
  end: number,
  speedup: number | undefined,
  sliceMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const started = performance.now();
  const slice = speedup === undefined ? sliceMs * 50 : sliceMs;
  for (let t = slice; ; t += slice) {
    const until = Math.min(t, end);
    scheduler.runUntil(until);
    if (until >= end || signal?.aborted) return;
    const wait = speedup === undefined ? 0 : started + until / speedup - performance.now();
    if (wait > 1) await sleep(wait);
    else await new Promise((r) => setImmediate(r));
  }
}
