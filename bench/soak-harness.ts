/**
 * Process mode with proactive recovery, as the soak, the rotation loop and their tests run it: every board but
 * the voter's as its own `triplex node` process on a pty serial mesh (socat), the voter's board and the
 * emulated rig in this process, and the recovery coordinator (src/runtime/recovery/process-recovery.ts)
 * restarting the board processes on the config's schedule (compressed by `periodSeconds`).
 *
 * Frames missed are counted by cause, not timed: a frame not written while a proactive restart was in
 * progress (from its start to its rejoin) counts as 'proactive', during a crash or hang restart as 'crash',
 * within RESTART_SETTLE_MS after a rejoin as 'afterRestart' (the group settling: still the restart's cost),
 * otherwise 'other' (the host, the link, the protocol). Each missed frame is also logged (`missed`).
 *
 * @example
 * const run = await startRecoveryRun({ topology, seed: 1, periodSeconds: 12, workDir });
 * const result = await run.fly(scenario);
 * missesByCause(result.frames, run.recovery); // { proactive: 0, crash: 0, other: 1 }
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Rig, type RigResult } from '../hil/rig.ts';
import type { Scenario } from '../hil/scenario.ts';
import type { SerialTransport } from '../src/io/serial.ts';
import type { Topology } from '../src/runtime/config.ts';
import { Counters } from '../src/runtime/loop/counters.ts';
import { ProcessCluster } from '../src/runtime/node/cluster.ts';
import { ProcessLoop } from '../src/runtime/node/process-loop.ts';
import { RealtimeGovernor, ROLE_PRIORITY, requestRealtime } from '../src/runtime/node/realtime.ts';
import { createBoardTransport } from '../src/runtime/node/transports.ts';
import { warmUp } from '../src/runtime/node/warm-up.ts';
import { ProcessRecovery, type ProcessRecoveryOptions } from '../src/runtime/recovery/process-recovery.ts';
import { WireKeys } from '../src/runtime/recovery/wire-keys.ts';
import type { FrameRecord } from '../src/runtime/report/trace.ts';
import { RealScheduler } from '../src/runtime/scheduler.ts';

export interface RecoveryRunOptions {
  readonly topology: Topology;
  readonly seed: number;
  readonly workDir: string;
  readonly logger?: Logger;
  readonly logLevel?: string;
  /** Pace serial writes at the baud rate (default false: see test/runtime/node/processes.test.ts). */
  readonly pace?: boolean;
  /** Called as each frame is recorded (the soak's per-minute report). */
  readonly onFrame?: (record: FrameRecord) => void;
  /** Node flags for the board processes (ClusterOptions.nodeArgs). */
  readonly nodeArgs?: readonly string[];
  /** Coordinator tuning (period, budgets, hang bound); proactive false: crashes and hangs only. */
  readonly recovery?: Omit<
    ProcessRecoveryOptions,
    'topology' | 'scheduler' | 'processes' | 'local' | 'counters' | 'logger'
  >;
}

export interface RecoveryRun {
  readonly cluster: ProcessCluster;
  /** Set once the flight starts. */
  readonly recovery: () => ProcessRecovery | undefined;
  readonly loop: () => ProcessLoop | undefined;
  readonly scheduler: RealScheduler;
  /** The rig board's NEW-KEY counters (accepted, refused by reason). */
  readonly keyCounters: Counters;
  /** The rig board's links (its input units' requests go out here). */
  readonly transport: SerialTransport;
  /** Authentic channel outputs that reached the voter's board, per frame (late ones included). */
  readonly arrivals: Map<number, number>;
  /** Frames missed so far by cause. */
  misses(frames: readonly FrameRecord[]): MissesByCause;
  /** The same, counted as the flight goes (each frame a frame after it is recorded), with the frames seen. */
  readonly counted: MissesByCause & { frames: number };
  /** Every missed frame so far (the first MAX_MISSED_LOGGED): when, its cause, how many outputs arrived. */
  readonly missed: MissedFrame[];
  fly(scenario: Scenario, during?: (run: RecoveryRun) => void): Promise<RigResult>;
  /** End the flight after the current frame (the result covers the frames flown). */
  stop(): void;
  close(): Promise<void>;
}

