/**
 * Real-time scheduling for a process with frame deadlines, where the host permits it. The host is not a
 * real-time system: under load, an ordinary (SCHED_OTHER) process waits for a CPU for tens of milliseconds at a
 * time (measured: README "Timing"), longer than a frame's deadline. In order:
 *
 * 1. Already real-time (systemd's `CPUSchedulingPolicy=fifo`, deploy/systemd, or started under `chrt`): kept.
 * 2. SCHED_FIFO for the JavaScript (main) thread via `chrt --fifo --pid` (util-linux; Linux only). Permitted to
 *    root, to CAP_SYS_NICE, or within an rtprio limit (`ulimit -r`). Only the main thread: a real-time thread
 *    that polls for a thread of equal priority on the same CPU never lets it run (measured: a whole process
 *    under `chrt` livelocked at start, its event loop polling while its module loader's worker starved), and
 *    the V8 helper threads would otherwise compete with it at equal priority. Ask for it once the process is
 *    up (modules loaded, links up), not before: what a process does at start is where it waits for others.
 *    Threads and child processes created afterwards inherit it. The threads the process already has (libuv's
 *    thread pool, V8's helpers) get SCHED_FIFO at a lower priority (`helpers`, default priority - 10): above
 *    every ordinary task, never above a main thread. They must not stay ordinary: a serial port reads and
 *    writes through `fs.read`/`fs.write` on the thread pool, and a real-time main thread waiting for a pool
 *    thread that waits for a CPU behind the machine's load is no faster than an ordinary one (measured: the
 *    process mode's links slow, "fewer than 2 outputs before the frame ended", with no main-thread stall).
 * 3. A lower nice value for the JavaScript thread (`os.setPriority`), where permitted. Note that with
 *    autogroup scheduling (`/proc/sys/kernel/sched_autogroup_enabled`, on in most desktop kernels) nice only
 *    ranks this process against others of its own session.
 * 4. Nothing: ordinary scheduling, and the reason each step was refused.
 *
 * The result says what the process got and why, for the log and the run's summary, so that a run's timing is
 * judged knowing its scheduling. `TRIPLEX_REALTIME=off` (or `nice`) in the environment stops at step 1 (or 3).
 *
 * @example
 * const s = requestRealtime({ priority: 40, nice: -10 });
 * logger.info({ scheduling: s }, s.summary); // 'SCHED_FIFO priority 40 (chrt)' or 'SCHED_OTHER nice 0: ...'
 */
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Logger } from 'pino';
import { SchedStat } from './host-probe.ts';

export type SchedulingPolicy = 'fifo' | 'rr' | 'other' | 'batch' | 'idle' | 'deadline' | 'unknown';

export interface Scheduling {
  readonly policy: SchedulingPolicy;
  /** Real-time priority (fifo, rr), 0 otherwise. */
  readonly priority: number;
  /** Nice value of the JavaScript thread. */
  readonly nice: number;
  /** How it was obtained: 'inherited' (systemd, chrt outside), 'chrt', 'setpriority', 'none'. */
  readonly how: 'inherited' | 'chrt' | 'setpriority' | 'none';
  /** The process's other threads given SCHED_FIFO, and at which priority (absent: none changed). */
  readonly helperThreads?: { readonly count: number; readonly priority: number };
  /** Why each step that did not apply was refused (empty when real-time scheduling was obtained). */
  readonly refused: readonly string[];
  /** One line for logs and the status. */
  readonly summary: string;
}

export interface RealtimeRequest {
  /** SCHED_FIFO priority, 1 to 99 (default 40: above ordinary tasks, below threaded interrupt handlers at 50). */
  readonly priority?: number;
  /** Nice value to fall back to, -20 to 0 (default -10). */
  readonly nice?: number;
  /** 'fifo' (default), 'nice' (skip step 2), or 'off' (change nothing); default from TRIPLEX_REALTIME. */
  readonly mode?: 'fifo' | 'nice' | 'off';
  /** Process to change (default this one); a test points it at a child. */
  readonly pid?: number;
  /** SCHED_FIFO priority for the process's other threads, 1 to `priority` (default priority - 10); 0 leaves them. */
  readonly helpers?: number;
}

