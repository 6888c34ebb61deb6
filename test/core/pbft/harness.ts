/** A synchronous in-memory group for unit tests: real replicas, real crypto, a FIFO pump with a drop filter. */
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { Message } from '../../../src/core/codec/messages.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { type PbftConfig, pbftConfig } from '../../../src/core/pbft/config.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import type {
  ClientAction,
  ReplicaAction,
  ReplicaEvent,
  ReplicaInput,
} from '../../../src/core/pbft/types.ts';
import { groupKeys } from '../../../src/sim/keys.ts';
import { FoldService } from '../../../src/sim/service.ts';

export interface Packet {
  readonly from: number;
  readonly to: number;
  readonly bytes: Uint8Array;
}

export class Group {
  readonly config: PbftConfig;
  readonly keys;
  readonly replicas: Replica[];
  readonly services: FoldService[];
  readonly clients: Client[];
  readonly wire: Packet[] = [];
  readonly events: { replica: number; event: ReplicaEvent }[] = [];
  readonly executed: { replica: number; seq: number; digest: string; requests: number }[] = [];
  readonly results: { client: number; timestamp: number; result: Uint8Array }[] = [];
  /** Return false to drop a packet. */
  filter: (p: Packet) => boolean = () => true;
  now = 0;

  /**
   * `clock`: the host clock when the group is built (default 0), and whether the replicas are told it
   * (ReplicaOptions.now); false builds them as a host that forgets to.
   */
  constructor(
    f: number,
    overrides: Partial<PbftConfig> = {},
    clientCount = 1,
    clock: { readonly now: number; readonly tellReplicas: boolean } = { now: 0, tellReplicas: true },
  ) {
    this.now = clock.now;
    this.config = pbftConfig(f, { batching: { mode: 'size', maxDelayTicks: 0 }, ...overrides });
    const n = this.config.n;
    const clientIds = Array.from({ length: clientCount }, (_, i) => 100 + i);
    this.keys = groupKeys(42, n, clientIds);
    this.services = Array.from({ length: n }, () => new FoldService());
    this.replicas = Array.from(
      { length: n },
      (_, id) =>
        new Replica({
          id,
          config: this.config,
          crypto: this.keys.cryptoFor(id),
          service: this.services[id]!,
          ...(clock.tellReplicas ? { now: clock.now } : {}),
        }),
    );
    this.clients = clientIds.map(
      (id) => new Client({ id, config: this.config, crypto: this.keys.cryptoFor(id), retransmitTicks: 10 }),
    );
  }

  client(id: number): Client {
    return this.clients.find((c) => c.id === id)!;
  }

  submit(clientId: number, op: Uint8Array): number {
    const r = this.client(clientId).submit(op, this.now);
    if (!r.ok) throw new Error('queue full');
    this.onClient(clientId, r.actions);
    return r.timestamp;
  }

  onReplica(id: number, actions: readonly ReplicaAction[]): void {
    for (const a of actions) {
      if (a.kind === 'send') this.wire.push({ from: id, to: a.to, bytes: a.bytes });
      else if (a.kind === 'multicast') {
        for (let to = 0; to < this.config.n; to++)
          if (to !== id) this.wire.push({ from: id, to, bytes: a.bytes });
      } else if (a.kind === 'reply') this.wire.push({ from: id, to: a.client, bytes: a.bytes });
      else if (a.kind === 'event') this.events.push({ replica: id, event: a.event });
      else if (a.kind === 'execute') {
        this.executed.push({
          replica: id,
          seq: a.seq,
          digest: Buffer.from(a.batchDigest).toString('hex'),
          requests: a.requests.length,
        });
      }
    }
  }

  onClient(id: number, actions: readonly ClientAction[]): void {
    for (const a of actions) {
      if (a.kind === 'multicast')
        for (let to = 0; to < this.config.n; to++) this.wire.push({ from: id, to, bytes: a.bytes });
      else if (a.kind === 'result')
        this.results.push({ client: id, timestamp: a.timestamp, result: a.result });
    }
  }

  /** One step of replica `id`, then its invariants (a broken one throws InvariantError here). */
  stepReplica(id: number, input: ReplicaInput): ReplicaAction[] {
    const replica = this.replicas[id]!;
    const actions = replica.step(input);
    replica.checkInvariants();
    return actions;
  }

  /** Deliver a message to replica `to` as if sent by `from`. */
  inject(to: number, from: number, message: Message | Uint8Array): ReplicaAction[] {
    const bytes = message instanceof Uint8Array ? message : encodeMessage(message);
    const actions = this.stepReplica(to, { kind: 'receive', from, bytes });
    this.onReplica(to, actions);
    return actions;
  }

  /** Deliver queued packets (FIFO) until the wire is empty; bounded. */
  pump(limit = 200_000): void {
    for (let i = 0; i < limit; i++) {
      const p = this.wire.shift();
      if (p === undefined) return;
      if (!this.filter(p)) continue;
      if (p.to < this.config.n) {
        this.onReplica(p.to, this.stepReplica(p.to, { kind: 'receive', from: p.from, bytes: p.bytes }));
      } else {
        this.onClient(p.to, this.client(p.to).step({ kind: 'receive', from: p.from, bytes: p.bytes }));
      }
    }
    throw new Error('pump limit reached');
  }

  /** Advance time by `ticks` one tick at a time, pumping after each. */
  tick(ticks = 1): void {
    for (let i = 0; i < ticks; i++) {
      this.now++;
      for (let id = 0; id < this.config.n; id++)
        this.onReplica(id, this.stepReplica(id, { kind: 'tick', now: this.now }));
      for (const c of this.clients) this.onClient(c.id, c.step({ kind: 'tick', now: this.now }));
      this.pump();
    }
  }

  rejections(replica: number): string[] {
    return this.events
      .filter((e) => e.replica === replica && e.event.type === 'rejected')
      .map((e) => (e.event as { reason: string }).reason);
  }

  eventsOf(type: ReplicaEvent['type'], replica?: number): ReplicaEvent[] {
    return this.events
      .filter((e) => e.event.type === type && (replica === undefined || e.replica === replica))
      .map((e) => e.event);
  }
}

export function decode(bytes: Uint8Array): Message {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(d.reason);
  return d.message;
}

export function op(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}