export async function startRecoveryRun(o: RecoveryRunOptions): Promise<RecoveryRun> {
  const logger = o.logger ?? pino({ level: 'silent' });
  const pace = o.pace ?? false;
  mkdirSync(o.workDir, { recursive: true });
  const cluster = await ProcessCluster.start({
    topology: o.topology,
    link: 'serial',
    localBoard: 'aiu',
    workDir: join(o.workDir, 'work'),
    logDir: join(o.workDir, 'logs'),
    logLevel: o.logLevel ?? 'warn',
    seed: o.seed,
    logger,
    pace,
    readyTimeoutMs: 120_000,
    recovery: {},
    ...(o.nodeArgs ? { nodeArgs: o.nodeArgs } : {}),
  });
  const topology = cluster.topology;
  const scheduler = new RealScheduler({ held: true });
  const keyCounters = new Counters();
  const keys = await WireKeys.load({
    topology,
    board: 'aiu',
    keysDir: cluster.keysDir,
    stateDir: join(o.workDir, 'work', 'key-state'),
    counters: keyCounters,
    now: () => scheduler.now(),
  });
  const transport = createBoardTransport(topology, 'aiu', { pace }) as SerialTransport;
  await warmUp(topology);
  let loop: ProcessLoop | undefined;
  let recovery: ProcessRecovery | undefined;
  const arrivals = new Map<number, number>();
  const counted = { frames: 0, ...noMisses() };
  const missed: MissedFrame[] = [];
  let previous: FrameRecord | undefined;
  /** performance.now() of the previous frame's record, and how late past a period the previous one came. */
  let recordedAt = 0;
  let previousLateMs = 0;
  let rig: Rig | undefined;
  let governor: RealtimeGovernor | undefined;
  const run: RecoveryRun = {
    stop: () => rig?.stop(),
    arrivals,
    counted,
    missed,
    misses: (frames) => missesByCause(frames, recovery, arrivals, topology.f + 1),
    cluster,
    scheduler,
    keyCounters,
    transport,
    recovery: () => recovery,
    loop: () => loop,
    async fly(scenario, during) {
      rig = new Rig({
        topology,
        scheduler,
        scenario,
        seed: o.seed,
        logger,
        // An hour at 50 Hz is 180,000 frames: every frame goes to the work directory, a bounded tail stays here.
        stream: { path: join(o.workDir, 'trace.jsonl') },
        // Frame k's outputs are counted as frame k + 1 is recorded: a period after its deadline, late ones in.
        onFrame: (record) => {
          const at = performance.now();
          const lateMs = recordedAt > 0 ? Math.max(0, at - recordedAt - 1000 / topology.frameRateHz) : 0;
          recordedAt = at;
          const frame = record.frame - 1;
          const a = frame >= 0 ? loop?.outputArrivalMs(frame) : undefined;
          if (a !== undefined) arrivals.set(frame, a.length);
          if (arrivals.size > MAX_ARRIVALS) arrivals.delete(arrivals.keys().next().value!);
          if (previous !== undefined) {
            counted.frames++;
            const cause = classify(counted, previous, recovery, arrivals, topology.f + 1);
            if (cause !== undefined && missed.length < MAX_MISSED_LOGGED)
              missed.push({
                frame: previous.frame,
                t: previous.t,
                cause,
                outputs: arrivals.get(previous.frame) ?? 0,
                missing: previous.channels.flatMap((v, i) => (v === null ? [i] : [])),
                view: previous.view,
                rigLateMs: Math.round(previousLateMs * 10) / 10,
              });
          }
          previous = record;
          previousLateMs = lateMs;
          o.onFrame?.(record);
        },
        onStarted: () => {
          scheduler.begin();
          // The voter's board gets the scheduling `triplex sim --processes` gives it (where permitted): the
          // board processes ask for real-time scheduling themselves, and a voter at ordinary priority behind
          // them sees every output late. The rig's priority, above the boards' (ROLE_PRIORITY): its input
          // units' samples are what every frame's ordering waits for.
          const scheduling = requestRealtime(ROLE_PRIORITY.rig);
          if (scheduling.how === 'chrt')
            governor = RealtimeGovernor.start(logger, { restore: ROLE_PRIORITY.rig });
          recovery = new ProcessRecovery({
            ...(o.recovery ?? {}),
            topology,
            scheduler,
            processes: cluster,
            local: loop!,
            counters: loop!.counters,
            logger,
          });
          recovery.start();
          during?.(run);
        },
        loop: (callbacks) => {
          loop = new ProcessLoop({
            ...callbacks,
            topology,
            transport,
            scheduler,
            keys,
            logger,
            seed: o.seed,
            remote: cluster,
            recovery: { keys },
          });
          return loop;
        },
      });
      try {
        return await rig.run();
      } finally {
        governor?.stop();
        governor = undefined;
        recovery?.stop();
        await rig.system.close();
      }
    },
    close: () => cluster.close(2000),
  };
  return run;
}

