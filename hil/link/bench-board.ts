/**
 * `triplex hil board`: one board as its own process on its real links, as `triplex node` runs it, that also
 * answers the rig protocol's HELLO (docs/RIG-PROTOCOL.md), so the rig's discovery finds it as real hardware. This
 * is what a bench board runs until `triplex node` wraps its transport with `answerRigHello` itself.
 *
 * Exit codes: 0 stopped cleanly, 2 bad config, key files or a missing port.
 */
import pino from 'pino';
import { ConfigError, loadTopology } from '../../src/runtime/config.ts';
import { KeyFileError } from '../../src/runtime/keyfiles.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { loadBoardKeys } from '../../src/runtime/node/keys.ts';
import { Node } from '../../src/runtime/node/node.ts';
import { createBoardTransport } from '../../src/runtime/node/transports.ts';
import { warmUp } from '../../src/runtime/node/warm-up.ts';
import { RealScheduler } from '../../src/runtime/scheduler.ts';
import { answerRigHello } from './hello.ts';

export interface BenchBoardArgs {
  readonly config: string;
  readonly board: string;
  readonly keys: string;
  readonly logLevel: string;
  readonly logFile: string | undefined;
  readonly seed: number;
  readonly pace: boolean;
}

export async function runBenchBoard(a: BenchBoardArgs, fail: (message: string) => number): Promise<number> {
  let prepared: Awaited<ReturnType<typeof prepare>>;
  try {
    prepared = await prepare(a);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof KeyFileError) return fail(e.message);
    throw e;
  }
  const { topology, keys, transport } = prepared;
  const dest = a.logFile
    ? pino.destination({ dest: a.logFile, sync: false, mkdir: true })
    : pino.destination(2);
  const logger = pino({ level: a.logLevel, base: { board: a.board, pid: process.pid } }, dest);
  await warmUp(topology);
  const scheduler = new RealScheduler();
  const rigCounters = new Counters();
  const answering = answerRigHello(transport, {
    topology,
    board: a.board,
    keys,
    counters: rigCounters,
    now: () => scheduler.now(),
  });
  const node = new Node({
    topology,
    board: a.board,
    transport: answering,
    scheduler,
    keys,
    logger,
    seed: a.seed,
    statusEveryMs: 10_000,
  });
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stop = r;
  });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.send !== undefined) {
    node.attachParent(process, 1000, stop);
    process.once('disconnect', stop);
  }
  await node.start();
  logger.info({ config: topology.file }, 'bench board started (answers the rig hello)');
  await stopped;
  await node.close();
  logger.info({ rig: rigCounters.toJSON() }, 'rig protocol');
  logger.flush();
  if (process.connected) process.disconnect();
  return 0;
}

async function prepare(a: BenchBoardArgs) {
  const topology = loadTopology(a.config);
  if (!topology.boards.some((b) => b.name === a.board)) {
    throw new ConfigError(
      topology.file,
      'boards',
      `no board named '${a.board}' (have ${topology.boards.map((b) => b.name).join(', ')})`,
    );
  }
  const keys = await loadBoardKeys(a.keys, topology, a.board);
  const transport = createBoardTransport(topology, a.board, { pace: a.pace });
  return { topology, keys, transport };
}
