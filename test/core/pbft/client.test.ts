import { describe, expect, it } from 'vitest';
import { authPayload, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { Reply } from '../../../src/core/codec/messages.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { pbftConfig } from '../../../src/core/pbft/config.ts';
import type { ClientInput } from '../../../src/core/pbft/types.ts';
import { groupKeys } from '../../../src/sim/keys.ts';

const config = pbftConfig(1);
const keys = groupKeys(7, config.n, [100]);

function reply(replica: number, timestamp: number, result: number[], tagOk = true): Reply {
  const unsigned: Reply = {
    kind: 'reply',
    view: 0,
    client: 100,
    timestamp,
    replica,
    result: Uint8Array.from(result),
    tag: new Uint8Array(0),
  };
  const tag = keys.cryptoFor(replica).tag(100, authPayload(unsigned));
  if (!tagOk) tag[0]! ^= 1;
  return { ...unsigned, tag };
}

function newClient(): Client {
  return new Client({
    id: 100,
    config,
    crypto: keys.cryptoFor(100),
    retransmitTicks: 10,
    maxRetransmitTicks: 40,
  });
}

/** A REPLY as a router hands it on: decoded, with the bytes it arrived as (the tag is checked over those). */
const decoded = (from: number, r: Reply): ClientInput => ({
  kind: 'decoded',
  from,
  message: r,
  bytes: encodeMessage(r),
});

describe('PBFT client', () => {
  it('accepts a result only on f+1 matching, authentic replies from distinct replicas', () => {
    const c = newClient();
    const s = c.submit(Uint8Array.of(1), 0);
    expect(s.ok).toBe(true);
    const ts = s.ok ? s.timestamp : 0;
    const deliver = (r: Reply) => c.step(decoded(r.replica, r));
    expect(deliver(reply(0, ts, [1]))).toEqual([]);
    expect(deliver(reply(0, ts, [1]))).toEqual([]); // same replica twice counts once
    expect(deliver(reply(1, ts, [2]))).toEqual([]); // a different result does not match
    expect(deliver(reply(2, ts, [1], false)).map((a) => a.kind)).toEqual(['event']); // forged tag
    const done = deliver(reply(3, ts, [1]));
    expect(done.filter((a) => a.kind === 'result')).toHaveLength(1);
    expect(c.busy).toBe(false);
  });

  it('keeps one request outstanding and sends the next after the result', () => {
    const c = newClient();
    const a = c.submit(Uint8Array.of(1), 0);
    const b = c.submit(Uint8Array.of(2), 0);
    expect(a.ok && a.actions.length).toBe(1);
    expect(b.ok && b.actions.length).toBe(0);
    c.step(decoded(0, reply(0, 1, [9])));
    const next = c.step(decoded(1, reply(1, 1, [9])));
    expect(next.map((x) => x.kind)).toEqual(['result', 'multicast']);
    expect(b.ok && b.timestamp).toBe(2);
  });

  it('retransmits with exponential back-off up to the ceiling', () => {
    const c = newClient();
    c.submit(Uint8Array.of(1), 0);
    const times: number[] = [];
    for (let t = 1; t <= 200; t++)
      if (c.step({ kind: 'tick', now: t }).some((a) => a.kind === 'multicast')) times.push(t);
    // Timeouts 10, then 20, 40, 40, ... (ceiling 40).
    expect(times.slice(0, 5)).toEqual([10, 30, 70, 110, 150]);
  });

  it('a client in noReplyClients sends every operation at once under the next timestamp and never retransmits', () => {
    const c = new Client({
      id: 100,
      config: { ...config, noReplyClients: new Set([100]) },
      crypto: keys.cryptoFor(100),
      retransmitTicks: 10,
    });
    expect(c.readsReplies).toBe(false);
    const sent = [1, 2, 3].map((k) => c.submit(Uint8Array.of(k), k));
    expect(sent.map((r) => r.ok && r.timestamp)).toEqual([1, 2, 3]);
    expect(sent.map((r) => (r.ok ? r.actions.map((a) => a.kind) : []))).toEqual([
      ['multicast'],
      ['multicast'],
      ['multicast'],
    ]);
    expect(c.busy).toBe(false);
    for (let t = 4; t <= 500; t++) expect(c.step({ kind: 'tick', now: t })).toEqual([]);
    const late = c.step(decoded(0, reply(0, 3, [1])));
    expect(late).toEqual([
      { kind: 'event', event: { type: 'rejected', reason: 'unexpected-reply', from: 0 } },
    ]);
  });
});
