/**
 * Proactive recovery in the one-process laptop mode: the supervisors of every board, on one scheduler.
 *
 * Every recovery period each step of the schedule (src/core/recovery/schedule.ts: replica boards in reverse id
 * order, then channel-only boards, input units, voters; at most k at once) restarts its roles even when nothing
 * looks wrong:
 *  1. handover: a replica step whose replica is the primary hands its view over first (a planned view change,
 *     src/core/pbft/handover.ts) and waits until the others are active in a view with another primary;
 *  2. stop: the roles' processes are gone (silent and deaf); their session keys are discarded;
 *  3. new keys: each restarted principal moves to a fresh X25519 epoch announced by a signed NEW-KEY, and every
 *     peer rekeys (rotating-keys.ts): messages under the old keys fail their MACs from then on;
 *  4. start: after the process start time, the roles are built afresh from the config (installed code): no
 *     object and no injected fault survives (Board.startRole);
 *  5. rejoin: a replica by state transfer from the stable checkpoint, counted once it executed past its
 *     recovery point (the highest seq executed by the others at the restart) in the current view; a channel
 *     from f+1 matching abstract states of the other channels plus the committed batches since (BASE), after
 *     which the voter counts it again (after probation if it had latched it); an input unit at once; the voter
 *     make-before-break.
 * A board that crashed (not by this driver) is restarted by its supervisor after `crashRestartMs`: the stated
 * bound of a reactive restart. Scheduled steps wait while k nodes are down, crashed ones included.
 *
 * @example
 * const recovery = new LaptopRecovery({ topology, scheduler, keys, boards, counters, logger });
 * recovery.start();   // the first period begins now
 * recovery.report();  // every recovery so far, with its timings
 */
import type { Logger } from 'pino';
import { quorumSize } from '../../core/pbft/quorum.ts';
import { matchAbstractStates } from '../../core/recovery/abstract-match.ts';
import {
  type ChannelRebuilt,
  type RecoveryCause,
  type RecoveryRecord,
  RecoveryRecords,
  type RecoveryReport,
  type RoleRecovery,
} from '../../core/recovery/records.ts';
import type { RecoveryRoleKind, RecoverySchedule, RecoveryStep } from '../../core/recovery/schedule.ts';
import type { Topology } from '../config.ts';
import type { Board } from '../loop/board.ts';
import type { ChannelHost, ChannelState } from '../loop/channel-host.ts';
import type { Counters } from '../loop/counters.ts';
import { principalOf } from '../loop/principals.ts';
import type { Scheduler } from '../scheduler.ts';
import { type DriverSchedule, DriverTimers, driverSchedule, planPeriods } from './driver.ts';
import type { RotatingKeys } from './rotating-keys.ts';

export interface LaptopRecoveryOptions {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly keys: RotatingKeys;
  readonly boards: ReadonlyMap<string, Board>;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Overrides recovery.periodSeconds (tests compress time). */
  readonly periodSeconds?: number;
  /** Budget of one restart, handover excluded, s (default 0.5: one process start and a state transfer). */
  readonly restartSeconds?: number;
  /** Budget of the planned view change, s (default 0.2). */
  readonly handoverSeconds?: number;
  /** How long a stopped role's process takes to start again, ms (default 60). */
  readonly processStartMs?: number;
  /** A crashed board is restarted this long after it crashed, ms (default 500). */
  readonly crashRestartMs?: number;
  /** When the first period starts, ms after `start` (default 1000: the loop is up and a checkpoint stable). */
  readonly firstPeriodAtMs?: number;
  /** Restart a channel as soon as the voter latches it (default true); false: it waits for its proactive turn. */
  readonly restartLatched?: boolean;
}

/** A role that has not rejoined after this many restart budgets is given up on (counted). */
const REJOIN_GIVE_UP_BUDGETS = 20;

export class LaptopRecovery {
  readonly schedule: RecoverySchedule | undefined;
  private readonly records = new RecoveryRecords();
  private readonly crashSeen = new Set<string>();
  /** Latched channels restarted, until the voter lets go of the latch (one restart per latch). */
  private readonly latchRestarted = new Set<number>();
  /** Period, frame and budgets, ms. */
  private readonly plan: DriverSchedule;
  private readonly timers: DriverTimers;

