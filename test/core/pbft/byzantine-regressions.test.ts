/**
 * Regressions for the attack classes of issue 9 that the PBFT core owns (1, 2, 3, 4 and the checkpoint part of
 * 8). Each test drives real replicas through the public Replica API and the unit-test harness only, so it
 * also runs against older code: every one of them but the one marked otherwise fails on c4c883f (how is said
 * in each test's comment) and passes now.
 */
import { describe, expect, it } from 'vitest';
import { authPayload, encodeMessage } from '../../../src/core/codec/encode.ts';
import type {
  Checkpoint,
  Message,
  NewView,
  PrePrepare,
  Request,
  StateReply,
  ViewChange,
} from '../../../src/core/codec/messages.ts';
import type { NodeCrypto } from '../../../src/core/pbft/crypto.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import { encodeReplicaState } from '../../../src/core/pbft/snapshot.ts';
import { FoldService } from '../../../src/sim/service.ts';
import { decode, Group, op, type Packet } from './harness.ts';
import { signedPrePrepare, signedRequest, signedViewChange, signedVote } from './signed.ts';

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
  view: number,
  seq: number,
  requests: Request[],
  sender = view % g.config.n,
): PrePrepare {
  return signedPrePrepare(g, { view, seq, requests, sender });
}

function signedNewView(g: Group, view: number, viewChanges: ViewChange[]): NewView {
  const primary = view % g.config.n;
  const unsigned: NewView = {
    kind: 'new-view',
    view,
    replica: primary,
    viewChanges,
    prePrepares: [],
    signature: new Uint8Array(64),
  };
  return { ...unsigned, signature: g.keys.cryptoFor(primary).sign(authPayload(unsigned)) };
}

function kindOf(p: Packet): Message['kind'] {
  return decode(p.bytes).kind;
}

function viewChanges(g: Group): number {
  return g.eventsOf('view-change').length;
}

describe('class 1: an invalid NEW-VIEW changes nothing', () => {
  // c4c883f: the replica rejects the NEW-VIEW ('bad-new-view') but moves to view 8 anyway.
  it('a NEW-VIEW with an empty V set, signed by the primary of its view, moves nobody', () => {
    const g = new Group(1);
    g.inject(1, 3, signedNewView(g, 7, []));
    expect(g.rejections(1)).toContain('bad-new-view');
    expect(g.replicas[1]!.status()).toMatchObject({ view: 0, active: true });
    g.submit(CLIENT, op(1));
    g.pump();
    expect(g.results).toHaveLength(1);
  });

  // c4c883f: step() throws RangeError('uvar out of range: 9007199254740992') building the VIEW-CHANGE for the
  // view after 2^53 - 1, and again on every later tick.
  it('at view 2^53 - 1 nothing throws, now or on later ticks, and the view stays', () => {
    const g = new Group(1);
    const huge = Number.MAX_SAFE_INTEGER; // its primary is replica 3 (2^53 - 1 = 3 mod 4)
    expect(() => g.inject(1, 3, signedNewView(g, huge, []))).not.toThrow();
    expect(() => g.inject(1, 3, signedNewView(g, huge, [signedViewChange(g, 3, huge)]))).not.toThrow();
    expect(() => g.tick(600)).not.toThrow();
    expect(g.replicas[1]!.status().view).toBe(0);
  });
});

