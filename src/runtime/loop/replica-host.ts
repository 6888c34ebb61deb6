/**
 * Runs one PBFT replica on a board: feeds it messages, frame ticks and time; carries out its actions (sends,
 * replies, executions); counts its events. The replica itself is the pure core; this is the thin loop around it.
 */
import type { Logger } from 'pino';
import type { Message } from '../../core/codec/messages.ts';
import type { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaAction, ReplicaEvent, ReplicaInput } from '../../core/pbft/types.ts';
import type { Counters } from './counters.ts';

export interface ReplicaRoutes {
  /** Deliver bytes to replica `id`'s board. */
  toReplica(id: number, bytes: Uint8Array): void;
  /** Deliver bytes to the board of client (input unit principal) `client`. */
  toClient(client: number, bytes: Uint8Array): void;
}

export class ReplicaHost {
  private stopped = false;
  /** Requests seen since the last cut, and how many make a full frame (one per input unit). */
  private requestsSinceCut = 0;
  private cutThisFrame = false;
  private fullFrame = Number.POSITIVE_INFINITY;

  constructor(
    readonly replica: Replica,
    private readonly routes: ReplicaRoutes,
    private readonly counters: Counters,
    private readonly log: Logger,
    private readonly onExecute: (a: Extract<ReplicaAction, { kind: 'execute' }>) => void,
    private readonly onEvent: (e: ReplicaEvent) => void = () => {},
  ) {}

  deliver(from: number, message: Message): void {
    this.run({ kind: 'deliver', from, message });
    // Cut as soon as every input unit's sample is in: the timed cut is only the fallback for a missing unit.
    if (message.kind === 'request' && !this.cutThisFrame && ++this.requestsSinceCut >= this.fullFrame)
      this.frame();
  }

  /** A new frame begins: the batch is cut after `units` requests arrive, or at the timed cut. */
  beginFrame(units: number): void {
    this.fullFrame = units;
    this.cutThisFrame = false;
    this.requestsSinceCut = 0;
  }

  /** The timed cut of the current frame (a no-op if the early cut already happened). */
  timedCut(): void {
    if (!this.cutThisFrame) this.frame();
  }

  frame(): void {
    this.cutThisFrame = true;
    this.requestsSinceCut = 0;
    this.run({ kind: 'frame' });
  }

  tick(now: number): void {
    this.run({ kind: 'tick', now });
  }

  /** The board died: nothing more goes in or out. */
  stop(): void {
    this.stopped = true;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private run(input: ReplicaInput): void {
    if (this.stopped) return;
    for (const a of this.replica.step(input)) this.carryOut(a);
  }

  private carryOut(a: ReplicaAction): void {
    switch (a.kind) {
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
