import { describe, expect, it } from 'vitest';
import { authPayload } from '../../../src/core/codec/encode.ts';
import type { Message, PrePrepare, Request, StateReply } from '../../../src/core/codec/messages.ts';
import { pbftConfig } from '../../../src/core/pbft/config.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import { decode, Group, op } from './harness.ts';
import { signedPrePrepare, signedRequest, signedVote } from './signed.ts';

const CLIENT = 100;

function request(
  g: Group,
  client: number,
  timestamp: number,
  payload: Uint8Array,
  breakSlots: number[] = [],
): Request {
  return signedRequest(g, client, timestamp, payload, (r) => !breakSlots.includes(r));
}

function prePrepare(
  g: Group,
  fields: { view?: number; seq?: number; requests: Request[]; sender?: number; digest?: Uint8Array },
): PrePrepare {
  return signedPrePrepare(g, {
    view: fields.view ?? 0,
    seq: fields.seq ?? 1,
    requests: fields.requests,
    sender: fields.sender ?? 0,
    ...(fields.digest === undefined ? {} : { digest: fields.digest }),
  });
}

function vote(g: Group, kind: 'prepare' | 'commit', pp: PrePrepare, replica: number): Message {
  return signedVote(g, kind, pp, replica);
}

/** Did backup 1 send a PREPARE for the last input? */
function sentPrepare(actions: readonly { kind: string; message?: Message }[]): boolean {
  return actions.some((a) => a.kind === 'multicast' && a.message?.kind === 'prepare');
}

describe('PBFT normal case', () => {
  it('orders, executes and replies with f+1 matching results (f = 1 and f = 2)', () => {
    for (const f of [1, 2]) {
      const g = new Group(f);
      const ts = g.submit(CLIENT, op(1, 2, 3));
      g.pump();
      expect(g.results).toHaveLength(1);
      expect(g.results[0]!.timestamp).toBe(ts);
      const seq1 = g.executed.filter((e) => e.seq === 1);
      expect(seq1).toHaveLength(g.config.n);
      expect(new Set(seq1.map((e) => e.digest)).size).toBe(1);
    }
  });

  it('executes batches strictly in sequence order even when commits arrive out of order', () => {
    const g = new Group(1, { maxBatchRequests: 1 }, 3);
    // Hold every message for seq 1 until seq 2 and 3 have gathered theirs.
    const held: typeof g.wire = [];
    g.filter = (p) => {
      if (p.to >= g.config.n) return true;
      const m = decode(p.bytes);
      if ('seq' in m && m.kind !== 'checkpoint' && m.seq === 1) {
        held.push(p);
        return false;
      }
      return true;
    };
    g.submit(100, op(1));
    g.submit(101, op(2));
    g.submit(102, op(3));
    g.pump();
    expect(g.executed).toHaveLength(0);
    g.filter = () => true;
    g.wire.push(...held);
    g.pump();
    for (let r = 0; r < g.config.n; r++) {
      expect(g.executed.filter((e) => e.replica === r).map((e) => e.seq)).toEqual([1, 2, 3]);
    }
  });
});

describe('PRE-PREPARE checks at a backup', () => {
  const cases: [string, (g: Group) => PrePrepare | Uint8Array][] = [
    ['wrong-view', (g) => prePrepare(g, { view: 1, requests: [request(g, CLIENT, 1, op(1))] })],
    ['not-from-primary', (g) => prePrepare(g, { sender: 2, requests: [request(g, CLIENT, 1, op(1))] })],
    [
      'bad-mac',
      (g) => {
        const pp = prePrepare(g, { requests: [request(g, CLIENT, 1, op(1))] });
        return { ...pp, auth: pp.auth.map((t) => t.map((b) => b ^ 0xff)) };
      },
    ],
    [
      'outside-watermarks',
      (g) => prePrepare(g, { seq: g.config.watermarkWindow + 1, requests: [request(g, CLIENT, 1, op(1))] }),
    ],
    [
      'batch-digest-mismatch',
      (g) => prePrepare(g, { requests: [request(g, CLIENT, 1, op(1))], digest: new Uint8Array(32) }),
    ],
    [
      'oversized-batch',
      (g) =>
        prePrepare(g, {
          requests: Array.from({ length: g.config.maxBatchRequests + 1 }, (_, i) =>
            request(g, 200 + i, 1, op(i)),
          ),
        }),
    ],
    [
      'duplicate-request-in-batch',
      (g) => prePrepare(g, { requests: [request(g, CLIENT, 1, op(1)), request(g, CLIENT, 2, op(2))] }),
    ],
  ];
  for (const [reason, make] of cases) {
    it(`rejects ${reason} and sends no PREPARE`, () => {
      const g = new Group(1, { maxBatchRequests: 4 });
      const actions = g.inject(1, 0, make(g));
      expect(g.rejections(1)).toContain(reason);
      expect(sentPrepare(actions)).toBe(false);
    });
  }

  it('accepts a well-formed one and sends PREPARE', () => {
    const g = new Group(1);
    const actions = g.inject(1, 0, prePrepare(g, { requests: [request(g, CLIENT, 1, op(1))] }));
    expect(g.rejections(1)).toEqual([]);
    expect(sentPrepare(actions)).toBe(true);
  });

  it('rejects a conflicting PRE-PREPARE for an accepted (view, seq)', () => {
    const g = new Group(1);
    g.inject(1, 0, prePrepare(g, { requests: [request(g, CLIENT, 1, op(1))] }));
    const actions = g.inject(1, 0, prePrepare(g, { requests: [request(g, CLIENT, 1, op(9))] }));
    expect(g.rejections(1)).toContain('conflicting-pre-prepare');
    expect(sentPrepare(actions)).toBe(false);
  });

  it('rejects a stale request (timestamp at or below the last executed one)', () => {
    const g = new Group(1);
    g.submit(CLIENT, op(1));
    g.pump();
    expect(g.results).toHaveLength(1);
    g.inject(1, 0, prePrepare(g, { seq: 2, requests: [request(g, CLIENT, 1, op(7))] }));
    expect(g.rejections(1)).toContain('stale-request');
  });
});