/**
 * - proactive, crash: fewer than f+1 authentic outputs of the frame ever reached the voter's board while a
 *   restart of that cause was in progress (the restart cost the frame);
 * - afterRestart: too few outputs within RESTART_SETTLE_MS after a restart rejoined (ordering settling after
 *   the rejoin, a view change it set off: still the restart's cost);
 * - late: f+1 or more arrived, after the deadline (the shared host or a link was slow; `lateInRestart` of them
 *   while some restart was in progress or settling);
 * - other: too few outputs, no restart in progress or settling.
 */
export interface MissesByCause {
  proactive: number;
  crash: number;
  afterRestart: number;
  late: number;
  lateInRestart: number;
  other: number;
}

export type MissCause = Exclude<keyof MissesByCause, 'lateInRestart'>;

export interface MissedFrame {
  readonly frame: number;
  /** Flight time, s. */
  readonly t: number;
  readonly cause: MissCause;
  /** Authentic outputs that reached the voter's board (any time). */
  readonly outputs: number;
  /** Channel slots whose output was not in time. */
  readonly missing: readonly number[];
  readonly view: number;
  /** How late past a frame period the rig recorded this frame (its own event loop), ms. */
  readonly rigLateMs: number;
}

/** The phases of one restart, in order (restartBreakdown): what a missed frame inside each is charged to. */
export const RESTART_PHASES = [
  'loading',
  'handover',
  'stopping',
  'linksUp',
  'replica',
  'channel',
  'settle',
] as const;
export type RestartPhaseName = (typeof RESTART_PHASES)[number];

export interface RestartBreakdown {
  readonly board: string;
  readonly cause: string;
  /** Flight time the restart began, s. */
  readonly atS: number;
  /** When each phase ended, ms after the restart began (loading: the new process loaded and warm; handover:
   * the planned view change done; stopping: the old process exited; linksUp: the new one's links up; replica:
   * the replica counted again (keys, state transfer, executed past the point); channel: the rest counted again
   * (rebuilt, in time at the voter); settle: RESTART_SETTLE_MS later). */
  readonly endsMs: Partial<Record<RestartPhaseName, number>>;
  /** Frames missed in each phase, by cause. */
  readonly misses: Partial<Record<RestartPhaseName, Partial<Record<MissCause, number>>>>;
  /** Missed frames in the restart by the channel slots missing (e.g. '1': only c1 not in time). */
  readonly missing: Record<string, number>;
}

/**
 * Per restart, when each of its phases ended and the frames missed in each (by cause): where a restart loses
 * frames. Frames missed outside every restart's span are not in it.
 */
export function restartBreakdown(
  recovery: ProcessRecovery,
  missed: readonly MissedFrame[],
): RestartBreakdown[] {
  const out: RestartBreakdown[] = [];
  for (const r of recovery.report().records) {
    const p = recovery.phasesOf(r);
    const roles = r.roles.map((x) => x.rejoinedAtMs).filter((x): x is number => x !== undefined);
    const replica = r.roles.find((x) => x.kind === 'replica')?.rejoinedAtMs;
    const ends: Partial<Record<RestartPhaseName, number>> = {
      ...(p.loaded !== undefined ? { loading: p.loaded } : {}),
      ...(p.handedOver !== undefined ? { handover: p.handedOver } : {}),
      ...(p.stopped !== undefined ? { stopping: p.stopped } : {}),
      ...(p.ready !== undefined ? { linksUp: p.ready } : {}),
      ...(replica !== undefined ? { replica } : {}),
      ...(r.rejoinedAtMs !== undefined ? { channel: r.rejoinedAtMs } : {}),
      ...(r.rejoinedAtMs !== undefined ? { settle: r.rejoinedAtMs + RESTART_SETTLE_MS } : {}),
    };
    if (roles.length === 0 && r.rejoinedAtMs === undefined && p.ready === undefined) continue;
    const from = r.startedAtMs;
    const endsMs: Partial<Record<RestartPhaseName, number>> = {};
    for (const ph of RESTART_PHASES) if (ends[ph] !== undefined) endsMs[ph] = Math.round(ends[ph]! - from);
    const misses: RestartBreakdown['misses'] = {};
    const missing: Record<string, number> = {};
    const last = r.rejoinedAtMs !== undefined ? r.rejoinedAtMs + RESTART_SETTLE_MS : Number.POSITIVE_INFINITY;
    for (const m of missed) {
      const ms = m.t * 1000;
      if (ms < from || ms > last) continue;
      let phase: RestartPhaseName | undefined;
      for (const ph of RESTART_PHASES) {
        const end = ends[ph];
        if (end !== undefined && ms <= end) {
          phase = ph;
          break;
        }
      }
      // Past every phase known so far: the restart is in the next one.
      phase ??= RESTART_PHASES[Math.min(lastKnown(ends) + 1, RESTART_PHASES.length - 1)]!;
      const bucket = misses[phase] ?? {};
      misses[phase] = bucket;
      bucket[m.cause] = (bucket[m.cause] ?? 0) + 1;
      const key = m.missing.length === 0 ? 'none' : m.missing.join('+');
      missing[key] = (missing[key] ?? 0) + 1;
    }
    out.push({ board: r.board, cause: r.cause, atS: Math.round(from) / 1000, endsMs, misses, missing });
  }
  return out;
}

