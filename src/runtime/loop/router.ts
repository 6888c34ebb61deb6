/**
 * The router of one board: its transport to the other boards and the roles it hosts. Each received message is
 * dispatched by kind (read from its header) to the inbox of the role that consumes it, and decoded once: replica-bound bytes
 * go to the replica undecoded (it decodes them and checks the MACs on the bytes received); REPLY and OUTPUT are
 * decoded here. Bytes with no valid header, and undecodable REPLY and OUTPUT messages, are counted by reason. A
 * crashed board neither sends nor processes anything (as a dead process would).
 */
import type { Subscription } from 'rxjs';
import { decodeMessage } from '../../core/codec/encode.ts';
import type { DecodeLimits } from '../../core/codec/limits.ts';
import {
  MESSAGE_KINDS,
  type MessageKind,
  RECOVERY_KINDS,
  REPLICA_KINDS,
  WIRE_VERSION,
} from '../../core/codec/messages.ts';
import type { RejectionReason } from '../../core/codec/wire.ts';
import type { Transport } from '../../io/transport.ts';
import type { Scheduler } from '../scheduler.ts';
import type { Counters } from './counters.ts';
import type { ReplicaInbox, ReplyInbox, VoterInbox } from './ports.ts';

/** The inboxes of the roles a board hosts (absent: the board does not host that role). */
export interface RouterRoles {
  replica?: ReplicaInbox;
  input?: ReplyInbox;
  voter?: VoterInbox;
  /** Proactive recovery's messages (NEW-KEY, a channel's abstract state), bytes undecoded. */
  recovery?: RecoveryInbox;
}

/**
 * Where a board's recovery messages go (src/runtime/recovery/board-recovery.ts decodes and checks them).
 * `fromBoard`: the board the link says the bytes came from (a message claiming to be another board's is
 * refused there: 'wrong-source').
 */
export interface RecoveryInbox {
  receive(kind: MessageKind, from: number, bytes: Uint8Array, fromBoard: string): void;
}

/** The kind of a message from its header (version and kind tag), without decoding the rest. */
export function peekKind(
  bytes: Uint8Array,
  limits: DecodeLimits,
):
  | { readonly ok: true; readonly kind: MessageKind }
  | { readonly ok: false; readonly reason: RejectionReason } {
  if (bytes.length === 0) return { ok: false, reason: 'empty' };
  if (bytes.length > limits.maxMessageBytes) return { ok: false, reason: 'too-long' };
  if (bytes[0] !== WIRE_VERSION) return { ok: false, reason: 'bad-version' };
  const kind = bytes[1] === undefined ? undefined : MESSAGE_KINDS[bytes[1]];
  if (kind === undefined) return { ok: false, reason: bytes.length < 2 ? 'truncated' : 'unknown-kind' };
  return { ok: true, kind };
}

export interface RouterOptions {
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

export class Router {
  readonly roles: RouterRoles = {};
  private crashed = false;
  private readonly subscription: Subscription;
  private readonly boardIndex = new Map<string, number>();

  constructor(private readonly o: RouterOptions) {
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

  /**
   * `multicast` of a periodic sample under `key`: on a bus whose transport can, a newer sample replaces the one
   * under the same key still waiting for the bus (Transport.broadcastLatest); elsewhere a plain multicast.
   */
  multicastLatest(boards: readonly string[], key: string, bytes: Uint8Array): void {
    const transport = this.o.transport;
    if (this.crashed || !transport.sharedMedium || transport.broadcastLatest === undefined) {
      this.multicast(boards, bytes);
      return;
    }
    const others = boards.filter((b) => b !== this.o.name);
    if (others.length < boards.length) this.send(this.o.name, bytes);
    if (others.length === 0) return;
    if (!transport.broadcastLatest(key, bytes)) this.o.counters.add('board.send-dropped');
  }

  /** Kill the board: from now on it is silent and deaf. */
  crash(): void {
    this.crashed = true;
  }

  /** The board's process was started again (its supervisor restarted it): it hears and speaks again. */
  revive(): void {
    this.crashed = false;
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    await this.o.transport.close();
  }

  private receive(from: string, bytes: Uint8Array): void {
    if (this.crashed) return;
    const header = peekKind(bytes, this.o.limits);
    if (!header.ok) {
      this.o.counters.add(`board.rejected.${header.reason}`);
      return;
    }
    const kind = header.kind;
    const fromIndex = this.boardIndex.get(from) ?? -1;
    if (REPLICA_KINDS.has(kind)) {
      if (this.roles.replica) this.roles.replica.receive(fromIndex, bytes);
      else this.ignored(kind);
      return;
    }
    if (RECOVERY_KINDS.has(kind)) {
      if (this.roles.recovery) this.roles.recovery.receive(kind, fromIndex, bytes, from);
      else this.o.counters.add(`board.unhandled.${kind}`);
      return;
    }
    if (kind !== 'reply' && kind !== 'output') {
      this.o.counters.add(`board.unhandled.${kind}`);
      return;
    }
    const role = kind === 'reply' ? this.roles.input : this.roles.voter;
    if (role === undefined) {
      this.ignored(kind);
      return;
    }
    const decoded = decodeMessage(bytes, this.o.limits);
    if (!decoded.ok) {
      this.o.counters.add(`board.rejected.${decoded.reason}`);
      return;
    }
    const m = decoded.message;
    if (m.kind === 'reply') this.roles.input?.reply(fromIndex, m, bytes, this.o.scheduler.now());
    else if (m.kind === 'output') this.roles.voter?.output(m);
  }

  /** A message for a role this board does not host: a bus broadcast, or misrouted on a point-to-point link. */
  private ignored(kind: MessageKind): void {
    this.o.counters.add(
      this.o.transport.sharedMedium ? 'board.ignored-broadcast' : `board.misrouted.${kind}`,
    );
  }

  /** Names of the other boards, by index (for the `from` field the core logs). */
  setBoardIndex(names: readonly string[]): void {
    for (const [i, n] of names.entries()) this.boardIndex.set(n, i);
  }
}
