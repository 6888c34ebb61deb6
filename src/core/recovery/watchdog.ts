/**
 * The decisions of a board's supervisor, as a pure state machine: when to start, kill and restart each role
 * process, from heartbeats, exits and the time. The runtime (src/runtime/supervisor) carries the actions out and
 * feeds back what happened; the machine never touches a process itself, so its bounds are tested on virtual time.
 *
 * Bounds, from the heartbeat period h (roles heartbeat every h; the runtime ticks every h/2, `tickMs`):
 * - A crash (the process exits on its own, kill -9 included) is seen when its exit is reaped; a role that had
 *   been up for `stableAfterMs` is respawned at once, a crash loop backs off (doubling up to `backoffMaxMs`).
 * - A role that stops heartbeating (hung, SIGSTOPped, stuck in a loop, or silent) is declared silent
 *   `missedHeartbeats` x h after its last heartbeat and seen by the next tick: detection within
 *   `detectionBoundMs` = missedHeartbeats x h + h/2. It gets SIGKILL at once (a stopped or stuck process cannot
 *   act on SIGTERM) and is respawned as soon as its exit is reaped.
 * - A new process must heartbeat within `startupGraceMs`, or it is killed and started again.
 * - A proactive restart sends SIGTERM, then SIGKILL after `stopGraceMs`.
 * A process in uninterruptible sleep may outlive SIGKILL: then the board reports itself unhealthy
 * ('unkillable') and systemd's watchdog restarts the whole board.
 *
 * Proactive restarts: each role has an offset in the recovery period (from the schedule, core/recovery/
 * schedule.ts); roles of one group (a board's replica and channel) restart together and count as one node. A
 * group restarts only when all its roles are up and fewer than k other groups of this board are down;
 * otherwise it waits (counted, retried every tick). A group marked `handover` first asks the runtime for a
 * planned view change (action 'handover') and restarts when it is done or after `handoverTimeoutMs`.
 *
 * @example
 * const dog = new Watchdog(config, roles);
 * run(dog.start(0)); // [{ type: 'spawn', role: 'replica-1' }, ...]
 * run(dog.step({ type: 'spawned', role: 'replica-1', pid: 4242, now: 3 }));
 * run(dog.step({ type: 'heartbeat', role: 'replica-1', pid: 4242, now: 40 }));
 */
import { assert } from '../assert.ts';
import {
  type RestartCause,
  silenceBoundMs,
  tickMs,
  type WatchdogAction,
  type WatchdogConfig,
  type WatchdogInput,
  type WatchedRole,
} from './watchdog-types.ts';

export * from './watchdog-types.ts';

type Phase =
  | { readonly p: 'waiting'; readonly at: number; readonly cause: RestartCause; readonly faultAt: number }
  | { readonly p: 'spawning'; readonly cause: RestartCause; readonly faultAt: number }
  | {
      readonly p: 'starting';
      readonly pid: number;
      since: number;
      readonly cause: RestartCause;
      readonly faultAt: number;
    }
  | { readonly p: 'up'; readonly pid: number; readonly upSince: number; lastBeat: number }
  | {
      readonly p: 'stopping';
      readonly pid: number;
      readonly since: number;
      readonly cause: RestartCause | 'shutdown';
      readonly faultAt: number;
      killAt: number | undefined;
      unkillable: boolean;
    }
  | { readonly p: 'stopped' };

interface RoleState {
  readonly role: WatchedRole;
  phase: Phase;
  /** Consecutive starts that did not last `stableAfterMs`. */
  crashStreak: number;
  nextProactiveAt: number | undefined;
}

interface GroupState {
  readonly roles: RoleState[];
  /** Proactive restart due and waiting for admission (for a single 'deferred' event per due). */
  deferred: boolean;
  /** Handover asked at this time, for the restart that follows it. */
  handoverSince: number | undefined;
}

export interface WatchdogCounters {
  restarts: Record<RestartCause, number>;
  staleHeartbeats: number;
  staleExits: number;
  deferrals: number;
  handoverTimeouts: number;
  /** Ticks that came late by more than the silence bound: the supervisor itself was stalled. */
  supervisorStalls: number;
}

