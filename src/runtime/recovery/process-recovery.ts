/**
 * Proactive recovery in process mode (`triplex sim --processes`): the schedule of laptop mode (config
 * `recovery`: period, k; replica boards in reverse id order, the primary handing its view over first; then the
 * input units and the voter) driving restarts of board processes, with the new keys, state transfer, channel
 * rebuild and voter reintegration all on the wire (board-recovery.ts in each board process).
 *
 * Where the schedule lives: here, in the rig's process, as the coordinator of its children over IPC. The boards
 * share no clock (frames are self-clocked per replica board), so per-board supervisors running the schedule
 * from the config would need a shared reference to stagger on (the executed sequence number would do, but only
 * for boards with a replica), and "at most k down at once" and "wait for the handover" need what other boards
 * report. The rig's process already sees every board's status, the voter's health and the view; it starts
 * the children, so it can also restart them. The restart unit is the board process: every role of the board
 * is restarted together (stop, start from the installed code, fresh key epoch); the rig board's own roles (the
 * input units and the voter) are restarted in this process (ProcessLoop.restartLocalRole).
 *
 * A board that died without being asked (kill -9) is restarted as soon as its exit is seen (next frame), one
 * that stopped reporting (SIGSTOP, a hang) for `hangAfterMs` is killed and restarted: the stated bound of a
 * reactive restart is detection (a frame for an exit, `hangAfterMs` for a hang) plus one process start.
 *
 * @example
 * const recovery = new ProcessRecovery({ topology, scheduler, processes: cluster, local: loop, counters, logger });
 * recovery.start();
 * recovery.report(); // the same RecoveryReport as laptop mode (summary.ts prints it)
 */
import type { Logger } from 'pino';
import { quorumSize } from '../../core/pbft/quorum.ts';
import {
  MAX_RECORDS,
  type RecoveryCause,
  type RecoveryRecord,
  RecoveryRecords,
  type RecoveryReport,
} from '../../core/recovery/records.ts';
import type { RecoveryRoleKind, RecoverySchedule, RecoveryStep } from '../../core/recovery/schedule.ts';
import type { ChannelHealth } from '../../core/vote/voter.ts';
import type { Topology } from '../config.ts';
import type { Counters } from '../loop/counters.ts';
import type { RecoveryStatus } from '../node/ipc.ts';
import type { Scheduler } from '../scheduler.ts';
import { type DriverSchedule, DriverTimers, driverSchedule, planPeriods } from './driver.ts';

/** The board processes the coordinator restarts (ProcessCluster). */
export interface BoardProcesses {
  readonly boards: readonly string[];
  /**
   * The latest recovery status of the board's current process, how old it is, and how many statuses that
   * process sent (undefined while it starts).
   */
  recoveryStatus(
    board: string,
  ): { readonly status: RecoveryStatus; readonly ageMs: number; readonly count: number } | undefined;
  alive(board: string): boolean;
  /** Ask the board's replica to hand its view over. */
  handOver(board: string): boolean;
  /** Tell a restarted board where the group is now (its replica counts again past it). */
  sendRecoveryPoint(board: string, seq: number): boolean;
  /**
   * Stop the process (SIGTERM, or SIGKILL with `kill`) and start it again; resolves once it is ready. Without
   * `kill` the new process loads first and `beforeStop` runs (awaited) right before the old one is stopped.
   */
  restart(
    board: string,
    o: {
      readonly recoveryPoint: number;
      readonly kill: boolean;
      readonly beforeStop?: () => Promise<void>;
      /** Called as each phase of the restart ends (RestartPhase). */
      readonly onPhase?: (phase: RestartPhase) => void;
    },
  ): Promise<void>;
}

/**
 * The phases of a board process restart, in the order they end: loaded (the new process warmed up, keyed and
 * holding its links; make-before-break only), handedOver (beforeStop done), stopped (the old process exited),
 * ready (the new process's links up).
 */
