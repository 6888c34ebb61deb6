/**
 * The control channel between `triplex sim --processes` and its board processes (Node's IPC channel, present
 * only when a parent spawned the board with one). It carries rig commands the links would not (fault injection
 * is a test-bench facility, not protocol) and status back. Messages are checked on receipt; anything else is
 * counted and ignored.
 */

import type { UnitHealth } from '../../core/frame/inputs.ts';
import type { LinkStats } from '../../io/transport.ts';
import { CHANNEL_FAULT_KINDS, type ChannelFault } from '../loop/channel-fault.ts';

export type ToBoard =
  | { readonly type: 'fault'; readonly fault: ChannelFault }
  | { readonly type: 'repair' }
  /** Stop cleanly (close links) and send a final status. */
  | { readonly type: 'stop' }
  /** Proactive recovery: the board's replica is the primary and hands its view over before its restart. */
  | { readonly type: 'handover' }
  /**
   * Proactive recovery, right after a restarted board is up: where the group is now, so its replica stays quiet
   * (recovering) until it executed past it. Sent before the replica has caught up on anything.
   */
  | { readonly type: 'recovery-point'; readonly seq: number }
  /** A restarted board held its links closed (make-before-break): open them now. */
  | { readonly type: 'go' };

/** What proactive recovery reads of a board (status messages carry it when the board runs recovery). */
export interface RecoveryStatus {
  /** This process start is a restart (its roles rejoin). */
  readonly restarted: boolean;
  readonly replica?: {
    readonly view: number;
    readonly active: boolean;
    readonly primary: number;
    readonly lastExecuted: number;
    readonly recovering: boolean;
  };
  /** The channel waits for its abstract state. */
  readonly rebuilding?: boolean;
  /** The channel flies on a state that may lack batches (its replica skipped some) and resyncs from its peers. */
  readonly resyncing?: boolean;
  /** Key epochs: of the principals hosted here, and the lowest this board holds of each peer. */
  readonly keys: { readonly own: Record<number, number>; readonly held: Record<number, number> };
}

export interface BoardStatus {
  readonly board: string;
  readonly link: LinkStats;
  readonly linkState: string;
  readonly counters: Record<string, number>;
  /** The board's replica view, when it hosts one. */
  readonly view?: number;
  readonly lastExecuted?: number;
  /** Each input unit's health as this board's channel judges it, when it hosts one. */
  readonly inputs?: readonly UnitHealth[];
  /** The board process's host: its scheduling, event-loop delay and GC over the run (final status). */
  readonly host?: Record<string, unknown>;
  readonly recovery?: RecoveryStatus;
  /** The process's memory (bytes), for the soak. */
  readonly memory?: { readonly heapUsed: number; readonly rss: number };
}

/**
 * What a board process measured on itself (host-watch.ts) in a window ending at `endedAt` (epoch ms,
 * `performance.timeOrigin + performance.now()`: one clock for every process on the machine): a host stall, and
 * the counters that can explain a missed frame that moved in the window.
 */
export interface HostReport {
  readonly board: string;
  readonly endedAt: number;
  readonly windowMs: number;
  /** How late the board's window timer ran. */
  readonly loopDelayMs: number;
  readonly cpuWaitMs?: number;
  readonly gcMs: number;
  /** Counter deltas in the window (at most MAX_REPORT_COUNTERS). */
  readonly counters?: Readonly<Record<string, number>>;
}

/** Counters one report may carry. */
export const MAX_REPORT_COUNTERS = 16;

export type FromBoard =
  | { readonly type: 'ready'; readonly board: string }
  /** Loaded and keyed, links held closed until `go` (a make-before-break restart). */
  | { readonly type: 'loaded'; readonly board: string }
  | { readonly type: 'status'; readonly status: BoardStatus }
  | { readonly type: 'final'; readonly status: BoardStatus }
  | { readonly type: 'host'; readonly report: HostReport };

