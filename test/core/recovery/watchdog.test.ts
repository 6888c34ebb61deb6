/**
 * The supervisor's watchdog on virtual time: a small simulated process table carries out its actions (spawn,
 * signals) and feeds back spawns, heartbeats and exits, so every bound is checked exactly and repeatably.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../../src/core/prng.ts';
import {
  detectionBoundMs,
  type RoleEvent,
  silenceBoundMs,
  tickMs,
  Watchdog,
  type WatchdogAction,
  type WatchdogConfig,
  type WatchdogInput,
  type WatchedRole,
  watchdogConfig,
} from '../../../src/core/recovery/watchdog.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

const SEED = 0x77646f67; // 'wdog'

interface Proc {
  readonly role: string;
  readonly pid: number;
  alive: boolean;
  /** SIGSTOPped: no heartbeats, ignores SIGTERM, dies on SIGKILL. */
  stopped: boolean;
  /** Never heartbeats (a broken build). */
  mute: boolean;
  /** Ignores SIGTERM (SIGKILL still works). */
  ignoresTerm: boolean;
}

/** A board: the watchdog plus simulated processes with a spawn latency and a startup time. */
class SimBoard {
  readonly clock = new VirtualScheduler();
  readonly dog: Watchdog;
  readonly procs = new Map<number, Proc>();
  readonly events: RoleEvent[] = [];
  readonly actions: WatchdogAction[] = [];
  ready = 0;
  stopped = 0;
  maxDownGroups = 0;
  /** Role -> what the next process of that role does. */
  readonly behaviour = new Map<string, Partial<Pick<Proc, 'mute' | 'ignoresTerm'>>>();
  private nextPid = 1000;
  private stalledUntil = 0;
  private readonly held: WatchdogInput[] = [];

  constructor(
    readonly config: WatchdogConfig,
    readonly roles: readonly WatchedRole[],
    readonly spawnMs = 5,
    readonly startupMs = 300,
    behaviour: Record<string, Partial<Pick<Proc, 'mute' | 'ignoresTerm'>>> = {},
  ) {
    for (const [role, b] of Object.entries(behaviour)) this.behaviour.set(role, b);
    this.dog = new Watchdog(config, roles);
    this.apply(this.dog.start(0));
    const tick = (): void => {
      this.feed({ type: 'tick', now: this.clock.now() });
      this.clock.at(this.clock.now() + tickMs(config), tick);
    };
    this.clock.at(tickMs(config), tick);
  }

  feed(input: WatchdogInput): void {
    if (this.stalledUntil > this.clock.now()) {
      if (input.type !== 'tick') this.held.push(input);
      return;
    }
    this.apply(this.dog.step(input));
    this.trackDown();
  }

  /**
   * The supervisor's event loop blocks for `ms`: no ticks, and what the processes report waits in the pipes. At
   * the end the timer runs first, then the held input is read (now = the end), as in libuv.
   */
  stall(ms: number): void {
    const end = this.clock.now() + ms;
    this.stalledUntil = end;
    this.clock.at(end, () => {
      this.stalledUntil = 0;
      this.feed({ type: 'tick', now: end });
      for (const input of this.held.splice(0)) this.feed({ ...input, now: end });
    });
  }

  run(until: number): void {
    this.clock.runUntil(until);
  }

  live(role: string): Proc[] {
    return [...this.procs.values()].filter((p) => p.alive && p.role === role);
  }

  crash(role: string): number {
    const p = this.live(role)[0]!;
    this.exit(p, null, 'SIGKILL');
    return p.pid;
  }

  freeze(role: string): number {
    const p = this.live(role)[0]!;
    p.stopped = true;
    return p.pid;
  }

  ups(role?: string): Extract<RoleEvent, { kind: 'up' }>[] {
    return this.events.filter(
      (e): e is Extract<RoleEvent, { kind: 'up' }> =>
        e.kind === 'up' && (role === undefined || e.role === role),
    );
  }

  private trackDown(): void {
    if (this.ready === 0) return; // the start brings every group up at once; count from then on
    const groups = new Map<number, boolean>();
    for (const s of this.dog.roleStates()) {
      const group = this.roles.find((r) => r.name === s.role)!.group;
      groups.set(group, (groups.get(group) ?? false) || s.phase !== 'up');
    }
    this.maxDownGroups = Math.max(this.maxDownGroups, [...groups.values()].filter(Boolean).length);
  }

