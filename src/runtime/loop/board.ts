/**
 * One board: a transport to the other boards and the roles it hosts. Each received message is decoded once
 * and dispatched by kind to the role that consumes it; undecodable bytes are counted by reason. A crashed
 * board neither sends nor processes anything (as a dead process would).
 */
import type { Subscription } from 'rxjs';
import { decodeMessage } from '../../core/codec/encode.ts';
import type { DecodeLimits } from '../../core/codec/limits.ts';
import { type Message, REPLICA_KINDS } from '../../core/codec/messages.ts';
import type { Transport } from '../../io/transport.ts';
import type { Scheduler } from '../scheduler.ts';
import type { Counters } from './counters.ts';

export interface BoardRoles {
  replica?: { deliver(from: number, m: Message): void };
  input?: { onReply(from: number, m: Message, now: number): void };
  voter?: { onOutput(m: Extract<Message, { kind: 'output' }>): void };
}

export interface BoardOptions {
  readonly name: string;
  /** Index of this board in the topology: the `from` the core sees (informational only). */
  readonly index: number;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  readonly limits: DecodeLimits;
  readonly counters: Counters;
  /**
   * Virtual-time mode: every message is processed as a scheduler event this many ms after it arrived (drawn
   * per message), which keeps runs deterministic and free of re-entrant calls. Absent: processed at once.
   */
  readonly linkDelayMs?: () => number;
}

export class Board {
  readonly roles: BoardRoles = {};
  private crashed = false;
  private readonly subscription: Subscription;
  private readonly boardIndex = new Map<string, number>();

  constructor(private readonly o: BoardOptions) {
    this.subscription = o.transport.received$.subscribe(({ from, bytes }) => {
      if (o.linkDelayMs === undefined) this.receive(from, bytes);
      else o.scheduler.at(o.scheduler.now() + o.linkDelayMs(), () => this.receive(from, bytes));
    });
  }

  get name(): string {
    return this.o.name;
  }

  get alive(): boolean {
    return !this.crashed;
  }

  /** Send to another board, or to a role on this board (loopback without the transport). */
  send(board: string, bytes: Uint8Array): void {
    if (this.crashed) return;
    if (board === this.o.name) {
      const copy = bytes.slice();
      this.o.scheduler.at(this.o.scheduler.now() + (this.o.linkDelayMs?.() ?? 0), () =>
        this.receive(board, copy),
      );
      return;
    }
    if (!this.o.transport.send(board, bytes)) this.o.counters.add('board.send-dropped');
  }

  start(): Promise<void> {
    return this.o.transport.start();
  }

  /**
   * Send to several boards: on a bus one broadcast (boards that host no consumer ignore it), elsewhere one
   * message per board.
   */
  multicast(boards: readonly string[], bytes: Uint8Array): void {
    if (this.crashed) return;
    const others = boards.filter((b) => b !== this.o.name);
    if (others.length < boards.length) this.send(this.o.name, bytes);
    if (this.o.transport.sharedMedium && others.length > 1) {
      if (!this.o.transport.broadcast(bytes)) this.o.counters.add('board.send-dropped');
      return;
    }
    for (const b of others) this.send(b, bytes);
  }

  /** Kill the board: from now on it is silent and deaf. */
  crash(): void {
    this.crashed = true;
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    await this.o.transport.close();
  }

  private receive(from: string, bytes: Uint8Array): void {
    if (this.crashed) return;
    const decoded = decodeMessage(bytes, this.o.limits);
    if (!decoded.ok) {
      this.o.counters.add(`board.rejected.${decoded.reason}`);
      return;
    }
    const m = decoded.message;
    const fromIndex = this.boardIndex.get(from) ?? -1;
    if (REPLICA_KINDS.has(m.kind)) {
      if (this.roles.replica) this.roles.replica.deliver(fromIndex, m);
      else this.ignored(m.kind);
    } else if (m.kind === 'reply') {
      if (this.roles.input) this.roles.input.onReply(fromIndex, m, this.o.scheduler.now());
      else this.ignored(m.kind);
    } else if (m.kind === 'output') {
      if (this.roles.voter) this.roles.voter.onOutput(m);
      else this.ignored(m.kind);
    } else {
      this.o.counters.add(`board.unhandled.${m.kind}`);
    }
  }

  /** A message for a role this board does not host: a bus broadcast, or misrouted on a point-to-point link. */
  private ignored(kind: Message['kind']): void {
    this.o.counters.add(
      this.o.transport.sharedMedium ? 'board.ignored-broadcast' : `board.misrouted.${kind}`,
    );
  }

  /** Names of the other boards, by index (for the `from` field the core logs). */
  setBoardIndex(names: readonly string[]): void {
    for (const [i, n] of names.entries()) this.boardIndex.set(n, i);
  }
}
