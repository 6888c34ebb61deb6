/**
 * The supervisor of one board: each role runs as its own child process (given as a command line), watched by
 * heartbeats on fd 3 (heartbeat.ts) and restarted by the decisions of the pure watchdog
 * (src/core/recovery/watchdog.ts, where the bounds are stated). This file only carries those decisions out:
 * spawn, signal, reap, read heartbeats, tick, and tell systemd (sd-notify.ts).
 *
 * - Each role gets its own process group (`detached`), and signals go to the group: a role started through a
 *   wrapper (npx, tsx, sh) leaves no grandchild behind when it is killed.
 * - The roles' environment loses NOTIFY_SOCKET and the watchdog variables: only the supervisor talks to systemd
 *   (NotifyAccess=main).
 * - A hung role (no heartbeat within the bound) gets SIGKILL; the kill event records the process state from
 *   /proc (T: stopped by a signal, S: sleeping, R: spinning) to tell a SIGSTOP from a silent role.
 * - State is bounded: one entry per running child, a ring of the last `eventLimit` events, counters.
 *
 * @example
 * const sup = new Supervisor({ roles: [{ name: 'replica-1', command: 'node', args: ['replica.js'], group: 0 }],
 *   watchdog: watchdogConfig({ heartbeatPeriodMs: 50 }), logger });
 * sup.start();
 * process.once('SIGTERM', () => void sup.stop().then(() => process.exit(0)));
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import {
  type RoleEvent,
  tickMs,
  Watchdog,
  type WatchdogAction,
  type WatchdogConfig,
  type WatchdogInput,
} from '../../core/recovery/watchdog.ts';
import { RealScheduler, type Scheduler } from '../scheduler.ts';
import { HEARTBEAT_FD, HEARTBEAT_FD_ENV, HeartbeatReader } from './heartbeat.ts';
import { NOTIFY_VARIABLES, type SdNotifier } from './sd-notify.ts';

export interface RoleCommand {
  /** Unique on the board, e.g. 'replica-1'. */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Roles of one group restart together proactively (a board's replica and channel). */
  readonly group: number;
  /** Offset of the proactive restart in the recovery period, ms (from the schedule). */
  readonly proactiveOffsetMs?: number;
  /** Ask for a planned view change before the proactive restart. */
  readonly handover?: boolean;
}

export interface SupervisorOptions {
  readonly roles: readonly RoleCommand[];
  readonly watchdog: WatchdogConfig;
  readonly logger: Logger;
  /** Real time by default: the children are real processes. */
  readonly scheduler?: Scheduler;
  readonly notifier?: SdNotifier;
  /** Where the roles' stdout and stderr go. Default 'inherit' (the board's journal). */
  readonly stdio?: 'inherit' | 'ignore';
  /** Base environment of the roles. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Carries out a planned view change before a group's proactive restart; resolves when the view is handed over.
   * Default: resolves at once (the ordered handover comes with the PBFT integration).
   */
  readonly handover?: (group: number) => Promise<void>;
  /** Events kept for status and tests. Default 256. */
  readonly eventLimit?: number;
}

/** An event as the supervisor records it: the watchdog's, with the process state at a kill. */
export type SupervisorEvent = RoleEvent & { readonly processState?: string };

export interface SupervisorCounters {
  spawned: number;
  spawnFailures: number;
  heartbeats: number;
  malformedHeartbeats: number;
  signalsFailed: number;
}

interface Child {
  readonly role: string;
  readonly process: ChildProcess;
  readonly reader: HeartbeatReader;
}

export class Supervisor {
  readonly counters: SupervisorCounters = {
    spawned: 0,
    spawnFailures: 0,
    heartbeats: 0,
    malformedHeartbeats: 0,
    signalsFailed: 0,
  };
  readonly dog: Watchdog;
  private readonly clock: Scheduler;
  private readonly roles: Map<string, RoleCommand>;
  private readonly children = new Map<number, Child>();
  private readonly ring: SupervisorEvent[] = [];
  private readonly listeners: ((e: SupervisorEvent) => void)[] = [];
  private readonly env: NodeJS.ProcessEnv;
  private cancelTick: () => void = () => undefined;
  private stopWatchdogPings: () => void = () => undefined;
  private stopped: Promise<void> | undefined;
  private resolveStopped: () => void = () => undefined;
  private isStopped = false;

  constructor(private readonly o: SupervisorOptions) {
    this.clock = o.scheduler ?? new RealScheduler();
    this.roles = new Map(o.roles.map((r) => [r.name, r]));
    this.dog = new Watchdog(
      o.watchdog,
      o.roles.map((r) => ({
        name: r.name,
        group: r.group,
        ...(r.proactiveOffsetMs !== undefined ? { proactiveOffsetMs: r.proactiveOffsetMs } : {}),
        ...(r.handover !== undefined ? { handover: r.handover } : {}),
      })),
    );
    this.env = childEnvironment(o.env ?? process.env);
  }

  /** Starts every role and the watchdog ticks; READY=1 and the systemd watchdog pings follow once all are up. */
  start(): void {
    this.apply(this.dog.start(this.clock.now()));
    const period = tickMs(this.o.watchdog);
    let due = this.clock.now() + period;
    const tick = (): void => {
      if (this.isStopped) return;
      this.feed({ type: 'tick', now: this.clock.now() });
      due = Math.max(due + period, this.clock.now());
      this.cancelTick = this.clock.at(due, tick);
    };
    this.cancelTick = this.clock.at(due, tick);
  }