  constructor(private readonly o: LaptopRecoveryOptions) {
    this.plan = driverSchedule(o.topology, o, { restartSeconds: 0.5, handoverSeconds: 0.2 });
    this.schedule = this.plan.schedule;
    this.timers = new DriverTimers(o.scheduler);
  }

  /** Starts the periods (when the schedule has steps) and the crash watch. */
  start(): void {
    const first = this.o.scheduler.now() + (this.o.firstPeriodAtMs ?? 1000);
    if (this.schedule !== undefined)
      planPeriods(this.timers, this.schedule, first, (period, step) => this.tryStep(period, step, 0));
    this.watchCrashes();
  }

  stop(): void {
    this.timers.stop();
  }

  report(): RecoveryReport {
    return this.records.report({
      periodMs: this.plan.periodMs,
      k: this.o.topology.recovery.k,
      statement: this.schedule?.statement ?? 'proactive recovery off',
      keys: Object.fromEntries(
        this.o.keys.allPrincipals.map(
          (p) => [p, { epoch: this.o.keys.epoch(p), oldestHeld: this.o.keys.oldestHeldEpoch(p) }] as const,
        ),
      ),
    });
  }

  private at(t: number, fn: () => void): void {
    this.timers.at(t, fn);
  }

  /**
   * At most k nodes down at once, crashed ones and channels the voter latched included: a step waits (a frame at
   * a time) for room. The voter's step also waits while the voter holds a channel latched or on probation: a
   * fresh voter would count that channel at once.
   */
  private tryStep(period: number, step: RecoveryStep, waited: number): void {
    const voterStep = step.roles.some((r) => r.kind === 'voter');
    if (this.downCount(step.board) >= this.o.topology.recovery.k || (voterStep && this.voterJudging())) {
      if (waited === 0) this.o.counters.add('recovery.deferred');
      if (waited * this.plan.frameMs > this.plan.periodMs) {
        this.o.counters.add('recovery.skipped');
        return;
      }
      this.at(this.o.scheduler.now() + this.plan.frameMs, () => this.tryStep(period, step, waited + 1));
      return;
    }
    this.begin('proactive', period, step.index, step.board, step.roles);
  }

  /** Nodes down now: recovering, crashed, or latched by the voter (`board`'s own faults not counted: its step cures them). */
  private downCount(board?: string): number {
    let down = 0;
    for (const b of this.o.boards.values()) {
      if (!b.board.alive && !this.recovering(b.name) && b.name !== board) down++;
    }
    for (const c of this.latchedChannels()) if (!this.recovering(c.board) && c.board !== board) down++;
    // A channel resyncing on its own (ChannelHost.onGap) is repaired from the others' states: out until it is.
    for (const b of this.o.boards.values()) {
      const c = b.channel;
      if (c !== undefined && (c.unverified || c.rebuilding) && b.board.alive && !this.recovering(b.name))
        if (b.name !== board) down++;
    }
    return this.records.active.size + down;
  }

  private voterHealth(): readonly { latched: boolean; probation: number }[] {
    for (const b of this.o.boards.values()) if (b.voter !== undefined) return b.voter.health();
    return [];
  }

  /** The channels the voter holds latched (known faulty: they count as down, and restart at once). */
  private latchedChannels(): { id: number; board: string }[] {
    const health = this.voterHealth();
    return this.o.topology.channels.filter((_c, i) => health[i]?.latched === true);
  }

  private voterJudging(): boolean {
    return this.voterHealth().some((h) => h.latched || h.probation > 0);
  }

  private recovering(board: string): boolean {
    return this.records.recovering(board);
  }