export type RestartPhase = 'loaded' | 'handedOver' | 'stopped' | 'ready';

/** The rig board's side (ProcessLoop). */
export interface LocalRoles {
  restartLocalRole(kind: 'input' | 'voter', id: number): boolean;
  voterHealth(): readonly ChannelHealth[];
}

export interface ProcessRecoveryOptions {
  readonly topology: Topology;
  /** Real time (ms). */
  readonly scheduler: Scheduler;
  readonly processes: BoardProcesses;
  readonly local: LocalRoles;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Overrides recovery.periodSeconds (tests and the soak compress time). */
  readonly periodSeconds?: number;
  /** Budget of one board process restart for the schedule, s (default 6: a process start on a loaded host). */
  readonly restartSeconds?: number;
  /** Budget of the planned view change, s (default 1). */
  readonly handoverSeconds?: number;
  /** A board silent this long (no status) is hung: killed and restarted, ms (default 2000). */
  readonly hangAfterMs?: number;
  /** A restarted board not counted again this long after its start is restarted again, ms (default 60000). */
  readonly giveUpMs?: number;
  /** First period starts this long after `start`, ms (default 2000). */
  readonly firstPeriodAtMs?: number;
  /** Off: only crashes and hangs are restarted (default true). */
  readonly proactive?: boolean;
}

interface Span {
  readonly cause: RecoveryCause;
  readonly fromMs: number;
  toMs?: number;
}

export class ProcessRecovery {
  readonly schedule: RecoverySchedule | undefined;
  private readonly records = new RecoveryRecords();
  /** Boards whose process we are stopping or starting (their exit is not a crash). */
  private readonly restarting = new Set<string>();
  private readonly epochsBefore = new Map<RecoveryRecord, Record<number, number>>();
  /** Per record: each channel slot's in-time outputs at the voter when the restart was started. */
  private readonly inTimeBefore = new Map<RecoveryRecord, readonly number[]>();
  /** Period, frame and budgets, ms. */
  private readonly plan: DriverSchedule;
  private readonly giveUpMs: number;
  /** Per board: the status count last seen and the watch ticks since it last changed. */
  private readonly silence = new Map<string, { count: number; ticks: number }>();
  /** Steps due and waiting for room, oldest first (at most one period's worth). */
  private readonly queue: { period: number; step: RecoveryStep }[] = [];
  private readonly timers: DriverTimers;
  /** When each restart was in progress, begin to rejoined (for the misses by cause). */
  private readonly spans: Span[] = [];
  private readonly spanOf = new Map<RecoveryRecord, Span>();
  /** Per board: since when it says its channel repairs its state on its own (scheduler ms). */
  private readonly repairingSince = new Map<string, number>();
  /** Boards whose current repair claim outlived giveUpMs (counted once per claim). */
  private readonly repairOverdue = new Set<string>();
  /** Per remote restart: when each of its process phases ended (scheduler ms). */
  private readonly phases = new WeakMap<RecoveryRecord, Partial<Record<RestartPhase, number>>>();

  constructor(private readonly o: ProcessRecoveryOptions) {
    this.plan = driverSchedule(o.topology, o, { restartSeconds: 6, handoverSeconds: 1 });
    this.schedule = this.plan.schedule;
    this.giveUpMs = o.giveUpMs ?? 60_000;
    this.timers = new DriverTimers(o.scheduler);
  }

  start(): void {
    const first = this.o.scheduler.now() + (this.o.firstPeriodAtMs ?? 2000);
    if (this.schedule !== undefined)
      planPeriods(this.timers, this.schedule, first, (period, step) => this.enqueue(period, step));
    this.watch();
  }

  stop(): void {
    this.timers.stop();
  }

  private get stopped(): boolean {
    return this.timers.stopped;
  }

  /** Whether a restart of `cause` was in progress at time `ms` (scheduler time), from begin to rejoined. */
  restartingAt(ms: number): RecoveryCause | undefined {
    return this.restartNear(ms, 0);
  }

