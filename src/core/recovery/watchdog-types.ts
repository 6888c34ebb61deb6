/**
 * The vocabulary of the supervisor's watchdog (watchdog.ts): roles, configuration and its bounds, the inputs the
 * runtime feeds in and the actions it carries out.
 */
import { assert } from '../assert.ts';

export interface WatchedRole {
  /** Unique on the board, e.g. 'replica-1'. */
  readonly name: string;
  /** Roles of one group restart together proactively and count as one node against k. */
  readonly group: number;
  /** Offset of the role's proactive restart in the period, ms; undefined: never restarted proactively. */
  readonly proactiveOffsetMs?: number;
  /** The group asks for a planned view change before its proactive restart (a replica that may be primary). */
  readonly handover?: boolean;
}

export interface WatchdogConfig {
  readonly heartbeatPeriodMs: number;
  /** Heartbeats missed before a role counts as silent. */
  readonly missedHeartbeats: number;
  readonly startupGraceMs: number;
  readonly stopGraceMs: number;
  /** A role that crashes before it was up this long is in a crash loop: its restarts back off. */
  readonly stableAfterMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** Consecutive failed starts after which the board reports itself unhealthy (systemd takes over). */
  readonly crashLoopLimit: number;
  /** Most groups of this board down at once for proactive restarts. */
  readonly k: number;
  /** Recovery period, ms; 0: no proactive restarts. */
  readonly periodMs: number;
  /** Start of period 0 on the clock the machine is fed, ms (the same on every board). */
  readonly originMs: number;
  readonly handoverTimeoutMs: number;
}

/** Defaults for a heartbeat period: silent after 4 missed beats, 2 s to start, 1 s to stop. */
export function watchdogConfig(overrides: Partial<WatchdogConfig> = {}): WatchdogConfig {
  const h = overrides.heartbeatPeriodMs ?? 50;
  const c: WatchdogConfig = {
    heartbeatPeriodMs: h,
    missedHeartbeats: 4,
    startupGraceMs: 5_000,
    stopGraceMs: 1_000,
    stableAfterMs: 10_000,
    backoffInitialMs: 100,
    backoffMaxMs: 5_000,
    crashLoopLimit: 5,
    k: 1,
    periodMs: 0,
    originMs: 0,
    handoverTimeoutMs: 2_000,
    ...overrides,
  };
  assert(
    c.heartbeatPeriodMs > 0 && c.missedHeartbeats >= 1,
    'heartbeat period and missed count must be positive',
    {
      h: c.heartbeatPeriodMs,
      missed: c.missedHeartbeats,
    },
  );
  assert(c.k >= 1 || c.periodMs === 0, 'proactive restarts need k >= 1', { k: c.k, periodMs: c.periodMs });
  return c;
}

/** How often the runtime must tick the machine: half a heartbeat period. */
export function tickMs(c: WatchdogConfig): number {
  return c.heartbeatPeriodMs / 2;
}

/** Silence after which a role is declared hung: missedHeartbeats x heartbeat period. */
export function silenceBoundMs(c: WatchdogConfig): number {
  return c.missedHeartbeats * c.heartbeatPeriodMs;
}

/** Longest time from a role's last heartbeat to the kill: the silence bound plus one tick. */
export function detectionBoundMs(c: WatchdogConfig): number {
  return silenceBoundMs(c) + tickMs(c);
}

export type RestartCause = 'start' | 'crash' | 'silent' | 'startup-timeout' | 'spawn-failed' | 'proactive';

export type WatchdogInput =
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'spawned'; readonly role: string; readonly pid: number; readonly now: number }
  | { readonly type: 'spawn-failed'; readonly role: string; readonly now: number; readonly error: string }
  | { readonly type: 'heartbeat'; readonly role: string; readonly pid: number; readonly now: number }
  | {
      readonly type: 'exited';
      readonly role: string;
      readonly pid: number;
      readonly now: number;
      readonly code: number | null;
      readonly signal: string | null;
    }
  | { readonly type: 'handover-done'; readonly group: number; readonly now: number }
  | { readonly type: 'shutdown'; readonly now: number };

export type RoleEvent =
  | {
      readonly kind: 'up';
      readonly role: string;
      readonly pid: number;
      readonly at: number;
      readonly cause: RestartCause;
      readonly faultAt: number;
    }
  | {
      readonly kind: 'down';
      readonly role: string;
      readonly pid: number;
      readonly at: number;
      readonly cause: RestartCause | 'shutdown';
      readonly code: number | null;
      readonly signal: string | null;
    }
  | {
      readonly kind: 'killing';
      readonly role: string;
      readonly pid: number;
      readonly at: number;
      readonly cause: RestartCause | 'shutdown';
    }
  | { readonly kind: 'deferred'; readonly group: number; readonly at: number; readonly why: string }
  | { readonly kind: 'handover-timeout'; readonly group: number; readonly at: number }
  | { readonly kind: 'unkillable'; readonly role: string; readonly pid: number; readonly at: number }
  /** The supervisor's own ticks stalled for `stalledMs`: the roles were not judged for that time. */
  | { readonly kind: 'stall'; readonly at: number; readonly stalledMs: number };

export type WatchdogAction =
  | { readonly type: 'spawn'; readonly role: string }
  | {
      readonly type: 'signal';
      readonly role: string;
      readonly pid: number;
      readonly signal: 'SIGTERM' | 'SIGKILL';
    }
  | { readonly type: 'handover'; readonly group: number }
  | { readonly type: 'event'; readonly event: RoleEvent }
  /** Every role is up for the first time: READY=1. */
  | { readonly type: 'ready' }
  /** After shutdown, every role has exited. */
  | { readonly type: 'stopped' };
