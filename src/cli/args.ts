/**
 * Option parsing of every subcommand, in one place: each command declares its options once (type, bounds,
 * help), and `parseOptions` turns argv into typed values or one plain sentence naming the option and what is
 * wrong with it. No option ever reaches the code with a value the code cannot run.
 *
 * @example
 * const r = parseOptions(['--rate', '-5'], { rate: { type: 'number', min: 1, max: 1000, unit: 'Hz' } });
 * // { ok: false, message: "--rate must be a number from 1 to 1000 (Hz), got '-5'" }
 */
import { join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { FRAME_RATE_HZ, VOTER_IMPLS, type VoterImpl } from '../runtime/config.ts';
import type { ClusterLink } from '../runtime/node/cluster.ts';

/** The log levels pino accepts, in the order a help text lists them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Exit codes of every subcommand. */
export const EXIT = {
  /** The run passed (or the command did what it was asked). */
  ok: 0,
  /** A scenario assertion failed (or a key operation failed). */
  failed: 1,
  /** Bad command line, config, key files or a missing port: nothing was flown. */
  usage: 2,
  /** An unexpected internal error: a bug, reported with its stack. */
  internal: 70,
  /** Interrupted (SIGINT or SIGTERM): the report covers what was flown. */
  interrupted: 130,
} as const;

/** Most seconds one flight may last (the trace of a run is held in memory until the report is written). */
export const MAX_DURATION_S = 3600;
/** Most frames one flight may record: 1 hour at 100 Hz, 6 minutes at 1 kHz (about 100 MB of trace). */
export const MAX_FLIGHT_FRAMES = 360_000;
/** Seeds are 32-bit (src/core/prng.ts takes the seed as an unsigned 32-bit integer). */
const MAX_SEED = 0xffff_ffff;

export type OptionSpec =
  | { readonly type: 'boolean'; readonly short?: string }
  | { readonly type: 'string' }
  | { readonly type: 'choice'; readonly choices: readonly string[] }
  | {
      readonly type: 'number';
      readonly min: number;
      readonly max: number;
      readonly integer?: boolean;
      readonly unit?: string;
    };

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'number' }
    ? number
    : string;

/** Parsed values: absent options are undefined. */
export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]?: ValueOf<S[K]> };

export type Parsed<T> =
  | { readonly ok: true; readonly values: T }
  | { readonly ok: false; readonly message: string };

/** A token that is a negative number (`-5`, `-0.5`, `-1e3`), which parseArgs would take for an option. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * Parses `argv` against `specs` (`--help`/`-h` is always accepted). A value that starts with a dash and reads as
 * a number (`--rate -5`) is taken as the option's value, so that the bound check can say what is wrong with it.
 */
export function parseOptions<S extends OptionSpecs>(
  argv: readonly string[],
  specs: S,
): Parsed<OptionValues<S> & { help?: boolean }> {
  const r = parseCommand(argv, specs, false);
  return r.ok ? { ok: true, values: r.values.options } : r;
}

/**
 * `parseOptions` for a script run from the shell (a bench): `--help` prints `usage` on stdout and exits 0; a bad
 * or unknown option prints `name: <what is wrong>` and the usage on stderr and exits with `EXIT.usage`.
 *
 * @example
 * const o = scriptOptions(process.argv.slice(2), { seconds: { type: 'number', min: 1, max: 60 } }, 'bench:x', USAGE);
 */
export function scriptOptions<S extends OptionSpecs>(
  argv: readonly string[],
  specs: S,
  name: string,
  usage: string,
): OptionValues<S> {
  const parsed = parseOptions(argv, specs);
  if (!parsed.ok) {
    process.stderr.write(`${name}: ${parsed.message}\n${usage}\n`);
    process.exit(EXIT.usage);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(EXIT.ok);
  }
  return parsed.values;
}

/**
 * `parseOptions` for a command that also takes positional arguments (`triplex hil run SCENARIO...`): the
 * options checked against `specs`, and the positionals in order.
 *
 * @example
 * const r = parseCommand(['a.yaml', '--seed', '3'], { seed: { type: 'number', min: 0, max: 9, integer: true } });
 * // r.ok && r.values.positionals = ['a.yaml'], r.values.options.seed = 3
 */