/**
 * SCHED_FIFO priorities by role in process mode (`triplex sim --processes`, the soak): one priority for every
 * process made the rig's input units wait behind board processes catching up after a rejoin (measured: old
 * boards used 0.5 to 1.1 s of CPU in 1.3 s at SCHED_FIFO 40 while the rig's process, also at 40, got 36 ms, and
 * ordering stalled for want of samples). So, highest first:
 *
 * - relay: the socat processes that carry every message between boards (the wire on a bench; they block in
 *   poll and never spin), so no process starves the messages of another;
 * - rig: the rig's process (plant, sensors, input units, the voter, the actuator), whose samples every frame
 *   needs and whose voter has the deadline; its helper threads (the serial ports' reads and writes) above the
 *   boards' main threads too;
 * - board: replica and channel board processes: what a board catching up costs comes out of the boards, not out of
 *   the frames' inputs or the vote;
 * - rejoining: a restarted board process until it rejoined: its catch-up comes out of what the flying boards
 *   leave, not out of them.
 *
 * All below the firmware unit's 45 (src/runtime/firmware/priority.ts) and threaded interrupt handlers at 50.
 */
export const ROLE_PRIORITY = {
  relay: { priority: 44, helpers: 44 },
  /** A board process closing and exiting (raiseForExit): above the rig that reaps it, below the relays. */
  exiting: { priority: 43, helpers: 43 },
  rig: { priority: 42, helpers: 39 },
  board: { priority: 36, helpers: 30 },
  /**
   * A restarted board process until it has rejoined (its replica executed past its recovery point, its channel
   * rebuilt): below every thread of the boards that fly (their helpers at 30 carry the links' reads and
   * writes), above every ordinary task; raised to `board` once rejoined (Node.takeRealtime). Its catch-up
   * (state transfer, the replay of the batches since, the rebuild) spins for hundreds of ms, and at the boards'
   * own priority it held a CPU against them on two cores while the group needed every one of them.
   */
  rejoining: { priority: 28, helpers: 26 },
} as const satisfies Record<string, { priority: number; helpers: number }>;

const POLICIES: Readonly<Record<number, SchedulingPolicy>> = {
  0: 'other',
  1: 'fifo',
  2: 'rr',
  3: 'batch',
  5: 'idle',
  6: 'deadline',
};

/** The scheduling policy and real-time priority of `pid` from /proc (undefined off Linux). */
export function currentPolicy(pid = process.pid): { policy: SchedulingPolicy; priority: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): field 3 is the first here.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const priority = Number(fields[40 - 3]);
  const policy = Number(fields[41 - 3]);
  if (!Number.isInteger(priority) || !Number.isInteger(policy)) return undefined;
  return { policy: POLICIES[policy] ?? 'unknown', priority };
}

function niceOf(pid: number): number {
  try {
    return getPriority(pid);
  } catch {
    return 0;
  }
}

function modeFromEnv(): 'fifo' | 'nice' | 'off' {
  const v = process.env['TRIPLEX_REALTIME'];
  return v === 'off' || v === 'nice' ? v : 'fifo';
}

function result(
  pid: number,
  how: Scheduling['how'],
  refused: readonly string[],
  helpers?: Scheduling['helperThreads'],
): Scheduling {
  const p = currentPolicy(pid) ?? { policy: 'unknown' as const, priority: 0 };
  const nice = niceOf(pid);
  const realtime = p.policy === 'fifo' || p.policy === 'rr';
  const got = realtime
    ? `SCHED_${p.policy.toUpperCase()} priority ${p.priority}`
    : `SCHED_${p.policy.toUpperCase()} nice ${nice}`;
  const why = realtime ? '' : refused.join('; ');
  const others =
    realtime && helpers !== undefined ? `; ${helpers.count} other threads at ${helpers.priority}` : '';
  const summary = `${got} (${how === 'none' ? 'unchanged' : how}${others})${why ? `: ${why}` : ''}`;
  return {
    policy: p.policy,
    priority: realtime ? p.priority : 0,
    nice,
    how,
    ...(realtime && helpers !== undefined ? { helperThreads: helpers } : {}),
    refused,
    summary,
  };
}

