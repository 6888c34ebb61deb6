/**
 * One board as its own process (`triplex node` without `--rig`): the board's roles on its real links, a status
 * line in the log every few seconds (never per frame), the parent's control channel when there is one, and a
 * clean close of the links on shutdown. Once its links are up it asks for real-time scheduling (realtime.ts,
 * where permitted; a governor gives it back if the process spins) and watches its own host (host-watch.ts),
 * reporting stalls to the parent so that the rig's process can attribute a missed frame to this board's host.
 */
import type { Logger } from 'pino';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { Prng } from '../../core/prng.ts';
import type { LinkState, Transport } from '../../io/transport.ts';
import type { Topology } from '../config.ts';
import { Board } from '../loop/board.ts';
import { Counters } from '../loop/counters.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { type PlantPorts, plantPortsOf } from '../loop/ports.ts';
import { BoardRecovery } from '../recovery/board-recovery.ts';
import type { WireKeys } from '../recovery/wire-keys.ts';
import type { Scheduler } from '../scheduler.ts';
import { leaveIdle } from './child-scheduling.ts';
import { collectNow, serialScavenges } from './gc.ts';
import { HostWatch } from './host-watch.ts';
import { type BoardStatus, type FromBoard, parseToBoard, type RecoveryStatus } from './ipc.ts';
import {
  RealtimeGovernor,
  ROLE_PRIORITY,
  raiseForExit,
  requestRealtime,
  restoreRealtimeAsync,
  type Scheduling,
} from './realtime.ts';

/** A board process plugs its own actuator (and observers) into the same ports the rig uses. */
export interface NodeOptions extends PlantPorts {
  readonly topology: Topology;
  readonly board: string;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  readonly keys: BoardKeys;
  readonly logger: Logger;
  readonly seed: number;
  /** A status line at info level this often (ms); 0 disables it. */
  readonly statusEveryMs: number;
  /** Ask for real-time scheduling once the links are up (default true; realtime.ts, TRIPLEX_REALTIME). */
  readonly realtime?: boolean;
  /**
   * Proactive recovery over the wire (board-recovery.ts): keys that rotate at every start, NEW-KEY and the
   * channel's abstract state on the links; `restart` when this start is a restart (the roles rejoin).
   */
  readonly recovery?: { readonly keys: WireKeys; readonly restart?: { readonly recoveryPoint: number } };
  /** The board's counters (default: fresh); given when the keys count into them too. */
  readonly counters?: Counters;
}

/** The parent's side of Node's IPC channel, as `process` exposes it. */
export interface ParentChannel {
  send?: (message: unknown) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** Share of a CPU a board's JavaScript thread may use for two governor windows before it gives real time back. */
const BOARD_MAX_SHARE = 0.5;

/** How often a restarted board at ROLE_PRIORITY.rejoining checks whether it rejoined, ms. */
const RAISE_CHECK_MS = 50;
/** A restarted board takes the boards' priority this long after it asked for real time at the latest, ms. */
const RAISE_BOUND_MS = 30_000;

/** How long a board waits for its links before it gives up on real-time scheduling, ms. */
const LINKS_UP_FOR_REALTIME_MS = 60_000;

export class Node {
  readonly runtime: Board;
  readonly counters: Counters;
  readonly recovery: BoardRecovery | undefined;
  private linkState: LinkState = 'connecting';
  private statusTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private detach: (() => void) | undefined;
  private finalSend: ((m: FromBoard) => void) | undefined;
  private watch: HostWatch | undefined;
  private scheduling: Scheduling | undefined;
  private governor: RealtimeGovernor | undefined;
  private governorNote: string | undefined;
  /** start() has run (takeRealtime before it: a restart held for the parent's go). */
  private started = false;