describe('class 2: buffers take nothing unauthenticated, and one sender cannot fill them for others', () => {
  /** Replica 2 joins view 1 (f+1 VIEW-CHANGEs) and waits for its NEW-VIEW. */
  function waitingForNewView(): Group {
    const g = new Group(1);
    g.inject(2, 0, signedViewChange(g, 0, 1));
    g.inject(2, 3, signedViewChange(g, 3, 1));
    expect(g.replicas[2]!.status()).toMatchObject({ view: 1, active: false });
    g.wire.length = 0;
    return g;
  }

  // c4c883f: a forged PREPARE of the view being installed is buffered without a MAC check (no rejection).
  it('a forged message for the view being installed is refused at once (MAC checked before buffering)', () => {
    const g = waitingForNewView();
    const pp = prePrepare(g, 1, 1, [request(g, CLIENT, 1, op(1))]);
    const forged = {
      ...signedVote(g, 'prepare', pp, 3),
      auth: [new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)],
    };
    const before = g.rejections(2).length;
    g.inject(2, 3, forged);
    expect(g.rejections(2).slice(before)).toEqual(['bad-mac']);
  });

  // c4c883f: the buffer is shared by count (1024): after replica 3's flood, replica 0's PREPARE is refused
  // ('view-change-in-progress').
  it("one replica's flood of authentic messages does not crowd out another replica's", () => {
    const g = waitingForNewView();
    const pp = prePrepare(g, 1, 1, [request(g, CLIENT, 1, op(1))]);
    for (let i = 0; i < 1100; i++) g.inject(2, 3, signedVote(g, 'prepare', { ...pp, seq: 1 + (i % 32) }, 3));
    const before = g.rejections(2).length;
    g.inject(2, 0, signedVote(g, 'prepare', pp, 0));
    expect(g.rejections(2).slice(before)).toEqual([]);
  });

  // c4c883f: the forged old-view PRE-PREPAREs fill the batch store (4L entries, no MAC check); the store then
  // refuses every batch, view 2's primary cannot re-propose the batch its NEW-VIEW fixed, and the request is
  // never executed although no replica is faulty (view changes go on without end).
  it('a flood of forged old-view PRE-PREPAREs cannot make the group lose a batch a NEW-VIEW fixes', () => {
    const timing = {
      requestTimeoutTicks: 20,
      proposalTimeoutTicks: 6,
      viewChangeTimeoutTicks: 20,
      stallTicks: 4,
    };
    const g = new Group(1, { checkpointInterval: 4, watermarkWindow: 8, ...timing }, 3);
    // View 0's primary falls silent: the group moves to view 1 and executes the first request there.
    g.filter = (p) => p.from !== 0;
    g.submit(100, op(1));
    g.tick(80);
    expect(g.results).toHaveLength(1);
    for (const r of [1, 2, 3]) expect(g.replicas[r]!.status()).toMatchObject({ view: 1, active: true });
    // A peer with no keys floods every replica with view-0 PRE-PREPAREs whose digests match their batches.
    for (let i = 0; i < 64; i++) {
      const junk = request(g, 102, 1000 + i, op(i, i, i));
      const pp = prePrepare(g, 0, 2 + (i % 7), [junk], 0);
      const forged = { ...pp, auth: pp.auth.map((t) => new Uint8Array(t.length)) };
      for (const to of [0, 1, 2, 3]) g.inject(to, 0, forged);
    }
    // The next batch prepares everywhere in view 1 but no COMMIT of view 1 gets through; then view 1's primary
    // falls silent (and replica 0 is heard again: one fault at a time).
    const commitOfView1 = (p: Packet): boolean => {
      const m = decode(p.bytes);
      return m.kind === 'commit' && m.view === 1;
    };
    g.filter = (p) => p.from !== 0 && !commitOfView1(p);
    g.submit(101, op(2));
    g.pump();
    g.filter = (p) => p.from !== 1 && !commitOfView1(p);
    g.tick(600);
    // View 2's NEW-VIEW carried the prepared batch over; its primary re-proposed it and it executed.
    expect(g.results.map((r) => r.client)).toContain(101);
  });
});

describe('class 3: n > 3f+1 is safe (quorums follow n and f)', () => {
  // c4c883f: with quorums fixed at 2f+1 = 3 of 5, replicas 1 and 2 execute batch A at seq 1 and replicas 3
  // and 4 execute batch B there.
  it('n = 5, f = 1, an equivocating primary: no two correct replicas execute different batches at one seq', () => {
    const g = new Group(1, { n: 5 }, 2);
    const ppA = prePrepare(g, 0, 1, [request(g, 100, 1, op(1))]);
    const ppB = prePrepare(g, 0, 1, [request(g, 101, 1, op(2))]);
    g.filter = (p) => p.from !== 0; // the faulty primary speaks only through what is injected here
    for (const [pp, to] of [
      [ppA, 1],
      [ppA, 2],
      [ppB, 3],
      [ppB, 4],
    ] as const) {
      g.inject(to, 0, pp);
      g.inject(to, 0, signedVote(g, 'commit', pp, 0));
    }
    g.pump();
    g.tick(300);
    const bySeq = new Map<number, Set<string>>();
    for (const e of g.executed) {
      if (e.replica === 0) continue;
      const set = bySeq.get(e.seq) ?? new Set();
      set.add(e.digest);
      bySeq.set(e.seq, set);
    }
    for (const [seq, digests] of bySeq) expect(digests.size, `seq ${seq}`).toBe(1);
  });
});

