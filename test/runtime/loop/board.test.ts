/**
 * The boards of the laptop topology wired by Board on a memory hub, on virtual time: the frame clock is
 * fed only authentic samples, and one input unit's frame numbers cannot move it (nor, through the channels'
 * input voting, the frames the voter writes).
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_KINDS, type MessageKind } from '../../../src/core/codec/messages.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { Prng } from '../../../src/core/prng.ts';
import { MemoryHub } from '../../../src/io/memory.ts';
import type { Transport } from '../../../src/io/transport.ts';
import { Board, topologyPbftConfig } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../../src/runtime/loop/keys.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { keys, periodMs, sampleOp, silent, topology } from './fixtures.ts';

/** Sends per kind of message on the wire: a broadcast once, a unicast once per receiving board. */
type Wire = { broadcasts: Record<string, number>; unicasts: Record<string, number> };

function joinHub(hub: MemoryHub, name: string, shared: boolean, wire: Wire): Transport {
  const t = hub.join(name);
  if (!shared) return t;
  const kindOf = (bytes: Uint8Array): string => String(bytes[1]);
  const bump = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  const send = t.send.bind(t);
  const broadcast = t.broadcast.bind(t);
  let inBroadcast = false; // the memory transport broadcasts by sending to each peer
  return Object.assign(t, {
    sharedMedium: true,
    send: (peer: string, bytes: Uint8Array) => {
      if (!inBroadcast) bump(wire.unicasts, kindOf(bytes));
      return send(peer, bytes);
    },
    broadcast: (bytes: Uint8Array) => {
      bump(wire.broadcasts, kindOf(bytes));
      inBroadcast = true;
      try {
        return broadcast(bytes);
      } finally {
        inBroadcast = false;
      }
    },
  });
}

async function boards(shared = false) {
  const scheduler = new VirtualScheduler();
  const hub = new MemoryHub({ delivery: 'sync' });
  const counters = new Counters();
  const rng = new Prng(5);
  const writes: number[] = [];
  const wire: Wire = { broadcasts: {}, unicasts: {} };
  const runtimes = topology.boards.map(
    (b) =>
      new Board({
        topology,
        board: b.name,
        transport: joinHub(hub, b.name, shared, wire),
        scheduler,
        keys,
        logger: silent,
        counters,
        rng: rng.fork(),
        linkDelayMs: () => 0.2,
        actuator: { write: (d) => d.kind === 'write' && writes.push(d.frame) },
      }),
  );
  await Promise.all(runtimes.map((r) => r.start()));
  const front = runtimes.find((r) => r.inputs.length > 0)!;
  const replicas = runtimes.filter((r) => r.cutter !== undefined);
  /** Frame k: every unit samples `frameOf(unit, k)` (the frame number it claims). */
  const frame = (k: number, frameOf: (unit: number, k: number) => number = (_u, f) => f): void => {
    scheduler.runUntil(k * periodMs);
    front.voter?.armFrame(k);
    for (const u of front.inputs) {
      u.tick(Math.round(scheduler.now()));
      u.sample(frameOf(u.unit, k), 0.1, 0.01, Math.round(scheduler.now()));
    }
  };
  return { scheduler, hub, counters, runtimes, replicas, frame, writes, wire };
}

describe('Board on a shared medium', () => {
  it("a replica's multicasts go as one broadcast each (PRE-PREPARE, PREPARE, COMMIT), never as copies", async () => {
    const b = await boards(true);
    const frames = 10;
    for (let k = 0; k < frames; k++) b.frame(k);
    b.scheduler.runUntil(frames * periodMs);
    expect(b.writes).toHaveLength(frames);
    const kind = (k: MessageKind): string => String(MESSAGE_KINDS.indexOf(k));
    const n = topology.replicas.length;
    // Per frame: one PRE-PREPARE from the primary, a PREPARE from each backup, a COMMIT from every replica.
    expect(b.wire.broadcasts[kind('pre-prepare')]).toBe(frames);
    expect(b.wire.broadcasts[kind('prepare')]).toBe(frames * (n - 1));
    expect(b.wire.broadcasts[kind('commit')]).toBe(frames * n);
    for (const k of ['pre-prepare', 'prepare', 'commit'] as const)
      expect(b.wire.unicasts[kind(k)], k).toBeUndefined();
  });
});

describe('Board frame clock wiring', () => {
  it('every replica board follows the frames of the correct units; each frame is cut once every unit is in', async () => {
    const b = await boards();
    for (let k = 0; k < 30; k++) b.frame(k);
    b.scheduler.runUntil(30 * periodMs);
    expect(b.replicas.map((r) => r.cutter!.frame)).toEqual(b.replicas.map(() => 29));
    expect(b.counters.get('clock.cut.complete')).toBe(30 * b.replicas.length);
    expect(b.counters.get('clock.cut.timed')).toBe(0);
    expect(b.writes).toHaveLength(30);
  });

  it('an input unit claiming frames far ahead is refused by every replica clock and moves none', async () => {
    const b = await boards();
    for (let k = 0; k < 40; k++) b.frame(k, (u, f) => (u === 2 && f >= 10 ? f + 1_000_000 : f));
    b.scheduler.runUntil(40 * periodMs);
    expect(b.replicas.map((r) => r.cutter!.frame)).toEqual(b.replicas.map(() => 39));
    // Its authentic requests are still ordered (the replicas accept them); only the clock refuses the frame.
    expect(b.counters.get('clock.rejected.too-far-ahead')).toBe(30 * b.replicas.length);
    // Without its sample in, each of those frames is cut at the timed cut instead; the channels' input voting
    // outvotes the liar's frame numbers, so every frame is still written.
    expect(b.counters.get('clock.cut.complete')).toBe(10 * b.replicas.length);
    expect(b.counters.get('clock.cut.timed')).toBe(30 * b.replicas.length);
    expect(b.writes).toEqual(Array.from({ length: 40 }, (_, k) => k));
  });

  it('forged requests (MACs under other keys) reach no frame clock', async () => {
    const b = await boards();
    const evil = b.hub.join('evil');
    await evil.start();
    const forger = seededKeys(topology, 999);
    for (const unit of [0, 1, 2]) {
      const client = new Client({
        id: principalOf.input(unit),
        config: topologyPbftConfig(topology),
        crypto: keyRingCrypto(forger.ring(principalOf.input(unit)), undefined, forger.replicaPublicKeys),
        retransmitTicks: 1000,
      });
      const r = client.submit(sampleOp(unit, 0, 0.5, 0.5), 0);
      if (!r.ok) throw new Error(r.reason);
      for (const a of r.actions)
        if (a.kind === 'multicast') for (const rep of topology.replicas) evil.send(rep.board, a.bytes);
    }
    b.scheduler.runUntil(5 * periodMs);
    expect(b.replicas.map((r) => r.cutter!.frame)).toEqual(b.replicas.map(() => -1));
    expect(b.counters.get('replica.rejected.bad-mac')).toBe(3 * b.replicas.length);
  });
});
