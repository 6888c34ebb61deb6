import { describe, expect, it } from 'vitest';
import { Group, op } from './harness.ts';

const CLIENT = 100;

describe('planned view change (handover before a proactive restart)', () => {
  it('the primary hands its view over: every backup follows in one round, with no timeout, and ordering goes on', () => {
    const g = new Group(1);
    g.submit(CLIENT, op(1));
    g.pump();
    expect(g.executed.filter((e) => e.seq === 1)).toHaveLength(4);
    g.onReplica(0, g.replicas[0]!.handOver());
    g.pump(); // no tick: nobody's timer fires, the handover alone moves the view
    for (const r of g.replicas) expect(r.status()).toMatchObject({ view: 1, active: true, primary: 1 });
    const reasons = g.eventsOf('view-change').map((e) => (e as { reason: string }).reason);
    expect(reasons.filter((r) => r === 'handover')).toHaveLength(4);
    g.submit(CLIENT, op(2));
    g.pump();
    expect(g.executed.filter((e) => e.seq === 2)).toHaveLength(4);
  });

  it('a backup cannot abdicate for the primary: its VIEW-CHANGE alone moves nobody', () => {
    const g = new Group(1);
    g.submit(CLIENT, op(1));
    g.pump();
    g.onReplica(2, g.replicas[2]!.handOver());
    g.pump();
    expect(g.replicas[2]!.status().view).toBe(0);
    for (const id of [0, 1, 3]) expect(g.replicas[id]!.status()).toMatchObject({ view: 0, active: true });
  });

  it('a primary whose view change is already under way does nothing more', () => {
    const g = new Group(1);
    g.onReplica(0, g.replicas[0]!.handOver());
    g.pump();
    expect(g.replicas[1]!.status()).toMatchObject({ view: 1, active: true });
    expect(g.replicas[0]!.handOver()).toEqual([]); // no longer the primary
  });
});

describe.each([3, 0])('replica %i restarted from scratch (proactive recovery)', (RESTARTED) => {
  it('rejoins by state transfer from the stable checkpoint, in the current view, and executes past its recovery point', async () => {
    const { Replica } = await import('../../../src/core/pbft/replica.ts');
    const { FoldService } = await import('../../../src/sim/service.ts');
    const g = new Group(1, { checkpointInterval: 4, watermarkWindow: 16, stallTicks: 5 });
    for (let i = 0; i < 10; i++) {
      g.submit(CLIENT, op(i));
      g.pump();
      g.tick();
    }
    g.onReplica(0, g.replicas[0]!.handOver());
    g.pump();
    const point = g.replicas[1]!.status().lastExecuted;
    const R = RESTARTED;
    const service = new FoldService();
    g.services[R] = service;
    g.replicas[R] = new Replica({ id: R, config: g.config, crypto: g.keys.cryptoFor(R), service });
    for (let i = 10; i < 30; i++) {
      g.submit(CLIENT, op(i));
      g.pump();
      g.tick();
    }
    const s = g.replicas[R]!.status();
    expect(s.view).toBe(1);
    expect(s.active).toBe(true);
    expect(s.lastExecuted).toBeGreaterThan(point);
    expect(s.lastExecuted).toBe(g.replicas[1]!.status().lastExecuted);
  });
});