describe('class 4: one faulty client or replica cannot get a correct primary voted out', () => {
  // c4c883f: the primary drops the request (its tag fails), the backups hold it and vote the primary out
  // ('slow-primary'), and the view changes.
  it('big MAC: a request whose tag fails only at the primary is ordered, and no view changes', () => {
    const g = new Group(1, { requestTimeoutTicks: 40, proposalTimeoutTicks: 10, stallTicks: 6 });
    const bad = { kind: 'request' as const, ...request(g, CLIENT, 1, op(7), [0]) };
    for (let to = 0; to < 4; to++) g.inject(to, CLIENT, bad);
    g.pump();
    g.tick(120);
    expect(viewChanges(g)).toBe(0);
    for (let r = 0; r < 4; r++) expect(g.replicas[r]!.cachedReply(CLIENT)?.timestamp).toBe(1);
  });

  // Not a regression (c4c883f passes it too: rule 2 (c) of replica.ts): the other half of the big-MAC attack.
  it('big MAC at some backups: the primary plus f backups vouch, and the batch commits without a view change', () => {
    const g = new Group(1, { requestTimeoutTicks: 40, proposalTimeoutTicks: 10, stallTicks: 6 });
    const bad = { kind: 'request' as const, ...request(g, CLIENT, 1, op(7), [1, 2]) };
    for (let to = 0; to < 4; to++) g.inject(to, CLIENT, bad);
    g.pump();
    g.tick(120);
    expect(viewChanges(g)).toBe(0);
    for (let r = 0; r < 4; r++) expect(g.replicas[r]!.cachedReply(CLIENT)?.timestamp).toBe(1);
  });

  // c4c883f: the stray PREPAREs created the slots at tick 0; the request timer measures from then, so the
  // backups vote the primary out ('request-timeout') one tick after its PRE-PREPARE arrived.
  it('a stray PREPARE for an empty slot does not start the request timer', () => {
    const g = new Group(1, { requestTimeoutTicks: 20, proposalTimeoutTicks: 1000, stallTicks: 1000 });
    const phantom = { view: 0, seq: 1, batchDigest: new Uint8Array(32).fill(9) };
    for (let seq = 1; seq <= 4; seq++)
      for (const to of [1, 2]) g.inject(to, 3, signedVote(g, 'prepare', { ...phantom, seq }, 3));
    g.tick(25);
    // A request now; its COMMITs are slow (they arrive two ticks later).
    const late: Packet[] = [];
    g.filter = (p) => {
      if (kindOf(p) !== 'commit') return true;
      late.push(p);
      return false;
    };
    g.submit(CLIENT, op(1));
    g.pump();
    g.tick(2);
    g.filter = () => true;
    g.wire.push(...late);
    g.pump();
    g.tick(10);
    expect(g.eventsOf('view-change')).toEqual([]);
    expect(g.results).toHaveLength(1);
  });
});

describe('class 8: checkpoints', () => {
  function countingCrypto(base: NodeCrypto): { crypto: NodeCrypto; verifies: () => number } {
    let n = 0;
    const crypto: NodeCrypto = {
      ...base,
      verifySignature: (signer, data, signature) => {
        n++;
        return base.verifySignature(signer, data, signature);
      },
    };
    return { crypto, verifies: () => n };
  }

  function checkpoint(g: Group, seq: number, replica: number, digest: Uint8Array): Checkpoint {
    const unsigned: Checkpoint = {
      kind: 'checkpoint',
      seq,
      stateDigest: digest,
      replica,
      signature: new Uint8Array(64),
    };
    return { ...unsigned, signature: g.keys.cryptoFor(replica).sign(authPayload(unsigned)) };
  }

  // c4c883f: 100 replays cost 100 signature verifications (inside the window and above it).
  it('a replayed CHECKPOINT is recognised as a duplicate before its signature is checked', () => {
    const g = new Group(1);
    for (const seq of [8, 8 * 20]) {
      const { crypto, verifies } = countingCrypto(g.keys.cryptoFor(1));
      const r = new Replica({ id: 1, config: g.config, crypto, service: new FoldService() });
      const cp = checkpoint(g, seq, 2, new Uint8Array(32).fill(5));
      for (let i = 0; i < 100; i++) r.step({ kind: 'receive', from: 2, bytes: encodeMessage(cp) });
      expect(verifies(), `seq ${seq}`).toBe(1);
    }
  });

  // c4c883f: the replica installs the state at 2 and its low watermark goes from 4 back to 2.
  it('the low watermark never moves backwards when an older valid proof is relayed', () => {
    const g = new Group(1, {
      checkpointInterval: 2,
      watermarkWindow: 4,
      requestTimeoutTicks: 30,
      proposalTimeoutTicks: 10,
      viewChangeTimeoutTicks: 30,
      stallTicks: 4,
    });
    const seen: Packet[] = [];
    // Replica 3 is cut off while seqs 1..4 execute and checkpoints 2 and 4 become stable.
    g.filter = (p) => {
      seen.push(p);
      return p.to !== 3 && p.from !== 3;
    };
    for (let i = 1; i <= 4; i++) {
      g.submit(CLIENT, op(i));
      g.pump();
    }
    expect(g.replicas[0]!.status().lowWatermark).toBe(4);
    // Primary 0 falls silent; replica 3 rejoins for the view change only: it learns of checkpoint 4 from the
    // NEW-VIEW, but no state reaches it, so its low watermark (4) is above what it executed (0).
    const noState = new Set<Message['kind']>([
      'state-reply',
      'pre-prepare',
      'prepare',
      'commit',
      'checkpoint',
    ]);
    g.filter = (p) => {
      seen.push(p);
      return p.from !== 0 && !(p.to === 3 && noState.has(kindOf(p)));
    };
    g.submit(CLIENT, op(5));
    const installed = (): boolean => g.replicas[3]!.status().view === 1 && g.replicas[3]!.status().active;
    for (let t = 0; t < 400 && !installed(); t++) g.tick(1);
    expect(g.replicas[3]!.status()).toMatchObject({
      view: 1,
      active: true,
      lowWatermark: 4,
      lastExecuted: 0,
    });
    // A valid proof and state for the older checkpoint 2, relayed to replica 3 as an answer to its last ask.
    const proof = seen
      .filter((p) => p.from !== 3 && kindOf(p) === 'checkpoint')
      .map((p) => decode(p.bytes) as Checkpoint)
      .filter(
        (c, i, all) => c.seq === 2 && all.findIndex((d) => d.replica === c.replica && d.seq === 2) === i,
      )
      .slice(0, 3)
      .map(({ kind: _kind, ...body }) => body);
    expect(proof).toHaveLength(3);
    const svc = new FoldService();
    const replies = new Map<number, { timestamp: number; result: Uint8Array }>();
    for (const [seq, ts] of [
      [1, 1],
      [2, 2],
    ] as const) {
      replies.set(CLIENT, { timestamp: ts, result: svc.execute(CLIENT, op(ts), seq) });
    }
    const snapshot = encodeReplicaState(svc.snapshot(), replies);
    const stableDigest = g.keys.cryptoFor(0).digest(snapshot);
    expect(stableDigest).toEqual(proof[0]!.stateDigest);
    const asks = seen.filter((p) => p.from === 3 && p.to === 0 && kindOf(p) === 'state-request');
    const nonce = (decode(asks[asks.length - 1]!.bytes) as { nonce: number }).nonce;
    const unsigned: StateReply = {
      kind: 'state-reply',
      replica: 0,
      nonce,
      stableSeq: 2,
      stableDigest,
      checkpointProof: proof,
      snapshot,
      entries: [],
      more: false,
      tag: new Uint8Array(0),
    };
    const reply: StateReply = { ...unsigned, tag: g.keys.cryptoFor(0).tag(3, authPayload(unsigned)) };
    g.inject(3, 0, reply);
    expect(g.replicas[3]!.status().lowWatermark).toBe(4);
  });
});

