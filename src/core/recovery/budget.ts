/**
 * The fault budget while nodes recover. A node down for a proactive restart counts as faulty for liveness (it is
 * correct, just absent), so with c nodes recovering at once and f Byzantine:
 *
 * - ordering (PBFT, n replicas) needs a quorum of Q = ceil((n + f + 1) / 2) replicas (2f+1 when n = 3f+1; larger
 *   n needs larger quorums so that two quorums still meet in a correct replica). It stays live while
 *   n - c - f >= Q, which is exactly n >= 3f + 2c + 1.
 * - voting (m channels) masks f wrong channels while m - c >= 2f + 1, i.e. m >= 2f + c + 1; it still makes
 *   progress without faults while m - c >= f + 1 (the voter writes only what f + 1 channels support).
 * - input voting (u input units, voted per sensor field by every channel) masks f lying units while
 *   u >= 2f + c + 1, and needs at least one unit present.
 * - a voter is one per actuator: nothing masks it, so its restart must be make-before-break.
 *
 * Safety never depends on c: a recovering node is a crash, and PBFT and the voter are safe under any number of
 * crashes. What c costs is liveness: one more fault while c nodes recover can stall progress (the voter holds,
 * then fails safe).
 *
 * @example
 * const b = recoveryBudget({ n: 4, m: 3, u: 3, f: 1 }, 1);
 * b.ordering.maskedDuringRecovery; // false: 3 of 4 left, quorum 3, one more fault stalls ordering
 */
import { assert } from '../assert.ts';

export interface GroupSizes {
  /** Ordering replicas. */
  readonly n: number;
  /** Compute channels. */
  readonly m: number;
  /** Input units (PBFT clients whose samples are voted). */
  readonly u: number;
  readonly f: number;
}

/** One role group's margins while `concurrent` of its members recover. */
export interface GroupBudget {
  readonly total: number;
  /** Members needed to tolerate f faults at all (3f+1 replicas, 2f+1 channels or units). */
  readonly needed: number;
  /** Members needed to tolerate f faults while `concurrent` recover (3f+2c+1, or 2f+c+1). */
  readonly neededDuringRecovery: number;
  /** Members left while `concurrent` recover. */
  readonly upDuringRecovery: number;
  /** f more faults are still masked while `concurrent` recover. */
  readonly maskedDuringRecovery: boolean;
  /** With no fault at all, the group still makes progress while `concurrent` recover. */
  readonly liveWithoutFaults: boolean;
}

export interface RecoveryBudget {
  readonly sizes: GroupSizes;
  /** Nodes recovering at once this budget is computed for. */
  readonly concurrent: number;
  /** PBFT quorum size for n replicas and f faults: ceil((n + f + 1) / 2). */
  readonly quorum: number;
  readonly ordering: GroupBudget;
  readonly voting: GroupBudget;
  readonly inputs: GroupBudget;
  /** Every group still masks f faults during recovery: no window in which one more fault stalls progress. */
  readonly closed: boolean;
}

/** PBFT quorum for n replicas tolerating f faults: any two quorums share at least f+1 replicas. */
export function pbftQuorum(n: number, f: number): number {
  return Math.ceil((n + f + 1) / 2);
}

/** The fault budget of `sizes` while `concurrent` nodes recover at once. */
export function recoveryBudget(sizes: GroupSizes, concurrent: number): RecoveryBudget {
  const { n, m, u, f } = sizes;
  assert(Number.isInteger(f) && f >= 0, 'f must be a non-negative integer', { f });
  assert(Number.isInteger(concurrent) && concurrent >= 0, 'concurrent must be a non-negative integer', {
    concurrent,
  });
  const quorum = pbftQuorum(n, f);
  const ordering: GroupBudget = {
    total: n,
    needed: 3 * f + 1,
    neededDuringRecovery: 3 * f + 2 * concurrent + 1,
    upDuringRecovery: n - concurrent,
    maskedDuringRecovery: n - concurrent - f >= quorum,
    liveWithoutFaults: n - concurrent >= quorum,
  };
  const vote = (total: number, minimumUp: number): GroupBudget => ({
    total,
    needed: 2 * f + 1,
    neededDuringRecovery: 2 * f + concurrent + 1,
    upDuringRecovery: total - concurrent,
    maskedDuringRecovery: total - concurrent >= 2 * f + 1,
    liveWithoutFaults: total - concurrent >= minimumUp,
  });
  const voting = vote(m, f + 1);
  const inputs = vote(u, 1);
  const closed = ordering.maskedDuringRecovery && voting.maskedDuringRecovery && inputs.maskedDuringRecovery;
  return { sizes, concurrent, quorum, ordering, voting, inputs, closed };
}