export function parseCommand<S extends OptionSpecs>(
  argv: readonly string[],
  specs: S,
  allowPositionals = true,
): Parsed<{ options: OptionValues<S> & { help?: boolean }; positionals: string[] }> {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(specs)) {
    options[name] =
      spec.type === 'boolean'
        ? { type: 'boolean', ...(spec.short ? { short: spec.short } : {}) }
        : { type: 'string' };
  }
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const next = argv[i + 1];
    const spec = token.startsWith('--') ? specs[token.slice(2)] : undefined;
    if (spec !== undefined && spec.type !== 'boolean' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`${token}=${next}`);
      i++;
    } else args.push(token);
  }
  let raw: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals });
    raw = parsed.values as typeof raw;
    positionals = parsed.positionals;
  } catch (e) {
    return { ok: false, message: plainParseError((e as Error).message) };
  }
  const values: Record<string, string | number | boolean> = {};
  if (raw['help'] === true) values['help'] = true;
  for (const [name, spec] of Object.entries(specs)) {
    const v = raw[name];
    if (v === undefined) continue;
    const checked = checkValue(name, spec, v);
    if (typeof checked === 'object') return { ok: false, message: checked.error };
    values[name] = checked;
  }
  return { ok: true, values: { options: values as OptionValues<S> & { help?: boolean }, positionals } };
}

function checkValue(
  name: string,
  spec: OptionSpec,
  v: string | boolean,
): string | number | boolean | { error: string } {
  if (spec.type === 'boolean' || typeof v === 'boolean') return v;
  if (spec.type === 'string') {
    return v === '' ? { error: `--${name} needs a value` } : v;
  }
  if (spec.type === 'choice') {
    return spec.choices.includes(v)
      ? v
      : { error: `--${name} must be one of ${spec.choices.join(', ')}; got '${v}'` };
  }
  const n = v.trim() === '' ? Number.NaN : Number(v);
  const kind = spec.integer ? 'an integer' : 'a number';
  const unit = spec.unit ? ` (${spec.unit})` : '';
  const ok = Number.isFinite(n) && (!spec.integer || Number.isInteger(n)) && n >= spec.min && n <= spec.max;
  return ok ? n : { error: `--${name} must be ${kind} from ${spec.min} to ${spec.max}${unit}, got '${v}'` };
}

/** node:util's messages, shortened to what a user needs (they mention `--foo <value>` and positionals). */
function plainParseError(message: string): string {
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option '${unknown[1]}'`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional) return `unexpected argument '${positional[1]}' (options start with --)`;
  const missing = /Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument (missing|is ambiguous)/.exec(message);
  if (missing) return `${missing[1]} needs a value`;
  return message;
}

/** Options of a flight that `sim` and `node --rig` share. */
const FLIGHT_OPTIONS = {
  duration: { type: 'number', min: 0.1, max: MAX_DURATION_S, unit: 's' },
  seed: { type: 'number', min: 0, max: MAX_SEED, integer: true },
  out: { type: 'string' },
  json: { type: 'boolean' },
  'no-status': { type: 'boolean' },
  'log-level': { type: 'choice', choices: LOG_LEVELS },
  'no-pace': { type: 'boolean' },
} as const satisfies OptionSpecs;

/**
 * Whether `durationS` at `rateHz` fits in one trace; the message names the option to change. The rate comes
 * from the config unless --rate overrides it, so this is checked once the config is loaded.
 */
export function checkFlightLength(durationS: number, rateHz: number): string | undefined {
  const frames = Math.round(durationS * rateHz);
  if (frames < 1) return `--duration ${durationS} at ${rateHz} Hz is less than one frame`;
  if (frames <= MAX_FLIGHT_FRAMES) return undefined;
  return `--duration ${durationS} at ${rateHz} Hz is ${frames} frames; a run records at most ${MAX_FLIGHT_FRAMES} (lower --duration or --rate)`;
}

export const SIM_HELP = `usage: triplex sim [options]
  --config FILE      topology (default config/laptop.json)
  --duration S       seconds of flight, ${FLIGHT_OPTIONS.duration.min} to ${MAX_DURATION_S} (default 20)
  --rate HZ          frame rate, ${FRAME_RATE_HZ.min} to ${FRAME_RATE_HZ.max}; overrides the config's frameRateHz
  --seed N           seed of sensors, link delays and faults, 0 to ${MAX_SEED} (default 1)
  --voter IMPL       ts, firmware-host or firmware-qemu: the voter's implementation, the TypeScript
                     voter or the C firmware (host build, or Cortex-M3 under QEMU); overrides the
                     config's voterImpl (default: the config's, else ts)
  --out DIR          report folder (default reports/sim-<time>)
  --json             print the summary as JSON on stdout (the live status stays on stderr)
  --log-level LEVEL  pino level of the log file in the report folder (default info)
  --no-status        no live status display
  --processes        each board but the voter's in its own process (triplex node), joined by
                     pseudo-terminals (needs socat); default config: config/serial-mesh.json
  --link serial|can  with --processes: a socat serial mesh (default) or the emulated CAN bus
                     (default config config/can-bus.json)
  --no-pace          with --processes: serial writes not paced at the baud rate (ptys are instant)