  private apply(actions: readonly WatchdogAction[]): void {
    for (const a of actions) {
      this.actions.push(a);
      if (a.type === 'event') this.events.push(a.event);
      else if (a.type === 'ready') this.ready += 1;
      else if (a.type === 'stopped') this.stopped += 1;
      else if (a.type === 'spawn') this.spawn(a.role);
      else if (a.type === 'signal') this.signal(a.pid, a.signal);
    }
  }

  private spawn(role: string): void {
    const pid = this.nextPid++;
    const b = this.behaviour.get(role) ?? {};
    const p: Proc = {
      role,
      pid,
      alive: true,
      stopped: false,
      mute: b.mute ?? false,
      ignoresTerm: b.ignoresTerm ?? false,
    };
    this.procs.set(pid, p);
    this.clock.at(this.clock.now() + this.spawnMs, () =>
      this.feed({ type: 'spawned', role, pid, now: this.clock.now() }),
    );
    const beat = (): void => {
      if (!p.alive) return;
      if (!p.stopped && !p.mute) this.feed({ type: 'heartbeat', role, pid, now: this.clock.now() });
      this.clock.at(this.clock.now() + this.config.heartbeatPeriodMs, beat);
    };
    this.clock.at(this.clock.now() + this.spawnMs + this.startupMs, beat);
  }

  private signal(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
    const p = this.procs.get(pid);
    if (p === undefined || !p.alive) return;
    if (signal === 'SIGKILL') this.clock.at(this.clock.now() + 1, () => this.exit(p, null, 'SIGKILL'));
    else if (!p.stopped && !p.ignoresTerm) this.clock.at(this.clock.now() + 20, () => this.exit(p, 0, null));
  }

  private exit(p: Proc, code: number | null, signal: string | null): void {
    if (!p.alive) return;
    p.alive = false;
    this.procs.delete(p.pid); // reaped: the table stays bounded over thousands of restarts
    this.feed({ type: 'exited', role: p.role, pid: p.pid, now: this.clock.now(), code, signal });
  }
}

const ROLES: WatchedRole[] = [
  { name: 'replica-1', group: 0, proactiveOffsetMs: 0 },
  { name: 'channel-0', group: 0, proactiveOffsetMs: 0 },
  { name: 'input-2', group: 1, proactiveOffsetMs: 2_500 },
  { name: 'voter-0', group: 2, proactiveOffsetMs: 5_000 },
];

