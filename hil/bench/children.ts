/**
 * Emulated boards as child processes: each a `triplex node` on the links the bench gives it, with Node's IPC
 * channel for the rig's fault commands (channel faults) and status. The rig also reaches them with signals: a
 * crash is SIGKILL, a hang SIGSTOP until SIGCONT. Children are always stopped: `close()` resumes any stopped one,
 * asks it to stop, then SIGTERM, then SIGKILL; a child whose parent vanishes exits on its own (IPC disconnect).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChannelFault } from '../../src/runtime/loop/channel-fault.ts';
import { triplexCommand } from '../../src/runtime/node/cluster.ts';
import { type FromBoard, parseFromBoard, type ToBoard } from '../../src/runtime/node/ipc.ts';

const STDERR_LINES = 40;

interface Child {
  readonly board: string;
  readonly process: ChildProcess;
  readonly stderr: string[];
  ready: boolean;
  exited: boolean;
  stopped: boolean;
}

export interface SpawnOptions {
  readonly configFile: string;
  readonly keysDir: string;
  readonly logDir: string;
  readonly logLevel: string;
  readonly seed: number;
  readonly pace: boolean;
  readonly logger: Logger;
  /** Working directory of the children (the repository root). */
  readonly cwd: string;
}

export class BoardProcesses {
  private readonly children = new Map<string, Child>();
  private closing = false;
  private readonly killAllSync = (): void => {
    for (const c of this.children.values()) if (!c.exited) c.process.kill('SIGKILL');
  };

  constructor(private readonly o: SpawnOptions) {
    process.on('exit', this.killAllSync);
  }

  spawn(board: string): void {
    const { command, args } = triplexCommand([
      'node',
      '--config',
      this.o.configFile,
      '--board',
      board,
      '--keys',
      this.o.keysDir,
      '--log-level',
      this.o.logLevel,
      '--log-file',
      `${this.o.logDir}/node-${board}.log`,
      '--seed',
      String(this.o.seed),
      ...(this.o.pace ? [] : ['--no-pace']),
    ]);
    const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], cwd: this.o.cwd });
    const child: Child = { board, process: proc, stderr: [], ready: false, exited: false, stopped: false };
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (s: string) => {
      child.stderr.push(...s.split('\n').filter((l) => l !== ''));
      child.stderr.splice(0, Math.max(0, child.stderr.length - STDERR_LINES));
    });
    proc.on('message', (raw) => {
      const m: FromBoard | undefined = parseFromBoard(raw);
      if (m?.type === 'ready') child.ready = true;
    });
    proc.on('exit', (code, signal) => {
      child.exited = true;
      if (!this.closing) this.o.logger.warn({ board, code, signal }, 'board process exited');
    });
    proc.on('error', (e) => this.o.logger.error({ board, err: e.message }, 'board process error'));
    this.children.set(board, child);
  }

  pid(board: string): number | undefined {
    return this.children.get(board)?.process.pid;
  }

  alive(board: string): boolean {
    const c = this.children.get(board);
    return c !== undefined && !c.exited;
  }

  /** Waits until every child reports its links up; rejects naming the ones that exited or are late. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const all = [...this.children.values()];
      const dead = all.find((c) => c.exited);
      if (dead !== undefined) {
        throw new Error(
          `board process '${dead.board}' exited during start (code ${dead.process.exitCode}):\n  ${dead.stderr.join('\n  ')}`,
        );
      }
      if (all.every((c) => c.ready)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `board processes not ready within ${timeoutMs} ms: ${all
            .filter((c) => !c.ready)
            .map((c) => c.board)
            .join(', ')}`,
        );
      }
      await sleep(20);
    }
  }

  injectChannelFault(board: string, fault: ChannelFault): boolean {
    return this.send(board, { type: 'fault', fault });
  }

  clearChannelFault(board: string): boolean {
    return this.send(board, { type: 'repair' });
  }

  /** A real crash: SIGKILL. */
  kill(board: string): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.exited) return false;
    return c.process.kill('SIGKILL');
  }

  /** SIGSTOP (true) or SIGCONT (false): the process is frozen, its links stay open, its input piles up. */
  freeze(board: string, frozen: boolean): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.exited) return false;
    c.stopped = frozen;
    return c.process.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  async close(graceMs = 3000): Promise<void> {
    this.closing = true;
    process.off('exit', this.killAllSync);
    await Promise.all([...this.children.values()].map((c) => stop(c, graceMs)));
  }

  private send(board: string, m: ToBoard): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.exited || !c.process.connected) return false;
    try {
      return c.process.send(m);
    } catch {
      return false;
    }
  }
}

async function stop(c: Child, graceMs: number): Promise<void> {
  if (c.exited) return;
  const exited = new Promise<void>((r) => c.process.once('exit', () => r()));
  if (c.stopped) c.process.kill('SIGCONT');
  try {
    if (c.process.connected) c.process.send({ type: 'stop' } satisfies ToBoard);
  } catch {
    // already gone
  }
  c.process.kill('SIGTERM');
  await Promise.race([exited, sleep(graceMs)]);
  if (!c.exited) {
    c.process.kill('SIGKILL');
    await Promise.race([exited, sleep(1000)]);
  }
}