/** Index of the last phase whose end is known (-1: none). */
function lastKnown(ends: Partial<Record<RestartPhaseName, number>>): number {
  let i = -1;
  for (const [j, ph] of RESTART_PHASES.entries()) if (ends[ph] !== undefined) i = j;
  return i;
}

/** Sums the breakdowns' misses per phase and cause, and the median end of each phase (ms after the begin). */
export function breakdownTotals(list: readonly RestartBreakdown[]): {
  misses: Partial<Record<RestartPhaseName, Partial<Record<MissCause, number>>>>;
  medianEndsMs: Partial<Record<RestartPhaseName, number>>;
} {
  const misses: Partial<Record<RestartPhaseName, Partial<Record<MissCause, number>>>> = {};
  const medianEndsMs: Partial<Record<RestartPhaseName, number>> = {};
  for (const ph of RESTART_PHASES) {
    const ends = list
      .map((b) => b.endsMs[ph])
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    if (ends.length > 0) medianEndsMs[ph] = ends[Math.floor(ends.length / 2)]!;
    for (const b of list)
      for (const [c, n] of Object.entries(b.misses[ph] ?? {})) {
        const bucket = misses[ph] ?? {};
        misses[ph] = bucket;
        bucket[c as MissCause] = (bucket[c as MissCause] ?? 0) + n;
      }
  }
  return { misses, medianEndsMs };
}

/**
 * How long after a rejoin a lost frame is still the restart's (ms): past the view-change timeout of the test
 * configs (25 frames at 10 Hz), so a view change the rejoin set off is charged to it.
 */
export const RESTART_SETTLE_MS = 3000;

/** Missed frames logged by a run (a few minutes at 100 Hz with every frame lost). */
const MAX_MISSED_LOGGED = 20_000;

function noMisses(): MissesByCause {
  return { proactive: 0, crash: 0, afterRestart: 0, late: 0, lateInRestart: 0, other: 0 };
}

/** Frames not written, by cause (see MissesByCause); `arrivals`: authentic outputs per frame, any time. */
export function missesByCause(
  frames: readonly FrameRecord[],
  recovery: ProcessRecovery | undefined,
  arrivals: ReadonlyMap<number, number>,
  quorum: number,
): MissesByCause {
  const out = noMisses();
  for (const f of frames) classify(out, f, recovery, arrivals, quorum);
  return out;
}

/** Counts a frame not written under its cause (returned; undefined for a frame written). */
function classify(
  out: MissesByCause,
  f: FrameRecord,
  recovery: ProcessRecovery | undefined,
  arrivals: ReadonlyMap<number, number>,
  quorum: number,
): MissCause | undefined {
  if (f.outcome === 'write') return undefined;
  const ms = f.t * 1000;
  const during = recovery?.restartingAt(ms);
  const near = recovery?.restartNear(ms, RESTART_SETTLE_MS);
  const cause: MissCause =
    (arrivals.get(f.frame) ?? 0) >= quorum
      ? 'late'
      : during === 'proactive'
        ? 'proactive'
        : during === 'crash' || during === 'latched'
          ? 'crash'
          : near !== undefined
            ? 'afterRestart'
            : 'other';
  out[cause]++;
  if (cause === 'late' && near !== undefined) out.lateInRestart++;
  return cause;
}

/** Frames whose output count is kept (a soak's minute at 100 Hz is 6000). */
const MAX_ARRIVALS = 1 << 16;