/** Most roles on one board (a board hosts a handful). */
export const MAX_ROLES = 64;
/** A SIGKILLed process that has not exited after this long is reported unkillable. */
const UNKILLABLE_AFTER_MS = 5_000;

export class Watchdog {
  readonly counters: WatchdogCounters = {
    restarts: { start: 0, crash: 0, silent: 0, 'startup-timeout': 0, 'spawn-failed': 0, proactive: 0 },
    staleHeartbeats: 0,
    staleExits: 0,
    deferrals: 0,
    handoverTimeouts: 0,
    supervisorStalls: 0,
  };
  private readonly roles = new Map<string, RoleState>();
  private readonly groups = new Map<number, GroupState>();
  private started = false;
  private lastTick: number | undefined;
  private readySent = false;
  private shuttingDown = false;

  constructor(
    readonly config: WatchdogConfig,
    roles: readonly WatchedRole[],
  ) {
    assert(roles.length >= 1 && roles.length <= MAX_ROLES, 'a board runs 1 to 64 roles', {
      roles: roles.length,
    });
    for (const role of roles) {
      assert(!this.roles.has(role.name), 'role names are unique on a board', { role: role.name });
      const state: RoleState = {
        role,
        phase: { p: 'waiting', at: 0, cause: 'start', faultAt: 0 },
        crashStreak: 0,
        nextProactiveAt: undefined,
      };
      this.roles.set(role.name, state);
      let group = this.groups.get(role.group);
      if (group === undefined) {
        group = { roles: [], deferred: false, handoverSince: undefined };
        this.groups.set(role.group, group);
      }
      group.roles.push(state);
    }
  }

  /** Starts every role now. */
  start(now: number): WatchdogAction[] {
    assert(!this.started, 'the watchdog starts once');
    this.started = true;
    const out: WatchdogAction[] = [];
    for (const r of this.roles.values()) {
      r.nextProactiveAt = this.firstProactive(r.role, now);
      r.phase = { p: 'spawning', cause: 'start', faultAt: now };
      out.push({ type: 'spawn', role: r.role.name });
    }
    return out;
  }

  step(input: WatchdogInput): WatchdogAction[] {
    assert(this.started, 'the watchdog must be started before it is stepped');
    const out: WatchdogAction[] = [];
    switch (input.type) {
      case 'tick':
        this.onTick(input.now, out);
        break;
      case 'spawned':
        this.onSpawned(input.role, input.pid, input.now, out);
        break;
      case 'spawn-failed':
        this.onSpawnFailed(input.role, input.now);
        break;
      case 'heartbeat':
        this.onHeartbeat(input.role, input.pid, input.now, out);
        break;
      case 'exited':
        this.onExited(input, out);
        break;
      case 'handover-done':
        this.onHandoverDone(input.group, input.now, out);
        break;
      case 'shutdown':
        this.onShutdown(input.now, out);
        break;
    }
    return out;
  }

  /**
   * Healthy: every role is up and heartbeating, or restarting after a crash or proactively, with no crash loop.
   * Not healthy while a role is silent (hung) or being restarted for it, could not start, or will not die: the
   * board then holds its systemd watchdog pings.
   */
  health(now: number): { readonly healthy: boolean; readonly reasons: readonly string[] } {
    const reasons: string[] = [];
    if (this.shuttingDown) reasons.push('shutting down');
    for (const r of this.roles.values()) {
      const ph = r.phase;
      const name = r.role.name;
      if (r.crashStreak >= this.config.crashLoopLimit) reasons.push(`${name}: crash loop (${r.crashStreak})`);
      if (ph.p === 'up' && now - ph.lastBeat > silenceBoundMs(this.config)) reasons.push(`${name}: silent`);
      if (
        (ph.p === 'stopping' || ph.p === 'waiting' || ph.p === 'spawning' || ph.p === 'starting') &&
        isHangCause(ph.cause)
      ) {
        reasons.push(`${name}: restarting after ${ph.cause}`);
      }
      if (ph.p === 'stopping' && ph.unkillable) reasons.push(`${name}: unkillable`);
    }
    return { healthy: reasons.length === 0, reasons };
  }

