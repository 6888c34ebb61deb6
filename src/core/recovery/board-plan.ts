/**
 * One board's share of the recovery schedule: the roles its supervisor runs, which of them restart together
 * (a step of the schedule is one group), when in the period, and which ask for a planned view change first.
 * Role names are the principals' key-file names (replica-1, channel-0, input-2, voter-0).
 *
 * @example
 * const s = recoverySchedule(topology);
 * boardRolePlan(topology, 'b0', s.ok ? s.schedule : undefined);
 * // [{ name: 'replica-1', kind: 'replica', id: 1, group: 2, proactiveOffsetMs: 15000, handover: true },
 * //  { name: 'channel-0', kind: 'channel', id: 0, group: 2, proactiveOffsetMs: 15000, handover: true }]
 */
import {
  type RecoveryRoleKind,
  type RecoverySchedule,
  type RecoveryTopology,
  stepOrder,
} from './schedule.ts';

export interface BoardRolePlan {
  readonly name: string;
  readonly kind: RecoveryRoleKind;
  readonly id: number;
  /** The step of the schedule this role restarts in (unique across the topology). */
  readonly group: number;
  /** Offset of that step in the recovery period, ms; absent when proactive recovery is off. */
  readonly proactiveOffsetMs?: number;
  /** The step holds a replica: hand the view over first if it is the primary. */
  readonly handover: boolean;
}

/** The roles of `board`, in schedule order. Without a schedule (recovery off) no role has an offset. */
export function boardRolePlan(
  t: RecoveryTopology,
  board: string,
  schedule?: RecoverySchedule,
): BoardRolePlan[] {
  const steps = schedule !== undefined && schedule.steps.length > 0 ? schedule.steps : stepOrder(t);
  const out: BoardRolePlan[] = [];
  steps.forEach((step, index) => {
    if (step.board !== board) return;
    const handover = step.roles.some((r) => r.kind === 'replica');
    for (const r of step.roles) {
      const offset = 'startMs' in step ? { proactiveOffsetMs: step.startMs } : {};
      out.push({ name: `${r.kind}-${r.id}`, kind: r.kind, id: r.id, group: index, handover, ...offset });
    }
  });
  return out;
}
