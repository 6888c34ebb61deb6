/**
 * The proactive-recovery schedule of a topology: which roles restart when within one recovery period, so that
 * every role restarts once per period, at most k nodes recover at once, and the actuator misses no frame.
 *
 * Rules (DESIGN.md "Proactive recovery", Castro and Liskov, "Proactive Recovery in a Byzantine-Fault-Tolerant
 * System", OSDI 2000):
 * - A step restarts one node. A board's replica and channel restart together (the board is the unit of
 *   failure: its faults already count once against both groups). Every input unit and every voter is a step of
 *   its own, so the units of one board never go down together and the input vote keeps its majority.
 * - Replica boards go first, in reverse replica id order (as Castro and Liskov's library does): the primary of
 *   view v is v mod n, and a planned view change moves it up to v + 1 while recovery walks down, so the two meet
 *   about once per period instead of a view change at every step.
 * - A step whose replica is the primary when the step starts hands its view over first: a planned view change,
 *   ordered through PBFT, completes before the restart (`handoverFor`). Every replica step reserves time for it.
 * - Then channel-only boards, input units and voters, each in reverse id order. A voter restarts
 *   make-before-break: its replacement is up before the old one lets go of the actuator (nothing masks a voter).
 * - Steps are spread evenly over the period. A step occupies its budget (handover + restart + rejoin); the most
 *   steps that overlap at any instant is the schedule's concurrency, which must not exceed k.
 *
 * @example
 * const s = recoverySchedule(loadTopology('config/laptop.json'), { periodSeconds: 60 });
 * if (s.ok) s.schedule.steps.map((x) => x.board); // ['b2', 'b1', 'b0', 'mon', 'aiu', 'aiu', 'aiu', 'aiu']
 */
import { assert } from '../assert.ts';
import { type RecoveryBudget, recoveryBudget } from './budget.ts';
import { type VulnerabilityWindow, vulnerabilityWindow } from './vulnerability.ts';

export type RecoveryRoleKind = 'replica' | 'channel' | 'input' | 'voter';

/** A role instance on a board, with its id in its role's id space. */
export interface RecoverySlot {
  readonly board: string;
  readonly id: number;
}

/**
 * What the schedule needs of a topology. The runtime's `Topology` (src/runtime/config.ts) has this shape.
 * `inputs` lists the boards with the input role; unit u runs on inputs[u mod inputs.length] (as the runtime's
 * `inputUnitBoard` places them).
 */
export interface RecoveryTopology {
  readonly f: number;
  readonly inputUnits: number;
  readonly replicas: readonly RecoverySlot[];
  readonly channels: readonly RecoverySlot[];
  readonly voters: readonly RecoverySlot[];
  readonly inputs: readonly RecoverySlot[];
  readonly recovery: { readonly k: number; readonly periodSeconds: number };
}

export interface ScheduleOptions {
  /** Overrides `recovery.periodSeconds`. */
  readonly periodSeconds?: number;
  /** Budget of one restart: stop, start from the installed code, new keys, state transfer, rejoin. Default 2. */
  readonly restartSeconds?: number;
  /** Budget of a planned view change before the primary's board restarts. Default 0.5. */
  readonly handoverSeconds?: number;
  /** View the first period starts in (for the predicted handovers). Default 0. */
  readonly startView?: number;
}

export const DEFAULT_RESTART_SECONDS = 2;
export const DEFAULT_HANDOVER_SECONDS = 0.5;

/** How a step's node lets go before it restarts. */
export type Handover =
  /** Nothing to hand over (a backup replica, a channel, an input unit). */
  | 'none'
  /** A replica step: if its replica is the primary when the step starts, a planned view change goes first. */
  | 'view-change-if-primary'
  /** A voter: the replacement starts and takes the actuator before the old one stops. */
  | 'make-before-break';

export interface RoleRef {
  readonly kind: RecoveryRoleKind;
  readonly id: number;
}