  /** A snapshot for status lines: role name, phase, pid. */
  roleStates(): { readonly role: string; readonly phase: Phase['p']; readonly pid: number | undefined }[] {
    return [...this.roles.values()].map((r) => ({
      role: r.role.name,
      phase: r.phase.p,
      pid: 'pid' in r.phase ? r.phase.pid : undefined,
    }));
  }

  /** The pid the machine believes runs `role` now, if any. */
  pidOf(role: string): number | undefined {
    const ph = this.roles.get(role)?.phase;
    return ph !== undefined && 'pid' in ph ? ph.pid : undefined;
  }

  private onTick(now: number, out: WatchdogAction[]): void {
    const c = this.config;
    this.excuseStall(now, out);
    for (const r of this.roles.values()) {
      const ph = r.phase;
      if (ph.p === 'waiting') {
        this.maybeSpawn(r, now, out);
      } else if (ph.p === 'starting' && now - ph.since > c.startupGraceMs) {
        this.kill(r, ph.pid, 'startup-timeout', now, ph.since, out);
      } else if (ph.p === 'up' && now - ph.lastBeat > silenceBoundMs(c)) {
        this.kill(r, ph.pid, 'silent', now, ph.lastBeat, out);
      } else if (ph.p === 'up' && r.crashStreak > 0 && now - ph.upSince >= c.stableAfterMs) {
        r.crashStreak = 0; // up long enough: whatever failed before is not a loop
      } else if (ph.p === 'stopping') {
        if (ph.killAt !== undefined && now >= ph.killAt) {
          ph.killAt = undefined;
          out.push({ type: 'signal', role: r.role.name, pid: ph.pid, signal: 'SIGKILL' });
        } else if (
          !ph.unkillable &&
          ph.killAt === undefined &&
          now - ph.since > c.stopGraceMs + UNKILLABLE_AFTER_MS
        ) {
          ph.unkillable = true;
          out.push({ type: 'event', event: { kind: 'unkillable', role: r.role.name, pid: ph.pid, at: now } });
        }
      }
    }
    if (!this.shuttingDown && c.periodMs > 0) this.proactive(now, out);
  }

  /**
   * A tick that comes late by more than the silence bound means the supervisor itself was stalled (a blocked
   * event loop, a host stall): the roles' heartbeats sit unread in their pipes, and timers run before I/O, so
   * judging silence now would kill every role at once for the supervisor's fault. The stall is taken out of
   * every role's observation window instead; a role that is really hung is still killed one bound later.
   */
  private excuseStall(now: number, out: WatchdogAction[]): void {
    const last = this.lastTick;
    this.lastTick = now;
    if (last === undefined) return;
    const late = now - last - tickMs(this.config);
    if (late <= silenceBoundMs(this.config)) return;
    this.counters.supervisorStalls += 1;
    out.push({ type: 'event', event: { kind: 'stall', at: now, stalledMs: now - last } });
    for (const r of this.roles.values()) {
      const ph = r.phase;
      if (ph.p === 'up') ph.lastBeat = Math.max(ph.lastBeat, Math.min(now, ph.lastBeat + late));
      else if (ph.p === 'starting') ph.since += late;
    }
  }

  private proactive(now: number, out: WatchdogAction[]): void {
    for (const [id, g] of this.groups) {
      const due = Math.min(...g.roles.map((r) => r.nextProactiveAt ?? Number.POSITIVE_INFINITY));
      if (due > now) continue;
      if (g.handoverSince !== undefined) {
        if (now - g.handoverSince < this.config.handoverTimeoutMs) continue;
        this.counters.handoverTimeouts += 1;
        out.push({ type: 'event', event: { kind: 'handover-timeout', group: id, at: now } });
        this.restartGroup(id, g, now, out);
        continue;
      }
      const why = this.admission(id, g);
      if (why !== undefined) {
        if (!g.deferred) {
          g.deferred = true;
          this.counters.deferrals += 1;
          out.push({ type: 'event', event: { kind: 'deferred', group: id, at: now, why } });
        }
        continue;
      }
      g.deferred = false;
      if (g.roles.some((r) => r.role.handover === true)) {
        g.handoverSince = now;
        out.push({ type: 'handover', group: id });
      } else this.restartGroup(id, g, now, out);
    }
  }

