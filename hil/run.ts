/**
 * One scenario, start to finish: discover the boards, choose the bench and the timing, fly the fault-free
 * reference when an assertion needs it, fly the scenario, and write its outputs (report folder with the board
 * and fault tables, MCAP recording, telemetry). The verdict comes from the assertions.
 *
 * Timing: `lockstep` flies every board emulated in this process under virtual time (bit-for-bit repeatable from
 * the seed) and refuses a bench where a board answered as real; `realtime` flies on real timers, with real boards
 * where discovery found them and emulated board processes for the rest; `auto` is lockstep unless a board is real.
 * The reference run is always lockstep and emulated: cheap, and the same every time.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Topology } from '../src/runtime/config.ts';
import type { FirmwareVoterBoardOptions } from '../src/runtime/firmware/voter-board.ts';
import { KeyFileError } from '../src/runtime/keyfiles.ts';
import type { BoardKeys } from '../src/runtime/loop/keys.ts';
import { loadBoardKeys } from '../src/runtime/node/keys.ts';
import { dropRealtime, RealtimeGovernor, requestRealtime } from '../src/runtime/node/realtime.ts';
import { warmUp } from '../src/runtime/node/warm-up.ts';
import type { FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import { VirtualScheduler } from '../src/runtime/scheduler.ts';
import type { BenchFactory, BoardInfo } from './bench/bench.ts';
import { type Discovery, discover } from './bench/discovery.ts';
import { EmulatedBench } from './bench/emulated.ts';
import { ProcessBench, ProcessBenchError, type ProcessBenchOptions } from './bench/process.ts';
import { runLockstep, WallClock } from './clock.ts';
import { writeMcap } from './output/mcap.ts';
import { type ScenarioOutcome, verdictOf } from './output/outcome.ts';
import { writeScenarioReport } from './output/report.ts';
import type { TelemetrySink } from './output/telemetry.ts';
import { Rig, type RigResult } from './rig.ts';
import type { LoadedScenario } from './scenario/load.ts';
import { rigBoardOf } from './scenario/targets.ts';
import type { Scenario } from './scenario.ts';

/** Seeded link delays of lockstep runs (ms): enough spread to shuffle message order, well inside a frame. */
export const LOCKSTEP_LINK = { minDelayMs: 0.05, maxDelayMs: 0.6 } as const;

export type Timing = 'lockstep' | 'realtime' | 'auto';

export interface RunOptions {
  readonly timing: Timing;
  /** Lockstep: pace virtual time at X x real time; realtime: fly X times faster than real time. */
  readonly speedup?: number;
  /** Root folder: the scenario's outputs go to `<out>/<name>/`. */
  readonly out: string;
  readonly logger: Logger;
  readonly telemetry?: TelemetrySink;
  readonly requireHardware: boolean;
  /** Key directory of a bench with real boards (what `triplex keys gen` wrote). */
  readonly keysDir?: string;
  /** Pace serial writes at the baud rate (realtime benches; ptys deliver instantly). */
  readonly pace: boolean;
  /** How long each board has to answer the rig hello (ms). */
  readonly probeTimeoutMs: number;
  /** Fault-free reference runs already flown, by key (a library shares them). */
  readonly references?: Map<string, Trace>;
  /** Aborted (Ctrl-C): a flight stops after its current frame; its report covers what was flown. */
  readonly signal?: AbortSignal;
  /** Progress lines for the console (per-board verdicts). */
  readonly say?: (line: string) => void;
}

/** A run that cannot start: a bench error, missing hardware, lockstep with a real board. Exit code 2. */
export class RunError extends Error {}