export interface RecoveryStep {
  /** Position in the period, from 0. */
  readonly index: number;
  readonly board: string;
  /** Roles restarted together in this step. */
  readonly roles: readonly RoleRef[];
  /** Offset of the step's start from the start of the period, ms. */
  readonly startMs: number;
  /** Time reserved before the restart for the handover, ms (0 unless a replica step). */
  readonly handoverMs: number;
  /** handoverMs + restart budget: how long the step keeps its node out, ms. */
  readonly budgetMs: number;
  readonly handover: Handover;
  /** View predicted at the step's start if no unplanned view change happens (replica steps). */
  readonly expectedView?: number;
  /** Whether the predicted view makes this step's replica the primary (a planned view change). */
  readonly expectedViewChange: boolean;
}

export interface RecoverySchedule {
  readonly periodMs: number;
  readonly k: number;
  readonly steps: readonly RecoveryStep[];
  /** Gap between consecutive step starts, ms. */
  readonly spacingMs: number;
  /** Most steps in progress at the same instant (never above k). */
  readonly concurrency: number;
  /** Fraction of the period during which some node is recovering. */
  readonly exposure: number;
  /** Fraction of the period during which a member of each group is recovering. */
  readonly groupExposure: { readonly ordering: number; readonly voting: number; readonly inputs: number };
  /**
   * Fraction of the period in which one more fault stalls progress: some step has a member of a group down that
   * no longer masks f faults while it recovers (0 when the budget is closed). The voter's make-before-break
   * restart is assumed to cost no frame.
   */
  readonly stallWindow: number;
  /** Planned view changes per period predicted from view 0, and the most in any of the first n periods. */
  readonly plannedViewChanges: { readonly firstPeriod: number; readonly worstPeriod: number };
  /** Fault budget while `concurrency` nodes recover. */
  readonly budget: RecoveryBudget;
  readonly window: VulnerabilityWindow;
  /** What the topology tolerates while a node is down, in plain words. */
  readonly statement: string;
}

export type ScheduleResult =
  | { readonly ok: true; readonly schedule: RecoverySchedule }
  | {
      readonly ok: false;
      readonly reason: 'k-zero' | 'period-too-short' | 'stalls-without-faults' | 'bad-timing';
      readonly detail: string;
    };

/** Most steps a schedule may have (boards are at most 64, units 16: far below). */
const MAX_STEPS = 1024;

/**
 * The proactive-recovery schedule of `t`, or the reason it cannot be run. A period of 0 disables proactive
 * recovery: the schedule has no steps and an unbounded window of vulnerability.
 */