  /** Why group `id` may not go down now, or undefined if it may. */
  private admission(id: number, g: GroupState): string | undefined {
    if (g.roles.some((r) => r.phase.p !== 'up')) return 'not every role of the group is up';
    let down = 0;
    for (const [other, og] of this.groups)
      if (other !== id && og.roles.some((r) => r.phase.p !== 'up')) down += 1;
    if (down >= this.config.k) return `${down} group(s) of this board already down (k=${this.config.k})`;
    return undefined;
  }

  private onHandoverDone(group: number, now: number, out: WatchdogAction[]): void {
    const g = this.groups.get(group);
    if (g === undefined || g.handoverSince === undefined || this.shuttingDown) return;
    this.restartGroup(group, g, now, out);
  }

  private restartGroup(id: number, g: GroupState, now: number, out: WatchdogAction[]): void {
    g.handoverSince = undefined;
    // The next slot of the schedule, but not within half a period: a restart that ran late (deferred, or after a
    // handover) is not followed by another one moments later.
    const notBefore = now + this.config.periodMs / 2;
    for (const r of g.roles) {
      if (r.nextProactiveAt !== undefined)
        r.nextProactiveAt = this.nextProactiveAfter(r.nextProactiveAt, notBefore);
      const ph = r.phase;
      if (ph.p !== 'up') continue; // it went down meanwhile: its own restart runs
      r.phase = {
        p: 'stopping',
        pid: ph.pid,
        since: now,
        cause: 'proactive',
        faultAt: now,
        killAt: now + this.config.stopGraceMs,
        unkillable: false,
      };
      out.push({
        type: 'event',
        event: { kind: 'killing', role: r.role.name, pid: ph.pid, at: now, cause: 'proactive' },
      });
      out.push({ type: 'signal', role: r.role.name, pid: ph.pid, signal: 'SIGTERM' });
    }
    assert(g.roles.length > 0, 'a group has roles', { group: id });
  }

  private kill(
    r: RoleState,
    pid: number,
    cause: RestartCause,
    now: number,
    faultAt: number,
    out: WatchdogAction[],
  ): void {
    r.crashStreak += 1;
    r.phase = { p: 'stopping', pid, since: now, cause, faultAt, killAt: undefined, unkillable: false };
    out.push({ type: 'event', event: { kind: 'killing', role: r.role.name, pid, at: now, cause } });
    out.push({ type: 'signal', role: r.role.name, pid, signal: 'SIGKILL' });
  }

  private onSpawned(role: string, pid: number, now: number, out: WatchdogAction[]): void {
    const r = this.roles.get(role);
    if (r === undefined) return;
    const ph = r.phase;
    if (ph.p !== 'spawning') {
      // Not asked for any more (shutdown came first): do not let it run.
      out.push({ type: 'signal', role, pid, signal: 'SIGKILL' });
      return;
    }
    r.phase = { p: 'starting', pid, since: now, cause: ph.cause, faultAt: ph.faultAt };
  }

  private onSpawnFailed(role: string, now: number): void {
    const r = this.roles.get(role);
    if (r === undefined || r.phase.p !== 'spawning') return;
    const cause = r.phase.cause;
    r.crashStreak += 1;
    r.phase = this.shuttingDown
      ? { p: 'stopped' }
      : {
          p: 'waiting',
          at: now + Math.max(this.config.backoffInitialMs, this.restartDelay(r)),
          cause: cause === 'start' ? 'spawn-failed' : cause,
          faultAt: r.phase.faultAt,
        };
  }

  private onHeartbeat(role: string, pid: number, now: number, out: WatchdogAction[]): void {
    const r = this.roles.get(role);
    const ph = r?.phase;
    if (r === undefined || ph === undefined || !('pid' in ph) || ph.pid !== pid) {
      this.counters.staleHeartbeats += 1;
      return;
    }
    if (ph.p === 'up') {
      ph.lastBeat = Math.max(ph.lastBeat, now);
      return;
    }
    if (ph.p !== 'starting') return; // stopping: too late, it is going
    r.phase = { p: 'up', pid, upSince: now, lastBeat: now };
    this.counters.restarts[ph.cause] += 1;
    out.push({
      type: 'event',
      event: { kind: 'up', role, pid, at: now, cause: ph.cause, faultAt: ph.faultAt },
    });
    if (!this.readySent && [...this.roles.values()].every((x) => x.phase.p === 'up')) {
      this.readySent = true;
      out.push({ type: 'ready' });
    }
  }