describe('watchdog: start and faults', () => {
  it('starts every role, says ready once when all are up', () => {
    const b = new SimBoard(watchdogConfig(), ROLES);
    b.run(1_000);
    expect(b.ready).toBe(1);
    expect(
      b
        .ups()
        .map((e) => e.role)
        .sort(),
    ).toEqual(ROLES.map((r) => r.name).sort());
    expect(b.dog.health(1_000).healthy).toBe(true);
  });

  it('kill -9: the crash is seen at once and the role respawns at once', () => {
    const b = new SimBoard(watchdogConfig(), ROLES);
    b.run(20_000);
    const old = b.crash('channel-0');
    b.run(21_000);
    const up = b.ups('channel-0').at(-1)!;
    expect(up.cause).toBe('crash');
    expect(up.pid).not.toBe(old);
    expect(up.faultAt).toBe(20_000);
    expect(up.at - up.faultAt).toBe(b.spawnMs + b.startupMs); // no delay of its own
    expect(b.live('channel-0')).toHaveLength(1);
    expect(b.dog.counters.restarts.crash).toBe(1);
  });

  it.each([
    [50, 4],
    [20, 3],
    [100, 5],
  ])('SIGSTOP with heartbeats every %i ms, %i missed: killed within the detection bound', (h, missed) => {
    const c = watchdogConfig({ heartbeatPeriodMs: h, missedHeartbeats: missed });
    const b = new SimBoard(c, ROLES);
    b.run(20_000);
    const pid = b.freeze('replica-1');
    b.run(30_000);
    const kill = b.events.find((e) => e.kind === 'killing' && e.pid === pid)!;
    expect(kill).toMatchObject({ kind: 'killing', cause: 'silent' });
    const lastBeatBefore = 20_000 - ((20_000 - (b.spawnMs + b.startupMs)) % h);
    expect(kill.at - lastBeatBefore).toBeGreaterThan(silenceBoundMs(c));
    expect(kill.at - lastBeatBefore).toBeLessThanOrEqual(detectionBoundMs(c));
    expect(b.actions).toContainEqual({ type: 'signal', role: 'replica-1', pid, signal: 'SIGKILL' });
    const up = b.ups('replica-1').at(-1)!;
    expect(up.cause).toBe('silent');
    expect(b.live('replica-1')).toHaveLength(1);
  });

  it('is unhealthy while a hung role is being replaced, healthy again once it is up', () => {
    const c = watchdogConfig();
    const b = new SimBoard(c, ROLES);
    b.run(20_000);
    b.freeze('voter-0');
    const samples: boolean[] = [];
    for (let t = 20_000; t <= 21_500; t += 5) {
      b.run(t);
      samples.push(b.dog.health(t).healthy);
    }
    expect(samples[0]).toBe(true);
    expect(samples).toContain(false);
    expect(samples.at(-1)).toBe(true);
    // A crash does not hold the watchdog: it is handled at once.
    b.crash('voter-0');
    expect(b.dog.health(21_500).healthy).toBe(true);
  });

  it('a role that never heartbeats is killed after the startup grace, backs off, and makes the board unhealthy', () => {
    const c = watchdogConfig({ startupGraceMs: 1_000, crashLoopLimit: 3 });
    const b = new SimBoard(c, ROLES, 5, 300, { 'input-2': { mute: true } });
    b.run(20_000);
    const kills = b.events.filter((e) => e.kind === 'killing' && e.role === 'input-2');
    expect(kills.length).toBeGreaterThanOrEqual(3);
    expect(kills.every((e) => e.kind === 'killing' && e.cause === 'startup-timeout')).toBe(true);
    const gaps = kills.slice(1).map((k, i) => k.at - kills[i]!.at);
    expect(gaps[1]! - gaps[0]!).toBeGreaterThan(0); // backing off
    const health = b.dog.health(20_000);
    expect(health.healthy).toBe(false);
    expect(health.reasons.join()).toContain('input-2');
    expect(b.ready).toBe(0);
    // Once it heartbeats again it is up and, after stableAfterMs, forgiven.
    b.behaviour.delete('input-2');
    b.run(20_000 + 3 * c.backoffMaxMs + c.startupGraceMs + c.stableAfterMs + 1_000);
    expect(b.ready).toBe(1);
    expect(b.dog.health(b.clock.now()).healthy).toBe(true);
  });

  it('a crash loop backs off 0, 100, 200, 400 ms ... up to the ceiling', () => {
    const c = watchdogConfig({ backoffInitialMs: 100, backoffMaxMs: 800 });
    const b = new SimBoard(c, ROLES, 5, 50);
    b.run(15_000);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = b.actions.length;
      b.crash('replica-1');
      const crashedAt = b.clock.now();
      b.run(crashedAt + 5_000);
      const spawnIndex = b.actions
        .slice(before)
        .findIndex((a) => a.type === 'spawn' && a.role === 'replica-1');
      expect(spawnIndex).toBeGreaterThanOrEqual(0);
      const up = b.ups('replica-1').at(-1)!;
      delays.push(up.at - crashedAt - b.spawnMs - b.startupMs);
      b.run(b.clock.now() + 1); // crash again well before stableAfterMs
    }
    // Spawns happen on ticks after a wait (tick granularity rounds a delay up to 25 ms).
    expect(delays[0]).toBe(0);
    for (const [i, want] of [100, 200, 400, 800, 800, 800].entries()) {
      expect(delays[i + 1]).toBeGreaterThanOrEqual(want);
      expect(delays[i + 1]).toBeLessThanOrEqual(want + tickMs(c));
    }
  });

  it('a stall of the supervisor itself is not blamed on the roles; a role hung meanwhile is still caught', () => {
    const c = watchdogConfig();
    const b = new SimBoard(c, ROLES);
    b.run(20_000);
    b.stall(3_000);
    b.run(23_000 + 5 * c.heartbeatPeriodMs);
    expect(b.events.filter((e) => e.kind === 'killing')).toEqual([]);
    expect(b.dog.counters.supervisorStalls).toBe(1);
    expect(b.events.find((e) => e.kind === 'stall')).toMatchObject({ at: 23_000 });
    const pid = b.freeze('channel-0');
    b.run(25_000);
    expect(b.events.filter((e) => e.kind === 'killing').map((e) => e.kind === 'killing' && e.pid)).toEqual([
      pid,
    ]);
  });

  it('ignores heartbeats and exits of processes it no longer runs', () => {
    const b = new SimBoard(watchdogConfig(), ROLES);
    b.run(2_000);
    b.feed({ type: 'heartbeat', role: 'replica-1', pid: 1, now: 2_000 });
    b.feed({ type: 'exited', role: 'replica-1', pid: 1, now: 2_000, code: 1, signal: null });
    b.feed({ type: 'heartbeat', role: 'nobody', pid: 1, now: 2_000 });
    expect(b.dog.counters.staleHeartbeats).toBe(2);
    expect(b.dog.counters.staleExits).toBe(1);
    expect(b.live('replica-1')).toHaveLength(1);
  });
});