  /**
   * The cause of a restart in progress at `ms` or rejoined at most `settleMs` before it: what a frame lost in
   * the seconds after a rejoin (the group settling, a view change it set off) is charged to.
   */
  restartNear(ms: number, settleMs: number): RecoveryCause | undefined {
    for (const s of this.spans)
      if (ms >= s.fromMs && ms <= (s.toMs ?? Number.POSITIVE_INFINITY) + settleMs) return s.cause;
    return undefined;
  }

  /** When each process phase of `record`'s restart ended, scheduler ms (empty for the rig board's roles). */
  phasesOf(record: RecoveryRecord): Partial<Record<RestartPhase, number>> {
    return this.phases.get(record) ?? {};
  }

  report(): RecoveryReport {
    const keys: Record<number, { epoch: number; oldestHeld: number }> = {};
    for (const b of this.o.processes.boards) {
      const st = this.o.processes.recoveryStatus(b)?.status;
      for (const [p, e] of Object.entries(st?.keys.own ?? {})) keys[Number(p)] = { epoch: e, oldestHeld: e };
    }
    for (const b of this.o.processes.boards) {
      const st = this.o.processes.recoveryStatus(b)?.status;
      for (const [p, e] of Object.entries(st?.keys.held ?? {})) {
        const k = keys[Number(p)];
        if (k !== undefined) k.oldestHeld = Math.min(k.oldestHeld, e);
      }
    }
    return this.records.report({
      periodMs: this.plan.periodMs,
      k: this.o.topology.recovery.k,
      statement: this.schedule?.statement ?? 'proactive recovery off',
      keys,
    });
  }

  private at(t: number, fn: () => void): void {
    this.timers.at(t, fn);
  }

  /**
   * A step is due: it queues (first in, first out) behind the steps still waiting for room. A step of a board
   * already waiting is coalesced (counted): when restarts take longer than the schedule allows (a compressed
   * period, a slow host), every board still recovers in turn instead of a backlog piling up.
   */
  private enqueue(period: number, step: RecoveryStep): void {
    if (this.queue.some((q) => q.step.board === step.board && sameRoles(q.step, step))) {
      this.o.counters.add('recovery.coalesced');
      return;
    }
    if (this.queue.length >= this.schedule!.steps.length) {
      this.o.counters.add('recovery.skipped');
      return;
    }
    this.queue.push({ period, step });
    if (this.queue.length > 1 || !this.room(step)) this.o.counters.add('recovery.deferred');
    this.drain();
  }

  /** At most k down at once (crashed and hung boards included); the voter's step waits while it judges. */
  private room(step: RecoveryStep): boolean {
    const voterStep = step.roles.some((r) => r.kind === 'voter');
    const judging = this.o.local.voterHealth().some((h) => h.latched || h.probation > 0);
    return this.downCount(step.board) < this.o.topology.recovery.k && !(voterStep && judging);
  }