  private onExited(e: Extract<WatchdogInput, { type: 'exited' }>, out: WatchdogAction[]): void {
    const r = this.roles.get(e.role);
    const ph = r?.phase;
    if (r === undefined || ph === undefined || !('pid' in ph) || ph.pid !== e.pid) {
      this.counters.staleExits += 1;
      return;
    }
    const now = e.now;
    const down = (cause: RestartCause | 'shutdown'): void => {
      out.push({
        type: 'event',
        event: { kind: 'down', role: e.role, pid: e.pid, at: now, cause, code: e.code, signal: e.signal },
      });
    };
    if (ph.p === 'stopping') {
      down(ph.cause);
      if (this.shuttingDown || ph.cause === 'shutdown') r.phase = { p: 'stopped' };
      else {
        const delay = ph.cause === 'proactive' ? 0 : this.restartDelay(r);
        r.phase = { p: 'waiting', at: now + delay, cause: ph.cause, faultAt: ph.faultAt };
      }
    } else if (this.shuttingDown) {
      down('shutdown');
      r.phase = { p: 'stopped' };
    } else {
      // An exit nobody asked for: a crash (kill -9, an uncaught error, an exit call).
      down('crash');
      r.crashStreak += 1;
      r.phase = { p: 'waiting', at: now + this.restartDelay(r), cause: 'crash', faultAt: now };
    }
    if (this.shuttingDown && [...this.roles.values()].every((x) => x.phase.p === 'stopped')) {
      out.push({ type: 'stopped' });
    }
    this.maybeSpawn(r, now, out);
  }

  private maybeSpawn(r: RoleState, now: number, out: WatchdogAction[]): void {
    const ph = r.phase;
    if (ph.p !== 'waiting' || ph.at > now || this.shuttingDown) return;
    r.phase = { p: 'spawning', cause: ph.cause, faultAt: ph.faultAt };
    out.push({ type: 'spawn', role: r.role.name });
  }

  private onShutdown(now: number, out: WatchdogAction[]): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const r of this.roles.values()) {
      const ph = r.phase;
      if (ph.p === 'up' || ph.p === 'starting') {
        r.phase = {
          p: 'stopping',
          pid: ph.pid,
          since: now,
          cause: 'shutdown',
          faultAt: now,
          killAt: now + this.config.stopGraceMs,
          unkillable: false,
        };
        out.push({ type: 'signal', role: r.role.name, pid: ph.pid, signal: 'SIGTERM' });
      } else if (ph.p === 'waiting' || ph.p === 'spawning') {
        r.phase = { p: 'stopped' };
      }
    }
    if ([...this.roles.values()].every((x) => x.phase.p === 'stopped')) out.push({ type: 'stopped' });
  }

  /** The first failure restarts at once; each further one in a row waits twice as long, up to the ceiling. */
  private restartDelay(r: RoleState): number {
    const c = this.config;
    if (r.crashStreak <= 1) return 0;
    return Math.min(c.backoffMaxMs, c.backoffInitialMs * 2 ** Math.min(30, r.crashStreak - 2));
  }

  private firstProactive(role: WatchedRole, now: number): number | undefined {
    if (this.config.periodMs <= 0 || role.proactiveOffsetMs === undefined) return undefined;
    return this.nextProactiveAfter(this.config.originMs + role.proactiveOffsetMs - this.config.periodMs, now);
  }

  /** The first time after `now` that is `from` plus a whole number of periods. */
  private nextProactiveAfter(from: number, now: number): number {
    const p = this.config.periodMs;
    if (from > now) return from;
    return from + (Math.floor((now - from) / p) + 1) * p;
  }
}

function isHangCause(cause: RestartCause | 'shutdown'): boolean {
  return cause === 'silent' || cause === 'startup-timeout';
}
