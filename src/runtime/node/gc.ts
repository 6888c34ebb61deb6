/**
 * The garbage collector's settings for a process with frame deadlines (measured in README "Timing"):
 *
 * - scavenges (the young-generation GC, several a second here) on the JavaScript thread alone. V8 runs them in
 *   parallel with helper threads and the JavaScript thread waits for the helpers; on a loaded machine, and
 *   always when only the JavaScript thread is real-time, the helpers wait for a CPU and the pause grows
 *   (measured at load 9 to 12 with SCHED_FIFO on the main thread: scavenges up to 66 ms in parallel, 4 to 15 ms
 *   serial);
 * - one full collection just before frame 0, so that the garbage of the start and of the JIT warm-up is not
 *   collected in the first seconds of flight (measured: a 54 ms pause at frame 9 without it).
 *
 * @example
 * serialScavenges();
 * collectNow(); // ms the full collection took, or undefined where it could not be run
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let serial = false;
let gcFunction: (() => void) | undefined;

/** Scavenges on the JavaScript thread only (`--no-parallel-scavenge`); idempotent; whether it is set. */
export function serialScavenges(): boolean {
  if (serial) return true;
  try {
    setFlagsFromString('--no-parallel-scavenge');
    serial = true;
  } catch {
    serial = false;
  }
  return serial;
}

/** A full garbage collection now; the time it took (ms), or undefined where V8 would not expose it. */
export function collectNow(): number | undefined {
  try {
    if (gcFunction === undefined) {
      // `--expose-gc` set at run time takes effect in contexts created afterwards.
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    }
    const start = performance.now();
    gcFunction();
    return performance.now() - start;
  } catch {
    return undefined;
  }
}