describe('request authentication inside a batch', () => {
  it('holds a batch whose request tag fails for this backup, without blaming the primary', () => {
    const g = new Group(1);
    const pp = prePrepare(g, { requests: [request(g, CLIENT, 1, op(1), [1])] });
    const actions = g.inject(1, 0, pp);
    expect(sentPrepare(actions)).toBe(false);
    expect(g.rejections(1)).toEqual(['request-auth-pending']);
    expect(g.replicas[1]!.status().held).toBe(1);
  });

  it('releases it when f backups vouch by PREPARE (primary + f = f+1, one of them correct)', () => {
    const g = new Group(1);
    const pp = prePrepare(g, { requests: [request(g, CLIENT, 1, op(1), [1])] });
    g.inject(1, 0, pp);
    const actions = g.inject(1, 2, vote(g, 'prepare', pp, 2));
    expect(sentPrepare(actions)).toBe(true);
    expect(g.replicas[1]!.status().held).toBe(0);
  });

  it('releases it when the client sends the same request directly with a valid tag (Castro has_req)', () => {
    const g = new Group(1);
    const good = request(g, CLIENT, 1, op(1));
    g.inject(1, 0, prePrepare(g, { requests: [request(g, CLIENT, 1, op(1), [1])] }));
    const actions = g.inject(1, CLIENT, { kind: 'request', ...good });
    expect(sentPrepare(actions)).toBe(true);
  });

  it('never executes a forged request: a batch only the faulty primary vouches for stays held', () => {
    const g = new Group(1);
    // Tags broken for every backup: only the primary could have checked it.
    const pp = prePrepare(g, { requests: [request(g, CLIENT, 1, op(1), [1, 2, 3])] });
    for (const b of [1, 2, 3]) g.inject(b, 0, pp);
    g.pump();
    expect(g.executed).toHaveLength(0);
  });

  it('a primary drops a request whose own tag fails', () => {
    const g = new Group(1);
    const actions = g.inject(0, CLIENT, { kind: 'request', ...request(g, CLIENT, 1, op(1), [0]) });
    expect(g.rejections(0)).toEqual(['bad-mac']);
    expect(actions.some((a) => a.kind === 'multicast')).toBe(false);
  });
});

describe('watermarks, checkpoints and truncation', () => {
  it('the primary proposes nothing above the high watermark until a checkpoint is stable', () => {
    const g = new Group(
      1,
      { checkpointInterval: 2, watermarkWindow: 4, maxInFlight: 100, maxBatchRequests: 1 },
      8,
    );
    g.filter = () => false; // nothing reaches anyone: no checkpoint can become stable
    for (const c of g.clients) g.submit(c.id, op(c.id));
    for (const p of g.wire.splice(0))
      if (p.to === 0) g.onReplica(0, g.stepReplica(0, { kind: 'receive', from: p.from, bytes: p.bytes }));
    const seqs = g.wire
      .map((p) => decode(p.bytes))
      .filter((m) => m.kind === 'pre-prepare')
      .map((m) => (m as PrePrepare).seq);
    expect(Math.max(...seqs)).toBe(4);
    expect(g.replicas[0]!.status().highWatermark).toBe(4);
  });

  it('becomes stable at 2f+1 matching checkpoints and truncates the log at or below it', () => {
    const g = new Group(1, { checkpointInterval: 2, watermarkWindow: 4, maxBatchRequests: 1 });
    for (let i = 0; i < 10; i++) {
      g.submit(CLIENT, op(i));
      g.pump();
    }
    expect(g.results).toHaveLength(10);
    for (const r of g.replicas) {
      const s = r.status();
      expect(s.lastExecuted).toBe(10);
      expect(s.lowWatermark).toBe(10);
      expect(s.logEntries).toBe(0);
      expect(s.checkpointsHeld).toBe(0);
    }
    expect(g.eventsOf('checkpoint-stable', 0).map((e) => (e as { seq: number }).seq)).toEqual([
      2, 4, 6, 8, 10,
    ]);
  });

  it('ignores a checkpoint with a bad signature', () => {
    const g = new Group(1, { checkpointInterval: 2 });
    const cp = {
      kind: 'checkpoint' as const,
      seq: 2,
      stateDigest: new Uint8Array(32),
      replica: 2,
      signature: new Uint8Array(64),
    };
    g.inject(1, 2, cp);
    expect(g.rejections(1)).toContain('bad-signature');
  });
});

