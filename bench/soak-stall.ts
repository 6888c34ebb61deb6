/**
 * What a soak prints when the voter stops writing: once `thresholdFrames` frames in a row went without a write,
 * and every `everyFrames` more while it lasts, a snapshot of what the run was waiting on (the caller's
 * `snapshot`: the rig's links, the boards' last statuses, the restarts in progress, each process's scheduling
 * state), and one line when writes come back. A stall seen once an hour is found from these lines, not from a
 * minute's totals.
 *
 * @example
 * const stalls = new StallWatch({ thresholdFrames: 50, everyFrames: 250, snapshot, write: (l) => console.log(l) });
 * run.onFrame = (record) => stalls.frame(record.frame, record.outcome === 'write');
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface StallWatchOptions {
  /** Frames in a row without a write before the first snapshot. */
  readonly thresholdFrames: number;
  /** Frames between snapshots while the stall lasts. */
  readonly everyFrames: number;
  readonly snapshot: () => object;
  /** Where the JSON lines go. */
  readonly write: (line: string) => void;
}

export class StallWatch {
  private run = 0;
  private fromFrame = 0;
  private snapshots = 0;

  constructor(private readonly o: StallWatchOptions) {}

  /** Each recorded frame: whether the voter wrote it. */
  frame(frame: number, written: boolean): void {
    if (written) {
      if (this.run >= this.o.thresholdFrames)
        this.o.write(
          JSON.stringify({ stallEnded: { fromFrame: this.fromFrame, toFrame: frame, frames: this.run } }),
        );
      this.run = 0;
      return;
    }
    if (this.run === 0) this.fromFrame = frame;
    this.run++;
    const past = this.run - this.o.thresholdFrames;
    if (past < 0 || past % this.o.everyFrames !== 0) return;
    // At most 100 snapshots a run: a stall of an hour still prints a bounded report.
    if (this.snapshots >= 100) return;
    this.snapshots++;
    this.o.write(
      JSON.stringify({ stall: { fromFrame: this.fromFrame, frame, frames: this.run, ...this.o.snapshot() } }),
    );
  }
}

/**
 * One process's main thread as Linux shows it: state (R running, S sleeping, D in the kernel, T stopped), the
 * kernel function it waits in, its scheduling policy and real-time priority, CPU ms so far, and how many of its
 * threads are running. Undefined where /proc cannot tell (gone, not Linux).
 */
export function processState(pid: number):
  | {
      state: string;
      wchan: string;
      policy: number;
      rtPriority: number;
      cpuMs: number;
      runningThreads: number;
    }
  | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields from 3 (state) on: utime 14, stime 15, rt_priority 40, policy 41 (man 5 proc), here 0-based from 3.
    const ticks = Number(f[11]) + Number(f[12]);
    let wchan = '';
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, 'latin1');
    } catch {
      // not readable: left empty
    }
    return {
      state: f[0]!,
      wchan,
      policy: Number(f[38]),
      rtPriority: Number(f[37]),
      cpuMs: ticks * 10,
      runningThreads: countRunning(pid),
    };
  } catch {
    return undefined;
  }
}

function countRunning(pid: number): number {
  let n = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tids.slice(0, 64)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'R') n++;
    } catch {
      // gone
    }
  }
  return n;
}
