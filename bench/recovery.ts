/**
 * `npm run bench:recovery`: proactive recovery in the laptop mode (every board in this process), under the
 * default topology (config/laptop.json, n=4 m=3) and the closed-window one (config/closed-window.json, n=6
 * m=4). Prints one JSON object: per topology, restart-to-rejoined time p50/p99/max per role kind, state
 * transfer bytes, planned view changes, and frames missed (in total and during a scheduled restart).
 *
 * Options: --seconds S (flight per topology, default 3 recovery periods + 2 s), --seed N, --real (real timers
 * instead of the virtual clock; on a loaded machine host stalls then dominate), --period S (override).
 * Under the virtual clock the times are protocol times (seeded link delays of 0.05-0.6 ms, no CPU cost);
 * --real measures this host. --processes R adds the process mode (bench/soak-harness.ts: config/serial-mesh.json,
 * a board process per board on a pty mesh, restarted make-before-break) until every board restarted R times,
 * on real timers at --rate HZ (default 25): this host's numbers, process starts included. The n = 6, m = 4
 * topology is not run in process mode (seven processes on this machine).
 *
 * @example
 * npm run bench:recovery -- --seed 3
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Rig } from '../hil/rig.ts';
import type { Scenario } from '../hil/scenario.ts';
import { MAX_DURATION_S, type OptionSpecs, scriptOptions } from '../src/cli/args.ts';
import { FRAME_RATE_HZ, loadTopology, type Topology } from '../src/runtime/config.ts';
import { Fleet } from '../src/runtime/loop/fleet.ts';
import { plantPortsOf } from '../src/runtime/loop/ports.ts';
import { inProcessLoop } from '../src/runtime/node/control-loop.ts';
import { recoverySummary } from '../src/runtime/recovery/summary.ts';
import { RealScheduler, VirtualScheduler } from '../src/runtime/scheduler.ts';
import { startRecoveryRun } from './soak-harness.ts';

interface Args {
  seconds?: number;
  seed: number;
  real: boolean;
  period?: number;
  processes?: number;
  rate?: number;
}

const OPTIONS = {
  seconds: { type: 'number', min: 0.1, max: MAX_DURATION_S, unit: 's' },
  seed: { type: 'number', min: 0, max: 0xffff_ffff, integer: true },
  real: { type: 'boolean' },
  period: { type: 'number', min: 0.1, max: MAX_DURATION_S, unit: 's' },
  processes: { type: 'number', min: 1, max: 10_000, integer: true },
  rate: { type: 'number', min: FRAME_RATE_HZ.min, max: FRAME_RATE_HZ.max, unit: 'Hz' },
} as const satisfies OptionSpecs;

const USAGE = `usage: npm run bench:recovery [-- options]
  --seconds S      flight per topology (default 3 recovery periods + 2 s)
  --seed N         seed of the flights (default 1)
  --real           real timers instead of the virtual clock
  --period S       recovery period, overriding the topology's
  --processes R    add the process mode, until every board restarted R times
  --rate HZ        frame rate of the process mode (default 25)
exit codes: 0 done (the JSON on stdout), 1 a run failed, 2 bad options`;

function parse(argv: readonly string[]): Args {
  const v = scriptOptions(argv, OPTIONS, 'bench:recovery', USAGE);
  return {
    seconds: v.seconds,
    seed: v.seed ?? 1,
    real: v.real === true,
    period: v.period,
    processes: v.processes,
    rate: v.rate,
  };
}

async function measure(file: string, args: Args): Promise<Record<string, unknown>> {
  const topology: Topology = loadTopology(file);
  const period = args.period ?? topology.recovery.periodSeconds;
  const seconds = args.seconds ?? 3 * period + 2;
  const scenario: Scenario = {
    name: 'recovery-bench',
    description: 'pitch steps while every board restarts on the schedule',
    durationS: seconds,
    pilot: [
      { atS: 1, pitch: 0.2 },
      { atS: seconds / 2, pitch: -0.1 },
    ],
    events: [],
    maxConsecutiveMisses: 0,
  };
  const logger = pino({ level: 'silent' });
  const virtual = args.real ? undefined : new VirtualScheduler();
  const scheduler = virtual ?? new RealScheduler();
  const links = { minDelayMs: 0.05, maxDelayMs: 0.6 };
  let system: Fleet | undefined;
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed: args.seed,
    logger,
    ...(virtual ? { virtual: links } : {}),
    loop: (ports) => {
      system = new Fleet({
        topology,
        scheduler,
        seed: args.seed,
        logger,
        ...(virtual ? { virtual: links } : {}),
        recovery: { periodSeconds: period },
        ...plantPortsOf(ports),
      });
      return inProcessLoop(system);
    },
  });
  const started = performance.now();
  const result = virtual ? await rig.runVirtual((t) => virtual.runUntil(t)) : await rig.run();
  const wallMs = performance.now() - started;
  const report = system!.recovery!.report();
  const summary = recoverySummary(report);
  const frameMs = 1000 / topology.frameRateHz;
  const windows = report.records.map((r) => [r.startedAtMs, r.rejoinedAtMs ?? Number.POSITIVE_INFINITY]);
  const missed = result.trace.frames.filter((f) => f.outcome !== 'write');
  const duringRestart = missed.filter((f) =>
    windows.some(([a, b]) => f.frame * frameMs >= a! - frameMs && f.frame * frameMs <= b! + frameMs),
  );
  return {
    config: file,
    n: topology.replicas.length,
    m: topology.channels.length,
    periodS: period,
    flownS: seconds,
    frames: result.trace.frames.length,
    restarts: summary.restarts,
    perBoard: summary.perBoard,
    rejoinMsByRole: summary.rejoinMsByRole,
    plannedViewChanges: summary.handovers,
    handoverTimeouts: summary.handoverTimeouts,
    notRejoined: summary.notRejoined,
    stateTransferBytes: system!.counters.get('replica.state-reply-bytes'),
    framesMissed: missed.length,
    framesMissedDuringRestart: duringRestart.length,
    keysAllRotated: Object.values(report.keys).every((k) => k.oldestHeld === k.epoch),
    wallMs: Math.round(wallMs),
  };
}

/** Process mode: the board processes restarted until each did `rotations` times (real timers, this host). */
async function measureProcesses(rotations: number, args: Args): Promise<Record<string, unknown>> {
  const topology = { ...loadTopology('config/serial-mesh.json'), frameRateHz: args.rate ?? 25 };
  const dir = mkdtempSync(join(tmpdir(), 'triplex-bench-recovery-'));
  const wall = performance.now();
  const run = await startRecoveryRun({
    topology,
    seed: args.seed,
    workDir: dir,
    recovery: { periodSeconds: args.period ?? 10, restartSeconds: 1, handoverSeconds: 0.25 },
  });
  const remote = ['mon', 'b0', 'b1', 'b2'];
  try {
    const result = await run.fly(
      {
        name: 'recovery-bench-processes',
        description: 'pitch steps while the board processes restart',
        durationS: 600,
        pilot: [{ atS: 1, pitch: 0.2 }],
        events: [],
        maxConsecutiveMisses: 1_000_000,
      },
      (started) => {
        const check = setInterval(() => {
          const rep = started.recovery()?.report();
          const done = (b: string): boolean =>
            (rep?.records.filter((r) => r.board === b && r.rejoinedAtMs !== undefined).length ?? 0) >=
            rotations;
          if (rep !== undefined && remote.every(done)) {
            clearInterval(check);
            started.stop();
          }
        }, 500);
        check.unref();
      },
    );
    const report = run.recovery()!.report();
    const summary = recoverySummary(report);
    await run.close();
    const stateBytes = Object.values(run.cluster.statuses()).reduce(
      (sum, s) =>
        sum + ((s as { counters?: Record<string, number> }).counters?.['replica.state-reply-bytes'] ?? 0),
      0,
    );
    return {
      config: 'config/serial-mesh.json',
      mode: 'processes (a board process per board, pty serial mesh)',
      rateHz: topology.frameRateHz,
      frames: result.trace.frames.length,
      restarts: summary.restarts,
      perBoard: summary.perBoard,
      rejoinMsByRole: summary.rejoinMsByRole,
      plannedViewChanges: summary.handovers,
      handoverTimeouts: summary.handoverTimeouts,
      notRejoined: summary.notRejoined,
      processReadyMs: run.cluster.starts,
      stateTransferBytesLastProcesses: stateBytes,
      framesMissed: run.counted,
      keysAllRotated: Object.values(report.keys).every((k) => k.oldestHeld === k.epoch),
      load: loadavg().map((x) => Number(x.toFixed(2))),
      wallMs: Math.round(performance.now() - wall),
    };
  } finally {
    await run.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = parse(process.argv.slice(2));
const out = {
  bench: 'recovery',
  clock: args.real ? 'real' : 'virtual',
  mode: 'laptop (one process)',
  seed: args.seed,
  topologies: [await measure('config/laptop.json', args), await measure('config/closed-window.json', args)],
  ...(args.processes !== undefined ? { processes: await measureProcesses(args.processes, args) } : {}),
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
