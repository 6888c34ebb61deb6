/**
 * Clocks of a run. Lockstep runs drive a VirtualScheduler, as fast as the CPU allows or, with a speedup, paced
 * against the wall clock (X times real time, so live telemetry looks like a flight) without giving up
 * determinism: pacing only waits between slices, it never changes what runs in them. Realtime runs use real
 * timers, optionally scaled (`--speedup 0.5` flies at half speed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RealScheduler, type Scheduler, type VirtualScheduler } from '../src/runtime/scheduler.ts';

/**
 * Real timers, `speedup` times faster than the wall clock (1: real time). The clock is held at 0 until `rebase()`
 * (src/runtime/scheduler.ts `held`): the bench opens its links and starts its boards first (a firmware voter
 * boots and answers its handshake then), and frame 0 then starts at time 0 instead of catching up with frames
 * that were due while the boards started. Timers asked for while held are armed at `rebase`.
 */
export class WallClock implements Scheduler {
  private readonly real = new RealScheduler({ held: true });

  constructor(private readonly speedup = 1) {
    if (!(speedup > 0) || !Number.isFinite(speedup))
      throw new RangeError(`speedup must be positive, got ${speedup}`);
  }

  now(): number {
    return this.real.now() * this.speedup;
  }

  at(t: number, fn: () => void): () => void {
    return this.real.at(t / this.speedup, fn);
  }

  /** Time 0 is now: the held clock starts (once; later calls change nothing). Returns whether it moved. */
  rebase(): boolean {
    if (!this.real.isHeld) return false;
    this.real.begin();
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
