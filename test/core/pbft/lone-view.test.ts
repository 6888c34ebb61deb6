/**
 * Issue 13: a correct replica left alone in a higher view must keep up and rejoin.
 *
 * Seen in the process-mode soak: b0's replica went to view 37 alone while the other three went on in view 36; it
 * rejected every message of view 36 as 'wrong-view', advanced only by state transfer (14 restores), and its
 * co-located channel saw a 176-batch gap. These tests reproduce the two ways in, deterministically:
 *  - a host stall: the replica's first tick after the stall comes before the input queued meanwhile (Node runs
 *    expired timers before it polls I/O), so its request timer fires on a slot whose COMMITs are in that queue;
 *  - a replica cut off from the votes long enough that its request timer fires (correctly: it cannot tell a
 *    lagging link from a faulty primary) and then healed: it must learn the batches the others commit.
 */
import { describe, expect, it } from 'vitest';
import { decode, Group, op, type Packet } from './harness.ts';

const CLIENT = 100;
const LONE = 3;

/** The seqs replica `r` executed, in order, and whether they run 1..last without a gap. */
function executedBy(g: Group, r: number): number[] {
  return g.executed.filter((e) => e.replica === r).map((e) => e.seq);
}

function gapless(seqs: readonly number[]): boolean {
  return seqs.every((s, i) => s === i + 1);
}

/** Submit one request per tick for `count` ticks (the client's own retransmissions run with the ticks). */
function load(g: Group, from: number, count: number): void {
  for (let i = 0; i < count; i++) {
    g.submit(CLIENT, op(from + i));
    g.pump();
    g.tick();
  }
}

describe('a host stall does not send a replica into a view of its own', () => {
  it('the first tick after a stall longer than the request timeout defers the timers until the queued input is read', () => {
    const g = new Group(1, { requestTimeoutTicks: 20, viewChangeTimeoutTicks: 20, stallTicks: 10 });
    load(g, 0, 5);
    // Replica 3 accepts the next PRE-PREPARE, then its host stalls: everything else for it queues up.
    const queued: Packet[] = [];
    let stalled = false;
    g.filter = (p) => {
      if (p.to !== LONE || !stalled) return true;
      queued.push(p);
      return false;
    };
    g.submit(CLIENT, op(50));
    // Deliver until replica 3 holds the PRE-PREPARE, then stall it.
    for (;;) {
      const p = g.wire.shift();
      if (p === undefined) break;
      if (!g.filter(p)) continue;
      if (p.to < g.config.n)
        g.onReplica(p.to, g.stepReplica(p.to, { kind: 'receive', from: p.from, bytes: p.bytes }));
      else g.onClient(p.to, g.client(p.to).step({ kind: 'receive', from: p.from, bytes: p.bytes }));
      if (p.to === LONE && decode(p.bytes).kind === 'pre-prepare') stalled = true;
    }
    g.pump();
    // The others go on for longer than the request timeout; replica 3 gets no tick (its host is stalled).
    for (let t = 0; t < 30; t++) {
      g.now++;
      for (const id of [0, 1, 2]) g.onReplica(id, g.stepReplica(id, { kind: 'tick', now: g.now }));
      g.pump();
    }
    expect(executedBy(g, 0).at(-1)).toBe(6);
    // The host wakes: its timer fires first (a tick with the clock far ahead), then the queued input is read.
    g.filter = () => true;
    g.onReplica(LONE, g.stepReplica(LONE, { kind: 'tick', now: g.now }));
    for (const p of queued)
      g.onReplica(LONE, g.stepReplica(LONE, { kind: 'receive', from: p.from, bytes: p.bytes }));
    g.pump();
    g.tick(40);
    const lone = g.replicas[LONE]!.status();
    expect(g.eventsOf('view-change', LONE)).toEqual([]);
    expect(lone).toMatchObject({ view: 0, active: true });
    expect(executedBy(g, LONE)).toEqual(executedBy(g, 0));
  });
});