export async function runScenario(loaded: LoadedScenario, o: RunOptions): Promise<ScenarioOutcome> {
  const { scenario, topology } = loaded;
  const spec = scenario.spec!;
  const started = performance.now();
  const dir = join(o.out, scenario.name);
  mkdirSync(dir, { recursive: true });
  const keys = await rigKeys(topology, o.keysDir);
  const discovery = await discover(topology, {
    timeoutMs: o.probeTimeoutMs,
    pace: o.pace,
    ...(keys ? { keys } : {}),
  });
  const lockstepLikely =
    o.timing === 'lockstep' || (o.timing === 'auto' && !discovery.boards.some((b) => b.kind === 'real'));
  for (const b of discovery.boards)
    o.say?.(`  ${b.board.padEnd(6)} ${label(b.kind, lockstepLikely ? 'lockstep' : 'realtime')}: ${b.why}`);
  const timing = chooseTiming(discovery, o);
  const reference = needsReference(scenario) ? referenceRun(loaded, o) : undefined;
  const { result, boards } = await fly(loaded, timing, discovery, o, await reference, dir);
  const wallSeconds = (performance.now() - started) / 1000;
  const summary = {
    passed: result.passed,
    description: scenario.description,
    ...(spec.promise ? { promise: spec.promise } : {}),
    file: loaded.file,
    config: topology.file,
    voterImpl: topology.voterImpl,
    seed: spec.seed,
    frameRateHz: topology.frameRateHz,
    ...result.summary,
    boards,
    assertions: result.assertions,
    ...(timing === 'realtime' ? { wallSeconds: Number(wallSeconds.toFixed(3)) } : {}),
    ...(spec.knownIssue ? { knownIssue: spec.knownIssue } : {}),
    replay: `triplex hil run ${loaded.file} --config ${topology.file} --seed ${spec.seed} --${timing}${topology.voterImpl === 'ts' ? '' : ` --voter ${topology.voterImpl}`}`,
  };
  const channelNames = topology.channels.map((c) => `c${c.id} (${c.impl})`);
  const files = writeScenarioReport({
    dir,
    title: `triplex hil: ${scenario.name}: ${scenario.description}`,
    summary,
    trace: result.trace,
    channelNames,
    boards,
    faults: result.faults,
  });
  await writeMcap(
    join(dir, 'recording.mcap'),
    result.trace,
    result.extras,
    topology.channels.map((c) => `c${c.id}`),
    {
      scenario: scenario.name,
      seed: spec.seed,
      config: topology.file,
      timing,
      periodMs: 1000 / topology.frameRateHz,
    },
  );
  return {
    name: scenario.name,
    file: loaded.file,
    description: scenario.description,
    ...(spec.promise ? { promise: spec.promise } : {}),
    verdict: verdictOf(result.passed, spec.knownIssue),
    assertions: result.assertions,
    faults: result.faults,
    boards,
    timing,
    seed: spec.seed,
    frames: result.frames,
    wallSeconds,
    ...(spec.knownIssue ? { knownIssue: spec.knownIssue } : {}),
    dir,
    html: files.html,
  };
}

/** The rig board's keys from the bench's key directory, when there is one (to check the boards' hello MACs). */
async function rigKeys(t: Topology, dir: string | undefined): Promise<BoardKeys | undefined> {
  if (dir === undefined || !existsSync(join(dir, 'public.json'))) return undefined;
  try {
    return await loadBoardKeys(dir, t, rigBoardOf(t));
  } catch (e) {
    if (e instanceof KeyFileError) throw new RunError(e.message);
    throw e;
  }
}

function label(kind: string, timing: 'lockstep' | 'realtime'): string {
  if (kind === 'emulated') return timing === 'lockstep' ? 'emulated (in this process, lockstep)' : 'emulated';
  return kind;
}

function chooseTiming(d: Discovery, o: RunOptions): 'lockstep' | 'realtime' {
  if (d.errors.length > 0) throw new RunError(`bench errors:\n  ${d.errors.join('\n  ')}`);
  const missing = d.boards.filter((b) => b.kind === 'emulated');
  if (o.requireHardware && missing.length > 0) {
    throw new RunError(
      `--require-hardware: ${missing.map((b) => `board ${b.board} not found (${b.why})`).join('; ')}`,
    );
  }
  const real = d.boards.filter((b) => b.kind === 'real');
  if (o.timing === 'lockstep' && real.length > 0) {
    throw new RunError(
      `--lockstep needs every board emulated, but ${real.map((b) => b.board).join(', ')} answered as real hardware: fly with --realtime`,
    );
  }
  if (o.timing === 'auto') return real.length > 0 ? 'realtime' : 'lockstep';
  return o.timing;
}

/**
 * A firmware voter is built with its test hooks (the HANG request) only when the scenario names a voter fault:
 * every other scenario flies the image a board would hold.
 */
function firmwareOptions(s: Scenario): { firmware: FirmwareVoterBoardOptions } {
  return { firmware: { testHooks: (s.faults ?? []).some((f) => f.component === 'voter') } };
}

function needsReference(s: Scenario): boolean {
  return (s.spec?.assertions.deviation?.length ?? 0) > 0;
}

/**
 * The same scenario with every fault and mark removed, flown in lockstep with the TypeScript voter (whatever the
 * flight's voterImpl: a firmware flight is held to the TypeScript voter's fault-free trace); cached by what
 * decides its flight.
 */
async function referenceRun(loaded: LoadedScenario, o: RunOptions): Promise<Trace> {
  const s = loaded.scenario;
  const key = JSON.stringify({
    config: loaded.topology.file,
    rate: loaded.topology.frameRateHz,
    seed: s.spec!.seed,
    duration: s.durationS,
    pilot: loaded.raw.pilot,
    sensors: loaded.raw.sensors,
    dir: loaded.file.replace(/[^/]*$/, ''),
  });
  const cached = o.references?.get(key);
  if (cached !== undefined) return cached;
  const clean: Scenario = { ...s, name: `${s.name}-reference`, faults: [], marks: [] };
  const r = await flyLockstep(
    clean,
    { ...loaded.topology, voterImpl: 'ts' },
    s.spec!.seed,
    o.logger.child({ run: 'reference' }),
    undefined,
  );
  o.references?.set(key, r.trace);
  return r.trace;
}