  private begin(
    cause: RecoveryCause,
    period: number,
    step: number,
    board: string,
    roles: readonly { kind: RecoveryRoleKind; id: number }[],
  ): void {
    const runtime = this.o.boards.get(board);
    if (runtime === undefined) return;
    const record = this.records.begin({ cause, period, step, board, roles, nowMs: this.o.scheduler.now() });
    this.o.counters.add(`recovery.started.${cause}`);
    const replica = roles.find((r) => r.kind === 'replica');
    const view = this.groupView();
    if (cause === 'proactive' && replica !== undefined && view.primary === replica.id && view.active) {
      // Mid-frame, once the frame's batch is ordered: the new view is in place before the next frame's cut.
      const now = this.o.scheduler.now();
      const at = (Math.floor(now / this.plan.frameMs) + 1.5) * this.plan.frameMs;
      this.at(at, () => {
        const v = this.groupView();
        record.handover = { fromView: v.view, timedOut: false };
        runtime.replica?.handOver();
        this.o.counters.add('recovery.handover');
        this.awaitHandover(record, runtime, replica.id, this.o.scheduler.now() + this.plan.handoverMs);
      });
      return;
    }
    this.restart(record, runtime);
  }

  /** The view of the running replicas: the highest, and whether its primary is active in it. */
  private groupView(): { view: number; primary: number; active: boolean } {
    let best = { view: -1, primary: 0, active: false };
    for (const b of this.o.boards.values()) {
      const host = b.replica;
      if (host === undefined || !host.running || !b.board.alive) continue;
      const s = host.replica.status();
      if (s.view > best.view) best = { view: s.view, primary: s.primary, active: s.active };
      else if (s.view === best.view) best.active = best.active || s.active;
    }
    return best;
  }

  /** Waits until the others are active in a view whose primary is not `leaving`, or the handover budget ends. */
  private awaitHandover(record: RecoveryRecord, runtime: Board, leaving: number, until: number): void {
    const h = record.handover!;
    let activeOthers = 0;
    let view = h.fromView;
    for (const b of this.o.boards.values()) {
      const host = b.replica;
      if (host === undefined || b === runtime || !host.running || !b.board.alive) continue;
      const s = host.replica.status();
      if (s.active && s.view > h.fromView && s.primary !== leaving) {
        activeOthers++;
        view = Math.max(view, s.view);
      }
    }
    const quorum = quorumSize(this.o.topology.replicas.length, this.o.topology.f);
    if (activeOthers >= quorum) {
      h.toView = view;
      h.doneAtMs = this.o.scheduler.now();
      this.restart(record, runtime);
      return;
    }
    if (this.o.scheduler.now() >= until) {
      h.timedOut = true;
      this.o.counters.add('recovery.handover-timeout');
      this.restart(record, runtime);
      return;
    }
    this.at(this.o.scheduler.now() + 1, () => this.awaitHandover(record, runtime, leaving, until));
  }

  /** Stop the roles (their keys die with them), rotate their keys, start them afresh a process start later. */
  private restart(record: RecoveryRecord, runtime: Board): void {
    const now = this.o.scheduler.now();
    record.stoppedAtMs = now;
    // Break-before-make: the role's process dies with its keys. The voter is make-before-break: its
    // replacement starts first, and the keys turn over when it takes over (below).
    for (const r of record.roles) {
      if (r.kind === 'voter') continue;
      runtime.stopRole(r.kind, r.id);
      this.rotate(record, r, runtime);
    }
    this.at(now + (this.o.processStartMs ?? 60), () => {
      const timestampFloor = Math.ceil(this.o.scheduler.now() / this.plan.frameMs) + 2;
      const recoveryPoint = this.highestExecuted(runtime);
      for (const r of record.roles) {
        if (r.kind === 'voter') this.rotate(record, r, runtime);
        if (r.kind === 'replica') r.recoveryPoint = recoveryPoint;
        runtime.startRole(r.kind, r.id, { timestampFloor, recoveryPoint });
      }
      record.startedRolesAtMs = this.o.scheduler.now();
      this.o.counters.add('recovery.restarted');
      this.watchRejoin(record, runtime, this.o.scheduler.now());
    });
  }

  /** NEW-KEY for a restarted role: fresh epoch, peers rekeyed, the old keys refused from now on. */
  private rotate(record: RecoveryRecord, r: RoleRecovery, runtime: Board): void {
    const rotation = this.o.keys.rotate(principalOfRole(r.kind, r.id), this.highestExecuted(runtime));
    r.epoch = rotation.epoch;
    record.newKeyBytes += rotation.bytes;
    record.newKeyRefusals += Object.values(rotation.refused).reduce((a, b) => a + b, 0);
  }

