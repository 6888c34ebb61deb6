/**
 * A new primary that learns a request only from a batch the NEW-VIEW carries over must not propose it again
 * when the client's retransmission reaches it before that batch executes: backups that executed the carried-over
 * batch refuse the second PRE-PREPARE as 'stale-request', it never prepares, and a correct primary is voted out
 * (found by sim:seeds, seed 3041 on b97569f: a crashed backup, the new primary behind in execution).
 */
import { describe, expect, it } from 'vitest';
import type { PrePrepare } from '../../../src/core/codec/messages.ts';
import { decode, Group, op } from './harness.ts';

describe('a request in a carried-over batch', () => {
  it('is not proposed again by the new primary when the client retransmits it', () => {
    const g = new Group(1);
    let phase: 'first-view' | 'view-change' | 'retransmit' | 'open' = 'first-view';
    const proposals: PrePrepare[] = [];
    g.filter = (p) => {
      const m = decode(p.bytes);
      if (m.kind === 'pre-prepare' && p.from === 1) proposals.push(m);
      if (phase === 'open') return true;
      // The next primary never hears the client (nor another replica's vouch) before the view change.
      if (p.to === 1 && (m.kind === 'request' || m.kind === 'vouch')) return phase === 'retransmit';
      // Nothing executes before the retransmission: the batch is prepared, not committed.
      if (m.kind === 'commit') return false;
      // The first primary is gone once its batch is prepared.
      if (phase !== 'first-view' && (p.from === 0 || p.to === 0)) return false;
      return true;
    };
    g.submit(100, op(7));
    g.pump();
    phase = 'view-change';
    for (let t = 0; t < 2000 && g.eventsOf('new-view', 1).length === 0; t++) g.tick();
    expect(g.eventsOf('new-view', 1).length).toBeGreaterThan(0);
    phase = 'retransmit';
    g.tick(200);
    const mine = proposals.filter((m) =>
      m.batch.kind === 'full' ? m.batch.requests.some((r) => r.client === 100 && r.timestamp === 1) : false,
    );
    // Re-proposals of the carried-over slot are fine (the same seq); a second seq for the request is not.
    expect(new Set(mine.map((m) => m.seq)).size).toBe(1);
    phase = 'open';
    g.tick(200);
    expect(g.results.filter((r) => r.client === 100 && r.timestamp === 1)).toHaveLength(1);
    expect(g.rejections(2)).not.toContain('stale-request');
  });
});
