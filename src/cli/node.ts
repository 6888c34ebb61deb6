/**
 * `triplex node --config FILE --board NAME`: the roles of one board as a process of its own, on the board's real
 * links (serial mesh, CAN bus, UDP). With `--rig emulated` on the board that hosts the voter and the input units,
 * the emulated HIL rig (plant, sensors, actuator) runs in this process and flies the default scenario, writing a
 * report like `triplex sim` when given `--out`.
 *
 * Exit codes: 0 stopped cleanly (or, with --rig, every assertion held), 1 the scenario failed, 2 bad command
 * line, config, key files or a missing port.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { defaultScenario, type Scenario } from '../../hil/scenario.ts';
import type { Transport } from '../io/transport.ts';
import { ConfigError, loadTopology, type Topology } from '../runtime/config.ts';
import { KeyFileError } from '../runtime/keyfiles.ts';
import { Counters } from '../runtime/loop/counters.ts';
import type { BoardKeys } from '../runtime/loop/keys.ts';
import { type FromBoard, parseToBoard } from '../runtime/node/ipc.ts';
import { loadBoardKeys } from '../runtime/node/keys.ts';
import { Node } from '../runtime/node/node.ts';
import { ProcessLoop, rigBoard } from '../runtime/node/process-loop.ts';
import { createBoardTransport } from '../runtime/node/transports.ts';
import { warmUp } from '../runtime/node/warm-up.ts';
import { recoveryEnv } from '../runtime/recovery/env.ts';
import { WireKeys } from '../runtime/recovery/wire-keys.ts';
import { RealScheduler } from '../runtime/scheduler.ts';
import { checkFlightLength, EXIT, NODE_HELP, type NodeArgs, parseNodeArgs } from './args.ts';
import type { Interrupt } from './interrupt.ts';

function fail(message: string): number {
  process.stderr.write(`triplex node: ${message}\n`);
  return EXIT.usage;
}

interface Prepared {
  topology: Topology;
  keys: BoardKeys;
  transport: Transport;
  /** Proactive recovery on the wire (recovery in the config, or the parent's state directory). */
  recovery?: { keys: WireKeys; restart?: { recoveryPoint: number }; counters: Counters };
  /** How often the status goes to the parent (the parent's recovery coordinator asks for more than 1 s). */
  ipcStatusMs?: number;
  /** Wait for the parent's go before opening the links (a restart, make-before-break). */
  holdLinks?: boolean;
}

/** Resolves at the parent's `go` (recovery: the process this one replaces has closed its links). */
function waitForGo(parent: NodeJS.Process): Promise<'go'> {
  return new Promise((resolve) => {
    const on = (raw: unknown): void => {
      if (parseToBoard(raw)?.type !== 'go') return;
      parent.off('message', on);
      resolve('go');
    };
    parent.on('message', on);
  });
}

/** Config, keys and transport: every way they can be wrong is a clear message and exit code 2. */
async function prepare(args: NodeArgs): Promise<Prepared | string> {
  try {
    const topology = loadTopology(args.config);
    if (!topology.boards.some((b) => b.name === args.board)) {
      return `${topology.file}: boards: no board named '${args.board}' (have ${topology.boards.map((b) => b.name).join(', ')})`;
    }
    if (args.rig) {
      const local = rigBoard(topology);
      if (local !== args.board) return `--rig runs on the voter's board '${local}', not '${args.board}'`;
    }
    const env = recoveryEnv(process.env);
    if (typeof env === 'string') return env;
    // Keys first (their errors name the key file), then the transport (a missing device).
    const bootKeys = await loadBoardKeys(args.keys, topology, args.board);
    const transport = createBoardTransport(topology, args.board, { pace: args.pace });
    const ipc = {
      ...(env.ipcStatusMs !== undefined ? { ipcStatusMs: env.ipcStatusMs } : {}),
      ...(env.holdLinks ? { holdLinks: true } : {}),
    };
    if (env.stateDir === undefined && topology.recovery.periodSeconds <= 0) {
      return { topology, keys: bootKeys, transport, ...ipc };
    }
    // Keys that rotate at every start of this process, NEW-KEY on the wire (src/runtime/recovery/wire-keys.ts).
    const counters = new Counters();
    const scheduler = new RealScheduler();
    const keys = await WireKeys.load({
      topology,
      board: args.board,
      keysDir: args.keys,
      ...(env.stateDir !== undefined ? { stateDir: env.stateDir } : {}),
      counters,
      now: () => scheduler.now(),
      ...(env.recoveryPoint !== undefined ? { recoveryPoint: env.recoveryPoint } : {}),
    });
    const rotated = Object.values(keys.epochs().own).some((e) => e > 0);
    const restart =
      env.recoveryPoint !== undefined || rotated ? { recoveryPoint: env.recoveryPoint ?? 0 } : undefined;
    return {
      topology,
      keys,
      transport,
      recovery: { keys, counters, ...(restart ? { restart } : {}) },
      ...ipc,
    };
  } catch (e) {
    if (e instanceof ConfigError || e instanceof KeyFileError) return e.message;
    throw e;
  }
}