describe('watchdog: proactive restarts', () => {
  const period = 10_000;

  it('restarts every group once a period at its offset, roles of a group together, at most k down', () => {
    const c = watchdogConfig({ periodMs: period, k: 1 });
    const b = new SimBoard(c, ROLES);
    b.run(5 * period + 1_000);
    const proactive = b.events.filter((e) => e.kind === 'killing' && e.cause === 'proactive');
    for (const r of ROLES) {
      const at = proactive.filter((e) => e.kind === 'killing' && e.role === r.name).map((e) => e.at);
      expect(at.length).toBe(5);
      for (const t of at) expect(t % period).toBeLessThanOrEqual(r.proactiveOffsetMs! + tickMs(c));
    }
    expect(b.maxDownGroups).toBe(1);
    expect(b.dog.counters.restarts.proactive).toBe(5 * ROLES.length);
    for (const r of ROLES) expect(b.live(r.name)).toHaveLength(1);
  });

  it('waits while another group of the board is down, then restarts', () => {
    const c = watchdogConfig({ periodMs: period, k: 1, startupGraceMs: 1_000 });
    const b = new SimBoard(c, ROLES);
    b.run(period + 1_000);
    b.behaviour.set('voter-0', { mute: true }); // its next processes never come up
    b.crash('voter-0');
    b.run(period + 6_000); // input-2 was due at 12.5 s, while voter-0 was down
    const deferred = b.events.filter((e) => e.kind === 'deferred' && e.group === 1);
    expect(deferred).toHaveLength(1); // one event per due, however many ticks it waits
    expect(b.events.some((e) => e.kind === 'killing' && e.role === 'input-2' && e.at > period)).toBe(false);
    expect(b.maxDownGroups).toBe(1); // the voter's own restarts only: proactive added none
    b.behaviour.delete('voter-0');
    b.run(period + 9_000);
    expect(b.live('voter-0')).toHaveLength(1);
    const late = b.events.find((e) => e.kind === 'killing' && e.role === 'input-2' && e.at > period);
    expect(late).toBeDefined();
    expect(b.dog.counters.deferrals).toBeGreaterThanOrEqual(1);
    // The late restart is not followed by another within half a period.
    b.run(3 * period);
    const after = b.events.find((e) => e.kind === 'killing' && e.role === 'input-2' && e.at > late!.at);
    expect(after!.at - late!.at).toBeGreaterThanOrEqual(period / 2);
  });

  it('a group that may hold the primary hands over first, then restarts (or after the handover timeout)', () => {
    const roles: WatchedRole[] = [
      { name: 'replica-0', group: 0, proactiveOffsetMs: 1_000, handover: true },
      { name: 'input-0', group: 1, proactiveOffsetMs: 6_000 },
    ];
    const c = watchdogConfig({ periodMs: period, handoverTimeoutMs: 2_000 });
    const b = new SimBoard(c, roles);
    b.run(1_000 + tickMs(c));
    expect(b.actions).toContainEqual({ type: 'handover', group: 0 });
    b.run(1_500);
    expect(b.events.some((e) => e.kind === 'killing' && e.role === 'replica-0')).toBe(false);
    b.feed({ type: 'handover-done', group: 0, now: b.clock.now() });
    expect(b.events.filter((e) => e.kind === 'killing' && e.role === 'replica-0')).toHaveLength(1);
    // Next period nobody answers: the restart goes ahead after the timeout, and says so.
    b.run(period + 1_000 + 2_000 - tickMs(c));
    expect(b.events.filter((e) => e.kind === 'killing' && e.role === 'replica-0')).toHaveLength(1);
    b.run(period + 1_000 + 2_000 + tickMs(c));
    expect(b.events.some((e) => e.kind === 'handover-timeout')).toBe(true);
    expect(b.events.filter((e) => e.kind === 'killing' && e.role === 'replica-0')).toHaveLength(2);
  });

  it('five hundred rotations keep one process per role and bounded state', () => {
    const c = watchdogConfig({ periodMs: 1_000, heartbeatPeriodMs: 20 });
    const roles = ROLES.map((r) => ({ ...r, proactiveOffsetMs: (r.proactiveOffsetMs ?? 0) / 10 }));
    const b = new SimBoard(c, roles, 2, 30);
    b.run(500 * 1_000);
    expect(b.dog.counters.restarts.proactive).toBeGreaterThan(495 * roles.length);
    expect(b.procs.size).toBe(roles.length);
    for (const r of roles) expect(b.live(r.name)).toHaveLength(1);
  });
});

