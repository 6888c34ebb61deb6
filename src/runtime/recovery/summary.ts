/**
 * Proactive recovery as the run's summary (summary.json, the printed summary, the HTML report's recovery
 * section) and the live status line show it.
 *
 * @example
 * summary.recovery = recoverySummary(system.recovery.report());
 * status.recovery = recoveryStatusLine(system.recovery.report()); // 'done b2 3, b1 3 ... | now replica-1'
 */
import type { RecoveryRecord, RecoveryReport } from '../../core/recovery/records.ts';

export interface RecoverySummaryRow {
  readonly board: string;
  readonly cause: string;
  readonly period: number;
  /** When the step began, s from the start of the run. */
  readonly atS: number;
  readonly roles: readonly string[];
  /** The planned view change: from and to view, ms it took ('timeout' if it did not complete in budget). */
  readonly handover?: string;
  /** Step start to every role counted again, ms (absent: it did not rejoin). */
  readonly rejoinMs?: number;
  /** Key epochs after the restart, by role. */
  readonly epochs: readonly number[];
  /** Channels: abstract state taken after seq, from which channels, batches replayed. */
  readonly rebuilt?: string;
}

export interface RecoverySummary {
  readonly periodS: number;
  readonly k: number;
  readonly statement: string;
  readonly perBoard: Readonly<Record<string, number>>;
  readonly restarts: number;
  readonly handovers: number;
  readonly handoverTimeouts: number;
  readonly notRejoined: number;
  readonly rejoinMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly rejoinMsByRole: Readonly<Record<string, { p50: number; p99: number; max: number; n: number }>>;
  readonly rows: readonly RecoverySummaryRow[];
}

/** Rows listed in the summary (the newest; counts cover all). */
export const MAX_SUMMARY_ROWS = 400;

export function recoverySummary(r: RecoveryReport): RecoverySummary {
  const done = r.records.filter((x) => x.rejoinedAtMs !== undefined);
  const byRole: Record<string, number[]> = {};
  for (const rec of r.records) {
    for (const role of rec.roles) {
      if (role.rejoinedAtMs === undefined) continue;
      const list = byRole[role.kind] ?? [];
      list.push(role.rejoinedAtMs - rec.startedAtMs);
      byRole[role.kind] = list;
    }
  }
  const handovers = r.records.filter((x) => x.handover !== undefined);
  return {
    periodS: r.periodMs / 1000,
    k: r.k,
    statement: r.statement,
    perBoard: r.perBoard,
    restarts: r.records.length,
    handovers: handovers.length,
    handoverTimeouts: handovers.filter((x) => x.handover?.timedOut === true).length,
    notRejoined: r.records.filter((x) => x.gaveUp === true).length,
    rejoinMs: stats(done.map((x) => x.rejoinedAtMs! - x.startedAtMs)),
    rejoinMsByRole: Object.fromEntries(
      Object.entries(byRole).map(([k, v]) => [k, { ...stats(v), n: v.length }] as const),
    ),
    rows: r.records.slice(-MAX_SUMMARY_ROWS).map(row),
  };
}

/** The live status line: restarts done per board, and the roles recovering now. */
export function recoveryStatusLine(r: RecoveryReport): string {
  const done = Object.entries(r.perBoard)
    .map(([b, n]) => `${b} ${n}`)
    .join(', ');
  const now = r.inProgress.length > 0 ? r.inProgress.join(' ') : '-';
  return `every ${r.periodMs / 1000} s, k=${r.k}   restarts ${done || '-'}   recovering ${now}`;
}

function row(x: RecoveryRecord): RecoverySummaryRow {
  const h = x.handover;
  const channel = x.roles.find((role) => role.rebuilt !== undefined)?.rebuilt;
  return {
    board: x.board,
    cause: x.cause,
    period: x.period,
    atS: round(x.startedAtMs / 1000, 3),
    roles: x.roles.map((role) => `${role.kind}-${role.id}`),
    ...(h !== undefined
      ? {
          handover: h.timedOut
            ? `view ${h.fromView}: timeout`
            : `view ${h.fromView} -> ${h.toView} in ${round((h.doneAtMs ?? x.startedAtMs) - x.startedAtMs, 1)} ms`,
        }
      : {}),
    ...(x.rejoinedAtMs !== undefined ? { rejoinMs: round(x.rejoinedAtMs - x.startedAtMs, 1) } : {}),
    epochs: x.roles.map((role) => role.epoch),
    ...(channel !== undefined
      ? {
          rebuilt:
            channel.from === 'peers'
              ? `after seq ${channel.seq} from c${channel.supporters.join(',c')}, ${channel.replayed} batches replayed`
              : `after seq ${channel.seq} from its replica's checkpoint, ${channel.replayed} batches replayed`,
        }
      : {}),
  };
}

function stats(values: readonly number[]): { p50: number; p99: number; max: number } {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(s.at(-1)!, 1) };
}

function round(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}
