/**
 * One input unit on its own: each sample becomes one authentic REQUEST to every replica, at once, under the next
 * timestamp (the loop's units read no replies: config.noReplyClients); nothing waits and nothing is retransmitted.
 * A unit of a group that does send it replies keeps PBFT's rule: while one request is outstanding the newest
 * sample waits (a queue of one) and goes out once f+1 replicas have replied.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, requestAuthPayload } from '../../../src/core/codec/encode.ts';
import type { Reply, Request } from '../../../src/core/codec/messages.ts';
import { decodeInputSample } from '../../../src/core/frame/sample.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { Prng } from '../../../src/core/prng.ts';
import { topologyPbftConfig } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { FAR_FUTURE_FRAMES, REPLAY_AGE_FRAMES } from '../../../src/runtime/loop/input-fault.ts';
import { InputUnitHost } from '../../../src/runtime/loop/input-unit.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { keys, reply, topology } from './fixtures.ts';

const UNIT = 1;

const N = topology.replicas.length;

/** `readsReplies`: the unit's group sends it REPLYs (a config without it in noReplyClients). */
function unit(readsReplies = false) {
  const config = readsReplies
    ? { ...topologyPbftConfig(topology), noReplyClients: new Set<number>() }
    : topologyPbftConfig(topology);
  const counters = new Counters();
  /** Requests as each replica received them. */
  const sent: Request[] = [];
  const byReplica: Request[][] = Array.from({ length: N }, () => []);
  const client = (lastTimestamp?: number): Client =>
    new Client({
      id: principalOf.input(UNIT),
      config,
      crypto: keyRingCrypto(keys.ring(principalOf.input(UNIT)), undefined, keys.replicaPublicKeys),
      retransmitTicks: 40,
      maxQueued: 1,
      ...(lastTimestamp !== undefined ? { lastTimestamp } : {}),
    });
  const request = (bytes: Uint8Array): Request => {
    const d = decodeMessage(bytes);
    if (!d.ok || d.message.kind !== 'request')
      throw new Error('input unit sent something that is not a REQUEST');
    return d.message;
  };
  const host = new InputUnitHost({
    unit: UNIT,
    client: client(),
    requests: {
      toReplicas: (bytes) => {
        const r = request(bytes);
        sent.push(r);
        for (const list of byReplica) list.push(r);
      },
      toReplica: (id, bytes) => byReplica[id]!.push(request(bytes)),
    },
    replicas: N,
    counters,
    rng: new Prng(9),
    twin: client,
  });
  return { host, counters, sent, byReplica };
}

const ack = (frame: number): Uint8Array => new Uint8Array([frame]);

/** A REPLY handed to the unit as the router does: decoded, with the bytes it arrived as. */
function answer(
  host: { reply(from: number, m: Reply, bytes: Uint8Array, now: number): void },
  from: number,
  m: Reply,
  now: number,
): void {
  host.reply(from, m, encodeMessage(m), now);
}

