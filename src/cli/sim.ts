/**
 * `triplex sim` (also `npm start`): the simulated laptop mode. Flies the default scenario on the in-memory
 * transport with real timers, shows a live status, then writes a report folder (summary.json, trace.csv,
 * report.html, triplex.log). Exit code 0 only if every scenario assertion held.
 *
 * `--processes`: the same scenario with every board but the voter's as its own `triplex node` process, joined by
 * socat pseudo-terminal pairs (`--link serial`, a serial mesh) or the emulated CAN bus (`--link can`); this
 * process runs the voter's board and the rig. Children are killed on every exit path.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import pino from 'pino';
import { Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario, type Scenario } from '../../hil/scenario.ts';
import type { Transport } from '../io/transport.ts';
import { ConfigError, loadTopology, type Topology } from '../runtime/config.ts';
import type { BoardKeys } from '../runtime/loop/keys.ts';
import { BoardControlLoop, rigBoard } from '../runtime/node/board-loop.ts';
import { type ClusterLink, ProcessCluster } from '../runtime/node/cluster.ts';
import type { ControlLoopFactory } from '../runtime/node/control-loop.ts';
import { loadBoardKeys } from '../runtime/node/keys.ts';
import { createBoardTransport } from '../runtime/node/transports.ts';
import type { FrameRecord } from '../runtime/report/trace.ts';
import { writeReport } from '../runtime/report/write.ts';
import { RealScheduler, VirtualScheduler } from '../runtime/scheduler.ts';
import { type ChannelHealth, StatusDisplay } from '../runtime/status.ts';
import { LOG_LEVELS, numberOption } from './args.ts';

const HELP = `usage: triplex sim [options]
  --config FILE      topology (default config/laptop.json)
  --duration S       seconds of flight (default 20)
  --rate HZ          frame rate, overrides the config's frameRateHz
  --seed N           seed of sensors, link delays and faults (default 1)
  --out DIR          report folder (default reports/sim-<time>)
  --json             print the summary as JSON instead of text
  --log-level LEVEL  pino level of the log file in the report folder (default info)
  --no-status        no live status display
  --processes        each board but the voter's in its own process (triplex node), joined by
                     pseudo-terminals (needs socat); default config: config/serial-mesh.json
  --link serial|can  with --processes: a socat serial mesh (default) or the emulated CAN bus
                     (default config config/can-bus.json)
  --no-pace          with --processes: serial writes not paced at the baud rate (ptys are instant)`;

interface SimArgs {
  config: string;
  duration: number;
  rate: number | undefined;
  seed: number;
  out: string;
  json: boolean;
  logLevel: string;
  status: boolean;
  processes: boolean;
  link: ClusterLink | undefined;
  pace: boolean;
}

function parse(argv: string[]): SimArgs | string {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        'log-level': { type: 'string' },
        'no-status': { type: 'boolean' },
        processes: { type: 'boolean' },
        link: { type: 'string' },
        'no-pace': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return (e as Error).message;
  }
  if (values.help) return '';
  const num = (name: string, fallback: number | undefined, min: number): number | undefined | string =>
    numberOption(values[name], name, fallback, min);
  const duration = num('duration', 20, 0.1);
  const rate = num('rate', undefined, 1);
  const seed = num('seed', 1, 0);
  for (const x of [duration, rate, seed]) if (typeof x === 'string') return x;
  const level = (values['log-level'] as string | undefined) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    return `--log-level must be one of ${LOG_LEVELS.join(', ')}; got '${level}'`;
  }
  const processes = values.processes === true;
  const link = values.link as string | undefined;
  if (link !== undefined && !processes) return '--link needs --processes';
  if (values['no-pace'] === true && !processes) return '--no-pace needs --processes';
  if (link !== undefined && link !== 'serial' && link !== 'can')
    return `--link must be serial or can, got '${link}'`;
  const defaultConfig = !processes
    ? 'config/laptop.json'
    : link === 'can'
      ? 'config/can-bus.json'
      : 'config/serial-mesh.json';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    processes,
    link,
    pace: values['no-pace'] !== true,
    config: (values.config as string | undefined) ?? defaultConfig,
    duration: duration as number,
    rate: rate as number | undefined,
    seed: seed as number,
    out: resolve((values.out as string | undefined) ?? join('reports', `sim-${stamp}`)),
    json: values.json === true,
    logLevel: level,
    status: values['no-status'] !== true,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function latencyStats(frames: readonly FrameRecord[]): { p50: number; p99: number; max: number } {
  const xs = frames
    .map((f) => f.latencyMs)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  return { p50: percentile(xs, 0.5), p99: percentile(xs, 0.99), max: xs.at(-1) ?? Number.NaN };
}

interface HostTiming {
  /** Event-loop delay of this process, ms: a stall here delays every role at once (GC, a busy machine). */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly cpuSeconds: number;
}

