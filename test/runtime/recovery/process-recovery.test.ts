/**
 * The process-mode recovery driver's ordering, in virtual time: ProcessRecovery against a deterministic model of
 * the board processes (BoardProcesses: a replica group whose view and sequence advance per frame, processes
 * that load, stop and come up after stated virtual delays). What is asserted is the driver's own rules: reverse
 * replica id order, at most k boards out at once, the primary's handover decided and completed right before
 * its old process stops (also when a view change made the board the primary while its replacement loaded),
 * and every wait bounded (a handover that never completes, a board that never rejoins).
 *
 * The real processes, links and protocol are exercised by test/runtime/node/recovery-processes.test.ts
 * (npm run test:process-recovery); this one runs in milliseconds and fails on the ordering alone.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ChannelHealth } from '../../../src/core/vote/voter.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import type { RecoveryStatus } from '../../../src/runtime/node/ipc.ts';
import {
  type BoardProcesses,
  type LocalRoles,
  ProcessRecovery,
} from '../../../src/runtime/recovery/process-recovery.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

const topology: Topology = { ...loadTopology('config/serial-mesh.json'), frameRateHz: 10 };
const FRAME_MS = 100;
const REMOTE = ['mon', 'b0', 'b1', 'b2'];
/** Virtual time a replacement process takes to load (warm-up, keys) before the old one is stopped. */
const LOAD_MS = 3000;
/** From the old process's stop to the new one's links up. */
const SWAP_MS = 100;
/** From the primary's abdication to the others active in the next view. */
const HANDOVER_MS = 150;

interface Event {
  readonly t: number;
  readonly kind: 'restart' | 'handover' | 'stop' | 'up';
  readonly board: string;
  /** The group's view and primary replica at the event. */
  readonly view: number;
  readonly primary: number;
}

interface ModelOptions {
  /** Abdications are ignored: the others never move to the next view. */
  readonly handoverStalls?: boolean;
  /** While this board's replacement loads, a view change makes its replica the primary. */
  readonly becomesPrimaryWhileLoading?: string;
  /** This board's replica never counts again after a restart. */
  readonly neverRejoins?: string;
  /**
   * After a restart this board reports its channel rebuilt, but the channel sends the voter nothing (a board
   * that reports too early, or lies).
   */
  readonly silentChannel?: string;
  /** This board's channel resyncs on its own (its replica skipped batches) in this window of virtual time. */
  readonly resyncing?: { readonly board: string; readonly fromMs: number; readonly toMs: number };
}

/** The board processes as the driver sees them: statuses, handovers, restarts, in virtual time. */
class BoardModel implements BoardProcesses {
  readonly boards = REMOTE;
  readonly events: Event[] = [];
  private view = 0;
  private readonly down = new Set<string>();
  private readonly epoch: Record<string, number> = {};
  private readonly restarted = new Set<string>();
  /** Per board: the in-time outputs its channel had at the voter when it stopped sending. */
  private readonly silentSince = new Map<string, number>();

  constructor(
    private readonly s: VirtualScheduler,
    private readonly o: ModelOptions = {},
  ) {}

  private seq(): number {
    return Math.floor(this.s.now() / FRAME_MS);
  }

  private replicaOf(board: string): number | undefined {
    return topology.replicas.find((r) => r.board === board)?.id;
  }

  primary(): number {
    return this.view % topology.replicas.length;
  }

  private log(kind: Event['kind'], board: string): void {
    this.events.push({ t: this.s.now(), kind, board, view: this.view, primary: this.primary() });
  }

  recoveryStatus(board: string): { status: RecoveryStatus; ageMs: number; count: number } | undefined {
    if (this.down.has(board)) return undefined;
    const id = this.replicaOf(board);
    const e = this.epoch[board] ?? 0;
    const own: Record<number, number> = {};
    if (id !== undefined) own[id] = e;
    for (const c of topology.channels) if (c.board === board) own[200 + c.id] = e;
    const stuck = this.o.neverRejoins === board && this.restarted.has(board);
    const status: RecoveryStatus = {
      restarted: this.restarted.has(board),
      ...(id !== undefined
        ? {
            replica: {
              view: this.view,
              active: true,
              primary: this.primary(),
              lastExecuted: this.seq(),
              recovering: stuck,
            },
          }
        : {}),
      rebuilding: false,
      resyncing:
        this.o.resyncing?.board === board &&
        this.s.now() >= this.o.resyncing.fromMs &&
        this.s.now() < this.o.resyncing.toMs,
      keys: { own, held: {} },
    };
    // A status every 100 ms, as ProcessCluster's children send them.
    return { status, ageMs: this.s.now() % 100, count: Math.floor(this.s.now() / 100) };
  }