describe('InputUnitHost', () => {
  it('sends each sample as one REQUEST carrying it, with an authenticator for every replica', () => {
    const u = unit();
    u.host.sample(4, 0.2, 0.05, 100);
    expect(u.sent).toHaveLength(1);
    const r = u.sent[0]!;
    expect(r.client).toBe(principalOf.input(UNIT));
    expect(decodeInputSample(r.op)).toEqual({
      frame: 4,
      unit: UNIT,
      stick: 0.2,
      pitchValid: true,
      pitch: 0.05,
    });
    expect(r.auth).toHaveLength(topology.replicas.length);
    for (const rep of topology.replicas) {
      const ring = keys.ring(principalOf.replica(rep.id));
      expect(ring.verify(principalOf.input(UNIT), requestAuthPayload(r), r.auth[rep.id]!)).toBe(true);
    }
  });

  it('a dead sensor (null or NaN) is sent as not valid, never as a number', () => {
    const u = unit();
    u.host.sample(0, 0.1, Number.NaN, 0);
    expect(decodeInputSample(u.sent[0]!.op)).toMatchObject({ pitchValid: false, pitch: 0 });
  });

  it('each frame goes out at once under the next timestamp; nothing is retransmitted; a REPLY is unexpected', () => {
    const u = unit();
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.sample(1, 0.2, 0.01, 20);
    u.host.sample(2, 0.3, 0.01, 40);
    expect(u.sent.map((r) => decodeInputSample(r.op)?.frame)).toEqual([0, 1, 2]);
    const ts = u.sent.map((r) => r.timestamp);
    expect(ts).toEqual([ts[0]!, ts[0]! + 1, ts[0]! + 2]);
    expect(u.counters.get('input.superseded')).toBe(0);
    u.host.tick(10_000);
    expect(u.sent).toHaveLength(3);
    expect(u.counters.get('input.retransmit')).toBe(0);
    answer(u.host, 0, reply(0, UNIT, ts[2]!, ack(2)), 41);
    expect(u.counters.get('input.rejected.unexpected-reply')).toBe(1);
    expect(u.counters.get('input.acknowledged')).toBe(0);
    u.host.stop();
    u.host.sample(3, 0.1, 0.01, 60);
    expect(u.sent).toHaveLength(3);
  });

  it('reading replies: while a request is outstanding the newest sample waits; it goes out after f+1 replies', () => {
    const u = unit(true);
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.sample(1, 0.1, 0.01, 20);
    u.host.sample(2, 0.1, 0.01, 40);
    expect(u.sent).toHaveLength(1);
    expect(u.counters.get('input.superseded')).toBe(1);
    const ts = u.sent[0]!.timestamp;
    answer(u.host, 0, reply(0, UNIT, ts, ack(0)), 41);
    expect(u.sent).toHaveLength(1);
    answer(u.host, 1, reply(1, UNIT, ts, ack(0)), 42);
    expect(u.counters.get('input.acknowledged')).toBe(1);
    expect(u.sent.map((r) => decodeInputSample(r.op)?.frame)).toEqual([0, 2]);
  });

  it('reading replies: a forged or unexpected reply completes nothing and is counted', () => {
    const u = unit(true);
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.sample(1, 0.1, 0.01, 20);
    const ts = u.sent[0]!.timestamp;
    const forged = reply(0, UNIT, ts, ack(0));
    forged.tag[0]! ^= 1;
    answer(u.host, 0, forged, 21);
    answer(u.host, 1, reply(1, UNIT, ts + 1, ack(0)), 21);
    answer(u.host, 2, reply(2, UNIT, ts, ack(0)), 22);
    expect(u.sent).toHaveLength(1);
    expect(u.counters.get('input.acknowledged')).toBe(0);
    expect(u.counters.get('input.rejected.bad-mac')).toBe(1);
    expect(u.counters.get('input.rejected.unexpected-reply')).toBe(1);
  });

  it('reading replies: retransmits an unanswered request on its ticks; a stopped unit sends nothing', () => {
    const u = unit(true);
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.tick(100);
    expect(u.counters.get('input.retransmit')).toBeGreaterThanOrEqual(1);
    expect(u.sent.length).toBeGreaterThanOrEqual(2);
    const before = u.sent.length;
    u.host.stop();
    u.host.sample(1, 0.1, 0.01, 120);
    u.host.tick(400);
    expect(u.sent).toHaveLength(before);
  });

  /** Flies `frames` frames, every request answered at once by f+1 replicas; returns what every replica got. */
  function fly(u: ReturnType<typeof unit>, frames: number, stick = (k: number) => 0.01 * k): void {
    for (let k = 0; k < frames; k++) {
      const before = u.byReplica[0]!.length;
      u.host.sample(k, stick(k), 0.02, 20 * k);
      const last = u.byReplica[0]!.at(-1);
      if (last !== undefined && u.byReplica[0]!.length > before) {
        answer(u.host, 0, reply(0, UNIT, last.timestamp, ack(k)), 20 * k + 1);
        answer(u.host, 1, reply(1, UNIT, last.timestamp, ack(k)), 20 * k + 1);
      }
    }
  }
  const frames = (rs: readonly Request[]) => rs.map((r) => decodeInputSample(r.op)!.frame);

  it('far-future: correct values under frame numbers a million ahead, from its first faulty frame', () => {
    const u = unit();
    u.host.inject({ kind: 'far-future', fromFrame: 3 });
    fly(u, 5);
    expect(frames(u.sent)).toEqual([0, 1, 2, 3 + FAR_FUTURE_FRAMES, 4 + FAR_FUTURE_FRAMES]);
    expect(decodeInputSample(u.sent[4]!.op)!.stick).toBeCloseTo(0.04, 12);
  });

  it('stuck: the first faulty values forever, the frame numbers still counting', () => {
    const u = unit();
    u.host.inject({ kind: 'stuck', fromFrame: 2 });
    fly(u, 6);
    expect(frames(u.sent)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(u.sent.map((r) => decodeInputSample(r.op)!.stick)).toEqual([0, 0.01, 0.02, 0.02, 0.02, 0.02]);
  });

  it('random: values drawn from its own stream, not the true ones', () => {
    const u = unit();
    u.host.inject({ kind: 'random', fromFrame: 0 });
    fly(u, 20, () => 0.1);
    const sticks = u.sent.map((r) => decodeInputSample(r.op)!.stick);
    expect(new Set(sticks).size).toBe(20);
    expect(sticks.every((s) => Math.abs(s) <= 0.5 && s !== 0.1)).toBe(true);
  });

  it('replay: the samples of REPLAY_AGE_FRAMES frames ago, sent afresh (new timestamps)', () => {
    const u = unit();
    u.host.inject({ kind: 'replay', fromFrame: 40 });
    fly(u, 45);
    expect(frames(u.sent).slice(38)).toEqual([
      38,
      39,
      40 - REPLAY_AGE_FRAMES,
      41 - REPLAY_AGE_FRAMES,
      42 - 25,
      43 - 25,
      44 - 25,
    ]);
    const ts = u.sent.map((r) => r.timestamp);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(new Set(ts).size).toBe(ts.length);
  });

  it('two-faced: half the replicas get one sample, the others a different one, under the same timestamp', () => {
    const u = unit();
    u.host.inject({ kind: 'two-faced', fromFrame: 1 });
    fly(u, 3);
    const face = (r: number) =>
      u.byReplica[r]!.map((q) => [
        q.timestamp,
        decodeInputSample(q.op)!.frame,
        decodeInputSample(q.op)!.stick,
      ]);
    expect(face(0)).toEqual(face(1));
    expect(face(2)).toEqual(face(3));
    expect(face(0)[0]).toEqual(face(2)[0]); // frame 0: the truth, to all
    for (const k of [1, 2]) {
      expect(face(0)[k]![0]).toBe(face(2)[k]![0]);
      expect(face(0)[k]![1]).toBe(face(2)[k]![1]);
      expect(face(0)[k]![2]).not.toBe(face(2)[k]![2]);
    }
    // Both faces are authentic for every replica.
    const second = u.byReplica[3]!.at(-1)!;
    const ring = keys.ring(principalOf.replica(3));
    expect(ring.verify(principalOf.input(UNIT), requestAuthPayload(second), second.auth[3]!)).toBe(true);
  });

  it('off: nothing at all; cleared: the truth again', () => {
    const u = unit();
    u.host.inject({ kind: 'off', fromFrame: 1 });
    fly(u, 3);
    expect(frames(u.sent)).toEqual([0]);
    u.host.clearFault();
    u.host.sample(3, 0.1, 0.02, 60);
    expect(frames(u.sent)).toEqual([0, 3]);
  });
});