  constructor(private readonly o: NodeOptions) {
    this.counters = o.counters ?? new Counters();
    const index = o.topology.boards.findIndex((b) => b.name === o.board);
    this.runtime = new Board({
      topology: o.topology,
      board: o.board,
      transport: o.transport,
      scheduler: o.scheduler,
      keys: o.keys,
      logger: o.logger,
      counters: this.counters,
      // A stream of its own per board (Byzantine channel behaviours draw from it).
      rng: new Prng((o.seed * 31 + Math.max(0, index)) >>> 0),
      ...(o.recovery ? { stateHistory: true } : {}),
      ...plantPortsOf(o),
    });
    this.recovery =
      o.recovery === undefined
        ? undefined
        : new BoardRecovery({
            topology: o.topology,
            board: this.runtime,
            keys: o.recovery.keys,
            scheduler: o.scheduler,
            counters: this.counters,
            logger: o.logger,
            ...(o.recovery.restart ? { restart: o.recovery.restart } : {}),
          });
    o.transport.state$.subscribe((s) => {
      if (s !== this.linkState) o.logger.info({ board: o.board, link: s }, 'link state');
      this.linkState = s;
    });
  }

  async start(): Promise<void> {
    this.started = true;
    this.recovery?.prepare();
    await this.runtime.start();
    if (this.recovery !== undefined) {
      const recovery = this.recovery;
      void this.waitUp(LINKS_UP_FOR_REALTIME_MS).then(
        () => recovery.linksUp(),
        () => this.o.logger.warn('links not up: no NEW-KEY sent'),
      );
    }
    if (this.o.realtime === false) this.leaveIdleStart();
    else {
      void this.waitUp(LINKS_UP_FOR_REALTIME_MS).then(
        () => this.takeRealtime(),
        () => this.o.logger.warn('links not up: ordinary scheduling'),
      );
    }
    const every = this.o.statusEveryMs;
    if (every > 0) {
      this.statusTimer = setInterval(
        () => this.o.logger.info({ status: this.status() }, 'board status'),
        every,
      );
      this.statusTimer.unref();
    }
  }

  /** Resolves once every link is up; rejects after `timeoutMs` naming what is still down. */
  async waitUp(timeoutMs: number): Promise<void> {
    try {
      await firstValueFrom(
        this.o.transport.state$.pipe(
          filter((s) => s === 'up'),
          timeout(timeoutMs),
        ),
      );
    } catch {
      throw new Error(`board '${this.o.board}': links not up within ${timeoutMs} ms (${this.linkState})`);
    }
  }

  /**
   * Real-time scheduling where permitted (a board's priority, ROLE_PRIORITY), and a full collection, once:
   * logged with what was got and why not more. A first start takes it once its links are up (collection after
   * real-time scheduling: it then costs its CPU time, not the machine's queue); a restart held for the parent's
   * go (make-before-break, called before start()) takes it before it reports 'loaded', so that the chrt spawns
   * and the collection happen while the process it replaces still flies, not in its first frames. That one
   * collects first, at the ordinary scheduling it loaded at: a 15-25 ms collection at the boards' SCHED_FIFO
   * priority holds one of the host's CPUs against the boards that fly (equal priority does not preempt), and
   * the soak lost 1-2 frames in the 40 ms before every restart's 'loaded' to it.
   */
  takeRealtime(): void {
    if (this.closed || this.scheduling !== undefined) return;
    if (this.o.realtime === false) {
      this.leaveIdleStart();
      return;
    }
    const held = !this.started;
    serialScavenges();
    if (held) {
      const gcMs = collectNow();
      this.o.logger.debug({ gcMs, held }, 'full collection before real-time scheduling (held for the go)');
    }
    // A restart flies below the boards until it has rejoined (ROLE_PRIORITY.rejoining), then at theirs.
    const rejoining = this.recovery?.restarted === true;
    const role = rejoining ? ROLE_PRIORITY.rejoining : ROLE_PRIORITY.board;
    this.scheduling = requestRealtime(role);
    const realtime = this.scheduling.policy === 'fifo' || this.scheduling.policy === 'rr';
    this.o.logger[realtime ? 'info' : 'warn'](
      { scheduling: this.scheduling },
      `scheduling: ${this.scheduling.summary}`,
    );
    if (!realtime) this.leaveIdleStart();
    if (!held) {
      const gcMs = collectNow();
      this.o.logger.debug({ gcMs, held }, 'full collection after real-time scheduling, before the flight');
    }
    // Watching from here: the collection just run is not the process spinning.
    // A board's share is a few percent of a CPU: half a CPU for half a second is an episode (measured in
    // process mode after a rejoin: two board processes at 85-95% of a CPU each on two cores, the other
    // boards at the same FIFO priority never ran and ordering stopped; bench/recovery-diag.ts), so a
    // board gives real time back at half a CPU, and takes it back once calm.
    if (this.scheduling.how === 'chrt') {
      this.governor = RealtimeGovernor.start(this.o.logger, { maxShare: BOARD_MAX_SHARE, restore: role });
      if (rejoining) this.raiseOnceRejoined();
    }
  }