  /** The highest seq any other running replica executed: the restarted replica's recovery point. */
  private highestExecuted(except: Board): number {
    let most = 0;
    for (const b of this.o.boards.values()) {
      if (b === except || b.replica === undefined || !b.replica.running || !b.board.alive) continue;
      most = Math.max(most, b.replica.replica.status().lastExecuted);
    }
    return most;
  }

  /** Each frame: has every role counted again? Channels try their BASE rebuild here. */
  private watchRejoin(record: RecoveryRecord, runtime: Board, since: number): void {
    const now = this.o.scheduler.now();
    for (const r of record.roles) {
      if (r.rejoinedAtMs !== undefined) continue;
      if (this.rejoined(r, runtime)) r.rejoinedAtMs = now;
    }
    if (record.roles.every((r) => r.rejoinedAtMs !== undefined)) {
      this.records.rejoined(record, now);
      this.crashSeen.delete(record.board);
      this.o.counters.add('recovery.rejoined');
      this.o.logger.info(
        { board: record.board, cause: record.cause, ms: Math.round(now - record.startedAtMs) },
        'recovered',
      );
      return;
    }
    if (now - since > REJOIN_GIVE_UP_BUDGETS * this.plan.restartMs) {
      this.records.gaveUp(record);
      this.crashSeen.delete(record.board);
      this.o.counters.add('recovery.gave-up');
      this.o.logger.warn({ board: record.board, roles: record.roles }, 'role did not rejoin');
      return;
    }
    this.at(now + this.plan.frameMs, () => this.watchRejoin(record, runtime, since));
  }

  private rejoined(r: RoleRecovery, runtime: Board): boolean {
    if (r.kind === 'replica') {
      const s = runtime.replica?.replica.status();
      const view = this.groupView();
      return s?.active === true && s.view === view.view && s.lastExecuted > (r.recoveryPoint ?? 0);
    }
    if (r.kind === 'channel') {
      const channel = runtime.channel;
      if (channel === undefined) return false;
      // Not while the board's replica still catches up: it may jump by state transfer past batches the channel
      // would then never see (wire-rebuild.ts says the same for process mode).
      if (channel.rebuilding && runtime.replica?.replica.status().recovering === true) return false;
      if (channel.rebuilding) this.tryRebuild(r, channel);
      const byCheckpoint = channel.rebuiltByCheckpoint;
      if (r.rebuilt === undefined && byCheckpoint !== undefined)
        r.rebuilt = { from: 'checkpoint', ...byCheckpoint };
      return !channel.rebuilding;
    }
    return true; // an input unit counts from its first sample; the voter switched make-before-break
  }

  /** BASE: f+1 matching abstract states from the other channels, usable from this channel's buffered batches. */
  private tryRebuild(r: RoleRecovery, channel: ChannelHost): void {
    const rebuilt = this.rebuildFromPeers(channel);
    if (rebuilt !== undefined) r.rebuilt = rebuilt;
  }

  /**
   * Channels that fly on a state that may lack batches (their replica skipped some by state transfer:
   * ChannelHost.onGap) take a state f+1 of their peers agree on for one of their last batches, each frame until
   * they have.
   */
  private rebuildStragglers(): void {
    for (const b of this.o.boards.values()) {
      const channel = b.channel;
      if (channel === undefined || !channel.unverified || !b.board.alive || this.recovering(b.name)) continue;
      const range = channel.resyncRange();
      if (range === undefined) continue;
      const pick = matchAbstractStates(
        this.offersFor(channel),
        this.o.topology.f,
        sameChannelState,
        (seq) => seq >= range.floor && seq <= range.last,
      );
      if (!pick.ok) {
        this.o.counters.add(`recovery.resync-wait.${pick.reason}`);
        continue;
      }
      if (channel.resyncFrom(pick.seq, pick.state) !== undefined) this.o.counters.add('recovery.resynced');
    }
  }