function summarize(
  args: FlyOptions,
  topo: Topology,
  rig: Rig,
  result: RigResult,
  wallS: number,
  host: HostTiming,
): Record<string, unknown> {
  const frames = result.trace.frames;
  const count = (k: string): number => frames.filter((f) => f.outcome === k).length;
  const lat = latencyStats(frames);
  const round = (x: number): number => Number(x.toFixed(3));
  return {
    passed: result.passed,
    scenario: rig.scenarioName,
    config: topo.file,
    seed: args.seed,
    frameRateHz: topo.frameRateHz,
    framesFlown: result.frames,
    framesPlanned: rig.totalFrames,
    stoppedEarly: result.stoppedEarly,
    wallSeconds: round(wallS),
    voter: { write: count('write'), hold: count('hold'), failsafe: count('failsafe') },
    latencyMs: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max) },
    finalView: frames.at(-1)?.view ?? 0,
    host,
    faultBudget: topo.budget.summary,
    assertions: result.assertions,
    counters: rig.system.counters.toJSON(),
    replay: args.replay,
  };
}

/** What a flight needs besides the topology: shared by `triplex sim` (both modes) and `triplex node --rig`. */
export interface FlyOptions {
  /** The command's name in messages (`triplex sim`). */
  readonly command: string;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly out: string;
  readonly json: boolean;
  readonly status: boolean;
  readonly logger: Logger;
  readonly logFile: string;
  /** The command line that replays this run. */
  readonly replay: string;
  /** The loop to close (default: every board in this process). */
  readonly loop?: (scheduler: RealScheduler) => ControlLoopFactory;
  /** Called after the flight and the loop's close: summary fields to add (board processes' statistics). */
  readonly afterFlight?: () => Promise<Record<string, unknown>>;
}

