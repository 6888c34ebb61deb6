/**
 * Clients that read no replies (config.noReplyClients: the loop's input units). Replicas send them no REPLY; such
 * a client sends each operation at once, and a newer request replaces an unproposed older one at the replicas.
 * Rules W1 and W2 of requests.ts keep the primary monitoring working for them: a primary that leaves such a
 * client out is still voted out although every frame brings a new request (W1), and a faulty client that
 * supersedes its requests faster than a correct primary can propose them does not get that primary blamed (W2).
 */
import { describe, expect, it } from 'vitest';
import { decode, Group, op } from './harness.ts';

const CLIENT = 100;

function frame(g: Group): void {
  for (let r = 0; r < g.config.n; r++) g.onReplica(r, g.stepReplica(r, { kind: 'frame' }));
  g.pump();
}

function slowPrimaryVotes(g: Group): number {
  return g
    .eventsOf('view-change')
    .filter((e) => (e as { reason: string }).reason === 'slow-primary' && (e as { view: number }).view === 1)
    .length;
}

describe('clients that read no replies', () => {
  it('get no REPLY, not even for a retransmission; each operation goes out at once, the newest replacing the unordered', () => {
    const g = new Group(1, { noReplyClients: new Set([CLIENT]) });
    const toClient: string[] = [];
    g.filter = (p) => {
      if (p.to === CLIENT) toClient.push(decode(p.bytes).kind);
      return true;
    };
    const stamps = [g.submit(CLIENT, op(1)), g.submit(CLIENT, op(2)), g.submit(CLIENT, op(3))];
    expect(stamps).toEqual([1, 2, 3]);
    expect(g.client(CLIENT).busy).toBe(false);
    // All three are on the wire before any replica saw the first.
    const requests = g.wire.filter((p) => p.from === CLIENT);
    expect(requests).toHaveLength(3 * g.config.n);
    g.pump();
    g.tick(50);
    // Request 1 was proposed at once; 2 waited behind it and 3 replaced it: every replica executed 1 and 3.
    for (let r = 0; r < g.config.n; r++) {
      expect(g.executed.filter((e) => e.replica === r).reduce((n, e) => n + e.requests, 0)).toBe(2);
    }
    // A retransmission of the last executed request: the cached-reply path sends nothing either.
    for (const p of requests.slice(-g.config.n)) g.inject(p.to, CLIENT, p.bytes);
    g.pump();
    expect(g.eventsOf('cached-reply')).toHaveLength(g.config.n);
    expect(toClient).toEqual([]);
  });

  it('W1: a silent primary is voted out although the client supersedes its request every frame', () => {
    const g = new Group(1, {
      batching: { mode: 'frame' },
      requestTimeoutTicks: 10_000,
      maxMissedFrames: 3,
      noReplyClients: new Set([CLIENT]),
    });
    g.filter = (p) => p.from !== 0;
    let frames = 0;
    while (slowPrimaryVotes(g) < 3 && frames < 20) {
      g.submit(CLIENT, op(frames & 0xff));
      g.pump();
      frame(g);
      frames++;
    }
    expect(slowPrimaryVotes(g)).toBe(3);
    // Vouching starts on the second frame without a batch, 2f+1 vouches are in on the third, and the request
    // then waits more than maxMissedFrames: about as soon as for one request that is never superseded.
    expect(frames).toBeLessThanOrEqual(3 + 3);
    expect(g.replicas[1]!.status().view).toBe(1);
  });

  it('W2: a client that sends each request to the backups only, superseding every frame, gets a correct primary no blame', () => {
    const g = new Group(1, {
      batching: { mode: 'frame' },
      requestTimeoutTicks: 10_000,
      maxMissedFrames: 3,
      noReplyClients: new Set([CLIENT]),
    });
    // The faulty client never lets the primary see its requests: the primary learns them from the vouches.
    g.filter = (p) => !(p.from === CLIENT && p.to === 0);
    for (let k = 0; k < 40; k++) {
      g.submit(CLIENT, op(k & 0xff));
      g.pump();
      frame(g);
    }
    expect(g.eventsOf('view-change')).toEqual([]);
    expect(g.replicas.map((r) => r.status().view)).toEqual([0, 0, 0, 0]);
    // The primary keeps proposing what the vouches bring it.
    expect(g.executed.filter((e) => e.replica === 1 && e.requests > 0).length).toBeGreaterThan(5);
  });
});
