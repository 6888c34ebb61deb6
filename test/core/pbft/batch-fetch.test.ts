/**
 * A new primary that never saw the batch its NEW-VIEW carries over fetches it by digest from its peers (one of
 * the f+1 replicas that report it pre-prepared holds it) instead of stalling into another view change.
 */
import { describe, expect, it } from 'vitest';
import { decode, Group, op } from './harness.ts';

describe('batch fetch by digest', () => {
  it("view 1's primary fetches the prepared batch it never saw, re-proposes it, and view 1 holds", () => {
    const g = new Group(1, {
      requestTimeoutTicks: 20,
      proposalTimeoutTicks: 10,
      viewChangeTimeoutTicks: 20,
      stallTicks: 4,
    });
    // Seq 1 prepares at replicas 0, 2 and 3 in view 0; replica 1 never gets its PRE-PREPARE; no COMMIT of view
    // 0 gets through. Then primary 0 falls silent.
    const lost = (to: number, kind: string, view: number): boolean =>
      (kind === 'pre-prepare' && to === 1 && view === 0) || (kind === 'commit' && view === 0);
    g.filter = (p) => {
      const m = decode(p.bytes);
      return !lost(p.to, m.kind, (m as { view?: number }).view ?? -1);
    };
    g.submit(100, op(5));
    g.pump();
    g.filter = (p) => {
      const m = decode(p.bytes);
      return p.from !== 0 && !lost(p.to, m.kind, (m as { view?: number }).view ?? -1);
    };
    g.tick(200);
    expect(g.eventsOf('new-view', 1)[0]).toMatchObject({ view: 1, reproposed: 1 });
    const executed = g.executed.filter((e) => e.seq === 1 && e.replica !== 0);
    expect(executed.map((e) => e.replica).sort()).toEqual([1, 2, 3]);
    expect(g.results).toHaveLength(1);
    for (const r of [1, 2, 3]) expect(g.replicas[r]!.status().view).toBe(1);
    expect(g.rejections(2).filter((r) => r === 'rate-limited')).toEqual([]);
  });
});