  /** SIGTERM to every role, SIGKILL after the grace; resolves once all have exited. Idempotent. */
  stop(): Promise<void> {
    if (this.stopped !== undefined) return this.stopped;
    this.stopped = new Promise<void>((resolve) => {
      this.resolveStopped = resolve;
    });
    this.stopWatchdogPings();
    this.o.notifier?.stopping('stopping roles');
    this.feed({ type: 'shutdown', now: this.clock.now() });
    return this.stopped;
  }

  healthy(): boolean {
    return this.dog.health(this.clock.now()).healthy;
  }

  /** The most recent events, oldest first. */
  events(): readonly SupervisorEvent[] {
    return this.ring;
  }

  onEvent(listener: (e: SupervisorEvent) => void): void {
    this.listeners.push(listener);
  }

  /** The pid running `role` now, if any. */
  pidOf(role: string): number | undefined {
    return this.dog.pidOf(role);
  }

  /** Child processes alive now (for leak checks: one per role at most). */
  liveChildren(): number {
    return this.children.size;
  }

  /** One line for STATUS= and the live status. */
  statusLine(): string {
    const states = this.dog.roleStates().map((s) => `${s.role} ${s.phase}`);
    const r = this.dog.counters.restarts;
    return `${states.join(', ')}; restarts: ${r.crash} crash, ${r.silent} hung, ${r.proactive} proactive`;
  }

  private feed(input: WatchdogInput): void {
    this.apply(this.dog.step(input));
  }

  private apply(actions: readonly WatchdogAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'spawn':
          this.spawn(a.role);
          break;
        case 'signal':
          this.signal(a.pid, a.signal);
          break;
        case 'handover':
          this.handover(a.group);
          break;
        case 'event':
          this.record(a.event);
          break;
        case 'ready':
          this.o.logger.info({ roles: this.roles.size }, 'all roles up');
          this.o.notifier?.ready(this.statusLine());
          // systemd arms the service watchdog once READY=1 arrives; pings start with it.
          if (!this.isStopped && this.stopped === undefined) {
            this.stopWatchdogPings =
              this.o.notifier?.startWatchdog(() => this.healthy()) ?? (() => undefined);
          }
          break;
        case 'stopped':
          this.finish();
          break;
      }
    }
  }

  private spawn(role: string): void {
    const spec = this.roles.get(role);
    if (spec === undefined) return;
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args ?? [], {
        cwd: spec.cwd,
        env: { ...this.env, ...spec.env, [HEARTBEAT_FD_ENV]: String(HEARTBEAT_FD), TRIPLEX_ROLE: role },
        stdio: ['ignore', this.o.stdio ?? 'inherit', this.o.stdio ?? 'inherit', 'pipe'],
        detached: true,
      });
    } catch (e) {
      this.spawnFailed(role, (e as Error).message);
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      // ENOENT and friends arrive as an 'error' event; the child never ran.
      child.once('error', (e) => this.spawnFailed(role, e.message));
      return;
    }
    this.counters.spawned += 1;
    const reader = new HeartbeatReader();
    this.children.set(pid, { role, process: child, reader });
    const beats = child.stdio[HEARTBEAT_FD] as Readable | null;
    beats?.on('data', (chunk: Buffer) => {
      const n = reader.push(chunk);
      this.counters.heartbeats += n;
      this.counters.malformedHeartbeats = reader.counters.malformed + reader.counters.overlong;
      if (n > 0) this.feed({ type: 'heartbeat', role, pid, now: this.clock.now() });
    });
    beats?.on('error', () => undefined); // a broken pipe from a dying child is not our failure
    child.on('error', (e) => this.o.logger.warn({ role, pid, error: e.message }, 'role process error'));
    child.once('exit', (code, signal) => {
      this.children.delete(pid);
      beats?.destroy();
      this.feed({ type: 'exited', role, pid, now: this.clock.now(), code, signal });
    });
    this.feed({ type: 'spawned', role, pid, now: this.clock.now() });
  }

  private spawnFailed(role: string, error: string): void {
    this.counters.spawnFailures += 1;
    this.o.logger.error({ role, error }, 'cannot start role');
    this.feed({ type: 'spawn-failed', role, now: this.clock.now(), error });
  }

  private signal(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
    try {
      process.kill(-pid, signal); // the role's whole process group
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return; // already gone; its exit is on the way
      this.counters.signalsFailed += 1;
      this.o.logger.error({ pid, signal, error: (e as Error).message }, 'cannot signal role');
    }
  }

  private handover(group: number): void {
    const run = this.o.handover ?? (() => Promise.resolve());
    run(group).then(
      () => this.feed({ type: 'handover-done', group, now: this.clock.now() }),
      (e: Error) =>
        this.o.logger.warn({ group, error: e.message }, 'handover failed; restarting after the timeout'),
    );
  }

  private record(event: RoleEvent): void {
    const processState = event.kind === 'killing' ? processStateOf(event.pid) : undefined;
    const e: SupervisorEvent = processState === undefined ? event : { ...event, processState };
    this.ring.push(e);
    if (this.ring.length > (this.o.eventLimit ?? 256)) this.ring.shift();
    const level = event.kind === 'up' || event.kind === 'killing' || event.kind === 'down' ? 'info' : 'warn';
    this.o.logger[level](e, `role ${event.kind}`);
    for (const l of this.listeners) l(e);
    if (event.kind === 'up' && event.cause !== 'start') this.o.notifier?.status(this.statusLine());
  }

  private finish(): void {
    this.isStopped = true;
    this.cancelTick();
    this.resolveStopped();
  }
}

/** The environment a role gets: the board's, without the sd_notify variables. */
export function childEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const v of NOTIFY_VARIABLES) delete out[v];
  return out;
}

/** The state letter of /proc/<pid>/stat (R, S, D, T, Z, ...), or undefined where there is no /proc. */
export function processStateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) || undefined;
  } catch {
    return undefined;
  }
}