/** Asks for real-time scheduling as the module comment describes; never throws. */
export function requestRealtime(r: RealtimeRequest = {}): Scheduling {
  const pid = r.pid ?? process.pid;
  const priority = r.priority ?? 40;
  const nice = r.nice ?? -10;
  if (!(Number.isInteger(priority) && priority >= 1 && priority <= 99))
    throw new RangeError(`real-time priority must be 1 to 99, got ${priority}`);
  if (!(Number.isInteger(nice) && nice >= -20 && nice <= 0))
    throw new RangeError(`nice must be -20 to 0, got ${nice}`);
  const helpers = r.helpers ?? Math.max(1, priority - 10);
  if (!(Number.isInteger(helpers) && helpers >= 0 && helpers <= priority))
    throw new RangeError(`helper thread priority must be 0 to ${priority}, got ${helpers}`);
  const mode = r.mode ?? modeFromEnv();
  const now = currentPolicy(pid);
  if (now !== undefined && (now.policy === 'fifo' || now.policy === 'rr'))
    return result(pid, 'inherited', []);
  if (mode === 'off') return result(pid, 'none', ['TRIPLEX_REALTIME=off']);
  const refused: string[] = [];
  if (mode === 'fifo') {
    // The other threads first (all tasks at the helpers' priority), then the main thread above them.
    const others = helpers > 0 ? tryChrt(pid, helpers, true) : undefined;
    const chrt = tryChrt(pid, priority);
    if (chrt === undefined) {
      const count = helpers > 0 && others === undefined ? threadCount(pid) - 1 : 0;
      return result(pid, 'chrt', [], count > 0 ? { count, priority: helpers } : undefined);
    }
    refused.push(chrt);
  } else refused.push('TRIPLEX_REALTIME=nice');
  if (niceOf(pid) <= nice) return result(pid, 'inherited', refused);
  try {
    setPriority(pid, nice);
    return result(pid, 'setpriority', refused);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    refused.push(
      `setpriority(${nice}): ${code}${code === 'EACCES' ? ' (needs CAP_SYS_NICE or a nice limit)' : ''}`,
    );
    return result(pid, 'none', refused);
  }
}

/** Threads of `pid` (Linux /proc; 1 where it cannot be read). */
function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 1;
  }
}

