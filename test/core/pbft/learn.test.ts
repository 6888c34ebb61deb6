/**
 * The rules of learn.ts, one row each: a replica in a view above v executes a batch of view v once it holds q
 * matching COMMITs from distinct replicas for (v, n, d) and a batch hashing to d, in sequence order, and nothing
 * else a faulty peer could send makes it execute or fills what it keeps.
 */
import { describe, expect, it } from 'vitest';
import { authPayload } from '../../../src/core/codec/encode.ts';
import type { Commit, Message, PrePrepare } from '../../../src/core/codec/messages.ts';
import { decode, Group, op } from './harness.ts';
import { signedPrePrepare, signedRequest, signedViewChange, signedVote } from './signed.ts';

const CLIENT = 100;
const LEARNER = 3;

/** A group where replica 3 alone moved to view 1 (f+1 VIEW-CHANGEs shown to it only); the others stay in view 0. */
function loneInViewOne(overrides: ConstructorParameters<typeof Group>[1] = {}): Group {
  const g = new Group(1, { checkpointInterval: 4, watermarkWindow: 8, ...overrides });
  g.inject(LEARNER, 1, signedViewChange(g, 1, 1));
  g.inject(LEARNER, 2, signedViewChange(g, 2, 1));
  expect(g.replicas[LEARNER]!.status()).toMatchObject({ view: 1, active: false });
  g.wire.length = 0; // its VIEW-CHANGE goes nowhere: the others stay in view 0
  return g;
}

function batchAt(g: Group, seq: number, fields: { digest?: Uint8Array } = {}): PrePrepare {
  return signedPrePrepare(g, {
    view: 0,
    seq,
    requests: [signedRequest(g, CLIENT, seq, op(seq))],
    ...fields,
  });
}

function commit(g: Group, pp: PrePrepare, replica: number, digest = pp.batchDigest): Commit {
  return signedVote(g, 'commit', { view: pp.view, seq: pp.seq, batchDigest: digest }, replica);
}

function learnedSeqs(g: Group): number[] {
  return g.executed.filter((e) => e.replica === LEARNER).map((e) => e.seq);
}

const OTHER = new Uint8Array(32).fill(7);

type Row = {
  readonly name: string;
  /** What replica 3 is shown, in order: [sender, message]. */
  readonly send: (g: Group) => [number, Message][];
  readonly executes: number[];
  readonly rejects?: string[];
};

const rows: Row[] = [
  {
    name: 'PRE-PREPARE, then 2f+1 matching COMMITs: executes',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [[0, pp], ...[0, 1, 2].map((r): [number, Message] => [r, commit(g, pp, r)])];
    },
    executes: [1],
  },
  {
    name: 'the COMMITs first, the batch after: executes when the batch comes',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [...[0, 1, 2].map((r): [number, Message] => [r, commit(g, pp, r)]), [0, pp]];
    },
    executes: [1],
  },
  {
    name: '2f matching COMMITs: nothing',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [[0, pp], ...[0, 1].map((r): [number, Message] => [r, commit(g, pp, r)])];
    },
    executes: [],
  },
  {
    name: 'one of the three for another digest: nothing',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [
        [0, pp],
        [0, commit(g, pp, 0)],
        [1, commit(g, pp, 1)],
        [2, commit(g, pp, 2, OTHER)],
      ];
    },
    executes: [],
  },
  {
    name: 'one replica three times: counted once',
    send: (g) => {
      const pp = batchAt(g, 1);
      const c = commit(g, pp, 1);
      return [
        [0, pp],
        [1, c],
        [1, c],
        [2, c],
      ];
    },
    executes: [],
  },
  {
    name: 'an equivocating replica: its first COMMIT of the view counts, not the second',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [
        [0, pp],
        [2, commit(g, pp, 2, OTHER)],
        [0, commit(g, pp, 0)],
        [1, commit(g, pp, 1)],
        [2, commit(g, pp, 2)],
      ];
    },
    executes: [],
  },
  {
    name: 'a COMMIT whose MAC fails: refused, not counted',
    send: (g) => {
      const pp = batchAt(g, 1);
      const forged = commit(g, pp, 2);
      return [
        [0, pp],
        [0, commit(g, pp, 0)],
        [1, commit(g, pp, 1)],
        [2, { ...forged, auth: forged.auth.map((t) => new Uint8Array(t.length)) }],
      ];
    },
    executes: [],
    rejects: ['bad-mac'],
  },
  {
    name: 'a COMMIT in the learner’s own name: refused',
    send: (g) => {
      const pp = batchAt(g, 1);
      return [
        [0, pp],
        [0, commit(g, pp, 0)],
        [1, commit(g, pp, 1)],
        [2, commit(g, pp, LEARNER)],
      ];
    },
    executes: [],
    rejects: ['bad-replica-id'],
  },
  {
    name: 'a seq above the window: refused, nothing kept',
    send: (g) => {
      const pp = batchAt(g, 9);
      return [0, 1, 2].map((r): [number, Message] => [r, commit(g, pp, r)]);
    },
    executes: [],
    rejects: ['outside-watermarks', 'outside-watermarks', 'outside-watermarks'],
  },
  {
    name: 'a batch that does not hash to its digest is not kept: nothing',
    send: (g) => {
      const real = batchAt(g, 1);
      const lying = batchAt(g, 1, { digest: OTHER });
      return [[0, lying], ...[0, 1, 2].map((r): [number, Message] => [r, commit(g, real, r, OTHER)])];
    },
    executes: [],
    rejects: ['wrong-view'],
  },
  {
    name: 'seq 2 proven before seq 1: both execute, in order, once seq 1 is',
    send: (g) => {
      const one = batchAt(g, 1);
      const two = batchAt(g, 2);
      return [
        [0, two],
        ...[0, 1, 2].map((r): [number, Message] => [r, commit(g, two, r)]),
        [0, one],
        ...[0, 1, 2].map((r): [number, Message] => [r, commit(g, one, r)]),
      ];
    },
    executes: [1, 2],
  },
];

