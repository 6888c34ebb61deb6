/**
 * Runs one PBFT replica on a board: feeds it bytes off the link, frame cuts and time; carries out what it returns
 * (sends, replies, executed batches); counts its events. The replica itself is the pure core; this is the thin
 * loop around it. Bytes go in undecoded (`{ kind: 'receive' }`), the same entry the simulator uses, so the
 * replica decodes each message once and checks MACs on the bytes received.
 *
 * The replica slot is a `ReplicaStepper`: the correct replica, or a Byzantine behaviour wrapped around it.
 *
 * @example
 * const host = new ReplicaHost({ replica, routes, batches: channel, counters, log });
 * host.receive(from, bytes); // a PRE-PREPARE off the link
 * host.frame();              // the frame clock says: cut the batch
 */
import type { Logger } from 'pino';
import type { Replica } from '../../core/pbft/replica.ts';
import type {
  ReplicaEvent,
  ReplicaInput,
  ReplicaRejection,
  ReplicaStepper,
  StepOutput,
} from '../../core/pbft/types.ts';
import type { Counters } from './counters.ts';
import type { ExecutedBatchSink, ReplicaRoutes } from './ports.ts';
import { INPUT_BASE } from './principals.ts';

export interface ReplicaHostOptions {
  readonly replica: Replica;
  readonly routes: ReplicaRoutes;
  /** The co-located channel (absent on a board that orders but does not compute). */
  readonly batches?: ExecutedBatchSink;
  readonly counters: Counters;
  readonly log: Logger;
  readonly onEvent?: (event: ReplicaEvent) => void;
}

export class ReplicaHost {
  /** Why the last input was rejected (its first rejection), undefined when it was not. */
  lastRejection: ReplicaRejection | undefined;
  private current: Replica;
  private stopped = false;
  private stepper: ReplicaStepper;

  constructor(private readonly o: ReplicaHostOptions) {
    this.current = o.replica;
    this.stepper = o.replica;
  }

  /** The correct replica in this slot (the one a Byzantine behaviour, if any, wraps). */
  get replica(): Replica {
    return this.current;
  }

  /** Whether a Byzantine behaviour drives this slot (until the next restart). */
  get byzantine(): boolean {
    return this.stepper !== this.current;
  }

  /**
   * Restarted from the installed code: a fresh replica (view 0, nothing executed: it rejoins by state
   * transfer) replaces the old one and any Byzantine behaviour around it, and the slot runs again.
   */
  reinstall(replica: Replica): void {
    this.current = replica;
    this.stepper = replica;
    this.stopped = false;
  }

  /** Planned view change before a restart: the primary hands its view over (no-op on a backup). */
  handOver(): void {
    if (this.stopped) return;
    for (const a of this.current.handOver()) this.carryOut(a);
  }

  /**
   * Bytes off the link from board `from`. Returns false when the replica rejected them (any reason; the first
   * one is `lastRejection` until the next input).
   */
  receive(from: number, bytes: Uint8Array): boolean {
    return this.run({ kind: 'receive', from, bytes });
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
    this.lastRejection = undefined;
    if (this.stopped) return false;
    let accepted = true;
    for (const a of this.stepper.step(input)) {
      if (a.kind === 'event' && a.event.type === 'rejected') {
        if (accepted) this.lastRejection = a.event.reason;
        accepted = false;
      }
      this.carryOut(a);
    }
    return accepted;
  }

  private carryOut(a: StepOutput): void {
    const { routes } = this.o;
    const n = this.replica.config.n;
    switch (a.kind) {
      case 'raw':
        if (a.to < n) routes.toReplica(a.to, a.bytes);
        else routes.toClient(INPUT_BASE + a.to - n, a.bytes);
        return;
      case 'send':
        routes.toReplica(a.to, a.bytes);
        return;
      case 'multicast':
        // One transmission on a bus (every replica's tag is in the one authenticator), one copy per link elsewhere.
        routes.toOtherReplicas(a.bytes);
        return;
      case 'reply':
        routes.toClient(a.client, a.bytes);
        return;
      case 'execute':
        this.o.batches?.executed(a);
        return;
      case 'event':
        this.record(a.event);
        this.o.onEvent?.(a.event);
        return;
    }
  }

  private record(e: ReplicaEvent): void {
    const { counters, log } = this.o;
    switch (e.type) {
      case 'rejected':
        counters.add(`replica.rejected.${e.reason}`);
        return;
      case 'committed':
        counters.add('replica.committed');
        return;
      case 'checkpoint-stable':
        counters.add('replica.checkpoint-stable');
        log.debug({ seq: e.seq, truncated: e.truncated }, 'checkpoint stable');
        return;
      default:
        counters.add(`replica.${e.type}`);
        log.debug({ event: e.type }, 'replica event');
    }
  }
}
