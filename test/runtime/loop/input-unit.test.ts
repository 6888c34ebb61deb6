/**
 * One input unit on its own: each sample becomes one authentic REQUEST to every replica; while one is
 * outstanding, the newest sample waits (a queue of one) and goes out once f+1 replicas have replied.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, requestAuthPayload } from '../../../src/core/codec/encode.ts';
import type { Request } from '../../../src/core/codec/messages.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { topologyPbftConfig } from '../../../src/runtime/loop/board-runtime.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { decodeInputSample } from '../../../src/runtime/loop/input-sample.ts';
import { InputUnitHost } from '../../../src/runtime/loop/input-unit.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { keys, reply, topology } from './fixtures.ts';

const UNIT = 1;

function unit() {
  const counters = new Counters();
  const sent: Request[] = [];
  const client = new Client({
    id: principalOf.input(UNIT),
    config: topologyPbftConfig(topology),
    crypto: keyRingCrypto(keys.ring(principalOf.input(UNIT)), undefined, keys.replicaPublicKeys),
    retransmitTicks: 40,
    maxQueued: 1,
  });
  const host = new InputUnitHost(
    UNIT,
    client,
    {
      toReplicas: (bytes) => {
        const d = decodeMessage(bytes);
        if (!d.ok || d.message.kind !== 'request')
          throw new Error('input unit sent something that is not a REQUEST');
        sent.push(d.message);
      },
    },
    counters,
  );
  return { host, counters, sent };
}

const ack = (frame: number): Uint8Array => new Uint8Array([frame]);

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

  it('while a request is outstanding the newest sample waits; it goes out after f+1 replies', () => {
    const u = unit();
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.sample(1, 0.1, 0.01, 20);
    u.host.sample(2, 0.1, 0.01, 40);
    expect(u.sent).toHaveLength(1);
    expect(u.counters.get('input.superseded')).toBe(1);
    const ts = u.sent[0]!.timestamp;
    u.host.reply(0, reply(0, UNIT, ts, ack(0)), 41);
    expect(u.sent).toHaveLength(1);
    u.host.reply(1, reply(1, UNIT, ts, ack(0)), 42);
    expect(u.counters.get('input.acknowledged')).toBe(1);
    expect(u.sent.map((r) => decodeInputSample(r.op)?.frame)).toEqual([0, 2]);
  });

  it('a forged or unexpected reply completes nothing and is counted', () => {
    const u = unit();
    u.host.sample(0, 0.1, 0.01, 0);
    u.host.sample(1, 0.1, 0.01, 20);
    const ts = u.sent[0]!.timestamp;
    const forged = reply(0, UNIT, ts, ack(0));
    forged.tag[0]! ^= 1;
    u.host.reply(0, forged, 21);
    u.host.reply(1, reply(1, UNIT, ts + 1, ack(0)), 21);
    u.host.reply(2, reply(2, UNIT, ts, ack(0)), 22);
    expect(u.sent).toHaveLength(1);
    expect(u.counters.get('input.acknowledged')).toBe(0);
    expect(u.counters.get('input.rejected.bad-mac')).toBe(1);
    expect(u.counters.get('input.rejected.unexpected-reply')).toBe(1);
  });

  it('retransmits an unanswered request on its ticks; a stopped unit sends nothing', () => {
    const u = unit();
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
});
