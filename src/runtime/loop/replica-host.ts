/**
 * Runs one PBFT replica on a board: feeds it messages, frame ticks and time; carries out its actions (sends,
 * replies, executions); counts its events. The replica itself is the pure core; this is the thin loop around it.
 */
import type { Logger } from 'pino';
import type { Message } from '../../core/codec/messages.ts';
import type { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaAction, ReplicaEvent, ReplicaInput } from '../../core/pbft/types.ts';

/** Bytes a faulty replica sends as it likes, to a node by index (replicas 0..n-1, then input units). */
export interface RawSend {
  readonly kind: 'raw';
  readonly to: number;
  readonly bytes: Uint8Array;
}

/** What drives the replica: the correct state machine itself, or a Byzantine behaviour wrapped around it. */
export interface ReplicaStepper {
  step(input: ReplicaInput): readonly (ReplicaAction | RawSend)[];
}

import type { Counters } from './counters.ts';
import { INPUT_BASE } from './principals.ts';

export interface ReplicaRoutes {
  /** Deliver bytes to replica `id`'s board. */
  toReplica(id: number, bytes: Uint8Array): void;
  /** Deliver bytes to every other replica's board. */
  toOtherReplicas(bytes: Uint8Array): void;
  /** Deliver bytes to the board of client (input unit principal) `client`. */
  toClient(client: number, bytes: Uint8Array): void;
}

export class ReplicaHost {
  private stopped = false;
  private stepper: ReplicaStepper;
  /** Requests seen since the last cut, and how many make a full frame (one per input unit). */

  constructor(
    readonly replica: Replica,
    private readonly routes: ReplicaRoutes,
    private readonly counters: Counters,
    private readonly log: Logger,
    private readonly onExecute: (a: Extract<ReplicaAction, { kind: 'execute' }>) => void,
    private readonly onEvent: (e: ReplicaEvent) => void = () => {},
  ) {
    this.stepper = replica;
  }

  /** Returns false when the replica rejected the message. */
  deliver(from: number, message: Message): boolean {
    return this.run({ kind: 'deliver', from, message });
  }

  /** Cut this frame's batch (the primary proposes it). */
  frame(): void {
    this.run({ kind: 'frame' });
  }

  tick(now: number): void {
    this.run({ kind: 'tick', now });
  }

  /** From now on a Byzantine behaviour (wrapping the correct replica) decides what this replica sends. */
  becomeByzantine(stepper: ReplicaStepper): void {
    this.stepper = stepper;
  }

  /** The board died: nothing more goes in or out. */
  stop(): void {
    this.stopped = true;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private run(input: ReplicaInput): boolean {
    if (this.stopped) return false;
    let accepted = true;
    for (const a of this.stepper.step(input)) {
      if (a.kind === 'event' && a.event.type === 'rejected') accepted = false;
      this.carryOut(a);
    }
    return accepted;
  }

  private carryOut(a: ReplicaAction | RawSend): void {
    switch (a.kind) {
      case 'raw':
        if (a.to < this.replica.config.n) this.routes.toReplica(a.to, a.bytes);
        else this.routes.toClient(INPUT_BASE + a.to - this.replica.config.n, a.bytes);
        return;
      case 'send':
        this.routes.toReplica(a.to, a.bytes);
        return;
      case 'multicast':
        for (let r = 0; r < this.replica.config.n; r++)
          if (r !== this.replica.id) this.routes.toReplica(r, a.bytes);
        return;
      case 'reply':
        this.routes.toClient(a.client, a.bytes);
        return;
      case 'execute':
        this.onExecute(a);
        return;
      case 'event':
        this.record(a.event);
        this.onEvent(a.event);
        return;
    }
  }

  private record(e: ReplicaEvent): void {
    switch (e.type) {
      case 'rejected':
        this.counters.add(`replica.rejected.${e.reason}`);
        return;
      case 'committed':
        this.counters.add('replica.committed');
        return;
      case 'checkpoint-stable':
        this.counters.add('replica.checkpoint-stable');
        this.log.debug({ seq: e.seq, truncated: e.truncated }, 'checkpoint stable');
        return;
      default:
        this.counters.add(`replica.${e.type}`);
        this.log.debug({ event: e.type }, 'replica event');
    }
  }
}