exit codes: 0 passed, 1 an assertion failed, 2 bad options or config, 130 interrupted (report still written)`;

const SIM_OPTIONS = {
  ...FLIGHT_OPTIONS,
  config: { type: 'string' },
  rate: { type: 'number', min: FRAME_RATE_HZ.min, max: FRAME_RATE_HZ.max, unit: 'Hz' },
  processes: { type: 'boolean' },
  link: { type: 'choice', choices: ['serial', 'can'] },
  voter: { type: 'choice', choices: VOTER_IMPLS },
} as const satisfies OptionSpecs;

export interface SimArgs {
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
  /** --voter: the voter implementation, overriding the config's voterImpl. */
  voter: VoterImpl | undefined;
}

/** `triplex sim` options; '' asks for the help text, any other string is the usage error. */
export function parseSimArgs(argv: readonly string[]): SimArgs | string {
  const parsed = parseOptions(argv, SIM_OPTIONS);
  if (!parsed.ok) return parsed.message;
  const v = parsed.values;
  if (v.help) return '';
  const processes = v.processes === true;
  if (v.link !== undefined && !processes) return '--link needs --processes';
  if (v['no-pace'] === true && !processes) return '--no-pace needs --processes';
  const link = v.link as ClusterLink | undefined;
  const defaultConfig = !processes
    ? 'config/laptop.json'
    : link === 'can'
      ? 'config/can-bus.json'
      : 'config/serial-mesh.json';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    processes,
    link,
    pace: v['no-pace'] !== true,
    config: v.config ?? defaultConfig,
    duration: v.duration ?? 20,
    rate: v.rate,
    seed: v.seed ?? 1,
    out: resolve(v.out ?? join('reports', `sim-${stamp}`)),
    json: v.json === true,
    logLevel: v['log-level'] ?? 'info',
    status: v['no-status'] !== true,
    voter: v.voter as VoterImpl | undefined,
  };
}

export const NODE_HELP = `usage: triplex node --config FILE --board NAME [options]
  --config FILE        topology (serial, can or udp links)
  --board NAME         the board this process runs
  --keys DIR           key directory (default ./keys): public.json and this board's private key files
                       (<board>.<role>.key), written by \`triplex keys gen --config FILE --out DIR\`
  --log-level LEVEL    fatal, error, warn, info (default), debug, trace, silent
  --log-file FILE      write logs to FILE instead of stderr
  --status-every S     a status line in the log every S seconds, 0 to 86400 (default 10; 0: none)
  --seed N             seed of this board's channel fault behaviours, 0 to ${MAX_SEED} (default 1)
  --no-pace            do not pace serial writes at the baud rate (pseudo-terminals deliver instantly)
  --rig emulated       on the voter's board: run the emulated HIL rig here and fly the default scenario
  --duration S         with --rig: seconds of flight, ${FLIGHT_OPTIONS.duration.min} to ${MAX_DURATION_S} (default 20)
  --out DIR            with --rig: report folder (summary.json, trace.csv, report.html)
  --json               with --rig: print the summary as JSON
  --no-status          with --rig: no live status display
exit codes: 0 stopped cleanly or passed, 1 an assertion failed, 2 bad options, config, keys or port,
            130 interrupted during a --rig flight (report still written)`;

const NODE_OPTIONS = {
  ...FLIGHT_OPTIONS,
  config: { type: 'string' },
  board: { type: 'string' },
  keys: { type: 'string' },
  'log-file': { type: 'string' },
  'status-every': { type: 'number', min: 0, max: 86_400, unit: 's' },
  rig: { type: 'choice', choices: ['emulated'] },
} as const satisfies OptionSpecs;

