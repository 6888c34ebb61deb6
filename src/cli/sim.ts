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
import { join } from 'node:path';
import pino from 'pino';
import { defaultScenario } from '../../hil/scenario.ts';
import type { Transport } from '../io/transport.ts';
import { ConfigError, loadTopology, type Topology, voterImplProblem } from '../runtime/config.ts';
import { buildAsync, voterArtifact } from '../runtime/firmware/toolchain.ts';
import { Counters } from '../runtime/loop/counters.ts';
import { Fleet } from '../runtime/loop/fleet.ts';
import { plantPortsOf } from '../runtime/loop/ports.ts';
import { type ClusterLink, ProcessCluster } from '../runtime/node/cluster.ts';
import { inProcessLoop } from '../runtime/node/control-loop.ts';
import { loadBoardKeys } from '../runtime/node/keys.ts';
import { ProcessLoop, rigBoard } from '../runtime/node/process-loop.ts';
import { createBoardTransport } from '../runtime/node/transports.ts';
import { ProcessRecovery } from '../runtime/recovery/process-recovery.ts';
import { recoveryStatusLine, recoverySummary } from '../runtime/recovery/summary.ts';
import { WireKeys } from '../runtime/recovery/wire-keys.ts';
import { checkFlightLength, EXIT, parseSimArgs, SIM_HELP, type SimArgs } from './args.ts';
import { type FlyOptions, flyScenario, linkSampler } from './fly.ts';
import type { Interrupt } from './interrupt.ts';

export async function simCommand(argv: string[], interrupt: Interrupt): Promise<number> {
  const args = parseSimArgs(argv);
  if (typeof args === 'string') {
    if (args === '') {
      process.stdout.write(`${SIM_HELP}\n`);
      return EXIT.ok;
    }
    process.stderr.write(`triplex sim: ${args}\n(triplex sim --help lists the options)\n`);
    return EXIT.usage;
  }
  let topo: Topology;
  try {
    topo = loadTopology(args.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`triplex sim: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  if (args.rate !== undefined) topo = { ...topo, frameRateHz: args.rate };
  if (args.voter !== undefined) topo = { ...topo, voterImpl: args.voter };
  const voterProblem = voterImplProblem(topo);
  if (voterProblem !== undefined) {
    process.stderr.write(`triplex sim: ${voterProblem}\n`);
    return EXIT.usage;
  }
  if (topo.voterImpl !== 'ts') {
    // Built before anything starts (board processes, the held clock): a fresh build took tens of seconds at
    // load 15, and the firmware voter's start then only boots it.
    try {
      await buildAsync(voterArtifact(topo.voterImpl));
    } catch (e) {
      process.stderr.write(`triplex sim: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
  }
  const tooLong = checkFlightLength(args.duration, topo.frameRateHz);
  if (tooLong !== undefined) {
    process.stderr.write(`triplex sim: ${tooLong}\n`);
    return EXIT.usage;
  }
  mkdirSync(args.out, { recursive: true });
  const logFile = join(args.out, 'triplex.log');
  const logger = pino({ level: args.logLevel }, pino.destination({ dest: logFile, sync: false }));
  const replay =
    `npm start -- --config ${args.config} --duration ${args.duration} --seed ${args.seed}` +
    `${args.rate ? ` --rate ${args.rate}` : ''}${args.voter ? ` --voter ${args.voter}` : ''}${args.processes ? ` --processes --link ${linkOf(args, topo)}${args.pace ? '' : ' --no-pace'}` : ''}`;
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
    interrupt,
  };
  if (!args.processes) return await flyScenario(topo, withRecovery(topo, fly, args.seed));
  return await flyProcesses(args, topo, fly);
}

/**
 * Laptop mode with the config's proactive recovery (src/runtime/recovery/laptop.ts) when its period is set:
 * the loop is built here so the status line and the summary can read the recoveries.
 */
