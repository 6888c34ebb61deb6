import { describe, expect, it } from 'vitest';
import { authPayload, encodeBatch } from '../../../src/core/codec/encode.ts';
import type { CertEntry, NewView, ViewChange } from '../../../src/core/codec/messages.ts';
import { sha256 } from '../../../src/core/crypto/digest.ts';
import { decideNewView } from '../../../src/core/pbft/new-view.ts';
import { quorums } from '../../../src/core/pbft/quorum.ts';
import { decode, Group, op } from './harness.ts';
import { signedViewChange } from './signed.ts';

const CLIENT = 100;
const Q4 = quorums(4, 1);
const NULL = sha256(encodeBatch({ kind: 'full', requests: [] }));
const D1 = new Uint8Array(32).fill(1);
const D2 = new Uint8Array(32).fill(2);

function vc(replica: number, prepared: CertEntry[], prePrepared: CertEntry[], newView = 1): ViewChange {
  return {
    kind: 'view-change',
    newView,
    replica,
    stableSeq: 0,
    stableDigest: new Uint8Array(32),
    checkpointProof: [],
    prepared,
    prePrepared,
    signature: new Uint8Array(64),
  };
}

const e = (seq: number, view: number, batchDigest: Uint8Array): CertEntry => ({ seq, view, batchDigest });

describe('NEW-VIEW decision (pure)', () => {
  it('carries over a batch prepared by one VIEW-CHANGE and pre-prepared by f+1', () => {
    const d = decideNewView(
      [vc(0, [e(1, 0, D1)], [e(1, 0, D1)]), vc(1, [], [e(1, 0, D1)]), vc(2, [], [])],
      Q4,
      8,
      NULL,
    );
    expect(d.ok && d.chosen.map((c) => [c.seq, c.batchDigest[0]])).toEqual([[1, 1]]);
  });

  it('chooses null where 2f+1 VIEW-CHANGEs prepared nothing, and stops at the last non-null seq', () => {
    const d = decideNewView(
      [vc(0, [e(2, 0, D1)], [e(2, 0, D1)]), vc(1, [], [e(2, 0, D1)]), vc(2, [], []), vc(3, [], [])],
      Q4,
      8,
      NULL,
    );
    expect(
      d.ok && d.chosen.map((c) => [c.seq, c.batchDigest[0] === NULL[0] ? 'null' : c.batchDigest[0]]),
    ).toEqual([
      [1, 'null'],
      [2, 1],
    ]);
  });

  it('a lone forged P entry (no f+1 Q support) cannot force its batch; the decision waits', () => {
    // Replica 3 (faulty) claims D2 prepared in view 0; nobody else pre-prepared it.
    const d = decideNewView([vc(0, [], []), vc(1, [], []), vc(3, [e(1, 0, D2)], [e(1, 0, D2)])], Q4, 8, NULL);
    expect(d).toEqual({ ok: false, reason: 'undecided', seq: 1 });
    // With a fourth, correct VIEW-CHANGE, 2f+1 have no P entry: null.
    const d2 = decideNewView(
      [vc(0, [], []), vc(1, [], []), vc(2, [], []), vc(3, [e(1, 0, D2)], [e(1, 0, D2)])],
      Q4,
      8,
      NULL,
    );
    expect(d2.ok && d2.chosen).toEqual([]);
  });

  it('needs 2f+1 VIEW-CHANGEs', () => {
    expect(decideNewView([vc(0, [], []), vc(1, [], [])], Q4, 8, NULL)).toEqual({
      ok: false,
      reason: 'too-few',
    });
  });
});

/** Drop everything the primary of view 0 sends: a silent primary. */
function silencePrimary(g: Group): void {
  g.filter = (p) => p.from !== 0;
}

