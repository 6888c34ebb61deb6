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

/** Runs `scheduler` to `end` (ms); paced at `speedup` x real time when given, in slices of `sliceMs`. */
export async function runLockstep(
  scheduler: VirtualScheduler,
  end: number,
  speedup: number | undefined,
  sliceMs: number,
): Promise<void> {
  if (speedup === undefined) {
    scheduler.runUntil(end);
    return;
  }
  const started = performance.now();
  for (let t = sliceMs; t < end + sliceMs; t += sliceMs) {
    scheduler.runUntil(Math.min(t, end));
    const wait = started + Math.min(t, end) / speedup - performance.now();
    if (wait > 1) await sleep(wait);
  }
}