async function flyLockstep(
  scenario: Scenario,
  topology: Topology,
  seed: number,
  logger: Logger,
  reference: Trace | undefined,
  extra: {
    speedup?: number;
    telemetry?: TelemetrySink;
    why?: Record<string, string>;
    signal?: AbortSignal;
  } = {},
): Promise<RigResult & { boards: readonly BoardInfo[] }> {
  const scheduler = new VirtualScheduler();
  const bench: BenchFactory = (hooks) =>
    new EmulatedBench(
      {
        topology,
        scheduler,
        seed,
        logger,
        virtual: LOCKSTEP_LINK,
        ...firmwareOptions(scenario),
        ...(extra.why ? { why: extra.why } : {}),
      },
      hooks,
    );
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed,
    logger,
    bench,
    ...(reference ? { reference } : {}),
    ...(extra.telemetry ? { onFrame: telemetryHook(extra.telemetry, scenario.name) } : {}),
  });
  const result = await rig.runVirtual((end) =>
    runLockstep(scheduler, end, extra.speedup, 1000 / topology.frameRateHz),
  );
  const boards = rig.system.boards();
  await rig.system.close();
  return { ...result, boards };
}

function telemetryHook(sink: TelemetrySink, name: string): (f: FrameRecord, rig: Rig) => void {
  let events = 0;
  return (f, rig) => {
    sink.frame(name, f);
    for (; events < rig.trace.events.length; events++) sink.event(name, rig.trace.events[events]!);
  };
}

async function fly(
  loaded: LoadedScenario,
  timing: 'lockstep' | 'realtime',
  discovery: Discovery,
  o: RunOptions,
  reference: Trace | undefined,
  dir: string,
): Promise<{ result: RigResult; boards: readonly BoardInfo[] }> {
  const { scenario, topology } = loaded;
  const seed = scenario.spec!.seed;
  const why = Object.fromEntries(
    discovery.boards.map((b) => [b.board, `${b.why}: emulated in this process`]),
  );
  if (timing === 'lockstep') {
    const r = await flyLockstep(scenario, topology, seed, o.logger, reference, {
      ...(o.speedup !== undefined ? { speedup: o.speedup } : {}),
      ...(o.telemetry ? { telemetry: o.telemetry } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      why,
    });
    return { result: r, boards: r.boards };
  }
  // Cold code paths cost tens of ms per frame at first: warm up under virtual time before the real clock starts.
  await warmUp(topology);
  const inProcess = discovery.linkType === 'memory';
  let processBench: ProcessBench | undefined;
  if (!inProcess) {
    const options: ProcessBenchOptions = {
      topology,
      discovery,
      seed,
      logger: o.logger,
      pace: o.pace,
      workDir: join(dir, 'work'),
      logDir: dir,
      ...firmwareOptions(scenario),
      ...(o.keysDir ? { keysDir: o.keysDir } : {}),
    };
    try {
      processBench = await ProcessBench.prepare(options);
    } catch (e) {
      if (e instanceof ProcessBenchError) throw new RunError(e.message);
      throw e;
    }
  }
  // After the warm-up and the board processes' start: frame 0 is now.
  const scheduler = new WallClock(o.speedup ?? 1);
  let governor: RealtimeGovernor | undefined;
  const factory: BenchFactory =
    processBench === undefined
      ? (hooks) =>
          new EmulatedBench(
            { topology, scheduler, seed, logger: o.logger, why, ...firmwareOptions(scenario) },
            hooks,
          )
      : (hooks) => processBench!.attach(hooks, scheduler);
  try {
    const rig = new Rig({
      topology: processBench?.topology ?? topology,
      scheduler,
      scenario,
      seed,
      logger: o.logger,
      bench: factory,
      onStarted: () => {
        scheduler.rebase();
        // As `triplex sim` flies (hil/flight.ts): real-time scheduling where permitted, given back if it spins.
        const scheduling = requestRealtime();
        o.logger.info({ scheduling }, `scheduling: ${scheduling.summary}`);
        if (scheduling.how === 'chrt') governor = RealtimeGovernor.start(o.logger);
      },
      ...(reference ? { reference } : {}),
      ...(o.telemetry ? { onFrame: telemetryHook(o.telemetry, scenario.name) } : {}),
    });
    const stop = (): void => rig.stop();
    o.signal?.addEventListener('abort', stop, { once: true });
    try {
      const result = await rig.run();
      const boards = rig.system.boards();
      await rig.system.close();
      return { result, boards };
    } finally {
      o.signal?.removeEventListener('abort', stop);
    }
  } finally {
    if (governor !== undefined) governor.stop();
    else dropRealtime();
    await processBench?.close();
  }
}