function makeLogger(args: NodeArgs): Logger {
  const dest = args.logFile
    ? pino.destination({ dest: args.logFile, sync: false, mkdir: true })
    : pino.destination(2);
  return pino({ level: args.logLevel, base: { board: args.board, pid: process.pid } }, dest);
}

export async function nodeCommand(argv: string[], interrupt: Interrupt): Promise<number> {
  const args = parseNodeArgs(argv);
  if (typeof args === 'string') {
    if (args === '') {
      process.stdout.write(`${NODE_HELP}\n`);
      return EXIT.ok;
    }
    process.stderr.write(`triplex node: ${args}\n(triplex node --help lists the options)\n`);
    return EXIT.usage;
  }
  const prepared = await prepare(args);
  if (typeof prepared === 'string') return fail(prepared);
  if (args.rig) {
    const tooLong = checkFlightLength(args.duration, prepared.topology.frameRateHz);
    if (tooLong !== undefined) return fail(tooLong);
  }
  const logger = makeLogger(args);
  return args.rig
    ? await runRig(args, prepared, logger, interrupt)
    : await runBoard(args, prepared, logger, interrupt);
}

/** A board without the rig: runs until SIGTERM/SIGINT, or the parent's stop, or the parent going away. */
async function runBoard(args: NodeArgs, p: Prepared, logger: Logger, interrupt: Interrupt): Promise<number> {
  interrupt.finishing = "closing this board's roles and links";
  // Restarts too: a restarted board that flies cold code pays 20-40 ms a frame at first, in the frames where it
  // catches up (state transfer, its channel's rebuild) and the others wait for its messages. A proactive restart
  // warms up while the process it replaces still flies (its links are held until the parent's go).
  const warmMs = await warmUp(p.topology);
  logger.debug({ warmMs: Math.round(warmMs) }, 'warmed up');
  const node = new Node({
    topology: p.topology,
    board: args.board,
    transport: p.transport,
    scheduler: new RealScheduler(),
    keys: p.keys,
    logger,
    seed: args.seed,
    statusEveryMs: args.statusEveryS * 1000,
    ...(p.recovery
      ? {
          recovery: { keys: p.recovery.keys, ...(p.recovery.restart ? { restart: p.recovery.restart } : {}) },
          counters: p.recovery.counters,
        }
      : {}),
  });
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stop = r;
  });
  if (interrupt.signal.aborted) stop();
  interrupt.signal.addEventListener('abort', stop, { once: true });
  if (process.send !== undefined) {
    node.attachParent(process, p.ipcStatusMs ?? 1000, stop);
    process.once('disconnect', stop); // the parent died: do not fly on alone
  }
  if (p.holdLinks === true && process.send !== undefined) {
    // Make-before-break: loaded and keyed while the process it replaces still runs; the links (whose devices
    // that process still holds) open when the parent says go.
    const go = waitForGo(process);
    // Warmed up (above), then real-time scheduling and a full collection, all before 'loaded': after the go
    // the process only opens its links.
    node.takeRealtime();
    process.send({ type: 'loaded', board: args.board } satisfies FromBoard);
    if ((await Promise.race([go, stopped.then(() => 'stopped' as const)])) === 'stopped') {
      await node.close();
      logger.flush();
      if (process.connected) process.disconnect();
      return EXIT.ok;
    }
  }
  await node.start();
  logger.info({ config: p.topology.file, budget: p.topology.budget.summary }, 'board started');
  await stopped;
  await node.close();
  logger.flush();
  if (process.connected) process.disconnect();
  return EXIT.ok;
}

/** The voter's board with the emulated rig: flies the scenario and reports like `triplex sim`. */
async function runRig(args: NodeArgs, p: Prepared, logger: Logger, interrupt: Interrupt): Promise<number> {
  // Loaded here: a plain board process (the common case, and every child of `sim --processes`) starts faster
  // without the rig, the report and the charts.
  const { flyScenario, linkSampler } = await import('./fly.ts');
  const out = args.out ?? resolve(join('reports', `node-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  mkdirSync(out, { recursive: true });
  // No control path reaches the other boards from here: fly the pilot steps only, and say so.
  const full = defaultScenario(args.duration, 'backup');
  const scenario: Scenario = {
    ...full,
    name: 'pilot-steps',
    description: `${full.description.split(';')[0]} (bench: faults are injected on the boards, not from the rig)`,
    events: [],
  };
  return await flyScenario(p.topology, {
    command: 'triplex node',
    scenario,
    seed: args.seed,
    out,
    json: args.json,
    status: args.status,
    logger,
    logFile: args.logFile ?? '(stderr)',
    replay: `triplex node --config ${args.config} --board ${args.board} --rig emulated --duration ${args.duration} --seed ${args.seed}`,
    loop: (scheduler) => (callbacks) =>
      new ProcessLoop({
        ...callbacks,
        topology: p.topology,
        transport: p.transport,
        scheduler,
        keys: p.keys,
        logger,
        seed: args.seed,
      }),
    afterFlight: async () => ({ links: { [args.board]: p.transport.stats() } }),
    links: linkSampler(args.board, p.transport),
    remoteBoards: p.topology.boards.map((b) => b.name).filter((b) => b !== args.board),
    interrupt,
  });
}