export function recoverySchedule(t: RecoveryTopology, options: ScheduleOptions = {}): ScheduleResult {
  const periodSeconds = options.periodSeconds ?? t.recovery.periodSeconds;
  const restartSeconds = options.restartSeconds ?? DEFAULT_RESTART_SECONDS;
  const handoverSeconds = options.handoverSeconds ?? DEFAULT_HANDOVER_SECONDS;
  if (![periodSeconds, restartSeconds, handoverSeconds].every((x) => Number.isFinite(x) && x >= 0)) {
    return {
      ok: false,
      reason: 'bad-timing',
      detail: 'period, restart and handover times must be finite, >= 0',
    };
  }
  const k = t.recovery.k;
  const periodMs = Math.round(periodSeconds * 1000);
  const restartMs = Math.round(restartSeconds * 1000);
  const handoverMs = Math.round(handoverSeconds * 1000);
  const sizes = { n: t.replicas.length, m: t.channels.length, u: t.inputUnits, f: t.f };
  const order = stepOrder(t);
  assert(order.length <= MAX_STEPS, 'more recovery steps than any topology has', { steps: order.length });

  if (periodMs === 0) {
    const budget = recoveryBudget(sizes, 0);
    const window = vulnerabilityWindow({ periodMs: 0, stepBudgetMs: restartMs });
    return {
      ok: true,
      schedule: {
        periodMs,
        k,
        steps: [],
        spacingMs: 0,
        concurrency: 0,
        exposure: 0,
        groupExposure: { ordering: 0, voting: 0, inputs: 0 },
        stallWindow: 0,
        plannedViewChanges: { firstPeriod: 0, worstPeriod: 0 },
        budget,
        window,
        statement: describe({
          sizes,
          k,
          concurrency: 0,
          exposure: 0,
          stallWindow: 0,
          budget,
          window,
          periodMs,
          steps: 0,
        }),
      },
    };
  }
  if (k < 1) {
    return {
      ok: false,
      reason: 'k-zero',
      detail: `recovery.k = 0 lets no node be down, but recovery.periodSeconds = ${periodSeconds} asks for restarts`,
    };
  }
  if (restartMs === 0) return { ok: false, reason: 'bad-timing', detail: 'restartSeconds must be > 0' };

  const spacingMs = periodMs / order.length;
  const steps = placeSteps(order, spacingMs, restartMs, handoverMs, sizes.n, options.startView ?? 0);
  const concurrency = maxOverlap(steps, periodMs);
  if (concurrency > k) {
    const needed = Math.ceil((order.length * (restartMs + handoverMs)) / k / 1000);
    return {
      ok: false,
      reason: 'period-too-short',
      detail:
        `${order.length} steps of up to ${(restartMs + handoverMs) / 1000} s in ${periodSeconds} s overlap ` +
        `${concurrency} at a time, above k = ${k}: use recovery.periodSeconds >= ${needed}`,
    };
  }
  const budget = recoveryBudget(sizes, concurrency);
  const stalled = stallsWithoutFaults(budget);
  if (stalled !== undefined) return { ok: false, reason: 'stalls-without-faults', detail: stalled };

  const share = (pick: (s: RecoveryStep) => boolean): number =>
    Math.min(1, steps.filter(pick).reduce((sum, s) => sum + s.budgetMs, 0) / periodMs);
  const has = (s: RecoveryStep, kind: RecoveryRoleKind): boolean => s.roles.some((r) => r.kind === kind);
  const exposure = share(() => true);
  const groupExposure = {
    ordering: share((s) => has(s, 'replica')),
    voting: share((s) => has(s, 'channel')),
    inputs: share((s) => has(s, 'input')),
  };
  const stallWindow = share(
    (s) =>
      (has(s, 'replica') && !budget.ordering.maskedDuringRecovery) ||
      (has(s, 'channel') && !budget.voting.maskedDuringRecovery) ||
      (has(s, 'input') && !budget.inputs.maskedDuringRecovery),
  );
  const window = vulnerabilityWindow({ periodMs, stepBudgetMs: restartMs + handoverMs });
  const views = predictViewChanges(order, sizes.n, options.startView ?? 0);
  const statement = describe({
    sizes,
    k,
    concurrency,
    exposure,
    stallWindow,
    budget,
    window,
    periodMs,
    steps: steps.length,
  });
  return {
    ok: true,
    schedule: {
      periodMs,
      k,
      steps,
      spacingMs,
      concurrency,
      exposure,
      groupExposure,
      stallWindow,
      plannedViewChanges: views,
      budget,
      window,
      statement,
    },
  };
}

/**
 * Whether a step must hand its view over before restarting, given the view it starts in: only a replica step
 * whose replica is the primary of `view` does. The runtime asks this at the step's start, not from the
 * prediction, since unplanned view changes move the primary.
 */
export function handoverFor(
  step: RecoveryStep,
  view: number,
  n: number,
): { readonly viewChange: false } | { readonly viewChange: true; readonly toView: number } {
  const replica = step.roles.find((r) => r.kind === 'replica');
  if (replica === undefined || view % n !== replica.id) return { viewChange: false };
  return { viewChange: true, toView: view + 1 };
}