export async function simCommand(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (typeof args === 'string') {
    if (args === '') {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    process.stderr.write(`triplex sim: ${args}\n${HELP}\n`);
    return 2;
  }
  let topo: Topology;
  try {
    topo = loadTopology(args.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`triplex sim: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (args.rate !== undefined) topo = { ...topo, frameRateHz: args.rate };
  mkdirSync(args.out, { recursive: true });
  const logFile = join(args.out, 'triplex.log');
  const logger = pino({ level: args.logLevel }, pino.destination({ dest: logFile, sync: false }));
  const replay =
    `npm start -- --config ${args.config} --duration ${args.duration} --seed ${args.seed}` +
    `${args.rate ? ` --rate ${args.rate}` : ''}${args.processes ? ` --processes --link ${linkOf(args, topo)}${args.pace ? '' : ' --no-pace'}` : ''}`;
  const fly: FlyOptions = {
    command: 'triplex sim',
    scenario: defaultScenario(args.duration, 'primary'),
    seed: args.seed,
    out: args.out,
    json: args.json,
    status: args.status,
    logger,
    logFile,
    replay,
  };
  if (!args.processes) return await flyScenario(topo, fly);
  return await flyProcesses(args, topo, fly);
}

/** The link kind of a process run: --link, else the config's own (serial or can), else serial. */
function linkOf(args: SimArgs, topo: Topology): ClusterLink {
  if (args.link !== undefined) return args.link;
  return topo.links.some((l) => l.type === 'can') ? 'can' : 'serial';
}

/**
 * `--processes`: board processes on pty links, the voter's board and the rig here. The children are killed on
 * every way out: normal end, a thrown error, and Ctrl-C (the rig stops, then the cluster closes).
 */
async function flyProcesses(args: SimArgs, topo: Topology, fly: FlyOptions): Promise<number> {
  const link = linkOf(args, topo);
  const workDir = mkdtempSync(join(tmpdir(), 'triplex-sim-'));
  let cluster: ProcessCluster | undefined;
  // Ctrl-C while the boards start: they get the signal too and exit, the start fails, `finally` cleans up.
  const duringStart = (): void => {};
  process.once('SIGINT', duringStart);
  try {
    let setup: { running: ProcessCluster; keys: BoardKeys; transport: Transport; local: string };
    try {
      const local = rigBoard(topo);
      if (args.status)
        process.stderr.write(`starting ${topo.boards.length - 1} board processes (${link})...\n`);
      cluster = await ProcessCluster.start({
        topology: topo,
        link,
        localBoard: local,
        workDir,
        logDir: args.out,
        logLevel: args.logLevel,
        seed: args.seed,
        logger: fly.logger,
        pace: args.pace,
      });
      const keys = await loadBoardKeys(cluster.keysDir, cluster.topology, local);
      const transport = createBoardTransport(cluster.topology, local, { pace: args.pace });
      setup = { running: cluster, keys, transport, local };
    } catch (e) {
      process.stderr.write(`triplex sim: ${(e as Error).message}\n`);
      return 2;
    } finally {
      process.off('SIGINT', duringStart);
    }
    const { running, keys, transport, local } = setup;
    return await flyScenario(running.topology, {
      ...fly,
      loop: (scheduler) => (callbacks) =>
        new BoardControlLoop({
          ...callbacks,
          topology: running.topology,
          transport,
          scheduler,
          keys,
          logger: fly.logger,
          seed: args.seed,
          remote: running,
        }),
      afterFlight: async () => {
        await running.close();
        const statuses = running.statuses();
        return {
          processes: { link, config: args.config, local, boards: running.boards },
          links: { [local]: transport.stats(), ...linkStatsOf(statuses) },
          boardCounters: countersOf(statuses),
        };
      },
    });
  } finally {
    await cluster?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function linkStatsOf(statuses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(statuses).map(([b, s]) => [b, (s as { link?: unknown }).link ?? 'exited']),
  );
}

function countersOf(statuses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(statuses).map(([b, s]) => [b, (s as { counters?: unknown }).counters ?? 'exited']),
  );
}

/** Flies `fly.scenario` on real timers with the live status, writes the report; the exit code of the run. */
export async function flyScenario(topo: Topology, fly: FlyOptions): Promise<number> {
  const { logger, scenario } = fly;
  await warmUp(topo, logger);
  // After the warm-up: the real clock (and so frame 0) starts now.
  const scheduler = new RealScheduler();
  const display = new StatusDisplay(process.stderr, () => scheduler.now());
  const channelNames = topo.channels.map((c) => `c${c.id} (${c.impl})`);
  const rig = new Rig({
    topology: topo,
    scheduler,
    scenario,
    seed: fly.seed,
    logger,
    ...(fly.loop ? { loop: fly.loop(scheduler) } : {}),
    onFrame: (rec, r) => {
      if (!fly.status) return;
      const recent = r.trace.frames.slice(-500);
      const lat = latencyStats(recent);
      const health = r.system.voterHealth();
      display.update({
        frame: rec.frame + 1,
        totalFrames: r.totalFrames,
        t: rec.t,
        view: rec.view,
        primary: rec.primary,
        channels: topo.channels.map((c, i) => ({
          name: `c${c.id}`,
          health: channelHealth(health[i], r.system.channelRunning(c.id)),
        })),
        writes: r.trace.frames.filter((f) => f.outcome === 'write').length,
        holds: r.trace.frames.filter((f) => f.outcome === 'hold').length,
        failsafes: r.trace.frames.filter((f) => f.outcome === 'failsafe').length,
        latencyP50Ms: lat.p50,
        latencyP99Ms: lat.p99,
        theta: rec.theta,
        reference: rec.reference,
        ...(r.trace.events.length > 0
          ? { lastEvent: `${r.trace.events.at(-1)!.kind}: ${r.trace.events.at(-1)!.detail}` }
          : {}),
      });
    },
  });
  logger.info(
    { config: topo.file, seed: fly.seed, scenario: scenario.name, budget: topo.budget.summary },
    `${fly.command} start`,
  );
  const onSignal = (): void => rig.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let result: RigResult;
  try {
    result = await rig.run();
  } finally {
    loopDelay.disable();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const cpu = process.cpuUsage(cpuStart);
  const ms = (ns: number): number => Number((ns / 1e6).toFixed(3));
  const host: HostTiming = {
    eventLoopDelayMs: {
      p50: ms(loopDelay.percentile(50)),
      p99: ms(loopDelay.percentile(99)),
      max: ms(loopDelay.max),
    },
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  };
  const wallS = (performance.now() - started) / 1000;
  await rig.system.close();
  const extra = fly.afterFlight ? await fly.afterFlight() : {};
  const summary = { ...summarize(fly, topo, rig, result, wallS, host), ...extra };
  const files = writeReport(
    fly.out,
    `${fly.command}: ${scenario.description}`,
    summary,
    result.trace,
    channelNames,
  );
  logger.info({ passed: result.passed }, `${fly.command} end`);
  logger.flush();
  if (fly.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, report: files }, null, 2)}\n`);
  } else {
    const lines = [
      '',
      `${fly.command}: ${result.passed ? 'PASSED' : 'FAILED'}  (${result.frames}/${rig.totalFrames} frames at ${topo.frameRateHz} Hz, seed ${fly.seed})`,
      ...result.assertions.map((a) => `  ${a.passed ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`),
      `  voter: ${JSON.stringify(summary.voter)}  latency ms: ${JSON.stringify(summary.latencyMs)}`,
      `  host: event-loop delay ms ${JSON.stringify(host.eventLoopDelayMs)}, cpu ${host.cpuSeconds} s`,
      `  report: ${files.html}`,
      `          ${files.summary}, ${files.csv}, ${fly.logFile}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return result.passed ? 0 : 1;
}

/**
 * Flies a throwaway copy of the system for a few hundred frames under virtual time before the real-time run, so
 * the first real frames do not pay for JIT compilation (cold frames took 20-40 ms here and were missed).
 */
async function warmUp(topo: Topology, logger: pino.Logger): Promise<void> {
  const scheduler = new VirtualScheduler();
  const scenario = { ...defaultScenario(3, 'backup'), name: 'warm-up', events: [] };
  const rig = new Rig({
    topology: topo,
    scheduler,
    scenario,
    seed: 0,
    logger: logger.child({ phase: 'warm-up' }, { level: 'silent' }),
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.2 },
  });
  await rig.runVirtual((t) => scheduler.runUntil(t));
  await rig.system.close();
}

function channelHealth(
  h: { latched: boolean; strikes: number; probation: number; consecutiveSilent: number } | undefined,
  running: boolean,
): ChannelHealth {
  if (!running) return 'down';
  if (h === undefined) return 'ok';
  if (h.latched) return h.probation > 0 ? 'probation' : 'latched';
  if (h.consecutiveSilent > 2) return 'silent';
  if (h.strikes > 0) return 'striking';
  return 'ok';
}