describe('keyed flood from a faulty primary: its junk cannot slow the backups that vote it out', () => {
  // The loop's keyed-flood primary (issue 9 catalog) sends, among its floods, authentic PRE-PREPAREs of junk
  // requests at random seqs of the window. Backups hold them (rule 3: a request not yet authentic is never
  // evidence), and one at the next seq makes them refuse the primary's real batch there ('conflicting-pre-prepare'),
  // so its requests wait unproposed. Before the fix a held junk PRE-PREPARE far ahead (seq >= lastExecuted +
  // maxInFlight) also made every backup think the primary's pipeline was full ('primaryHasRoom' took the
  // highest pre-prepared seq), so the frame-rate monitor stood still and only the request timeout (250 ms,
  // 12 frames in the loop) moved the group: 14 frames without a write.
  it('a lone junk PRE-PREPARE far ahead does not make the primary look busy: backups vote it out on frames', () => {
    const g = new Group(1, { batching: { mode: 'frame' }, requestTimeoutTicks: 10_000, maxMissedFrames: 2 });
    const junk = (seq: number, timestamp: number): PrePrepare =>
      prePrepare(g, 0, seq, [request(g, CLIENT + 1, timestamp, op(timestamp), [0, 1, 2, 3])]);
    for (const to of [1, 2, 3]) {
      g.inject(to, 0, junk(1, 1)); // the next seq: the primary's real batch there conflicts
      g.inject(to, 0, junk(g.config.maxInFlight + 4, 2)); // far ahead, inside the window
    }
    expect(g.rejections(1).filter((r) => r === 'request-auth-pending')).toHaveLength(2);
    g.submit(CLIENT, op(1));
    g.pump();
    const frames = 8;
    for (let frame = 0; frame < frames; frame++) {
      for (let r = 0; r < 4; r++) g.onReplica(r, g.stepReplica(r, { kind: 'frame' }));
      g.pump();
    }
    expect(g.rejections(1)).toContain('conflicting-pre-prepare');
    const votes = g.events.filter((e) => e.event.type === 'view-change' && e.replica !== 0);
    expect(votes.map((e) => (e.event as { reason: string }).reason)).toEqual([
      'slow-primary',
      'slow-primary',
      'slow-primary',
    ]);
    for (const r of [1, 2, 3]) expect(g.replicas[r]!.status()).toMatchObject({ view: 1, active: true });
    expect(g.results).toHaveLength(1);
  });
});
