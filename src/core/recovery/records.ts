/**
 * The records of proactive recovery, kept one way by both drivers (the laptop mode's LaptopRecovery and the
 * process mode's ProcessRecovery, src/runtime/recovery/): every restart begun (the latest MAX_RECORDS of them),
 * the ones in progress, the completed ones per board, and the report they make (summary.ts prints it). Pure:
 * times are the caller's.
 *
 * @example
 * const records = new RecoveryRecords();
 * const r = records.begin({ cause: 'proactive', period: 0, step: 2, board: 'b1', roles, nowMs: 1200 });
 * records.rejoined(r, 1900);   // every role counted again: b1 has one completed restart
 * records.report({ periodMs, k, statement, keys });
 */
import type { RecoveryRoleKind } from './schedule.ts';

/** Why a role restarted: the schedule, a crash seen by its supervisor, or the voter latching its channel. */
export type RecoveryCause = 'proactive' | 'crash' | 'latched';

/** One role's restart, as the report shows it. */
export interface RoleRecovery {
  readonly kind: RecoveryRoleKind;
  readonly id: number;
  /** Key epoch after the restart. */
  epoch: number;
  /** Replicas: the seq the restarted replica must execute past to count again. */
  recoveryPoint?: number;
  /** Time it counted again, ms (undefined while rejoining or if it never did). */
  rejoinedAtMs?: number;
  /** Channels: where the abstract state came from, the seq it is after, the batches replayed. */
  rebuilt?: ChannelRebuilt;
}

/**
 * How a restarted channel got its state: from its replica's restored checkpoint (certified by 2f+1 replicas),
 * or from f+1 peer channels offering matching states (`supporters`).
 */
export type ChannelRebuilt =
  | { readonly from: 'checkpoint'; readonly seq: number; readonly replayed: number }
  | {
      readonly from: 'peers';
      readonly seq: number;
      readonly supporters: readonly number[];
      readonly replayed: number;
    };

export interface RecoveryRecord {
  readonly cause: RecoveryCause;
  readonly period: number;
  readonly step: number;
  readonly board: string;
  readonly startedAtMs: number;
  /** The primary's planned view change before the restart: views before and after, and when it completed. */
  handover?: { fromView: number; toView?: number; doneAtMs?: number; timedOut: boolean };
  stoppedAtMs?: number;
  startedRolesAtMs?: number;
  /** Time every role of the step counted again. */
  rejoinedAtMs?: number;
  readonly roles: RoleRecovery[];
  /** Bytes of the NEW-KEYs sent and peers that refused them. */
  newKeyBytes: number;
  newKeyRefusals: number;
  /** A role did not count again within the give-up bound. */
  gaveUp?: boolean;
}

export interface RecoveryReport {
  readonly periodMs: number;
  readonly k: number;
  readonly statement: string;
  readonly records: readonly RecoveryRecord[];
  /** Restarts per board (completed: every role rejoined). */
  readonly perBoard: Readonly<Record<string, number>>;
  /** Roles recovering now. */
  readonly inProgress: readonly string[];
  /** Per principal: its key epoch, and the oldest epoch of its keys any peer still holds (equal when all rekeyed). */
  readonly keys: Readonly<Record<number, { readonly epoch: number; readonly oldestHeld: number }>>;
}

/** Most records kept (the report shows the latest; older ones are counted in perBoard only). */
export const MAX_RECORDS = 2048;

export class RecoveryRecords {
  /** The latest MAX_RECORDS restarts, oldest first. */
  private readonly records: RecoveryRecord[] = [];
  private readonly perBoard: Record<string, number> = {};
  /** The restarts in progress (begun, neither rejoined nor given up). */
  readonly active = new Set<RecoveryRecord>();

  /** A restart of `roles` on `board` begins now: recorded, and in progress. */
  begin(o: {
    readonly cause: RecoveryCause;
    readonly period: number;
    readonly step: number;
    readonly board: string;
    readonly roles: readonly { readonly kind: RecoveryRoleKind; readonly id: number }[];
    readonly nowMs: number;
  }): RecoveryRecord {
    const record: RecoveryRecord = {
      cause: o.cause,
      period: o.period,
      step: o.step,
      board: o.board,
      startedAtMs: o.nowMs,
      roles: o.roles.map((r) => ({ kind: r.kind, id: r.id, epoch: 0 })),
      newKeyBytes: 0,
      newKeyRefusals: 0,
    };
    this.active.add(record);
    this.records.push(record);
    if (this.records.length > MAX_RECORDS) this.records.shift();
    return record;
  }

  /** Whether a restart of `board` is in progress. */
  recovering(board: string): boolean {
    for (const r of this.active) if (r.board === board) return true;
    return false;
  }

  /** Every role of `record` counted again at `nowMs`: done, and counted for its board. */
  rejoined(record: RecoveryRecord, nowMs: number): void {
    record.rejoinedAtMs = nowMs;
    this.active.delete(record);
    this.perBoard[record.board] = (this.perBoard[record.board] ?? 0) + 1;
  }

  /** A role of `record` did not count again within the bound: no longer in progress, not counted as done. */
  gaveUp(record: RecoveryRecord): void {
    record.gaveUp = true;
    this.active.delete(record);
  }

  report(o: {
    readonly periodMs: number;
    readonly k: number;
    readonly statement: string;
    readonly keys: RecoveryReport['keys'];
  }): RecoveryReport {
    return {
      periodMs: o.periodMs,
      k: o.k,
      statement: o.statement,
      records: this.records,
      perBoard: { ...this.perBoard },
      inProgress: [...this.active].flatMap((r) => r.roles.map((x) => `${x.kind}-${x.id}`)),
      keys: o.keys,
    };
  }
}