describe('watchdog: shutdown', () => {
  it('SIGTERM to all, SIGKILL after the grace to those that ignore it, stopped once all exited, no respawn', () => {
    const c = watchdogConfig({ stopGraceMs: 500 });
    const b = new SimBoard(c, ROLES);
    b.run(2_000);
    b.behaviour.clear();
    const stubborn = b.live('channel-0')[0]!;
    stubborn.ignoresTerm = true;
    const frozen = b.freeze('input-2');
    b.feed({ type: 'shutdown', now: 2_000 });
    expect(b.actions.filter((a) => a.type === 'signal' && a.signal === 'SIGTERM')).toHaveLength(4);
    b.run(2_400);
    expect(b.stopped).toBe(0);
    b.run(3_000);
    expect(b.actions).toContainEqual({
      type: 'signal',
      role: 'channel-0',
      pid: stubborn.pid,
      signal: 'SIGKILL',
    });
    expect(b.actions).toContainEqual({ type: 'signal', role: 'input-2', pid: frozen, signal: 'SIGKILL' });
    expect(b.stopped).toBe(1);
    b.run(10_000);
    expect(b.procs.size).toBe(0);
    expect(b.actions.filter((a) => a.type === 'spawn')).toHaveLength(4);
  });
});

describe('watchdog: random faults', () => {
  it('under any seeded mix of crashes, hangs and rotations: one process per role, all up once faults stop', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const rng = new Prng(seed);
        const c = watchdogConfig({ periodMs: 5_000, k: 1, heartbeatPeriodMs: 50 });
        const b = new SimBoard(c, ROLES);
        for (let t = 1_000; t < 60_000; t += 200 + rng.int(2_000)) {
          b.run(t);
          const role = ROLES[rng.int(ROLES.length)]!.name;
          if (b.live(role).length === 0) continue;
          if (rng.int(2) === 0) b.crash(role);
          else b.freeze(role);
          for (const r of ROLES) expect(b.live(r.name).length).toBeLessThanOrEqual(1);
        }
        // Faults stop: within startup grace + longest backoff + a period every role is up at once, and never
        // two processes for one role.
        let allUp = false;
        for (let t = 60_000; t <= 60_000 + c.startupGraceMs + c.backoffMaxMs + c.periodMs; t += 50) {
          b.run(t);
          for (const r of ROLES) expect(b.live(r.name).length).toBeLessThanOrEqual(1);
          allUp ||= b.dog.roleStates().every((s) => s.phase === 'up');
        }
        expect(allUp).toBe(true);
      }),
      { seed: SEED, numRuns: 12 },
    );
  });
});
