/**
 * Child processes, started and stopped one way everywhere (board clusters, benches, tests):
 *
 * - `ChildProc.spawn` starts a process and keeps the last lines of its output (bounded), its exit as a promise;
 * - `stop(graceMs)` asks politely (an optional IPC message, given half the grace to work; SIGTERM at once
 *   without one) and kills (SIGKILL) after the grace period; it never throws and resolves once the process is
 *   gone;
 * - `ChildSet` holds the children of a run and kills whatever is left, synchronously, if this process exits
 *   without stopping them (an uncaught error): no orphan keeps a pty or a port open;
 * - `runToExit` runs a command to its end with a timeout and returns its exit code and output;
 * - `triplexCommand` is the command line that runs the triplex CLI in a process of its own (through tsx).
 *
 * @example
 * const children = new ChildSet();
 * const node = children.add(ChildProc.spawn({ ...triplexCommand(['node', '--board', 'b0']), label: 'b0' }));
 * await node.stop(3000); // SIGTERM, then SIGKILL after 3 s
 * const r = await runToExit(triplexCommand(['keys', 'gen', '--out', dir]), { timeoutMs: 20_000 });
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (where package.json is). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

/** The node arguments that run the triplex CLI in a process of its own, through tsx (as bin/triplex.mjs does). */
export function triplexCommand(args: readonly string[]): { command: string; args: string[] } {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', tsx, MAIN, ...args] };
}

export interface ChildOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** Names the child in errors and logs. */
  readonly label: string;
  /** Default: the repository root. */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Open an IPC channel (`child.process.send`, 'message' events). */
  readonly ipc?: boolean;
  /** Keep stdout (default false: ignored) and stderr (default true). */
  readonly stdout?: boolean;
  readonly stderr?: boolean;
  /** Lines of each stream kept (default 40). */
  readonly tailLines?: number;
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A bounded tail of a stream's lines. */
class Tail {
  readonly lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    // A line longer than any sane log line is cut, so one endless line cannot grow the buffer.
    if (this.partial.length > 16_384) this.partial = this.partial.slice(-16_384);
    for (const p of parts) if (p !== '') this.lines.push(p);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  text(): string {
    return [...this.lines, ...(this.partial === '' ? [] : [this.partial])].join('\n');
  }
}

export class ChildProc {
  readonly process: ChildProcess;
  readonly label: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exit: Promise<ChildExit>;
  private readonly out: Tail;
  private readonly err: Tail;
  private exitedWith: ChildExit | undefined;
  private spawnError: Error | undefined;

  private constructor(o: ChildOptions) {
    this.label = o.label;
    const max = o.tailLines ?? 40;
    this.out = new Tail(max);
    this.err = new Tail(max);
    const stdio: SpawnOptions['stdio'] = [
      'ignore',
      o.stdout ? 'pipe' : 'ignore',
      o.stderr === false ? 'ignore' : 'pipe',
      ...(o.ipc ? (['ipc'] as const) : []),
    ];
    this.process = spawn(o.command, [...o.args], {
      cwd: o.cwd ?? REPO_ROOT,
      stdio,
      ...(o.env ? { env: o.env } : {}),
    });
    this.process.stdout?.setEncoding('utf8');
    this.process.stdout?.on('data', (s: string) => this.out.push(s));
    this.process.stderr?.setEncoding('utf8');
    this.process.stderr?.on('data', (s: string) => this.err.push(s));
    this.exit = new Promise((ok) => {
      this.process.once('exit', (code, signal) => {
        this.exitedWith = { code, signal };
        ok(this.exitedWith);
      });
      // A process that could not be started at all (no such command) emits 'error' and no 'exit'.
      this.process.once('error', (e) => {
        this.spawnError = e;
        if (this.process.pid === undefined) {
          this.exitedWith = { code: null, signal: null };
          ok(this.exitedWith);
        }
      });
    });
  }

  static spawn(o: ChildOptions): ChildProc {
    return new ChildProc(o);
  }

  get exited(): boolean {
    return this.exitedWith !== undefined;
  }

  /** How it ended; undefined while it runs. */
  get exitStatus(): ChildExit | undefined {
    return this.exitedWith;
  }

  /** Why it could not be started or signalled, if it could not. */
  get error(): Error | undefined {
    return this.spawnError;
  }

  /** The last lines of its stdout (when kept) and stderr. */
  get stdout(): string {
    return this.out.text();
  }

  get stderr(): string {
    return this.err.text();
  }

  get stderrLines(): readonly string[] {
    return this.err.lines;
  }