describe('a replica alone in a higher view keeps up with the batches the others commit', () => {
  /**
   * Replica 3 gets no PREPARE, COMMIT or retransmission for longer than its request timeout: it votes to leave
   * view 0 alone (VIEW-CHANGE for view 1) while the other three go on ordering in view 0. Then the link heals.
   */
  function leftAlone(reunionWaitTicks = 100_000, reunionEveryTicks = reunionWaitTicks): Group {
    const g = new Group(1, {
      requestTimeoutTicks: 20,
      viewChangeTimeoutTicks: 20,
      stallTicks: 10,
      checkpointInterval: 8,
      watermarkWindow: 32,
      reunionWaitTicks,
      reunionEveryTicks,
    });
    // Seqs 1 to 3 ordered by all four; seq 4 reaches replica 3 without its votes, and nothing after it is
    // stable before the link heals (the partition itself costs replica 3 no state transfer).
    load(g, 0, 3);
    g.filter = (p) => {
      if (p.to !== LONE) return true;
      const kind = decode(p.bytes).kind;
      return kind === 'request' || kind === 'pre-prepare';
    };
    g.submit(CLIENT, op(100));
    g.pump();
    for (let i = 0; i < 40 && g.replicas[LONE]!.status().view === 0; i++) g.tick();
    expect(g.replicas[LONE]!.status()).toMatchObject({ view: 1, active: false });
    for (const r of [0, 1, 2]) expect(g.replicas[r]!.status()).toMatchObject({ view: 0, active: true });
    g.filter = () => true;
    // The votes on seq 4 it lost during the partition come with its next retransmission request (every
    // stallTicks), before the group's next checkpoint garbage-collects them.
    g.tick(10);
    return g;
  }

  it('learns every batch of the lower view in order (2f+1 COMMITs and the batch): no gap, no state transfer', () => {
    const g = leftAlone();
    load(g, 200, 40);
    const group = executedBy(g, 0);
    expect(group.length).toBeGreaterThan(40);
    // Caught up with the group; every batch executed once and in order, none skipped by a restore.
    expect(executedBy(g, LONE)).toEqual(group);
    expect(gapless(executedBy(g, LONE))).toBe(true);
    const digests = (r: number) => g.executed.filter((e) => e.replica === r).map((e) => e.digest);
    expect(digests(LONE)).toEqual(digests(0));
    expect(g.eventsOf('state-restored', LONE)).toEqual([]);
    // Its log is garbage-collected with the group's stable checkpoints.
    expect(g.replicas[LONE]!.status().lowWatermark).toBe(g.replicas[0]!.status().lowWatermark);
    // It stays where it was: alone it neither escalates to view 2 nor pulls anyone along.
    expect(g.replicas[LONE]!.status()).toMatchObject({ view: 1, active: false });
    for (const r of [0, 1, 2]) expect(g.replicas[r]!.status()).toMatchObject({ view: 0, active: true });
  });

  it('rejoins at the group’s next view change and orders with it again', () => {
    const g = leftAlone();
    load(g, 200, 10);
    g.onReplica(0, g.replicas[0]!.handOver());
    g.pump();
    for (const r of g.replicas) expect(r.status()).toMatchObject({ view: 1, active: true });
    load(g, 300, 10);
    expect(executedBy(g, LONE)).toEqual(executedBy(g, 1));
    expect(gapless(executedBy(g, LONE))).toBe(true);
    // Ordering needs replica 3 again: with replica 0 silent, 1, 2 and 3 still commit.
    g.filter = (p) => p.from !== 0 && p.to !== 0;
    load(g, 400, 5);
    expect(executedBy(g, LONE).at(-1)).toBe(executedBy(g, 1).at(-1));
    expect(executedBy(g, LONE).at(-1)).toBeGreaterThan(executedBy(g, 0).at(-1)!);
  });

  it('the primary hands over once it has held the lone VIEW-CHANGE for reunionWaitTicks: all in one view again', () => {
    const g = leftAlone(60);
    const views = () => g.replicas.map((r) => r.status().view);
    let ticks = 0;
    while (ticks < 200 && new Set(views()).size > 1) {
      load(g, 500 + ticks, 1);
      ticks++;
    }
    for (const r of g.replicas) expect(r.status()).toMatchObject({ view: 1, active: true });
    expect(g.eventsOf('view-change', 0).map((e) => (e as { reason: string }).reason)).toEqual(['reunion']);
    // Not before the wait: the lone VIEW-CHANGE was held at least reunionWaitTicks.
    expect(ticks).toBeGreaterThan(10);
    load(g, 900, 10);
    expect(executedBy(g, LONE)).toEqual(executedBy(g, 0));
    expect(gapless(executedBy(g, LONE))).toBe(true);
  });

  it('a replica that keeps sending VIEW-CHANGEs makes the group change view at most once per reunionEveryTicks', () => {
    const g = leftAlone(60, 400);
    // Replica 3 stays cut off from the votes: it leaves every view the group reaches, alone, again and again.
    g.filter = (p) => {
      if (p.to !== LONE) return true;
      const kind = decode(p.bytes).kind;
      return kind === 'request' || kind === 'pre-prepare' || kind === 'new-view' || kind === 'view-change';
    };
    load(g, 1000, 1200);
    const reunions = g.eventsOf('view-change').filter((e) => (e as { reason: string }).reason === 'reunion');
    // 1200 ticks, reunionEveryTicks 400: a view must have been active 400 ticks before its primary hands over
    // for a reunion, whichever replica is primary, so at most three in all.
    expect(reunions.length).toBeGreaterThanOrEqual(1);
    expect(reunions.length).toBeLessThanOrEqual(3);
    for (const r of [0, 1, 2]) expect(g.replicas[r]!.status().active).toBe(true);
  });
});