/** The frames (of a flight whose frame 0 started at epoch `epochZero`) that a report's window overlapped. */
export function hostReportFrames(
  r: HostReport,
  epochZero: number,
  periodMs: number,
): { first: number; last: number } {
  const end = r.endedAt - epochZero;
  return { first: Math.floor((end - r.windowMs) / periodMs), last: Math.floor(end / periodMs) };
}

/** Longest window a board may report over, ms (a report over more is refused: it would blur the frames). */
const MAX_REPORT_WINDOW_MS = 10_000;

function finiteIn(x: unknown, max: number): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= max;
}

function parseHostReport(x: unknown): HostReport | undefined {
  if (!isObject(x) || typeof x['board'] !== 'string' || x['board'].length > 64) return undefined;
  const { endedAt, windowMs, loopDelayMs, cpuWaitMs, gcMs } = x;
  if (!finiteIn(endedAt, Number.MAX_SAFE_INTEGER) || !finiteIn(windowMs, MAX_REPORT_WINDOW_MS))
    return undefined;
  if (!finiteIn(loopDelayMs, 3_600_000) || !finiteIn(gcMs, 3_600_000)) return undefined;
  if (cpuWaitMs !== undefined && !finiteIn(cpuWaitMs, 3_600_000)) return undefined;
  const counters = parseCounters(x['counters']);
  if (counters === null) return undefined;
  return {
    board: x['board'],
    endedAt,
    windowMs,
    loopDelayMs,
    gcMs,
    ...(cpuWaitMs !== undefined ? { cpuWaitMs } : {}),
    ...(counters !== undefined ? { counters } : {}),
  };
}

/** Counter deltas: absent, or a small record of names to positive integers; null when malformed. */
function parseCounters(x: unknown): Record<string, number> | undefined | null {
  if (x === undefined) return undefined;
  if (!isObject(x)) return null;
  const entries = Object.entries(x);
  if (entries.length > MAX_REPORT_COUNTERS) return null;
  for (const [k, v] of entries) {
    if (k.length > 80 || typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 1e9) return null;
  }
  return Object.fromEntries(entries) as Record<string, number>;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A parent's command, or undefined when `x` is not one. */
export function parseToBoard(x: unknown): ToBoard | undefined {
  if (!isObject(x)) return undefined;
  if (x['type'] === 'repair' || x['type'] === 'stop' || x['type'] === 'handover' || x['type'] === 'go')
    return { type: x['type'] };
  if (x['type'] === 'recovery-point') {
    const seq = x['seq'];
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
    return { type: 'recovery-point', seq };
  }
  if (x['type'] !== 'fault' || !isObject(x['fault'])) return undefined;
  const { kind, fromFrame } = x['fault'];
  if (!(CHANNEL_FAULT_KINDS as readonly unknown[]).includes(kind)) return undefined;
  if (typeof fromFrame !== 'number' || !Number.isInteger(fromFrame) || fromFrame < 0) return undefined;
  return { type: 'fault', fault: { kind: kind as ChannelFault['kind'], fromFrame } };
}

/** A board's message, or undefined when `x` is not one. */
export function parseFromBoard(x: unknown): FromBoard | undefined {
  if (!isObject(x) || typeof x['type'] !== 'string') return undefined;
  if (x['type'] === 'ready' || x['type'] === 'loaded')
    return typeof x['board'] === 'string' ? { type: x['type'], board: x['board'] } : undefined;
  if (x['type'] === 'host') {
    const report = parseHostReport(x['report']);
    return report === undefined ? undefined : { type: 'host', report };
  }
  if ((x['type'] === 'status' || x['type'] === 'final') && isObject(x['status'])) {
    const s = x['status'];
    if (typeof s['board'] !== 'string' || !isObject(s['link']) || !isObject(s['counters'])) return undefined;
    return { type: x['type'], status: s as unknown as BoardStatus };
  }
  return undefined;
}
