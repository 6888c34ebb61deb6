/**
 * `triplex hil`: the HIL rig from the command line.
 *
 *   triplex hil list [--grid] [--tag T]          the library, one line per scenario; --grid: every fault cell
 *   triplex hil run SCENARIO... [options]        fly scenarios; exit code from their assertions
 *   triplex hil probe --config FILE [--keys DIR] discovery only: each board real or emulated, and why
 *   triplex hil board --config FILE --board NAME a board process that answers the rig hello (a bench board)
 *
 * Exit codes: 0 every scenario passed (known failures allowed), 1 a scenario failed, 2 bad command line, a bad
 * scenario file, or a bench that cannot fly (missing hardware with --require-hardware, a foreign key set).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pino from 'pino';
import { discover } from '../../hil/bench/discovery.ts';
import {
  coverage,
  GRID_LEGEND,
  gridLines,
  listLines,
  loadLibrary,
  resolveScenario,
} from '../../hil/library.ts';
import { runBenchBoard } from '../../hil/link/bench-board.ts';
import { junitXml } from '../../hil/output/junit.ts';
import { failing, type ScenarioOutcome } from '../../hil/output/outcome.ts';
import { writeIndex } from '../../hil/output/report.ts';
import { openTelemetry, TelemetryError, type TelemetrySink } from '../../hil/output/telemetry.ts';
import { RunError, runScenario, type Timing } from '../../hil/run.ts';
import { type LoadedScenario, loadScenarioFile, ScenarioError } from '../../hil/scenario/load.ts';
import type { Trace } from '../../src/runtime/report/trace.ts';
import { ConfigError, loadTopology, type VoterImpl, voterImplProblem } from '../runtime/config.ts';
import {
  EXIT,
  HIL_BOARD_OPTIONS,
  HIL_LIST_OPTIONS,
  HIL_PROBE_OPTIONS,
  HIL_RUN_OPTIONS,
  parseCommand,
} from './args.ts';
import type { Interrupt } from './interrupt.ts';

const HELP = `usage: triplex hil <command> [options]
  list [--grid] [--tag T]            the scenario library, one line each; --grid: every fault cell of the
                                     grid, where the rig can apply it, and which scenarios cover it
  run SCENARIO... [options]          fly scenarios: files, library names, or 'library' for all of them
    --config FILE                    fly this topology instead of each scenario's own
    --voter IMPL                     ts, firmware-host or firmware-qemu: the voter's implementation (the C
                                     firmware's host build, or its Cortex-M3 build under QEMU); overrides
                                     the config's voterImpl
    --require-hardware               every board must answer as real hardware (no emulated fallback)
    --lockstep | --realtime          virtual time, bit-for-bit repeatable (default unless a board is real)
                                     | real timers (real boards, emulated board processes)
    --speedup X                      lockstep: pace at X times real time; realtime: fly X times faster
    --junit FILE                     JUnit XML, one test case per scenario
    --telemetry udp://HOST:PORT|FILE JSON lines, one per frame and event
    --out DIR                        report folder (default reports/hil-<time>): index.html, one folder
                                     per scenario (report.html, summary.json, trace.csv, recording.mcap)
    --keys DIR                       the bench's key directory (real boards hold keys from it)
    --tag T                          with 'library': only scenarios tagged T
    --seed N                         override each scenario's seed
    --probe-timeout MS               how long a board has to answer the rig hello (default 1500)
    --no-pace                        do not pace serial writes at the baud rate (ptys are instant)
    --log-level LEVEL                pino level of each scenario's log file (default warn)
  probe --config FILE [--keys DIR] [--require-hardware] [--probe-timeout MS]
                                     discovery only: each board real or emulated, and why
  board --config FILE --board NAME [--keys DIR] [--log-file F] [--log-level L] [--no-pace] [--seed N]
                                     run one board on its links, answering the rig hello`;

function fail(message: string): number {
  process.stderr.write(`triplex hil: ${message}\n`);
  return 2;
}

export async function hilCommand(argv: string[], interrupt?: Interrupt): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'list':
      return listCommand(rest);
    case 'run':
      return await runCommand(rest, interrupt?.signal);
    case 'probe':
      return await probeCommand(rest);
    case 'board':
      return await boardCommand(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return sub === undefined ? 2 : 0;
    default:
      return fail(`unknown command '${sub}'\n${HELP}`);
  }
}

function listCommand(argv: string[]): number {
  const p = parseCommand(argv, HIL_LIST_OPTIONS, false);
  if (!p.ok) return fail(p.message);
  const v = p.values.options;
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const tag = v.tag;
  const entries = loadLibrary().filter(
    (e) => tag === undefined || e.loaded?.scenario.spec?.tags.includes(tag),
  );
  const lines = v.grid ? [...GRID_LEGEND, ...gridLines(coverage(loadLibrary()))] : listLines(entries);
  process.stdout.write(`${lines.join('\n')}\n`);
  return entries.some((e) => e.error) ? 2 : 0;
}

interface RunArgs {
  scenarios: string[];
  config: string | undefined;
  requireHardware: boolean;
  timing: Timing;
  speedup: number | undefined;
  junit: string | undefined;
  telemetry: string | undefined;
  out: string;
  keys: string | undefined;
  tag: string | undefined;
  seed: number | undefined;
  probeTimeoutMs: number;
  pace: boolean;
  logLevel: string;
  voter: VoterImpl | undefined;
}

function runArgs(argv: string[]): RunArgs | string {
  const p = parseCommand(argv, HIL_RUN_OPTIONS);
  if (!p.ok) return p.message;
  const v = p.values.options;
  if (v.help) return '';
  if (p.values.positionals.length === 0)
    return 'name at least one scenario (a file, a library name, or library)';
  if (v.lockstep && v.realtime) return '--lockstep and --realtime exclude each other';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    scenarios: p.values.positionals,
    config: v.config,
    requireHardware: v['require-hardware'] === true,
    timing: v.lockstep ? 'lockstep' : v.realtime ? 'realtime' : 'auto',
    speedup: v.speedup,
    junit: v.junit,
    telemetry: v.telemetry,
    out: resolve(v.out ?? join('reports', `hil-${stamp}`)),
    keys: v.keys,
    tag: v.tag,
    seed: v.seed,
    probeTimeoutMs: v['probe-timeout'] ?? 1500,
    pace: v['no-pace'] !== true,
    logLevel: v['log-level'] ?? 'warn',
    voter: v.voter as VoterImpl | undefined,
  };
}

/** Scenario files named on the command line (files, library names, 'library'), loaded; throws ScenarioError. */
function loadAll(a: RunArgs): LoadedScenario[] | string {
  const out: LoadedScenario[] = [];
  for (const arg of a.scenarios) {
    if (arg === 'library') {
      for (const e of loadLibrary()) {
        if (e.error) throw e.error;
        if (a.tag === undefined || e.loaded!.scenario.spec!.tags.includes(a.tag))
          out.push(reload(e.loaded!, a));
      }
      continue;
    }
    const file = resolveScenario(arg);
    if (file === undefined) return `no scenario file or library scenario '${arg}' (see triplex hil list)`;
    out.push(reload(loadScenarioFile(file, a.config), a));
  }
  return out;
}

