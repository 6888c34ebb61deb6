/**
 * Four replica hosts joined by a small router on virtual time (no board, no transport): bytes in, the replica's
 * actions carried out through the routes and the executed-batch sink. An input unit's client submits requests.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../../src/core/codec/encode.ts';
import type { MessageKind } from '../../../src/core/codec/messages.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import type { ReplicaStepper } from '../../../src/core/pbft/types.ts';
import { topologyPbftConfig } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import type { ExecutedBatch } from '../../../src/runtime/loop/ports.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { ReplicaHost } from '../../../src/runtime/loop/replica-host.ts';
import { FrameLogService, loopChannelConfig } from '../../../src/runtime/loop/service.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { keys, sampleOp, silent, topology } from './fixtures.ts';

const N = topologyPbftConfig(topology).n;

function group(config = topologyPbftConfig(topology)) {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const executed: ExecutedBatch[][] = Array.from({ length: N }, () => []);
  const sent: { from: number; to: number; kind: MessageKind; via: 'send' | 'multicast' }[] = [];
  const toClients: { client: number; bytes: Uint8Array }[] = [];
  const hosts: ReplicaHost[] = [];
  const deliver = (from: number, to: number, bytes: Uint8Array, via: 'send' | 'multicast'): void => {
    const d = decodeMessage(bytes);
    sent.push({ from, to, kind: d.ok ? d.message.kind : 'heartbeat', via });
    const copy = bytes.slice();
    scheduler.at(scheduler.now() + 0.1, () => hosts[to]!.receive(from, copy));
  };
  const client = new Client({
    id: principalOf.input(0),
    config,
    crypto: keyRingCrypto(keys.ring(principalOf.input(0)), undefined, keys.replicaPublicKeys),
    retransmitTicks: 1000,
  });
  for (let id = 0; id < N; id++) {
    const replica = new Replica({
      id,
      config,
      crypto: keyRingCrypto(keys.ring(principalOf.replica(id)), keys.signer(id), keys.replicaPublicKeys),
      service: new FrameLogService(loopChannelConfig(topology)),
    });
    hosts.push(
      new ReplicaHost({
        replica,
        routes: {
          toReplica: (to, bytes) => deliver(id, to, bytes, 'send'),
          toOtherReplicas: (bytes) => {
            for (let to = 0; to < N; to++) if (to !== id) deliver(id, to, bytes, 'multicast');
          },
          toClient: (c, bytes) => {
            toClients.push({ client: c, bytes });
            scheduler.at(scheduler.now() + 0.1, () => client.step({ kind: 'receive', from: id, bytes }));
          },
        },
        batches: { executed: (b) => executed[id]!.push(b) },
        counters,
        log: silent,
      }),
    );
  }
  const submit = (frame: number): void => {
    const r = client.submit(sampleOp(0, frame, 0.1, 0.01), scheduler.now());
    if (!r.ok) throw new Error(r.reason);
    for (const a of r.actions) {
      if (a.kind !== 'multicast') continue;
      for (const h of hosts) h.receive(-1, a.bytes);
    }
  };
  return { scheduler, counters, executed, sent, toClients, hosts, submit, client };
}

describe('ReplicaHost', () => {
  it('orders a request from bytes: every replica executes the same batch once, in order, and sends no REPLY to the input unit', () => {
    const g = group();
    g.submit(0);
    g.hosts[0]!.frame(); // the primary (view 0) cuts the batch
    g.scheduler.runUntil(10);
    for (let id = 0; id < N; id++) {
      expect(g.executed[id]!.map((b) => b.seq)).toEqual([1]);
      expect(g.executed[id]![0]!.requests.map((r) => r.client)).toEqual([principalOf.input(0)]);
    }
    expect(g.counters.get('replica.committed')).toBe(N);
    // The topology lists its input units as reading no replies: the frame's result is the channels' OUTPUT.
    expect(g.toClients).toEqual([]);
  });

  it('a group whose config does not list the unit among noReplyClients replies to it from every replica', () => {
    const g = group({ ...topologyPbftConfig(topology), noReplyClients: new Set() });
    g.submit(0);
    g.hosts[0]!.frame();
    g.scheduler.runUntil(10);
    expect(new Set(g.toClients.map((c) => c.client))).toEqual(new Set([principalOf.input(0)]));
    expect(g.toClients.length).toBe(N);
    expect(g.client.busy).toBe(false); // f+1 matching replies completed it
  });

  it('a multicast goes out through the multicast route (one broadcast on a bus), to each other replica once', () => {
    const g = group();
    g.submit(0);
    g.hosts[0]!.frame();
    g.scheduler.runUntil(10);
    const prePrepares = g.sent.filter((s) => s.kind === 'pre-prepare');
    expect(prePrepares.map((s) => [s.from, s.to, s.via])).toEqual([
      [0, 1, 'multicast'],
      [0, 2, 'multicast'],
      [0, 3, 'multicast'],
    ]);
    for (const kind of ['prepare', 'commit'] as const)
      expect(g.sent.filter((s) => s.kind === kind).every((s) => s.via === 'multicast')).toBe(true);
    expect(g.sent.every((s) => s.from !== s.to)).toBe(true);
  });

  it('rejects undecodable and forged bytes with a counted reason (receive says false)', () => {
    const g = group();
    expect(g.hosts[1]!.receive(0, new Uint8Array([1, 250, 0]))).toBe(false);
    expect(g.counters.get('replica.rejected.unknown-kind')).toBe(1);
    const r = g.client.submit(sampleOp(0, 0, 0.1, 0.01), 0);
    if (!r.ok) throw new Error(r.reason);
    const bytes = r.actions.find((a) => a.kind === 'multicast')!.bytes.slice();
    bytes[bytes.length - 1]! ^= 1; // the last byte is in the last replica's MAC slot
    expect(g.hosts[N - 1]!.receive(-1, bytes)).toBe(false);
    expect(g.counters.get('replica.rejected.bad-mac')).toBe(1);
    expect(g.hosts[0]!.receive(-1, r.actions.find((a) => a.kind === 'multicast')!.bytes)).toBe(true);
  });

  it('a Byzantine stepper decides what is sent: raw bytes are routed to replicas and to clients by index', () => {
    const g = group();
    const raw = new Uint8Array([1, 2, 3]);
    const liar: ReplicaStepper = {
      step: () => [
        { kind: 'raw', to: 2, bytes: raw },
        { kind: 'raw', to: N, bytes: raw },
      ],
    };
    g.hosts[3]!.becomeByzantine(liar);
    g.hosts[3]!.tick(1);
    expect(g.sent.filter((s) => s.from === 3).map((s) => s.to)).toEqual([2]);
    expect(g.toClients.map((c) => c.client)).toEqual([principalOf.input(0)]);
  });

  it('a stopped host takes nothing in and sends nothing out', () => {
    const g = group();
    g.hosts[0]!.stop();
    g.submit(0);
    g.hosts[0]!.frame();
    g.hosts[0]!.tick(5000);
    g.scheduler.runUntil(10);
    expect(g.hosts[0]!.running).toBe(false);
    expect(g.sent.filter((s) => s.from === 0)).toEqual([]);
    expect(g.executed[0]).toEqual([]);
  });
});