function withRecovery(topo: Topology, fly: FlyOptions, seed: number): FlyOptions {
  if (topo.recovery.periodSeconds <= 0) return fly;
  let system: Fleet | undefined;
  return {
    ...fly,
    loop: (scheduler) => (ports) => {
      system = new Fleet({
        topology: topo,
        scheduler,
        seed,
        logger: fly.logger,
        recovery: {},
        ...plantPortsOf(ports),
      });
      return inProcessLoop(system);
    },
    recoveryStatus: () => (system?.recovery ? recoveryStatusLine(system.recovery.report()) : '-'),
    afterFlight: async () =>
      system?.recovery ? { recovery: recoverySummary(system.recovery.report()) } : {},
  };
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
  // Proactive recovery across the board processes (src/runtime/recovery/process-recovery.ts), from the config.
  const recoveryOn = topo.recovery.periodSeconds > 0;
  const keyCounters = new Counters();
  let recovery: ProcessRecovery | undefined;
  let cluster: ProcessCluster | undefined;
  // Ctrl-C while the boards start: they get the signal too and exit, the start fails, `finally` cleans up.
  fly.interrupt.finishing = 'stopping the board processes';
  try {
    let setup: { running: ProcessCluster; keys: WireKeys; transport: Transport; local: string };
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
        ...(recoveryOn ? { recovery: {} } : {}),
      });
      await loadBoardKeys(cluster.keysDir, cluster.topology, local); // the key files' checks, as a board does
      // The rig board's keys rotate with its roles' restarts (NEW-KEY on the wire) and follow the boards'.
      const keys = await WireKeys.load({
        topology: cluster.topology,
        board: local,
        keysDir: cluster.keysDir,
        ...(recoveryOn ? { stateDir: join(workDir, 'key-state') } : {}),
        counters: keyCounters,
        now: () => performance.now(),
      });
      const transport = createBoardTransport(cluster.topology, local, { pace: args.pace });
      setup = { running: cluster, keys, transport, local };
    } catch (e) {
      process.stderr.write(`triplex sim: ${(e as Error).message}\n`);
      return fly.interrupt.signal.aborted ? EXIT.interrupted : EXIT.usage;
    }
    const { running, keys, transport, local } = setup;
    return await flyScenario(running.topology, {
      ...fly,
      links: linkSampler(local, transport),
      remoteBoards: running.boards,
      remoteHost: () => running.takeHostReports(),
      loop: (scheduler) => (callbacks) => {
        const loop = new ProcessLoop({
          ...callbacks,
          topology: running.topology,
          transport,
          scheduler,
          keys,
          logger: fly.logger,
          seed: args.seed,
          remote: running,
          recovery: { keys },
        });
        if (recoveryOn) {
          // On the flight's held clock: the periods start when frame 0 does.
          recovery = new ProcessRecovery({
            topology: running.topology,
            scheduler,
            processes: running,
            local: loop,
            counters: loop.counters,
            logger: fly.logger,
          });
          recovery.start();
        }
        return loop;
      },
      ...(recoveryOn
        ? { recoveryStatus: () => (recovery ? recoveryStatusLine(recovery.report()) : '-') }
        : {}),
      afterFlight: async () => {
        recovery?.stop();
        const recovered = recovery ? { recovery: recoverySummary(recovery.report()) } : {};
        await running.close();
        const statuses = running.statuses();
        return {
          processes: { link, config: args.config, local, boards: running.boards },
          links: { [local]: transport.stats(), ...linkStatsOf(statuses) },
          boardCounters: countersOf(statuses),
          boardHosts: hostsOf(statuses),
          ...(running.hostReportsLost > 0 ? { hostReportsLost: running.hostReportsLost } : {}),
          ...recovered,
          ...(recoveryOn ? { keyCounters: keyCounters.toJSON(), restarts: running.starts } : {}),
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

function hostsOf(statuses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(statuses).map(([b, s]) => [b, (s as { host?: unknown }).host ?? 'no final status']),
  );
}

function countersOf(statuses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(statuses).map(([b, s]) => [b, (s as { counters?: unknown }).counters ?? 'exited']),
  );
}