/** SCHED_FIFO for the main thread of `pid` (or every thread: `all`) through chrt; undefined on success, else why not. */
function tryChrt(pid: number, priority: number, all = false): string | undefined {
  if (process.platform !== 'linux') return `SCHED_FIFO: not on Linux (${process.platform})`;
  const args = ['--fifo', ...(all ? ['--all-tasks'] : []), '--pid', String(priority), String(pid)];
  const r = spawnSync('chrt', args, {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code ?? r.error.message;
    return `chrt: ${code === 'ENOENT' ? 'not installed (util-linux)' : code}`;
  }
  const after = currentPolicy(pid);
  if (r.status === 0 && after?.policy === 'fifo') return undefined;
  const said = (r.stderr ?? '').trim().split('\n').at(-1) ?? '';
  const denied = /not permitted/i.test(said);
  return `chrt --fifo ${priority}: ${said || `exit ${r.status}`}${denied ? ' (needs root, CAP_SYS_NICE or an rtprio limit: ulimit -r)' : ''}`;
}

/** Back to ordinary scheduling (every thread of `pid`); undefined on success, else why not. */
export function dropRealtime(pid = process.pid): string | undefined {
  const now = currentPolicy(pid);
  if (now === undefined || (now.policy !== 'fifo' && now.policy !== 'rr')) return undefined;
  const r = spawnSync('chrt', ['--other', '--all-tasks', '--pid', '0', String(pid)], {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status === 0) return undefined;
  return `chrt --other: ${(r.stderr ?? '').trim() || r.error?.message || `exit ${r.status}`}`;
}

/**
 * Every thread of this process at ROLE_PRIORITY.exiting for its last steps (close, exit); undefined on success,
 * else why not.
 *
 * Why: the rig's real-time main thread reaps a board process that exits (libuv's wait4 on SIGCHLD), and the
 * kernel then invalidates the process's /proc entries (release_task, d_invalidate, shrink_dcache_parent).
 * When an exiting thread of that process still has some of those entries on its own list, the reaper loops
 * until the thread runs; a thread at ordinary (or board) priority, preempted by the rig on its CPU or kept off
 * the other by busy boards, ran only when real-time throttling stopped the rig: 0.9 to 1 s of the rig's main
 * thread in d_walk at each restart (perf, 2026-12-02, load 5 to 10), no input samples, 6 to 14 frames lost to
 * an ordering stall. Above the rig, the exiting threads finish their part first.
 */
export function raiseForExit(pid = process.pid): string | undefined {
  if (process.platform !== 'linux') return `SCHED_FIFO: not on Linux (${process.platform})`;
  const to = String(ROLE_PRIORITY.exiting.priority);
  const r = spawnSync('chrt', ['--fifo', '--all-tasks', '--pid', to, String(pid)], {
    encoding: 'utf8',
    timeout: 5000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (r.status === 0) return undefined;
  return `chrt --fifo ${to}: ${(r.stderr ?? '').trim() || r.error?.message || `exit ${r.status}`}`;
}

/** `chrt` without blocking the event loop (a frame goes on while it runs); undefined on success, else why not. */
function chrtAsync(args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('chrt', args, { encoding: 'utf8', timeout: 5000 }, (err, _out, stderr) => {
      if (err === null) resolve(undefined);
      else resolve(`chrt ${args.join(' ')}: ${stderr.trim() || err.message}`);
    });
  });
}

/** dropRealtime without blocking: every thread of `pid` back to SCHED_OTHER. */
export async function dropRealtimeAsync(pid = process.pid): Promise<string | undefined> {
  const now = currentPolicy(pid);
  if (now === undefined || (now.policy !== 'fifo' && now.policy !== 'rr')) return undefined;
  return await chrtAsync(['--other', '--all-tasks', '--pid', '0', String(pid)]);
}

/**
 * Real-time scheduling again after a drop, without blocking: every thread at `helpers`, then the main thread at
 * `priority` (as requestRealtime gives it); undefined on success, else why not.
 */
export async function restoreRealtimeAsync(
  pid: number,
  priority: number,
  helpers: number,
): Promise<string | undefined> {
  if (process.platform !== 'linux') return `SCHED_FIFO: not on Linux (${process.platform})`;
  if (helpers > 0) {
    const failed = await chrtAsync(['--fifo', '--all-tasks', '--pid', String(helpers), String(pid)]);
    if (failed !== undefined) return failed;
  }
  return await chrtAsync(['--fifo', '--pid', String(priority), String(pid)]);
}

export interface GovernorOptions {
  /** Share of one CPU the JavaScript thread may use in a window before the window counts as spinning (0.85). */
  readonly maxShare?: number;
  /** Consecutive spinning windows that drop real-time scheduling (2). */
  readonly windows?: number;
  /** Window length, ms (250). */
  readonly windowMs?: number;
  /**
   * Mean share of one CPU over `sustainedWindows` windows that also drops real time (0.6): a spin that hovers just
   * under `maxShare` (two board processes at 83-87 % of a CPU each for 75 s never had two windows in a row above
   * 0.85, and starved every thread below them: their own libuv pool threads, the others' reads, a killed board's
   * exit). A board at 50 Hz uses 12-27 %.
   */
  readonly sustainedShare?: number;
  /** Windows the sustained mean is taken over (8: 2 s). */
  readonly sustainedWindows?: number;
  readonly pid?: number;
  /**
   * Consecutive calm windows (at most half of `maxShare`) after a drop before real time is taken back (8: 2 s);
   * doubled at every further drop, up to 64 windows, so a process that spins again and again settles at
   * ordinary scheduling instead of flapping. 0: never taken back.
   */
  readonly calmWindows?: number;
  /** What to take back after a drop (default: what the process had when the governor started). */
  readonly restore?: { readonly priority: number; readonly helpers: number };
}

/** Most calm windows a restore waits for after repeated drops. */
const MAX_CALM_WINDOWS = 64;

/**
 * A real-time process that spins starves everything below it, including the peers it may be waiting for (a
 * board process polling a link whose other end cannot run): a livelock. The governor watches this process's
 * JavaScript thread and, when it used more than `maxShare` of a CPU for `windows` windows in a row, or more than
 * `sustainedShare` on average over `sustainedWindows` (a spin just under `maxShare`), gives real-time scheduling
 * back and says so. A control loop at 50 Hz uses a few percent. Half a second: while it
 * spins at real-time priority, every ordinary task on its CPU and every real-time one queued behind it waits
 * (measured: board processes caught in a message storm after a view change spun at 92-95% of a CPU; with
 * windows of 1 s x 3, the others, the rig's process included, waited 3 s for a CPU).
 *
 * A spin is an episode (a catch-up after a rejoin, a message storm), not the process's nature: once the process
 * has been calm for `calmWindows`, real time is taken back. Without that, a board that spun once flew the rest of
 * the run at ordinary priority, behind every other load on the machine, and was then the board that made
 * ordering late. The drop and the restore run `chrt` asynchronously: a blocking spawn stalled the event loop of
 * a process with frame deadlines for tens of milliseconds on a loaded host.
 *
 * @example
 * const governor = RealtimeGovernor.start(logger);
 * // ... the flight
 * governor.stop(); // undefined, or 'real-time scheduling dropped: ...; dropped 2 times in all, taken back 1 times'
 */
export class RealtimeGovernor {
  /** The watched process's main thread (not necessarily this one: `pid`). */
  private readonly sched: SchedStat;
  private readonly timer: NodeJS.Timeout;
  private readonly restoreTo: { readonly priority: number; readonly helpers: number } | undefined;
  private spinning = 0;
  /** The last `sustainedWindows` shares, for the sustained rule. */
  private readonly shares: number[] = [];
  private calm = 0;
  private state: 'realtime' | 'dropping' | 'dropped' | 'restoring' | 'stopped' = 'realtime';
  private endWith: 'ordinary' | 'keep' = 'ordinary';
  private drops = 0;
  private restores = 0;
  private firstDrop: string | undefined;
  private lastFailure: string | undefined;
  private last = performance.now();

  private constructor(
    private readonly logger: Logger,
    private readonly o: Required<Omit<GovernorOptions, 'restore'>> & Pick<GovernorOptions, 'restore'>,
  ) {
    this.sched = new SchedStat(o.pid === process.pid ? '/proc/self/schedstat' : `/proc/${o.pid}/schedstat`);
    const now = currentPolicy(o.pid);
    this.restoreTo =
      o.restore ??
      (now !== undefined && (now.policy === 'fifo' || now.policy === 'rr')
        ? { priority: now.priority, helpers: Math.max(1, now.priority - 10) }
        : undefined);
    this.timer = setInterval(() => this.check(), o.windowMs);
    this.timer.unref();
  }

  static start(logger: Logger, o: GovernorOptions = {}): RealtimeGovernor {
    return new RealtimeGovernor(logger, {
      maxShare: o.maxShare ?? 0.85,
      windows: o.windows ?? 2,
      windowMs: o.windowMs ?? 250,
      sustainedShare: o.sustainedShare ?? 0.6,
      sustainedWindows: o.sustainedWindows ?? 8,
      pid: o.pid ?? process.pid,
      calmWindows: o.calmWindows ?? 8,
      ...(o.restore ? { restore: o.restore } : {}),
    });
  }

  /** Real-time drops and restores so far. */
  get counts(): { readonly drops: number; readonly restores: number } {
    return { drops: this.drops, restores: this.restores };
  }

  /**
   * Stops watching and returns to ordinary scheduling (`keep`: leaves the scheduling as it is, for a process
   * that sets its own for its exit, raiseForExit); says why if it had to drop real time early.
   */
  stop(then: 'ordinary' | 'keep' = 'ordinary'): string | undefined {
    clearInterval(this.timer);
    this.sched.close();
    this.state = 'stopped';
    this.endWith = then;
    const failed = then === 'ordinary' ? dropRealtime(this.o.pid) : undefined;
    if (failed !== undefined) this.logger.warn({ err: failed }, 'could not return to ordinary scheduling');
    if (this.drops === 0) return undefined;
    const since =
      this.drops > 1 || this.restores > 0
        ? `; dropped ${this.drops} times in all, taken back ${this.restores} times`
        : '';
    return `${this.firstDrop}${since}${this.lastFailure ? ` (${this.lastFailure})` : ''}`;
  }

  private check(): void {
    const now = performance.now();
    const s = this.sched.read();
    const wall = now - this.last;
    this.last = now;
    if (s === undefined || wall <= 0) return;
    const share = s.runMs / wall;
    if (this.state === 'realtime') {
      this.spinning = share > this.o.maxShare ? this.spinning + 1 : 0;
      // A late check (the event loop held for a while) covers several windows of wall time: its share weighs as
      // much as the windows it stands for, at most the whole span.
      const weight = Math.min(this.o.sustainedWindows, Math.max(1, Math.round(wall / this.o.windowMs)));
      for (let i = 0; i < weight; i++) this.shares.push(share);
      while (this.shares.length > this.o.sustainedWindows) this.shares.shift();
      const mean = this.shares.reduce((a, b) => a + b, 0) / this.shares.length;
      if (this.spinning >= this.o.windows)
        void this.drop(share, `for ${this.spinning} windows of ${this.o.windowMs} ms`);
      else if (this.shares.length >= this.o.sustainedWindows && mean > this.o.sustainedShare)
        void this.drop(mean, `on average over ${this.o.sustainedWindows} windows of ${this.o.windowMs} ms`);
    } else if (this.state === 'dropped') {
      this.calm = share <= this.o.maxShare / 2 ? this.calm + 1 : 0;
      const needed = Math.min(MAX_CALM_WINDOWS, this.o.calmWindows * 2 ** (this.drops - 1));
      if (this.restoreTo !== undefined && this.o.calmWindows > 0 && this.calm >= needed) void this.restore();
    }
  }

  private async drop(share: number, how: string): Promise<void> {
    this.state = 'dropping';
    this.spinning = 0;
    this.shares.length = 0;
    // Counted and said when decided: the chrt runs on while this process flies on.
    this.drops++;
    const why = `real-time scheduling dropped: the JS thread used ${(share * 100).toFixed(0)}% of a CPU ${how}`;
    this.firstDrop ??= why;
    this.logger.warn({ share, drops: this.drops }, why);
    const failed = await dropRealtimeAsync(this.o.pid);
    if (failed !== undefined) {
      this.lastFailure = failed;
      this.logger.warn({ err: failed }, 'real-time scheduling not dropped');
    }
    if (this.state === 'dropping') {
      this.state = 'dropped';
      this.calm = 0;
    }
  }

  private async restore(): Promise<void> {
    const to = this.restoreTo!;
    this.state = 'restoring';
    const failed = await restoreRealtimeAsync(this.o.pid, to.priority, to.helpers);
    if (this.state !== 'restoring') {
      // Stopped meanwhile: ordinary scheduling is what the process must end with (unless it sets its own).
      if (failed === undefined && this.endWith === 'ordinary') dropRealtime(this.o.pid);
      return;
    }
    if (failed !== undefined) {
      this.lastFailure = failed;
      this.logger.warn({ err: failed }, 'real-time scheduling not taken back');
      this.state = 'dropped';
      this.calm = 0;
      return;
    }
    this.restores++;
    this.logger.info({ restores: this.restores, priority: to.priority }, 'real-time scheduling taken back');
    this.state = 'realtime';
    this.spinning = 0;
    this.shares.length = 0;
  }
}