describe('learning batches committed in a view left (learn.ts)', () => {
  it.each(rows)('$name', (row) => {
    const g = loneInViewOne();
    const before = g.rejections(LEARNER).length;
    for (const [from, m] of row.send(g)) g.inject(LEARNER, from, m);
    expect(learnedSeqs(g)).toEqual(row.executes);
    expect(g.eventsOf('learned', LEARNER).map((e) => (e as { seq: number }).seq)).toEqual(row.executes);
    expect(g.rejections(LEARNER).slice(before)).toEqual(row.rejects ?? []);
    // Learning sends nothing of view 0 and does not move the learner's view.
    expect(g.wire.filter((p) => p.from === LEARNER && p.to < g.config.n)).toEqual([]);
    expect(g.replicas[LEARNER]!.status()).toMatchObject({ view: 1, active: false });
  });

  it('a learned checkpoint seq: the learner signs its CHECKPOINT, and 2f+1 make it stable and truncate the log', () => {
    const g = loneInViewOne();
    for (let seq = 1; seq <= 4; seq++) {
      const pp = batchAt(g, seq);
      g.inject(LEARNER, 0, pp);
      for (const r of [0, 1, 2]) g.inject(LEARNER, r, commit(g, pp, r));
    }
    expect(learnedSeqs(g)).toEqual([1, 2, 3, 4]);
    const own = g.wire.filter((p) => p.from === LEARNER && p.to < g.config.n).map((p) => p.bytes);
    expect(own.length).toBe(3); // its CHECKPOINT for 4, to each of the others
    expect(g.replicas[LEARNER]!.status().lowWatermark).toBe(0);
    // The others executed the same batches: their CHECKPOINTs for 4 carry the learner's state digest.
    const mine = decode(own[0]!);
    expect(mine.kind).toBe('checkpoint');
    if (mine.kind !== 'checkpoint') return;
    for (const r of [0, 1]) {
      const unsigned = { ...mine, replica: r, signature: new Uint8Array(64) };
      g.inject(LEARNER, r, { ...unsigned, signature: g.keys.cryptoFor(r).sign(authPayload(unsigned)) });
    }
    expect(g.replicas[LEARNER]!.status()).toMatchObject({ lowWatermark: 4, view: 1, active: false });
  });

  it('in its own view: a backup that lost the PREPAREs executes on the others’ 2f+1 COMMITs, and sends no COMMIT', () => {
    const g = new Group(1);
    const pp = batchAt(g, 1);
    g.inject(LEARNER, 0, pp);
    expect(g.wire.filter((p) => p.from === LEARNER && decode(p.bytes).kind === 'prepare')).toHaveLength(3);
    g.wire.length = 0;
    for (const r of [0, 1]) g.inject(LEARNER, r, commit(g, pp, r));
    expect(learnedSeqs(g)).toEqual([]);
    g.inject(LEARNER, 2, commit(g, pp, 2));
    expect(learnedSeqs(g)).toEqual([1]);
    expect(g.wire.filter((p) => p.from === LEARNER && p.to < g.config.n)).toEqual([]);
    // The PREPAREs come late: it prepares and commits as usual, and seq 1 does not execute again.
    for (const r of [1, 2]) g.inject(LEARNER, r, signedVote(g, 'prepare', pp, r));
    expect(g.wire.filter((p) => p.from === LEARNER && decode(p.bytes).kind === 'commit')).toHaveLength(3);
    expect(learnedSeqs(g)).toEqual([1]);
    expect(g.replicas[LEARNER]!.status()).toMatchObject({ view: 0, active: true, lastExecuted: 1 });
  });

  it('in its own view: the COMMITs first, the PRE-PREPARE after (no PREPARE): executes when it comes', () => {
    const g = new Group(1);
    const pp = batchAt(g, 1);
    for (const r of [0, 1, 2]) g.inject(LEARNER, r, commit(g, pp, r));
    expect(learnedSeqs(g)).toEqual([]);
    g.inject(LEARNER, 0, pp);
    expect(learnedSeqs(g)).toEqual([1]);
  });

  it('alone, it does not run through views: no view-change timer without 2f+1 VIEW-CHANGEs for its view', () => {
    const g = new Group(1, { viewChangeTimeoutTicks: 5, requestTimeoutTicks: 5, stallTicks: 3 });
    g.filter = () => false; // nobody hears it, it hears nobody
    // It accepted a PRE-PREPARE whose votes never come: its request timer makes it leave view 0, alone.
    g.inject(LEARNER, 0, batchAt(g, 1));
    for (let t = 0; t < 200; t++) {
      g.now++;
      g.onReplica(LEARNER, g.stepReplica(LEARNER, { kind: 'tick', now: g.now }));
      g.wire.length = 0;
    }
    expect(g.eventsOf('view-change', LEARNER)).toHaveLength(1);
    expect(g.replicas[LEARNER]!.status()).toMatchObject({ view: 1, active: false });
    // f+1 replicas in a higher view: it joins the lowest of them.
    g.inject(LEARNER, 0, signedViewChange(g, 0, 2));
    g.inject(LEARNER, 1, signedViewChange(g, 1, 2));
    expect(g.replicas[LEARNER]!.status()).toMatchObject({ view: 2, active: false });
  });
});