describe('view change in a group', () => {
  it('replaces a silent primary: backups time out, elect replica 1, and the request commits', () => {
    const g = new Group(1, { requestTimeoutTicks: 5, viewChangeTimeoutTicks: 5, stallTicks: 2 });
    silencePrimary(g);
    g.submit(CLIENT, op(7));
    g.tick(30);
    expect(g.results).toHaveLength(1);
    for (const r of [1, 2, 3]) expect(g.replicas[r]!.status().view).toBe(1);
    expect(g.eventsOf('new-view').length).toBeGreaterThanOrEqual(3);
  });

  it('never delivers a batch twice: one executed before the view change is re-agreed, not re-executed', () => {
    const g = new Group(1, { requestTimeoutTicks: 5, viewChangeTimeoutTicks: 5, stallTicks: 2 });
    g.submit(CLIENT, op(1));
    g.pump();
    expect(g.results).toHaveLength(1);
    silencePrimary(g);
    g.submit(CLIENT, op(2));
    g.tick(30);
    expect(g.results).toHaveLength(2);
    for (const r of [1, 2, 3]) {
      const seqs = g.executed.filter((x) => x.replica === r).map((x) => x.seq);
      expect(seqs).toEqual([...new Set(seqs)]); // each seq executed once
      expect(g.executed.filter((x) => x.replica === r).reduce((n, x) => n + x.requests, 0)).toBe(2);
    }
  });

  it('refuses a VIEW-CHANGE for a huge view number, and f of them never make it move', () => {
    const g = new Group(1);
    const far = signedViewChange(g, 3, 1_000_000);
    g.inject(1, 3, far);
    expect(g.rejections(1)).toContain('view-too-far');
    // f = 1 VIEW-CHANGE for a near view is not enough to join.
    g.inject(1, 3, signedViewChange(g, 3, 2));
    expect(g.replicas[1]!.status()).toMatchObject({ view: 0, active: true });
    // f+1 are: at least one correct replica wants to leave.
    g.inject(1, 2, signedViewChange(g, 2, 2));
    expect(g.replicas[1]!.status()).toMatchObject({ view: 2, active: false });
  });

  it('a lone replica does not run away through views (it cannot collect 2f+1 vouches, nor 2f+1 VIEW-CHANGEs)', () => {
    const g = new Group(1, { requestTimeoutTicks: 3, viewChangeTimeoutTicks: 3, stallTicks: 1000 });
    g.filter = () => false; // isolated
    g.inject(3, CLIENT, decode(clientRequest(g)));
    g.tick(100);
    expect(g.replicas[3]!.status().view).toBeLessThanOrEqual(1);
  });

  it('rejects a NEW-VIEW whose list does not match its own V set, and changes nothing', () => {
    const g = new Group(1);
    const v = [signedViewChange(g, 0, 1), signedViewChange(g, 2, 1), signedViewChange(g, 3, 1)];
    const unsigned: NewView = {
      kind: 'new-view',
      view: 1,
      replica: 1,
      viewChanges: v,
      // V holds no prepared entry, so the only valid list is empty; this one smuggles in a batch.
      prePrepares: [{ seq: 1, batchDigest: D1 }],
      signature: new Uint8Array(64),
    };
    const nv = { ...unsigned, signature: g.keys.cryptoFor(1).sign(authPayload(unsigned)) };
    g.inject(2, 1, nv);
    expect(g.rejections(2)).toContain('bad-new-view');
    // No view move on an invalid NEW-VIEW: the view-change timer, not the faulty primary, moves replicas on.
    expect(g.replicas[2]!.status()).toMatchObject({ view: 0, active: true });
    // The honest NEW-VIEW for the same V is accepted by another backup.
    const honest = { ...unsigned, prePrepares: [] };
    g.inject(3, 1, { ...honest, signature: g.keys.cryptoFor(1).sign(authPayload(honest)) });
    expect(g.replicas[3]!.status()).toMatchObject({ view: 1, active: true });
  });

  it('a far-behind replica accepts a valid NEW-VIEW for any higher view (proof: 2f+1 signatures)', () => {
    const g = new Group(1, { maxViewAhead: 2 });
    const view = 50;
    const v = [0, 2, 3].map((r) => signedViewChange(g, r, view));
    const primary = view % 4;
    const unsigned: NewView = {
      kind: 'new-view',
      view,
      replica: primary,
      viewChanges: v,
      prePrepares: [],
      signature: new Uint8Array(64),
    };
    const target = [1, 2, 3].find((r) => r !== primary)!;
    g.inject(target, primary, {
      ...unsigned,
      signature: g.keys.cryptoFor(primary).sign(authPayload(unsigned)),
    });
    expect(g.replicas[target]!.status()).toMatchObject({ view, active: true });
  });
});

function clientRequest(g: Group): Uint8Array {
  g.submit(CLIENT, op(9));
  const p = g.wire.find((x) => x.to === 3)!;
  g.wire.length = 0;
  return p.bytes;
}

describe('primary monitoring (Aardvark-style rate, not just a timeout)', () => {
  it('frame mode: backups vote out a primary that lets frames pass without a batch', () => {
    const g = new Group(1, { batching: { mode: 'frame' }, requestTimeoutTicks: 10_000, maxMissedFrames: 2 });
    silencePrimary(g);
    g.submit(CLIENT, op(1));
    g.pump();
    // Frame 2: the backups vouch for the unproposed request; from frame 3 on 2f+1 vouch, and frames count.
    for (let frame = 0; frame < 6; frame++) {
      for (let r = 0; r < 4; r++) g.onReplica(r, g.stepReplica(r, { kind: 'frame' }));
      g.pump();
    }
    const reasons = g.eventsOf('view-change').map((e) => (e as { reason: string }).reason);
    expect(reasons).toContain('slow-primary');
    expect(g.replicas[1]!.status().view).toBe(1);
  });

  it('size mode: a request left unproposed past proposalTimeoutTicks triggers a view change long before the request timeout', () => {
    const g = new Group(1, { requestTimeoutTicks: 10_000, proposalTimeoutTicks: 5, stallTicks: 1000 });
    silencePrimary(g);
    g.submit(CLIENT, op(1));
    g.tick(8);
    const reasons = g.eventsOf('view-change').map((e) => (e as { reason: string }).reason);
    expect(reasons).toContain('slow-primary');
  });

  it('does not suspect a primary whose window is full (it has no room to propose)', () => {
    const g = new Group(
      1,
      {
        requestTimeoutTicks: 10_000,
        proposalTimeoutTicks: 5,
        stallTicks: 1000,
        checkpointInterval: 1,
        watermarkWindow: 1,
        maxBatchRequests: 1,
      },
      2,
    );
    // Seq 1 is pre-prepared to backups but no vote gets through: the window (1) is full, nothing can commit.
    g.filter = (p) =>
      p.to >= g.config.n || decode(p.bytes).kind === 'pre-prepare' || decode(p.bytes).kind === 'request';
    g.submit(100, op(1));
    g.pump();
    g.submit(101, op(2));
    g.pump();
    g.tick(20);
    const reasons = g.eventsOf('view-change').map((e) => (e as { reason: string }).reason);
    expect(reasons).not.toContain('slow-primary');
  });
});
