/**
 * Emulated boards as child processes: each a `triplex node` on the links the bench gives it, with Node's IPC
 * channel for the rig's fault commands (channel faults) and status. The rig also reaches them with signals: a
 * crash is SIGKILL, a hang SIGSTOP until SIGCONT. Starting, output tails and stopping are the one way of
 * src/runtime/process/child.ts (ChildProc, ChildSet); this file adds what the bench needs on top: readiness
 * from the board's IPC, fault commands, and the frozen state so that a stopped child is resumed before it is
 * asked to stop.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ChannelFault } from '../../src/runtime/loop/channel-fault.ts';
import { type FromBoard, parseFromBoard, type ToBoard } from '../../src/runtime/node/ipc.ts';
import { ChildProc, ChildSet, triplexCommand } from '../../src/runtime/process/child.ts';

interface Child {
  readonly board: string;
  readonly proc: ChildProc;
  ready: boolean;
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
  private readonly set = new ChildSet();
  private closing = false;

  constructor(private readonly o: SpawnOptions) {}

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
    const proc = this.set.add(ChildProc.spawn({ command, args, label: board, cwd: this.o.cwd, ipc: true }));
    const child: Child = { board, proc, ready: false, stopped: false };
    proc.process.on('message', (raw) => {
      const m: FromBoard | undefined = parseFromBoard(raw);
      if (m?.type === 'ready') child.ready = true;
    });
    void proc.exit.then(({ code, signal }) => {
      if (!this.closing) this.o.logger.warn({ board, code, signal }, 'board process exited');
    });
    proc.process.on('error', (e) => this.o.logger.error({ board, err: e.message }, 'board process error'));
    this.children.set(board, child);
  }

  pid(board: string): number | undefined {
    return this.children.get(board)?.proc.process.pid;
  }

  alive(board: string): boolean {
    const c = this.children.get(board);
    return c !== undefined && !c.proc.exited;
  }

  /** Waits until every child reports its links up; rejects naming the ones that exited or are late. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000; i++) {
      const all = [...this.children.values()];
      const dead = all.find((c) => c.proc.exited);
      if (dead !== undefined) {
        throw new Error(
          `board process '${dead.board}' exited during start (code ${dead.proc.exitStatus?.code ?? null}):\n  ${dead.proc.stderrLines.join('\n  ')}`,
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
    if (c === undefined || c.proc.exited) return false;
    c.proc.kill();
    return true;
  }

  /** SIGSTOP (true) or SIGCONT (false): the process is frozen, its links stay open, its input piles up. */
  freeze(board: string, frozen: boolean): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.proc.exited) return false;
    c.stopped = frozen;
    return c.proc.process.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Resumes any frozen child, asks each to stop over IPC, then SIGTERM, then SIGKILL after `graceMs`. */
  async close(graceMs = 3000): Promise<void> {
    this.closing = true;
    for (const c of this.children.values()) if (c.stopped && !c.proc.exited) c.proc.process.kill('SIGCONT');
    await this.set.stopAll(graceMs, askToStop);
  }

  private send(board: string, m: ToBoard): boolean {
    const c = this.children.get(board);
    if (c === undefined || c.proc.exited || !c.proc.process.connected) return false;
    try {
      return c.proc.process.send(m);
    } catch {
      return false;
    }
  }
}

function askToStop(child: ChildProcess): void {
  if (child.connected) child.send({ type: 'stop' } satisfies ToBoard);
}