export interface NodeArgs {
  config: string;
  board: string;
  keys: string;
  logLevel: string;
  logFile: string | undefined;
  statusEveryS: number;
  seed: number;
  rig: boolean;
  duration: number;
  out: string | undefined;
  json: boolean;
  status: boolean;
  pace: boolean;
}

/** `triplex node` options; '' asks for the help text, any other string is the usage error. */
export function parseNodeArgs(argv: readonly string[]): NodeArgs | string {
  const parsed = parseOptions(argv, NODE_OPTIONS);
  if (!parsed.ok) return parsed.message;
  const v = parsed.values;
  if (v.help) return '';
  if (v.config === undefined) return '--config FILE is required';
  if (v.board === undefined) return '--board NAME is required';
  if (v.rig === undefined) {
    for (const k of ['duration', 'out', 'json', 'no-status'] as const) {
      if (v[k] !== undefined) return `--${k} needs --rig emulated`;
    }
  }
  return {
    config: v.config,
    board: v.board,
    keys: resolve(v.keys ?? 'keys'),
    logLevel: v['log-level'] ?? 'info',
    logFile: v['log-file'],
    statusEveryS: v['status-every'] ?? 10,
    seed: v.seed ?? 1,
    rig: v.rig === 'emulated',
    duration: v.duration ?? 20,
    out: v.out === undefined ? undefined : resolve(v.out),
    json: v.json === true,
    status: v['no-status'] !== true,
    pace: v['no-pace'] !== true,
  };
}

export const KEYS_GEN_OPTIONS = {
  out: { type: 'string' },
  principals: { type: 'string' },
  config: { type: 'string' },
  force: { type: 'boolean' },
} as const satisfies OptionSpecs;

export const KEYS_CHECK_OPTIONS = { dir: { type: 'string' } } as const satisfies OptionSpecs;

export const PORTS_OPTIONS = {
  json: { type: 'boolean' },
  dev: { type: 'string' },
} as const satisfies OptionSpecs;

/** Options of `triplex hil list`. */
export const HIL_LIST_OPTIONS = {
  grid: { type: 'boolean' },
  tag: { type: 'string' },
} as const satisfies OptionSpecs;

/** Most ms a board may take to answer the rig hello. */
const MAX_PROBE_TIMEOUT_MS = 600_000;

/** Options of `triplex hil run SCENARIO...`. */
export const HIL_RUN_OPTIONS = {
  config: { type: 'string' },
  'require-hardware': { type: 'boolean' },
  lockstep: { type: 'boolean' },
  realtime: { type: 'boolean' },
  speedup: { type: 'number', min: 1e-3, max: 1000, unit: 'times real time' },
  junit: { type: 'string' },
  telemetry: { type: 'string' },
  out: { type: 'string' },
  keys: { type: 'string' },
  tag: { type: 'string' },
  seed: { type: 'number', min: 0, max: MAX_SEED, integer: true },
  'probe-timeout': { type: 'number', min: 1, max: MAX_PROBE_TIMEOUT_MS, unit: 'ms' },
  'no-pace': { type: 'boolean' },
  'log-level': { type: 'choice', choices: LOG_LEVELS },
  voter: { type: 'choice', choices: VOTER_IMPLS },
} as const satisfies OptionSpecs;

/** Options of `triplex hil probe`. */
export const HIL_PROBE_OPTIONS = {
  config: { type: 'string' },
  keys: { type: 'string' },
  'require-hardware': { type: 'boolean' },
  'probe-timeout': { type: 'number', min: 1, max: MAX_PROBE_TIMEOUT_MS, unit: 'ms' },
  'no-pace': { type: 'boolean' },
} as const satisfies OptionSpecs;

/** Options of `triplex hil board`. */
export const HIL_BOARD_OPTIONS = {
  config: { type: 'string' },
  board: { type: 'string' },
  keys: { type: 'string' },
  'log-file': { type: 'string' },
  'log-level': { type: 'choice', choices: LOG_LEVELS },
  seed: { type: 'number', min: 0, max: MAX_SEED, integer: true },
  'no-pace': { type: 'boolean' },
} as const satisfies OptionSpecs;