  /**
   * A restarted board at ROLE_PRIORITY.rejoining takes the boards' priority once its roles count again (the
   * replica past its recovery point and active, the channel rebuilt: BoardRecovery.rejoined), checked every
   * RAISE_CHECK_MS, or after RAISE_BOUND_MS whatever it says (a rejoin that does not finish at the lower
   * priority is not left there). Counted: realtime.raised, realtime.raised-at-bound.
   */
  private raiseOnceRejoined(): void {
    const since = performance.now();
    const timer = setInterval(() => {
      if (this.closed) {
        clearInterval(timer);
        return;
      }
      const r = this.recovery?.rejoined();
      const done = r?.replica === true && r.channel;
      const bound = performance.now() - since > RAISE_BOUND_MS;
      if (!done && !bound) return;
      clearInterval(timer);
      this.counters.add(done ? 'realtime.raised' : 'realtime.raised-at-bound');
      const to = ROLE_PRIORITY.board;
      // The governor watches from the boards' priority on (a drop restores to it).
      this.governorNote = this.governor?.stop('keep');
      void restoreRealtimeAsync(process.pid, to.priority, to.helpers).then((failed) => {
        if (this.closed) return;
        if (failed !== undefined) this.o.logger.warn({ err: failed }, 'not raised to the boards priority');
        else
          this.o.logger.info(
            { rejoined: done, ms: Math.round(performance.now() - since) },
            'raised to the boards priority',
          );
        this.governor = RealtimeGovernor.start(this.o.logger, { maxShare: BOARD_MAX_SHARE, restore: to });
      });
    }, RAISE_CHECK_MS);
    timer.unref();
  }

  /** A restart started at SCHED_IDLE (child-scheduling.ts) that flies without real time: ordinary again. */
  private leaveIdleStart(): void {
    const failed = leaveIdle();
    if (failed !== undefined) this.o.logger.warn({ err: failed }, 'still at SCHED_IDLE');
  }

  /** The host's figures for the final status: scheduling, event-loop delay, GC, stalls reported. */
  private hostStatus(): Record<string, unknown> {
    return {
      scheduling: this.scheduling?.summary ?? 'not requested',
      ...(this.governorNote ? { governor: this.governorNote } : {}),
      ...(this.watch ? this.watch.stop() : {}),
    };
  }

  status(): BoardStatus {
    const replica = this.runtime.replica?.replica.status();
    return {
      board: this.o.board,
      link: this.o.transport.stats(),
      linkState: this.linkState,
      counters: this.counters.toJSON(),
      ...(replica ? { view: replica.view, lastExecuted: replica.lastExecuted } : {}),
      ...(this.runtime.channel ? { inputs: this.runtime.channel.inputHealth() } : {}),
      ...(this.recovery ? { recovery: this.recoveryStatus(this.recovery) } : {}),
      memory: { heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage.rss() },
    };
  }

