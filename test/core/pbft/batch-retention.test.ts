/**
 * Regression: a batch pre-prepared at two sequence numbers must keep its content until the later one is stable.
 * Found by the simulator (seed 46, f = 1, at commit 6eaa8a5): an equivocating primary's batch first seen at seq 3
 * was proposed again at seq 6 after a view change. Batch contents were kept by digest with the first seq only, so
 * checkpoint 4 dropped them; every later NEW-VIEW fixed seq 6 to that digest, no primary could re-propose it, and
 * the two replicas that had not executed seq 6 went through 800+ view changes without progress.
 */
import { describe, expect, it } from 'vitest';
import type { PrePrepare, Request } from '../../../src/core/codec/messages.ts';
import { decode, Group, op, type Packet } from './harness.ts';
import { signedPrePrepare, signedRequest } from './signed.ts';

const X_CLIENT = 100;
const Y_CLIENT = 101;
const Z_CLIENT = 102;
const LAGGARD = 3;

function request(g: Group, client: number, timestamp: number, payload: Uint8Array): Request {
  return signedRequest(g, client, timestamp, payload);
}

/** A PRE-PREPARE of view 0 as the (faulty) primary 0 would send it. */
function prePrepare(g: Group, seq: number, requests: Request[]): PrePrepare {
  return signedPrePrepare(g, { view: 0, seq, requests });
}

/** The laggard never sees a COMMIT of view 0 for `seq`, nor a retransmitted one. */
function commitToLaggard(p: Packet, seq: number): boolean {
  if (p.to !== LAGGARD) return false;
  const m = decode(p.bytes);
  return m.kind === 'commit' && m.view === 0 && m.seq === seq;
}

describe('batch contents across checkpoints and view changes', () => {
  it('re-proposes a batch the NEW-VIEW fixed at a seq above the checkpoint, though it was also at a seq below it', () => {
    const g = new Group(
      1,
      {
        checkpointInterval: 2,
        watermarkWindow: 4,
        requestTimeoutTicks: 20,
        proposalTimeoutTicks: 5,
        viewChangeTimeoutTicks: 20,
        stallTicks: 3,
      },
      3,
    );
    // Primary 0 is faulty: it orders batch B = [X] twice (seqs 1 and 3), C = [Y] between, then goes silent.
    const x = request(g, X_CLIENT, 1, op(1));
    const y = request(g, Y_CLIENT, 1, op(2));
    const pp1 = prePrepare(g, 1, [x]);
    const pp2 = prePrepare(g, 2, [y]);
    const pp3 = prePrepare(g, 3, [x]);
    expect(pp3.batchDigest).toEqual(pp1.batchDigest);
    g.filter = (p) => p.from !== 0 && !commitToLaggard(p, 3);
    for (const to of [1, 2, 3]) for (const pp of [pp1, pp2, pp3]) g.inject(to, 0, pp);
    g.pump();
    // Seqs 1..3 commit at replicas 1 and 2; the laggard executes 1..2 only. Checkpoint 2 is stable everywhere.
    for (const r of [1, 2])
      expect(g.replicas[r]!.status()).toMatchObject({ lastExecuted: 3, lowWatermark: 2 });
    expect(g.replicas[LAGGARD]!.status()).toMatchObject({ lastExecuted: 2, lowWatermark: 2 });

    // A new request is not proposed: the backups move to view 1, whose NEW-VIEW fixes seq 3 to B.
    g.submit(Z_CLIENT, op(3));
    g.tick(200);
    const newViews = g.eventsOf('new-view', 1);
    expect(newViews[0]).toMatchObject({ view: 1, stableSeq: 2, reproposed: 1 });
    // Primary 1 re-proposed B at seq 3 from the content it kept, so the laggard catches up, then Z runs at seq 4.
    const laggardSeqs = g.executed.filter((e) => e.replica === LAGGARD).map((e) => e.seq);
    expect(laggardSeqs).toEqual([1, 2, 3, 4]);
    const b = Buffer.from(pp1.batchDigest).toString('hex');
    expect(g.executed.find((e) => e.replica === LAGGARD && e.seq === 3)).toMatchObject({ digest: b });
    for (const r of [1, 2, 3]) expect(g.replicas[r]!.status()).toMatchObject({ view: 1, lastExecuted: 4 });
    expect(g.results.map((r) => r.client)).toContain(Z_CLIENT);
  });
});