interface PlannedStep {
  readonly board: string;
  readonly roles: readonly RoleRef[];
}

/** Steps in recovery order: replica boards (reverse id), channel-only boards, input units, voters. */
export function stepOrder(t: RecoveryTopology): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const channelOf = new Map(t.channels.map((c) => [c.board, c.id]));
  const withReplica = new Set<string>();
  for (const r of [...t.replicas].sort((a, b) => b.id - a.id)) {
    const roles: RoleRef[] = [{ kind: 'replica', id: r.id }];
    const channel = channelOf.get(r.board);
    if (channel !== undefined) roles.push({ kind: 'channel', id: channel });
    withReplica.add(r.board);
    steps.push({ board: r.board, roles });
  }
  for (const c of [...t.channels].sort((a, b) => b.id - a.id)) {
    if (!withReplica.has(c.board)) steps.push({ board: c.board, roles: [{ kind: 'channel', id: c.id }] });
  }
  for (let unit = t.inputUnits - 1; unit >= 0 && t.inputs.length > 0; unit--) {
    const board = t.inputs[unit % t.inputs.length]!.board;
    steps.push({ board, roles: [{ kind: 'input', id: unit }] });
  }
  for (const v of [...t.voters].sort((a, b) => b.id - a.id)) {
    steps.push({ board: v.board, roles: [{ kind: 'voter', id: v.id }] });
  }
  return steps;
}

function placeSteps(
  order: readonly PlannedStep[],
  spacingMs: number,
  restartMs: number,
  handoverMs: number,
  n: number,
  startView: number,
): RecoveryStep[] {
  let view = startView;
  return order.map((p, index) => {
    const replica = p.roles.find((r) => r.kind === 'replica');
    const isVoter = p.roles.some((r) => r.kind === 'voter');
    const reserve = replica === undefined ? 0 : handoverMs;
    const expectedViewChange = replica !== undefined && view % n === replica.id;
    const step: RecoveryStep = {
      index,
      board: p.board,
      roles: p.roles,
      startMs: Math.round(index * spacingMs),
      handoverMs: reserve,
      budgetMs: reserve + restartMs,
      handover: replica !== undefined ? 'view-change-if-primary' : isVoter ? 'make-before-break' : 'none',
      expectedViewChange,
      ...(replica !== undefined ? { expectedView: view } : {}),
    };
    if (expectedViewChange) view += 1;
    return step;
  });
}

/** Most steps in progress at once, counting a step that runs over the period's end into the next period. */
function maxOverlap(steps: readonly RecoveryStep[], periodMs: number): number {
  const edges: { t: number; d: number }[] = [];
  for (const copy of [0, periodMs]) {
    for (const s of steps) {
      edges.push({ t: s.startMs + copy, d: 1 });
      edges.push({ t: s.startMs + copy + s.budgetMs, d: -1 });
    }
  }
  // Ends sort before starts at the same instant: a step that ends exactly when the next begins does not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) {
    now += e.d;
    most = Math.max(most, now);
  }
  return most;
}

/** Planned view changes per period when recovery walks `order` repeatedly from `startView`. */
export function predictViewChanges(
  order: readonly { readonly roles: readonly RoleRef[] }[],
  n: number,
  startView: number,
): { readonly firstPeriod: number; readonly worstPeriod: number } {
  let view = startView;
  let firstPeriod = 0;
  let worstPeriod = 0;
  for (let period = 0; period < Math.max(1, n); period++) {
    let changes = 0;
    for (const step of order) {
      const replica = step.roles.find((r) => r.kind === 'replica');
      if (replica !== undefined && view % n === replica.id) {
        changes += 1;
        view += 1;
      }
    }
    if (period === 0) firstPeriod = changes;
    worstPeriod = Math.max(worstPeriod, changes);
  }
  return { firstPeriod, worstPeriod };
}