function reload(l: LoadedScenario, a: RunArgs): LoadedScenario {
  const file =
    a.config !== undefined && l.topology.file !== resolve(a.config) ? loadScenarioFile(l.file, a.config) : l;
  const loaded =
    a.voter === undefined ? file : { ...file, topology: { ...file.topology, voterImpl: a.voter } };
  if (a.seed === undefined) return loaded;
  const s = loaded.scenario;
  return { ...loaded, scenario: { ...s, spec: { ...s.spec!, seed: a.seed } } };
}

async function runCommand(argv: string[], signal: AbortSignal | undefined): Promise<number> {
  const a = runArgs(argv);
  if (typeof a === 'string') {
    if (a === '') {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    return fail(a);
  }
  let scenarios: LoadedScenario[] | string;
  try {
    scenarios = loadAll(a);
  } catch (e) {
    if (e instanceof ScenarioError) return fail(e.message);
    throw e;
  }
  if (typeof scenarios === 'string') return fail(scenarios);
  for (const l of scenarios) {
    const problem = voterImplProblem(l.topology);
    if (problem !== undefined) return fail(`${l.scenario.name}: ${problem}`);
  }
  let telemetry: TelemetrySink | undefined;
  try {
    telemetry = a.telemetry ? openTelemetry(a.telemetry) : undefined;
  } catch (e) {
    if (e instanceof TelemetryError) return fail(e.message);
    throw e;
  }
  mkdirSync(a.out, { recursive: true });
  const references = new Map<string, Trace>();
  const outcomes: ScenarioOutcome[] = [];
  let errors = 0;
  // The per-board verdicts are printed in full once, then only when they change from one scenario to the next.
  let lastBoards = '';
  let boards: string[] = [];
  const flushBoards = (): void => {
    const block = boards.join('\n');
    if (block !== lastBoards) process.stdout.write(`${block}\n`);
    else process.stdout.write('  boards as above\n');
    lastBoards = block;
    boards = [];
  };
  try {
    for (const loaded of scenarios) {
      if (signal?.aborted) break;
      const name = loaded.scenario.name;
      process.stdout.write(`${name}: ${loaded.scenario.description}\n`);
      const logFile = join(a.out, name, 'hil.log');
      mkdirSync(dirname(logFile), { recursive: true });
      const logger = pino({ level: a.logLevel }, pino.destination({ dest: logFile, sync: true }));
      try {
        const o = await runScenario(loaded, {
          timing: a.timing,
          ...(a.speedup !== undefined ? { speedup: a.speedup } : {}),
          out: a.out,
          logger,
          ...(telemetry ? { telemetry } : {}),
          requireHardware: a.requireHardware,
          ...(a.keys ? { keysDir: resolve(a.keys) } : {}),
          pace: a.pace,
          probeTimeoutMs: a.probeTimeoutMs,
          references,
          ...(signal ? { signal } : {}),
          say: (line) => boards.push(line),
        });
        flushBoards();
        outcomes.push(o);
        printOutcome(o);
      } catch (e) {
        if (!(e instanceof RunError)) throw e;
        errors++;
        if (boards.length > 0) flushBoards();
        process.stdout.write(`  ERROR ${e.message}\n`);
        outcomes.push(errorOutcome(loaded, e.message));
      }
    }
  } finally {
    await telemetry?.close();
  }
  const index = writeIndex(a.out, outcomes);
  if (a.junit !== undefined) {
    mkdirSync(dirname(resolve(a.junit)), { recursive: true });
    writeFileSync(a.junit, junitXml(outcomes));
  }
  printTable(outcomes);
  process.stdout.write(`index: ${index}${a.junit ? `\njunit: ${resolve(a.junit)}` : ''}\n`);
  if (signal?.aborted) return EXIT.interrupted;
  if (errors > 0) return EXIT.usage;
  return outcomes.some((o) => failing(o.verdict)) ? EXIT.failed : EXIT.ok;
}

function errorOutcome(l: LoadedScenario, message: string): ScenarioOutcome {
  return {
    name: l.scenario.name,
    file: l.file,
    description: l.scenario.description,
    verdict: 'error',
    assertions: [],
    faults: [],
    boards: [],
    timing: 'lockstep',
    seed: l.scenario.spec!.seed,
    frames: 0,
    wallSeconds: 0,
    error: message,
  };
}

function printOutcome(o: ScenarioOutcome): void {
  const lines = [
    `  ${o.verdict.toUpperCase()} (${o.frames} frames, ${o.timing}, seed ${o.seed}, ${o.wallSeconds.toFixed(1)} s)`,
    ...o.assertions.map(
      (a) => `    ${a.notApplicable ? 'n/a ' : a.passed ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`,
    ),
    `    report: ${o.html}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** The summary table across scenarios. */
function printTable(outcomes: readonly ScenarioOutcome[]): void {
  const w = Math.max(8, ...outcomes.map((o) => o.name.length));
  const rows = outcomes.map((o) => {
    const real = o.boards.filter((b) => b.mode === 'real').length;
    const unapplied = o.faults.filter((f) => f.status !== 'applied').length;
    const held = o.assertions.filter((x) => x.passed && !x.notApplicable).length;
    return `${o.name.padEnd(w)}  ${o.verdict.padEnd(15)}  ${`${held}/${o.assertions.length}`.padStart(7)}  ${String(unapplied).padStart(11)}  ${String(real).padStart(10)}  ${o.wallSeconds.toFixed(1).padStart(7)}`;
  });
  const count = (v: string): number => outcomes.filter((o) => o.verdict === v).length;
  process.stdout.write(
    [
      '',
      `${'scenario'.padEnd(w)}  ${'verdict'.padEnd(15)}  ${'held'.padStart(7)}  ${'not applied'.padStart(11)}  ${'real boards'.padStart(10)}  ${'wall s'.padStart(7)}`,
      ...rows,
      `${outcomes.length} scenarios: ${count('pass')} passed, ${count('fail')} failed, ${count('error')} errors, ${count('known-failure')} known failures, ${count('unexpected-pass')} unexpected passes`,
      '',
    ].join('\n'),
  );
}

async function probeCommand(argv: string[]): Promise<number> {
  const p = parseCommand(argv, HIL_PROBE_OPTIONS, false);
  if (!p.ok) return fail(p.message);
  const v = p.values.options;
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const config = v.config;
  if (config === undefined) return fail('probe needs --config FILE');
  const timeoutMs = v['probe-timeout'] ?? 1500;
  let topology: ReturnType<typeof loadTopology>;
  try {
    topology = loadTopology(config);
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message);
    throw e;
  }
  const { loadBoardKeys } = await import('../runtime/node/keys.ts');
  const { rigBoardOf } = await import('../../hil/scenario/targets.ts');
  const keysDir = v.keys;
  const keys = keysDir
    ? await loadBoardKeys(keysDir, topology, rigBoardOf(topology)).catch(() => undefined)
    : undefined;
  const d = await discover(topology, {
    timeoutMs,
    pace: v['no-pace'] !== true,
    ...(keys ? { keys } : {}),
  });
  for (const b of d.boards) {
    const mode = b.kind === 'emulated' ? 'emulated' : b.kind;
    process.stdout.write(
      `${b.board.padEnd(8)} ${mode.padEnd(9)} ${b.why}${b.hello ? ` [triplex ${b.hello.version}, wire ${b.hello.wire}, key ${b.hello.keyId}]` : ''}\n`,
    );
  }
  for (const e of d.errors) process.stderr.write(`triplex hil: ${e}\n`);
  const missing = d.boards.filter((b) => b.kind === 'emulated');
  if (d.errors.length > 0) return 2;
  if (v['require-hardware'] && missing.length > 0) {
    return fail(
      `--require-hardware: ${missing.map((b) => `board ${b.board}: ${b.missing ?? b.why}`).join('; ')}`,
    );
  }
  return 0;
}

async function boardCommand(argv: string[]): Promise<number> {
  const p = parseCommand(argv, HIL_BOARD_OPTIONS, false);
  if (!p.ok) return fail(p.message);
  const v = p.values.options;
  if (v.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (v.config === undefined || v.board === undefined)
    return fail('board needs --config FILE and --board NAME');
  return await runBenchBoard(
    {
      config: v.config,
      board: v.board,
      keys: resolve(v.keys ?? 'keys'),
      logLevel: v['log-level'] ?? 'info',
      logFile: v['log-file'],
      seed: v.seed ?? 1,
      pace: v['no-pace'] !== true,
    },
    fail,
  );
}
