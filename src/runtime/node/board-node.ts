/**
 * One board as its own process (`triplex node` without `--rig`): the board's roles on its real links, a status
 * line in the log every few seconds (never per frame), the parent's control channel when there is one, and a
 * clean close of the links on shutdown.
 */
import type { Logger } from 'pino';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { Prng } from '../../core/prng.ts';
import type { LinkState, Transport } from '../../io/transport.ts';
import type { Topology } from '../config.ts';
import { BoardRuntime } from '../loop/board-runtime.ts';
import { Counters } from '../loop/counters.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { type PlantPorts, plantPortsOf } from '../loop/ports.ts';
import type { Scheduler } from '../scheduler.ts';
import { type BoardStatus, type FromBoard, parseToBoard } from './ipc.ts';

/** A board process plugs its own actuator (and observers) into the same ports the rig uses. */
export interface BoardNodeOptions extends PlantPorts {
  readonly topology: Topology;
  readonly board: string;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  readonly keys: BoardKeys;
  readonly logger: Logger;
  readonly seed: number;
  /** A status line at info level this often (ms); 0 disables it. */
  readonly statusEveryMs: number;
}

/** The parent's side of Node's IPC channel, as `process` exposes it. */
export interface ParentChannel {
  send?: (message: unknown) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export class BoardNode {
  readonly runtime: BoardRuntime;
  readonly counters = new Counters();
  private linkState: LinkState = 'connecting';
  private statusTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private detach: (() => void) | undefined;
  private finalSend: ((m: FromBoard) => void) | undefined;

  constructor(private readonly o: BoardNodeOptions) {
    const index = o.topology.boards.findIndex((b) => b.name === o.board);
    this.runtime = new BoardRuntime({
      topology: o.topology,
      board: o.board,
      transport: o.transport,
      scheduler: o.scheduler,
      keys: o.keys,
      logger: o.logger,
      counters: this.counters,
      // A stream of its own per board (Byzantine channel behaviours draw from it).
      rng: new Prng((o.seed * 31 + Math.max(0, index)) >>> 0),
      ...plantPortsOf(o),
    });
    o.transport.state$.subscribe((s) => {
      if (s !== this.linkState) o.logger.info({ board: o.board, link: s }, 'link state');
      this.linkState = s;
    });
  }

  async start(): Promise<void> {
    await this.runtime.start();
    const every = this.o.statusEveryMs;
    if (every > 0) {
      this.statusTimer = setInterval(
        () => this.o.logger.info({ status: this.status() }, 'board status'),
        every,
      );
      this.statusTimer.unref();
    }
  }

  /** Resolves once every link is up; rejects after `timeoutMs` naming what is still down. */
  async waitUp(timeoutMs: number): Promise<void> {
    try {
      await firstValueFrom(
        this.o.transport.state$.pipe(
          filter((s) => s === 'up'),
          timeout(timeoutMs),
        ),
      );
    } catch {
      throw new Error(`board '${this.o.board}': links not up within ${timeoutMs} ms (${this.linkState})`);
    }
  }

  status(): BoardStatus {
    const replica = this.runtime.replica?.replica.status();
    return {
      board: this.o.board,
      link: this.o.transport.stats(),
      linkState: this.linkState,
      counters: this.counters.toJSON(),
      ...(replica ? { view: replica.view, lastExecuted: replica.lastExecuted } : {}),
      ...(this.runtime.channel ? { inputs: this.runtime.channel.inputHealth() } : {}),
    };
  }

  /** Obey the parent's commands (fault injection, stop) and report to it: status every `everyMs`. */
  attachParent(parent: ParentChannel, everyMs: number, onStop: () => void): void {
    const send = (m: FromBoard): void => {
      try {
        parent.send?.(m);
      } catch {
        this.counters.add('ipc.send-failed'); // the parent went away; 'disconnect' shuts us down
      }
    };
    const onMessage = (raw: unknown): void => {
      const m = parseToBoard(raw);
      if (m === undefined) {
        this.counters.add('ipc.rejected');
        return;
      }
      const channel = this.runtime.channel;
      if (m.type === 'stop') onStop();
      else if (channel === undefined) this.counters.add('ipc.no-channel');
      else if (m.type === 'fault') channel.inject(m.fault);
      else channel.clearFault();
    };
    parent.on('message', onMessage);
    const timer = setInterval(() => send({ type: 'status', status: this.status() }), everyMs);
    timer.unref();
    this.detach = () => {
      clearInterval(timer);
      parent.off('message', onMessage);
    };
    void this.waitUp(60_000).then(
      () => send({ type: 'ready', board: this.o.board }),
      (e: Error) => this.o.logger.error({ err: e.message }, 'links not up'),
    );
    this.finalSend = send;
  }

  /** Close the links; the final status goes to the log and to the parent. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statusTimer);
    const status = this.status();
    this.o.logger.info({ status }, 'board stopped');
    this.finalSend?.({ type: 'final', status });
    this.detach?.();
    await this.runtime.close();
  }
}