function stallsWithoutFaults(b: RecoveryBudget): string | undefined {
  const c = b.concurrent;
  if (!b.ordering.liveWithoutFaults) {
    return `with ${c} recovering, ${b.ordering.upDuringRecovery} of ${b.ordering.total} replicas are left, below the quorum of ${b.quorum}: ordering would stall at every restart`;
  }
  if (!b.voting.liveWithoutFaults) {
    return `with ${c} recovering, ${b.voting.upDuringRecovery} of ${b.voting.total} channels are left, below f+1 = ${b.sizes.f + 1}: the voter would hold at every restart`;
  }
  if (!b.inputs.liveWithoutFaults) {
    return `with ${c} recovering, no input unit is left: the channels would have no inputs`;
  }
  return undefined;
}

interface Description {
  readonly sizes: { n: number; m: number; u: number; f: number };
  readonly k: number;
  readonly concurrency: number;
  readonly exposure: number;
  readonly stallWindow: number;
  readonly budget: RecoveryBudget;
  readonly window: VulnerabilityWindow;
  readonly periodMs: number;
  readonly steps: number;
}

function describe(d: Description): string {
  const { n, m, u, f } = d.sizes;
  const lines = [
    `n=${n} replicas (3f+1=${3 * f + 1}), m=${m} channels and ${u} input units (2f+1=${2 * f + 1}), f=${f}: ` +
      'safe throughout, recovering or not (a recovering node is a crash, and ordering and voting are safe under crashes).',
  ];
  if (d.periodMs === 0) {
    lines.push(
      'Proactive recovery is off (recovery.periodSeconds = 0): a fault stays until something restarts the node, ' +
        `so the system is correct only while at most f=${f} faults happen over its whole lifetime.`,
    );
    return lines.join('\n');
  }
  const c = d.concurrency;
  lines.push(
    `Every ${d.periodMs / 1000} s each of the ${d.steps} steps restarts once, at most ${c} at a time (k=${d.k}); ` +
      `some node is recovering ${(d.exposure * 100).toFixed(1)}% of the time.`,
  );
  const b = d.budget;
  const o = b.ordering;
  lines.push(
    o.maskedDuringRecovery
      ? `Ordering: ${o.upDuringRecovery} of ${n} replicas stay up during a restart, quorum ${b.quorum}: still masks f=${f} more faults.`
      : `Ordering: ${o.upDuringRecovery} of ${n} replicas stay up during a restart and a quorum is ${b.quorum}: ` +
          `one more fault stalls ordering until the restart ends (the voter holds, then fails safe); n >= ${o.neededDuringRecovery} closes this.`,
  );
  const v = b.voting;
  lines.push(
    v.maskedDuringRecovery
      ? `Voting: ${v.upDuringRecovery} of ${m} channels stay up: still outvotes f=${f} wrong channels.`
      : `Voting: ${v.upDuringRecovery} of ${m} channels stay up: one more wrong channel can no longer be outvoted ` +
          `(the voter holds, then fails safe); m >= ${v.neededDuringRecovery} closes this.`,
  );
  const i = b.inputs;
  lines.push(
    i.maskedDuringRecovery
      ? `Inputs: ${i.upDuringRecovery} of ${u} input units stay up: still outvotes f=${f} lying units.`
      : `Inputs: ${i.upDuringRecovery} of ${u} input units stay up while one restarts: one more lying unit can ` +
          `no longer be outvoted; ${i.neededDuringRecovery} input units close this.`,
  );
  lines.push('Voter: one per actuator, not masked: it restarts make-before-break.');
  lines.push(
    d.stallWindow === 0
      ? 'No window in which one more fault stalls progress.'
      : `One more fault stalls progress if it strikes while such a restart runs: ${(d.stallWindow * 100).toFixed(1)}% of the time.`,
  );
  lines.push(d.window.summary);
  return lines.join('\n');
}