  /** SIGKILL now (a crash, or the last resort). Never throws. */
  kill(): void {
    if (this.exited) return;
    try {
      this.process.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /**
   * Stop it. With `ask` (an IPC stop message, say), the child is asked first and given half of `graceMs` to
   * leave on its own; SIGTERM only if it has not (or at once, without `ask` or when `ask` returns false: it could
   * not ask); SIGKILL if it has not exited after `graceMs` in all. Resolves once it has exited (or a second after
   * SIGKILL, if even that is not seen). Never throws.
   *
   * Why not SIGTERM together with the ask: a child that honours the ask may already be exiting when the signal
   * lands. The IPC write wakes it, and a real-time child preempts an ordinary parent between the write and the
   * kill; by the time the parent runs again the child can be past the point where Node removes its signal
   * handlers (exit teardown), and the default action kills it: a clean stop reported as death by SIGTERM
   * (test/runtime/node/processes.test.ts once saw a board exit `{ code: null, signal: 'SIGTERM' }`).
   */
  async stop(graceMs: number, ask?: (child: ChildProcess) => boolean | void): Promise<ChildExit | undefined> {
    if (this.exited) return this.exitedWith;
    let asked = false;
    if (ask !== undefined) {
      try {
        asked = ask(this.process) !== false;
      } catch {
        // the IPC channel is already gone
      }
    }
    const askMs = asked ? Math.floor(graceMs / 2) : 0;
    if (askMs > 0 && (await this.exitWithin(askMs))) return this.exitedWith;
    try {
      this.process.kill('SIGTERM');
    } catch {
      // already gone
    }
    if (!(await this.exitWithin(graceMs - askMs))) {
      this.kill();
      await this.exitWithin(1000);
    }
    return this.exitedWith;
  }

  /** Whether it exits within `ms` (a timer that does not outlive the exit). */
  private async exitWithin(ms: number): Promise<boolean> {
    if (this.exited) return true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exit,
      new Promise<void>((ok) => {
        timer = setTimeout(ok, ms);
      }),
    ]);
    clearTimeout(timer);
    return this.exited;
  }
}

/** The children of a run: stopped together, and killed synchronously if this process exits first. */
export class ChildSet {
  private readonly children = new Set<ChildProc>();
  private readonly killAllSync = (): void => {
    for (const c of this.children) c.kill();
  };
  private guarded = false;

  add(child: ChildProc): ChildProc {
    this.children.add(child);
    if (!this.guarded) {
      process.on('exit', this.killAllSync);
      this.guarded = true;
    }
    void child.exit.then(() => this.children.delete(child));
    return child;
  }

  get size(): number {
    return this.children.size;
  }

  /** SIGKILL every child now. */
  killAll(): void {
    this.killAllSync();
  }

  /** Stop every child (see `ChildProc.stop`); afterwards the exit hook is removed. Never throws. */
  async stopAll(graceMs: number, ask?: (child: ChildProcess) => boolean | void): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop(graceMs, ask)));
    if (this.guarded) process.off('exit', this.killAllSync);
    this.guarded = false;
  }
}

export interface RunResult extends ChildExit {
  readonly stdout: string;
  readonly stderr: string;
  /** Stopped because it ran past the timeout. */
  readonly timedOut: boolean;
}

export interface RunOptions {
  readonly timeoutMs: number;
  /** Default: the repository root. */
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Bytes of each stream kept (default 1 MiB). */
  readonly maxBytes?: number;
  /**
   * Past the timeout: SIGTERM first (a run that closes its own children and writes its report), SIGKILL after
   * this many ms. Absent: SIGKILL at once.
   */
  readonly stopGraceMs?: number;
}

/** A command started by `startRun`: its process, its output so far, and its end. */
export interface StartedRun {
  readonly child: ChildProcess;
  /** Settles when it has exited and its streams are closed (never rejects). */
  readonly done: Promise<RunResult>;
  /** Stderr so far (up to `maxBytes`). */
  stderrSoFar(): string;
}

/**
 * Starts `command` with both streams captured (up to `maxBytes` each) and a deadline: past `timeoutMs` it is
 * stopped (see `stopGraceMs`) and the result says `timedOut`. Killed too if this process exits first.
 *
 * @example
 * const run = startRun({ command: 'npm', args: ['start', '--', '--json'] }, { timeoutMs: 90_000, stopGraceMs: 15_000 });
 * const { code, stdout, timedOut } = await run.done;
 */
export function startRun(
  c: { readonly command: string; readonly args: readonly string[] },
  o: RunOptions,
): StartedRun {
  const max = o.maxBytes ?? 1 << 20;
  const proc = spawn(c.command, [...c.args], {
    cwd: o.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(o.env ? { env: o.env } : {}),
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (s: string) => {
    if (stdout.length < max) stdout += s.slice(0, max - stdout.length);
  });
  proc.stderr.on('data', (s: string) => {
    if (stderr.length < max) stderr += s.slice(0, max - stderr.length);
  });
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    if (o.stopGraceMs === undefined) {
      proc.kill('SIGKILL');
      return;
    }
    proc.kill('SIGTERM');
    killTimer = setTimeout(() => proc.kill('SIGKILL'), o.stopGraceMs);
  }, o.timeoutMs);
  const kill = (): void => {
    proc.kill('SIGKILL');
  };
  process.on('exit', kill);
  const done = new Promise<ChildExit>((ok) => {
    proc.once('close', (code, signal) => ok({ code, signal }));
    proc.once('error', (e) => {
      stderr += `${e.message}\n`;
      if (proc.pid === undefined) ok({ code: null, signal: null });
    });
  }).then((exit) => {
    clearTimeout(timer);
    clearTimeout(killTimer);
    process.off('exit', kill);
    return { ...exit, stdout, stderr, timedOut };
  });
  return { child: proc, done, stderrSoFar: () => stderr };
}

/**
 * Runs `command` to its end and returns its exit code and output (up to `maxBytes` of each stream, default
 * 1 MiB); stopped past `timeoutMs` (SIGKILL, or SIGTERM first with `stopGraceMs`).
 */
export function runToExit(
  c: { readonly command: string; readonly args: readonly string[] },
  o: RunOptions,
): Promise<RunResult> {
  return startRun(c, o).done;
}