  private recoveryStatus(recovery: BoardRecovery): RecoveryStatus {
    const s = this.runtime.replica?.replica.status();
    return {
      restarted: recovery.restarted,
      ...(s
        ? {
            replica: {
              view: s.view,
              active: s.active,
              primary: s.primary,
              lastExecuted: s.lastExecuted,
              recovering: s.recovering || recovery.unprepared,
            },
          }
        : {}),
      ...(this.runtime.channel
        ? { rebuilding: recovery.channelRebuilding, resyncing: this.runtime.channel.unverified }
        : {}),
      keys: this.o.recovery!.keys.epochs(),
    };
  }

  /**
   * Obey the parent's commands (fault injection, stop) and report to it: status every `everyMs`, and each
   * window of `hostWindowMs` (default: a frame period) in which this process's host stalled.
   */
  attachParent(parent: ParentChannel, everyMs: number, onStop: () => void, hostWindowMs?: number): void {
    const send = (m: FromBoard): void => {
      try {
        parent.send?.(m);
      } catch {
        this.counters.add('ipc.send-failed'); // the parent went away; 'disconnect' shuts us down
      }
    };
    const onMessage = (raw: unknown): void => {
      const m = parseToBoard(raw);
      if (m === undefined) {
        this.counters.add('ipc.rejected');
        return;
      }
      const channel = this.runtime.channel;
      if (m.type === 'stop') onStop();
      else if (m.type === 'handover') this.handOver();
      else if (m.type === 'recovery-point') this.recovery?.recoveryPoint(m.seq);
      else if (m.type === 'go')
        return; // taken by the start (cli/node.ts)
      else if (channel === undefined) this.counters.add('ipc.no-channel');
      else if (m.type === 'fault') channel.inject(m.fault);
      else channel.clearFault();
    };
    parent.on('message', onMessage);
    const timer = setInterval(() => send({ type: 'status', status: this.status() }), everyMs);
    timer.unref();
    this.detach = () => {
      clearInterval(timer);
      parent.off('message', onMessage);
    };
    void this.waitUp(60_000).then(
      () => send({ type: 'ready', board: this.o.board }),
      (e: Error) => this.o.logger.error({ err: e.message }, 'links not up'),
    );
    this.finalSend = send;
    const t = this.o.topology;
    const periodMs = 1000 / t.frameRateHz;
    this.watch = new HostWatch({
      board: this.o.board,
      windowMs: hostWindowMs ?? periodMs,
      // A quarter of the voter's deadline: the rig's process judges against half of it (episodes.ts).
      thresholdMs: (periodMs * t.timing.deadlineFraction) / 4,
      report: (report) => send({ type: 'host', report }),
      counters: () => this.counters.toJSON(),
    });
  }

  /** Proactive recovery: this board's replica hands its view over (a planned view change) before its restart. */
  handOver(): void {
    if (this.runtime.replica === undefined) {
      this.counters.add('recovery.handover-no-replica');
      return;
    }
    this.runtime.replica.handOver();
    this.counters.add('recovery.handover');
  }

  /** Close the links; the final status goes to the log and to the parent. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.statusTimer);
    // A process that took real time itself ends above the rig that reaps it (raiseForExit says why).
    const raise = this.scheduling?.how === 'chrt';
    this.governorNote = this.governor?.stop(raise ? 'keep' : 'ordinary');
    const notRaised = raise ? raiseForExit() : undefined;
    if (notRaised !== undefined) this.o.logger.warn({ err: notRaised }, 'not raised for the exit');
    const status = { ...this.status(), host: this.hostStatus() };
    this.o.logger.info({ status }, 'board stopped');
    this.finalSend?.({ type: 'final', status });
    this.detach?.();
    this.recovery?.stop();
    await this.runtime.close();
  }
}