  /** Starts the queue's head while there is room (called each frame and at every enqueue). */
  private drain(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const head = this.queue[0]!;
      if (!this.room(head.step)) return;
      this.queue.shift();
      this.begin('proactive', head.period, head.step.index, head.step.board, head.step.roles);
    }
  }

  /**
   * Boards out now: recovering, crashed, or with a channel that has no verified state (rebuilding or resyncing
   * on its own). The last count as out because the others' states are what such a channel is repaired from: a
   * restart meanwhile leaves two channels of three without a state both can trust, and neither can be repaired
   * (a soak had a restarted channel and a resyncing one each waiting for the other, for good). Not counted:
   * `stepBoard`'s own state (its restart rebuilds it from the others).
   */
  private downCount(stepBoard?: string): number {
    let down = this.records.active.size;
    for (const b of this.o.processes.boards) {
      if (this.recovering(b)) continue;
      if (b === stepBoard && this.o.processes.alive(b)) continue; // its own restart cures it
      if (!this.o.processes.alive(b)) down++;
      else if (this.repairingWithin(b)) down++;
    }
    return down;
  }

  /**
   * Whether `board` says its channel repairs its state (rebuilding or resyncing, with no restart of ours behind
   * it) and has said so for less than giveUpMs. The board's word is all there is, and a faulty board could say
   * it for ever to stop every other board's proactive restart: past the bound the claim no longer holds the
   * schedule (counted once per claim, 'recovery.repair-overdue').
   */
  private repairingWithin(board: string): boolean {
    const s = this.o.processes.recoveryStatus(board)?.status;
    const now = this.o.scheduler.now();
    if (s?.rebuilding !== true && s?.resyncing !== true) {
      this.repairingSince.delete(board);
      this.repairOverdue.delete(board);
      return false;
    }
    const since = this.repairingSince.get(board);
    if (since === undefined) {
      this.repairingSince.set(board, now);
      return true;
    }
    if (now - since <= this.giveUpMs) return true;
    if (!this.repairOverdue.has(board)) {
      this.repairOverdue.add(board);
      this.o.counters.add('recovery.repair-overdue');
      this.o.logger.warn({ board }, 'channel repairing for longer than the bound: the schedule goes on');
    }
    return false;
  }

  private recovering(board: string): boolean {
    return this.records.recovering(board);
  }

  private remote(board: string): boolean {
    return this.o.processes.boards.includes(board);
  }

  private begin(
    cause: RecoveryCause,
    period: number,
    step: number,
    board: string,
    roles: readonly { kind: RecoveryRoleKind; id: number }[],
  ): void {
    const now = this.o.scheduler.now();
    const record = this.records.begin({ cause, period, step, board, roles, nowMs: now });
    const span: Span = { cause, fromMs: now };
    this.spans.push(span);
    if (this.spans.length > MAX_RECORDS) this.spans.shift();
    this.spanOf.set(record, span);
    this.o.counters.add(`recovery.started.${cause}`);
    if (!this.remote(board)) {
      this.restartLocal(record);
      return;
    }
    this.epochsBefore.set(record, { ...(this.o.processes.recoveryStatus(board)?.status.keys.own ?? {}) });
    this.inTimeBefore.set(
      record,
      this.o.local.voterHealth().map((h) => h.inTime),
    );
    void this.restartRemote(record);
  }

  /** The rig board's roles, in this process: at once, and counted again at once (see restartLocalRole). */
  private restartLocal(record: RecoveryRecord): void {
    const now = this.o.scheduler.now();
    record.stoppedAtMs = now;
    for (const r of record.roles) {
      if (r.kind !== 'input' && r.kind !== 'voter') continue;
      if (!this.o.local.restartLocalRole(r.kind, r.id)) this.o.counters.add('recovery.local-refused');
      r.rejoinedAtMs = now;
    }
    record.startedRolesAtMs = now;
    this.finish(record, now);
  }

  /** The highest view any running board reports, its primary, and whether it is active there. */
  private groupView(except?: string): { view: number; primary: number; active: boolean } {
    let best = { view: -1, primary: 0, active: false };
    for (const b of this.o.processes.boards) {
      if (b === except || !this.o.processes.alive(b)) continue;
      const r = this.o.processes.recoveryStatus(b)?.status.replica;
      if (r === undefined || r.recovering) continue;
      if (r.view > best.view) best = { view: r.view, primary: r.primary, active: r.active };
      else if (r.view === best.view) best.active = best.active || r.active;
    }
    return best;
  }

  /**
   * Right before a proactive stop, once the replacement has loaded: the stop waits while another board is out
   * (holdWhileOthersOut), then the primary hands its view over (handOverIfPrimary).
   */
  private async beforeStop(record: RecoveryRecord): Promise<void> {
    await this.holdWhileOthersOut(record);
    await this.handOverIfPrimary(record);
  }

  /**
   * Make-before-break leaves the old process flying while its replacement loads (seconds), and the group can
   * change meanwhile: another board's replica skips batches by state transfer and its channel resyncs from its
   * peers, or another board crashes. Stopping now would take more than k boards out, and with three channels a
   * restarted channel and a resyncing one then each wait for the other's state (two soaks on 2a9ec3a: b2
   * restarted while b1's, then b0's, channel resynced; c2 found no two matching states, the voter flew on two
   * channels for the 60 s give-up bound, 300-400 frames lost). The old process still has a state and serves it:
   * the stop waits (polled each frame, counted 'recovery.stop-held') until the others are whole, or giveUpMs
   * passed (counted 'recovery.stop-held-timeout': the stop goes ahead).
   */
  private async holdWhileOthersOut(record: RecoveryRecord): Promise<void> {
    const until = this.o.scheduler.now() + this.giveUpMs;
    let held = false;
    for (let i = 0; i < 1_000_000 && !this.stopped; i++) {
      // This restart counts itself once (its record is active): more than k is another board out as well.
      if (this.downCount(record.board) <= this.o.topology.recovery.k) return;
      if (!held) {
        held = true;
        this.o.counters.add('recovery.stop-held');
        this.o.logger.info({ board: record.board }, 'stop held: another board is out');
      }
      if (this.o.scheduler.now() >= until) {
        this.o.counters.add('recovery.stop-held-timeout');
        return;
      }
      await this.sleep(this.plan.frameMs);
    }
  }

  /**
   * Right before a proactive stop (ProcessCluster.restart's beforeStop, once the replacement has loaded): if the
   * board's replica is the group's primary now, it hands its view over (a planned view change ordered through
   * PBFT) and the stop waits until the others are active in a view with another primary, or `handoverMs` passed
   * (counted: the stop goes ahead, and the view change the stop then forces is the one the handover avoided).
   * Decided here, not when the step began: the replacement loads for seconds, and a view change meanwhile can
   * make this board the primary (one run lost 44 frames when the decision was taken at the step's start).
   */
  private async handOverIfPrimary(record: RecoveryRecord): Promise<void> {
    if (this.stopped) return;
    const replica = record.roles.find((r) => r.kind === 'replica');
    if (replica === undefined) return;
    const now = this.o.scheduler.now();
    const until = now + this.plan.handoverMs;
    const poll = Math.min(20, this.plan.frameMs);
    let view = this.groupView();
    // The board's replica is the primary of a view not yet installed (a view change under way): stopping it now
    // would cost that view change too; wait (within the budget) until it is active, then hand over.
    for (let i = 0; i < 100_000 && !this.stopped && view.primary === replica.id && !view.active; i++) {
      if (this.o.scheduler.now() >= until) break;
      await this.sleep(poll);
      view = this.groupView();
    }
    if (view.primary !== replica.id || !view.active) return;
    const h: NonNullable<RecoveryRecord['handover']> = { fromView: view.view, timedOut: false };
    record.handover = h;
    this.o.processes.handOver(record.board);
    this.o.counters.add('recovery.handover');
    for (let i = 0; i < 100_000 && !this.stopped; i++) {
      const done = this.handedOver(record.board, replica.id, h.fromView);
      const t = this.o.scheduler.now();
      if (done !== undefined) {
        h.toView = done;
        h.doneAtMs = t;
        return;
      }
      if (t >= until) break;
      await this.sleep(Math.min(poll, until - t));
    }
    h.timedOut = true;
    this.o.counters.add('recovery.handover-timeout');
  }

  /** The view a quorum of the other replicas is active in past `fromView` with another primary (undefined: not yet). */
  private handedOver(board: string, leaving: number, fromView: number): number | undefined {
    let activeOthers = 0;
    let view = fromView;
    for (const b of this.o.processes.boards) {
      if (b === board) continue;
      const r = this.o.processes.recoveryStatus(b)?.status.replica;
      if (r?.active && r.view > fromView && r.primary !== leaving) {
        activeOthers++;
        view = Math.max(view, r.view);
      }
    }
    const t = this.o.topology;
    const quorum = quorumSize(t.replicas.length, t.f);
    return activeOthers >= Math.min(quorum, t.replicas.length - 1) ? view : undefined;
  }

  /** Resolves after `ms` of scheduler time, or at stop(). */
  private sleep(ms: number): Promise<void> {
    return this.timers.sleep(ms);
  }

  /** The recovery point: the highest seq the others executed, plus the frames since they said so. */
  private recoveryPoint(board: string): number {
    let most = 0;
    for (const b of this.o.processes.boards) {
      if (b === board || !this.o.processes.alive(b)) continue;
      const s = this.o.processes.recoveryStatus(b);
      const r = s?.status.replica;
      if (s === undefined || r === undefined) continue;
      most = Math.max(most, r.lastExecuted + Math.floor(s.ageMs / this.plan.frameMs));
    }
    return most;
  }

  private async restartRemote(record: RecoveryRecord): Promise<void> {
    const board = record.board;
    const recoveryPoint = this.recoveryPoint(board);
    for (const r of record.roles) if (r.kind === 'replica') r.recoveryPoint = recoveryPoint;
    record.stoppedAtMs = this.o.scheduler.now();
    this.restarting.add(board);
    const phases: Partial<Record<RestartPhase, number>> = {};
    this.phases.set(record, phases);
    try {
      const proactive = record.cause === 'proactive';
      await this.o.processes.restart(board, {
        recoveryPoint,
        kill: !proactive,
        onPhase: (p) => {
          phases[p] = this.o.scheduler.now();
        },
        ...(proactive ? { beforeStop: () => this.beforeStop(record) } : {}),
      });
    } catch (e) {
      this.o.counters.add('recovery.restart-failed');
      this.o.logger.error({ board, err: (e as Error).message }, 'board process did not start again');
    } finally {
      this.restarting.delete(board);
    }
    if (this.stopped) return;
    // Where the group is now that the board is up (the process start took seconds of frames).
    const point = Math.max(recoveryPoint, this.recoveryPoint(board) + 2);
    for (const r of record.roles) if (r.kind === 'replica') r.recoveryPoint = point;
    this.o.processes.sendRecoveryPoint(board, point);
    record.startedRolesAtMs = this.o.scheduler.now();
    this.o.counters.add('recovery.restarted');
    this.watchRejoin(record, this.o.scheduler.now());
  }

  /** Each frame: has the board's every role counted again (and the voter taken its channel back)? */
  private watchRejoin(record: RecoveryRecord, since: number): void {
    const now = this.o.scheduler.now();
    const st = this.o.processes.recoveryStatus(record.board);
    const before = this.epochsBefore.get(record) ?? {};
    for (const r of record.roles) {
      if (r.rejoinedAtMs !== undefined || st === undefined || !st.status.restarted) continue;
      const epochs = st.status.keys.own;
      r.epoch = Math.max(...Object.values(epochs), 0);
      const rotated = Object.entries(epochs).every(([p, e]) => e > (before[Number(p)] ?? -1));
      if (rotated && this.rejoined(record, r.kind, r.id, st.status, r.recoveryPoint ?? 0))
        r.rejoinedAtMs = now;
    }
    if (record.roles.every((r) => r.rejoinedAtMs !== undefined)) {
      this.finish(record, now);
      return;
    }
    if (now - since > this.giveUpMs) {
      // Still out after the bound: restarted again (reactively), never left out while the schedule moves on.
      this.records.gaveUp(record);
      this.epochsBefore.delete(record);
      this.inTimeBefore.delete(record);
      const span = this.spanOf.get(record);
      if (span !== undefined) span.toMs = now;
      this.o.counters.add('recovery.gave-up');
      this.o.logger.warn({ board: record.board, roles: record.roles }, 'board did not rejoin: restarting it');
      this.begin('crash', -1, -1, record.board, rolesOf(this.o.topology, record.board));
      return;
    }
    this.at(now + this.plan.frameMs, () => this.watchRejoin(record, since));
  }

  private rejoined(
    record: RecoveryRecord,
    kind: RecoveryRoleKind,
    id: number,
    s: RecoveryStatus,
    point: number,
  ): boolean {
    if (kind === 'replica') {
      const r = s.replica;
      const view = this.groupView();
      return r?.active === true && !r.recovering && r.view >= view.view && r.lastExecuted > point;
    }
    if (kind === 'channel') {
      const slot = this.o.topology.channels.findIndex((c) => c.id === id);
      const h = this.o.local.voterHealth()[slot];
      const before = this.inTimeBefore.get(record)?.[slot] ?? 0;
      // Counted again by the voter: the board says it rebuilt, and the voter took an output of this channel in
      // time since the restart began and its latest frame was one of them (not silent), not latched nor on
      // probation. What the board says alone is not enough: a board that reports too early (or lies) would let
      // the next board go down while this channel still sends nothing.
      return (
        s.rebuilding === false &&
        h !== undefined &&
        h.inTime > before &&
        h.consecutiveSilent === 0 &&
        !h.latched &&
        h.probation === 0
      );
    }
    return true;
  }

  private finish(record: RecoveryRecord, now: number): void {
    this.records.rejoined(record, now);
    this.epochsBefore.delete(record);
    this.inTimeBefore.delete(record);
    const span = this.spanOf.get(record);
    if (span !== undefined) span.toMs = now;
    this.spanOf.delete(record);
    this.o.counters.add('recovery.rejoined');
    this.o.logger.info(
      { board: record.board, cause: record.cause, ms: Math.round(now - record.startedAtMs) },
      'recovered',
    );
  }

  /** Each frame: a board that exited unasked is restarted now; one silent for hangAfterMs is killed first. */
  private watch(): void {
    const now = this.o.scheduler.now();
    const hangMs = this.o.hangAfterMs ?? 2000;
    for (const b of this.o.processes.boards) {
      if (this.recovering(b) || this.restarting.has(b)) continue;
      if (!this.o.processes.alive(b)) {
        this.o.counters.add('recovery.crash-detected');
        this.begin('crash', -1, -1, b, rolesOf(this.o.topology, b));
        continue;
      }
      const s = this.o.processes.recoveryStatus(b);
      if (s === undefined) continue;
      // Silent in ticks of this watch as well as in time: when this process itself stalls (GC, a busy host),
      // the statuses wait unread in its IPC queue, and that is no hang of the board.
      const seen = this.silence.get(b);
      const ticks = seen !== undefined && seen.count === s.count ? seen.ticks + 1 : 0;
      this.silence.set(b, { count: s.count, ticks });
      if (s.ageMs > hangMs && ticks * this.plan.frameMs > hangMs) {
        this.o.counters.add('recovery.hang-detected');
        this.silence.delete(b);
        this.begin('crash', -1, -1, b, rolesOf(this.o.topology, b));
      }
    }
    this.drain();
    this.at(now + this.plan.frameMs, () => this.watch());
  }
}

function sameRoles(a: RecoveryStep, b: RecoveryStep): boolean {
  return (
    a.roles.length === b.roles.length &&
    a.roles.every((r, i) => b.roles[i]?.kind === r.kind && b.roles[i]?.id === r.id)
  );
}

function rolesOf(t: Topology, board: string): { kind: RecoveryRoleKind; id: number }[] {
  const roles: { kind: RecoveryRoleKind; id: number }[] = [];
  for (const r of t.replicas) if (r.board === board) roles.push({ kind: 'replica', id: r.id });
  for (const c of t.channels) if (c.board === board) roles.push({ kind: 'channel', id: c.id });
  return roles;
}