  /** The other running channels' recent abstract states. */
  private offersFor(channel: ChannelHost): { source: number; seq: number; state: ChannelState }[] {
    const offers = [];
    for (const b of this.o.boards.values()) {
      const other = b.channel;
      if (other === undefined || other === channel || !other.running || !b.board.alive) continue;
      for (const h of other.stateHistory()) offers.push({ source: other.id, seq: h.seq, state: h.state });
    }
    return offers;
  }

  private rebuildFromPeers(channel: ChannelHost): ChannelRebuilt | undefined {
    const floor = channel.rebuildFloor();
    if (floor === undefined) return undefined;
    const pick = matchAbstractStates(
      this.offersFor(channel),
      this.o.topology.f,
      sameChannelState,
      (seq) => seq >= floor,
    );
    if (!pick.ok) {
      this.o.counters.add(`recovery.rebuild-wait.${pick.reason}`);
      return undefined;
    }
    const replayed = channel.rebuildFrom(pick.seq, pick.state);
    return { from: 'peers', seq: pick.seq, supporters: pick.supporters, replayed };
  }

  /**
   * A board found crashed (not by us) is restarted after the stated bound: every role it hosts. A channel the
   * voter latched is restarted at once (its fault does not survive the restart; the voter reintegrates it after
   * probation), when there is room under k.
   */
  private watchCrashes(): void {
    for (const c of this.o.restartLatched === false ? [] : this.latchedChannels()) {
      if (this.recovering(c.board) || this.latchRestarted.has(c.id)) continue;
      if (this.records.active.size >= this.o.topology.recovery.k) break;
      this.latchRestarted.add(c.id);
      this.o.counters.add('recovery.latch-detected');
      this.begin('latched', -1, -1, c.board, [{ kind: 'channel', id: c.id }]);
    }
    for (const id of this.latchRestarted) {
      if (!this.latchedChannels().some((c) => c.id === id)) this.latchRestarted.delete(id);
    }
    for (const b of this.o.boards.values()) {
      if (b.board.alive || this.crashSeen.has(b.name) || this.recovering(b.name)) continue;
      this.crashSeen.add(b.name);
      this.o.counters.add('recovery.crash-detected');
      this.at(this.o.scheduler.now() + (this.o.crashRestartMs ?? 500), () =>
        this.begin('crash', -1, -1, b.name, rolesOf(this.o.topology, b.name)),
      );
    }
    this.rebuildStragglers();
    this.at(this.o.scheduler.now() + this.plan.frameMs, () => this.watchCrashes());
  }
}

function principalOfRole(kind: RecoveryRoleKind, id: number): number {
  return principalOf[kind](id);
}

function rolesOf(t: Topology, board: string): { kind: RecoveryRoleKind; id: number }[] {
  const roles: { kind: RecoveryRoleKind; id: number }[] = [];
  for (const r of t.replicas) if (r.board === board) roles.push({ kind: 'replica', id: r.id });
  for (const c of t.channels) if (c.board === board) roles.push({ kind: 'channel', id: c.id });
  for (let u = 0; u < t.inputUnits; u++) {
    if (t.inputs[u % t.inputs.length]?.board === board) roles.push({ kind: 'input', id: u });
  }
  for (const v of t.voters) if (v.board === board) roles.push({ kind: 'voter', id: v.id });
  return roles;
}

/** Tolerance for analog abstract-state fields across dissimilar implementations (their own rounding). */
const STATE_TOLERANCE = 1e-4;

/** Two channels' abstract states match: same frame and input-vote state, law state within tolerance. */
export function sameChannelState(a: ChannelState, b: ChannelState): boolean {
  if (a.frame !== b.frame || a.state.primed !== b.state.primed) return false;
  const fields = [
    'referenceFilter',
    'integrator',
    'rateEstimate',
    'lastMeasurement',
    'lastElevator',
  ] as const;
  for (const f of fields) {
    const x = a.state[f];
    const y = b.state[f];
    if (!(Math.abs(x - y) <= STATE_TOLERANCE * Math.max(1, Math.abs(x), Math.abs(y)))) return false;
  }
  return JSON.stringify(a.inputs) === JSON.stringify(b.inputs);
}