  alive(board: string): boolean {
    return !this.down.has(board);
  }

  /** How the voter sees each channel: an output in time every frame while its board is up and sending. */
  voterHealth(): ChannelHealth[] {
    return topology.channels.map((c) => {
      const since = this.silentSince.get(c.board);
      return {
        channel: `c${c.id}`,
        latched: false,
        strikes: 0,
        latchCount: 0,
        probation: 0,
        inTime: since ?? this.seq(),
        late: 0,
        silentFrames: 0,
        consecutiveSilent: since === undefined ? 0 : this.seq() - since,
      };
    });
  }

  handOver(board: string): boolean {
    this.log('handover', board);
    if (this.o.handoverStalls) return true;
    const from = this.view;
    this.s.at(this.s.now() + HANDOVER_MS, () => {
      if (this.view === from) this.view++;
    });
    return true;
  }

  sendRecoveryPoint(): boolean {
    return true;
  }

  async restart(
    board: string,
    o: { readonly recoveryPoint: number; readonly kill: boolean; readonly beforeStop?: () => Promise<void> },
  ): Promise<void> {
    this.log('restart', board);
    if (this.o.becomesPrimaryWhileLoading === board) {
      const id = this.replicaOf(board)!;
      this.s.at(this.s.now() + LOAD_MS / 2, () => {
        // A view change (not a handover) lands on the view whose primary is this board's replica.
        while (this.primary() !== id) this.view++;
      });
    }
    await this.sleep(LOAD_MS);
    await o.beforeStop?.();
    this.log('stop', board);
    this.down.add(board);
    this.silentSince.set(board, this.seq());
    await this.sleep(SWAP_MS);
    this.down.delete(board);
    if (this.o.silentChannel !== board) this.silentSince.delete(board);
    this.epoch[board] = (this.epoch[board] ?? 0) + 1;
    this.restarted.add(board);
    this.log('up', board);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.s.at(this.s.now() + ms, resolve));
  }
}

function rigRoles(log: string[], boards: BoardModel): LocalRoles {
  return {
    restartLocalRole: (kind, id) => {
      log.push(`${kind}-${id}`);
      return true;
    },
    voterHealth: () => boards.voterHealth(),
  };
}

/** Runs the driver for `ms` of virtual time, letting its promise chains run between timer steps. */
async function run(model: ModelOptions, ms: number, handoverSeconds = 0.5) {
  const s = new VirtualScheduler();
  const boards = new BoardModel(s, model);
  const local: string[] = [];
  const counters = new Counters();
  const recovery = new ProcessRecovery({
    topology,
    scheduler: s,
    processes: boards,
    local: rigRoles(local, boards),
    counters,
    logger: pino({ level: 'silent' }),
    periodSeconds: 60,
    restartSeconds: 4,
    handoverSeconds,
    firstPeriodAtMs: 100,
    giveUpMs: 20_000,
  });
  recovery.start();
  let mostOut = 0;
  for (let t = 0; t <= ms; t += 10) {
    s.runUntil(t);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    // Board processes whose restart is in progress (from its start to its rejoin), sampled every 10 ms.
    const out = recovery.report().records.filter((r) => r.board !== 'aiu' && r.rejoinedAtMs === undefined);
    mostOut = Math.max(mostOut, out.filter((r) => !r.gaveUp).length);
  }
  recovery.stop();
  return { boards, recovery, counters: counters.toJSON(), local, mostOut };
}