describe('last-reply cache', () => {
  it('answers a retransmitted request from the cache and never executes it twice', () => {
    const g = new Group(1);
    g.submit(CLIENT, op(5));
    const requestBytes = g.wire[0]!.bytes;
    g.pump();
    const executedBefore = g.executed.length;
    const snapshotBefore = g.services.map((s) => Buffer.from(s.snapshot()).toString('hex'));
    for (let r = 0; r < g.config.n; r++) g.inject(r, CLIENT, requestBytes);
    const replies = g.wire.filter((p) => p.to === CLIENT);
    expect(replies).toHaveLength(g.config.n);
    expect(g.eventsOf('cached-reply')).toHaveLength(g.config.n);
    g.pump();
    expect(g.executed.length).toBe(executedBefore);
    expect(g.services.map((s) => Buffer.from(s.snapshot()).toString('hex'))).toEqual(snapshotBefore);
  });

  it('skips a request ordered twice by a faulty primary (executes once)', () => {
    const g = new Group(1);
    const r = request(g, CLIENT, 1, op(1));
    for (const seq of [1, 2]) {
      const pp = prePrepare(g, { seq, requests: seq === 1 ? [r] : [] });
      // seq 2 reuses the request: build it directly (a backup only checks staleness against executed state).
      const pp2 = seq === 2 ? prePrepare(g, { seq, requests: [r] }) : pp;
      for (const b of [1, 2, 3]) g.inject(b, 0, pp2);
    }
    g.pump();
    const perReplica = g.executed.filter((e) => e.replica === 1);
    expect(perReplica.map((e) => e.seq)).toEqual([1, 2]);
    expect(perReplica.map((e) => e.requests)).toEqual([1, 0]);
  });
});

describe('retransmission and state transfer', () => {
  it('a replica cut off for many checkpoints catches up by verified state transfer', () => {
    const g = new Group(1, { checkpointInterval: 2, watermarkWindow: 4, maxBatchRequests: 1, stallTicks: 3 });
    g.filter = (p) => p.to !== 3 && p.from !== 3;
    for (let i = 0; i < 12; i++) {
      g.submit(CLIENT, op(i));
      g.pump();
    }
    expect(g.replicas[3]!.status().lastExecuted).toBe(0);
    g.filter = () => true;
    g.submit(CLIENT, op(99));
    g.tick(20);
    expect(g.eventsOf('state-restored', 3).length).toBeGreaterThan(0);
    expect(g.replicas[3]!.status().lastExecuted).toBe(g.replicas[0]!.status().lastExecuted);
    expect(Buffer.from(g.services[3]!.snapshot())).toEqual(Buffer.from(g.services[0]!.snapshot()));
    // The restored reply cache still answers the last request from the cache.
    expect(g.replicas[3]!.cachedReply(CLIENT)?.timestamp).toBe(13);
  });

  it('rejects a state reply whose checkpoint proof is forged', () => {
    const g = new Group(1, { checkpointInterval: 2, stallTicks: 3 });
    g.filter = () => false;
    g.inject(1, CLIENT, { kind: 'request', ...request(g, CLIENT, 1, op(1)) });
    g.tick(5); // replica 1 is stalled (a pending request nobody orders) and asks: nonce 1
    const crypto = g.keys.cryptoFor(2);
    const fake = { seq: 2, stateDigest: new Uint8Array(32), replica: 2, signature: new Uint8Array(64) };
    const unsigned: StateReply = {
      kind: 'state-reply',
      replica: 2,
      nonce: 1,
      stableSeq: 2,
      stableDigest: new Uint8Array(32),
      checkpointProof: [fake, { ...fake, replica: 0 }, { ...fake, replica: 3 }],
      snapshot: new Uint8Array(4),
      entries: [],
      more: false,
      tag: new Uint8Array(0),
    };
    g.inject(1, 2, { ...unsigned, tag: crypto.tag(1, authPayload(unsigned)) });
    expect(g.rejections(1)).toContain('bad-state');
    expect(g.replicas[1]!.status().lastExecuted).toBe(0);
  });
});

describe('configuration', () => {
  it('refuses n < 3f+1 and a window that is not a multiple of K', () => {
    expect(() => pbftConfig(1, { n: 3 })).toThrow(/3f\+1/);
    expect(() => pbftConfig(1, { checkpointInterval: 4, watermarkWindow: 6 })).toThrow(/multiple/);
    const g = new Group(1);
    expect(
      () => new Replica({ id: 4, config: g.config, crypto: g.keys.cryptoFor(0), service: g.services[0]! }),
    ).toThrow();
  });
});