describe('a replica built on a running clock does not blame the primary for the time before it', () => {
  // bench:ordering --processes: a replica process loads for about 1.6 s, so its clock (performance.now()) reads
  // 1600 when it is built; requests arrived before its first tick, were stamped 0, and that tick's request timer
  // voted to leave a view whose first batch was only milliseconds old.
  const START = 1600;
  const config = { requestTimeoutTicks: 250, viewChangeTimeoutTicks: 250, stallTicks: 50 };

  /**
   * A request arrives and agreement starts before any replica's first tick; the COMMITs are held back for the
   * first ticks (as on the bench's loaded start, where five processes share two cores), then flow.
   */
  function flyFromCold(g: Group): number[] {
    const held: Packet[] = [];
    g.filter = (p) => {
      if (decode(p.bytes).kind !== 'commit') return true;
      held.push(p);
      return false;
    };
    g.submit(CLIENT, op(1));
    g.pump();
    g.tick(3);
    const voted = Array.from({ length: g.config.n }, (_, r) => g.eventsOf('view-change', r).length);
    g.filter = () => true;
    g.wire.push(...held);
    g.pump();
    g.tick(20);
    return voted;
  }

  it('with the host clock given (ReplicaOptions.now), the first ticks find nothing overdue', () => {
    const g = new Group(1, config, 1, { now: START, tellReplicas: true });
    expect(flyFromCold(g)).toEqual([0, 0, 0, 0]);
    for (let r = 0; r < g.config.n; r++) expect(g.eventsOf('view-change', r)).toEqual([]);
    expect(executedBy(g, 0)).toEqual([1]);
  });

  it('without it, requests stamped before the first tick look START ticks old (the hazard the option removes)', () => {
    const g = new Group(1, config, 1, { now: START, tellReplicas: false });
    expect(flyFromCold(g).some((v) => v > 0)).toBe(true);
  });

  it('refuses a clock that is not a time', () => {
    expect(() => new Group(1, config, 1, { now: Number.NaN, tellReplicas: true })).toThrow(RangeError);
    expect(() => new Group(1, config, 1, { now: -1, tellReplicas: true })).toThrow(RangeError);
  });
});