describe('process-mode recovery driver (virtual time)', () => {
  it('restarts replica boards in reverse id order, one at a time (k = 1), then the rig board', async () => {
    // One period (60 s): eight steps, the rig board's four last.
    const r = await run({}, 62_000);
    const restarts = r.boards.events.filter((e) => e.kind === 'restart').map((e) => e.board);
    // The second period (from 60.1 s) starts over at the highest id.
    expect(restarts).toEqual(['b2', 'b1', 'b0', 'mon', 'b2']);
    expect(topology.recovery.k).toBe(1);
    expect(r.mostOut).toBe(1);
    // No board stopped while another was out: each stop follows the previous board's rejoin.
    const rep = r.recovery.report();
    const records = rep.records.filter((x) => x.board !== 'aiu' && x.rejoinedAtMs !== undefined);
    for (let i = 1; i < records.length; i++)
      expect(records[i]!.startedAtMs).toBeGreaterThanOrEqual(records[i - 1]!.rejoinedAtMs!);
    expect(r.local).toEqual(['input-2', 'input-1', 'input-0', 'voter-0']);
    for (const b of ['b1', 'b0', 'mon']) expect(rep.perBoard[b]).toBe(1);
  });

  it("hands the primary's view over right before its old process stops, and the stop waits for it", async () => {
    const r = await run({}, 40_000);
    const ev = r.boards.events.filter((e) => e.board === 'mon');
    expect(ev.map((e) => e.kind)).toEqual(['restart', 'handover', 'stop', 'up']);
    const [restart, handover, stop] = ev;
    // Not at the step's start: the replacement loaded first (LOAD_MS), then the handover, then the stop.
    expect(handover!.t - restart!.t).toBeGreaterThanOrEqual(3000);
    expect(handover!.primary).toBe(0);
    expect(stop!.primary).not.toBe(0);
    expect(stop!.t - handover!.t).toBeGreaterThanOrEqual(HANDOVER_MS);
    expect(stop!.t - handover!.t).toBeLessThan(HANDOVER_MS + 100);
    const record = r.recovery.report().records.find((x) => x.board === 'mon')!;
    expect(record.handover).toMatchObject({ fromView: 0, toView: 1, timedOut: false });
    // Backups stop without a handover.
    expect(r.boards.events.filter((e) => e.kind === 'handover').map((e) => e.board)).toEqual(['mon']);
  });

  it('a board that became the primary while its replacement loaded hands over before its stop', async () => {
    // b1 hosts replica 2: halfway through its load a view change makes replica 2 the primary.
    const r = await run({ becomesPrimaryWhileLoading: 'b1' }, 40_000);
    const ev = r.boards.events.filter((e) => e.board === 'b1');
    expect(ev.map((e) => e.kind)).toEqual(['restart', 'handover', 'stop', 'up']);
    expect(ev[0]!.primary).not.toBe(2); // not the primary when its step began
    expect(ev[1]!.primary).toBe(2);
    expect(ev[2]!.primary).not.toBe(2);
  });

  it('a handover that never completes holds the stop for the handover budget only', async () => {
    const r = await run({ handoverStalls: true }, 40_000, 0.5);
    const ev = r.boards.events.filter((e) => e.board === 'mon');
    expect(ev.map((e) => e.kind)).toEqual(['restart', 'handover', 'stop', 'up']);
    const wait = ev[2]!.t - ev[1]!.t;
    expect(wait).toBeGreaterThanOrEqual(500);
    expect(wait).toBeLessThanOrEqual(500 + 2 * FRAME_MS);
    expect(r.counters['recovery.handover-timeout']).toBe(1);
    expect(r.recovery.report().records.find((x) => x.board === 'mon')!.handover!.timedOut).toBe(true);
    // The schedule went on: every board still recovered.
    for (const b of REMOTE) expect(r.recovery.report().perBoard[b]).toBe(1);
  });

  it('a board that never rejoins is given up on after the bound and restarted, not waited for forever', async () => {
    const r = await run({ neverRejoins: 'b2' }, 50_000);
    const rep = r.recovery.report();
    const first = rep.records.find((x) => x.board === 'b2' && x.cause === 'proactive')!;
    expect(first.gaveUp).toBe(true);
    expect(r.counters['recovery.gave-up']).toBeGreaterThanOrEqual(1);
    const again = rep.records.filter((x) => x.board === 'b2' && x.cause === 'crash');
    expect(again.length).toBeGreaterThanOrEqual(1);
    // Given up within giveUpMs (20 s) of the board's processes being up, plus a frame.
    const up = r.boards.events.find((e) => e.board === 'b2' && e.kind === 'up')!;
    expect(again[0]!.startedAtMs - up.t).toBeLessThanOrEqual(20_000 + 2 * FRAME_MS);
  });

  it('a board whose channel the voter does not count again is not rejoined, whatever the board reports', async () => {
    // b2 reports its channel rebuilt, but the voter never takes an output of it: the next board must not go
    // down (with three channels, a second one out leaves no f+1 abstract states to rebuild either from).
    const r = await run({ silentChannel: 'b2' }, 30_000);
    const rep = r.recovery.report();
    const first = rep.records.find((x) => x.board === 'b2' && x.cause === 'proactive')!;
    expect(first.rejoinedAtMs).toBeUndefined();
    // Only b2 is restarted: given up on after giveUpMs (20 s) and restarted again, never another board meanwhile.
    expect(new Set(r.boards.events.filter((e) => e.kind === 'restart').map((e) => e.board))).toEqual(
      new Set(['b2']),
    );
    expect(first.gaveUp).toBe(true);
    expect(r.mostOut).toBe(1);
  });

  it("no board is restarted while another board's channel resyncs its state on its own", async () => {
    // b2 restarts first and rejoins; from 5 s to 25 s its channel resyncs (its replica skipped batches): b1's
    // step, due at 7.6 s, waits until b2's channel has a state again.
    const r = await run({ resyncing: { board: 'b2', fromMs: 5000, toMs: 25_000 } }, 40_000);
    const restarts = r.boards.events.filter((e) => e.kind === 'restart');
    expect(restarts.map((e) => e.board).slice(0, 3)).toEqual(['b2', 'b1', 'b0']);
    expect(restarts[0]!.t).toBeLessThan(5000);
    expect(restarts[1]!.t).toBeGreaterThanOrEqual(25_000);
    expect(restarts[1]!.t).toBeLessThan(25_000 + 2 * FRAME_MS);
    // Without the resync, b1's step starts on time.
    const base = await run({}, 12_000);
    expect(base.boards.events.filter((e) => e.kind === 'restart')[1]!.t).toBeLessThan(10_000);
    expect(r.mostOut).toBe(1);
  });

  it('a board that says its channel repairs for ever holds the schedule for giveUpMs only', async () => {
    // A faulty board can say anything in its status: b2 claims to resync from 5 s on and never stops.
    const r = await run({ resyncing: { board: 'b2', fromMs: 5000, toMs: Number.POSITIVE_INFINITY } }, 40_000);
    const restarts = r.boards.events.filter((e) => e.kind === 'restart');
    expect(restarts.map((e) => e.board).slice(0, 2)).toEqual(['b2', 'b1']);
    // giveUpMs is 20 s in run(): b1's step, due at 7.6 s, first sees the claim then, waits 20 s, then goes ahead.
    expect(restarts[1]!.t).toBeGreaterThanOrEqual(27_600);
    expect(restarts[1]!.t).toBeLessThan(27_600 + 2 * FRAME_MS);
    expect(r.counters['recovery.repair-overdue']).toBe(1);
  });

  it("a loaded replacement's old process is not stopped while another board's channel resyncs", async () => {
    // b2's step begins at 0.1 s and its replacement loads for 3 s; from 1 s to 8 s b0's channel resyncs (its
    // replica skipped batches). Stopping b2 at 3.1 s would leave c2 without a state and c0 resyncing, each
    // needing the other: the old b2 flies on (it still serves its state) until b0's channel has one again.
    const r = await run({ resyncing: { board: 'b0', fromMs: 1000, toMs: 8000 } }, 20_000);
    const b2 = r.boards.events.filter((e) => e.board === 'b2');
    expect(b2.map((e) => e.kind)).toEqual(['restart', 'stop', 'up']);
    expect(b2[0]!.t).toBeLessThan(1000);
    expect(b2[1]!.t).toBeGreaterThanOrEqual(8000);
    expect(b2[1]!.t).toBeLessThan(8000 + 2 * FRAME_MS);
    expect(r.counters['recovery.stop-held']).toBe(1);
    expect(r.counters['recovery.stop-held-timeout']).toBeUndefined();
    expect(r.mostOut).toBe(1);
    // Without the resync the stop follows the load.
    const base = await run({}, 5000);
    const stop = base.boards.events.find((e) => e.board === 'b2' && e.kind === 'stop')!;
    expect(stop.t).toBeLessThan(100 + LOAD_MS + 2 * FRAME_MS);
    expect(base.counters['recovery.stop-held']).toBeUndefined();
  });

  it('a stop held for a board that says its channel resyncs for ever goes ahead after giveUpMs', async () => {
    const r = await run({ resyncing: { board: 'b0', fromMs: 1000, toMs: Number.POSITIVE_INFINITY } }, 40_000);
    const stop = r.boards.events.find((e) => e.board === 'b2' && e.kind === 'stop')!;
    // Held from 3.1 s (the replacement loaded) for at most giveUpMs (20 s in run()).
    expect(stop.t).toBeGreaterThanOrEqual(100 + LOAD_MS + 15_000);
    expect(stop.t).toBeLessThanOrEqual(100 + LOAD_MS + 20_000 + 2 * FRAME_MS);
    expect(r.counters['recovery.stop-held']).toBe(1);
  });
});
