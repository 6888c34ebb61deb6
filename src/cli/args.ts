/**
 * Option parsing of every subcommand (node:util parseArgs gives strings): the help texts, the parsed shapes and
 * their checks, in one place.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterLink } from '../runtime/node/cluster.ts';

/** The log levels pino accepts, in the order a help text lists them. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A numeric option: its value, `fallback` when absent, or an error message (a string) naming the option when
 * it is not a number of at least `min`.
 */
export function numberOption<F extends number | undefined>(
  value: string | boolean | undefined,
  name: string,
  fallback: F,
  min: number,
): number | F | string {
  if (value === undefined) return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= min ? n : `--${name} must be a number >= ${min}, got '${value}'`;
}

export const SIM_HELP = `usage: triplex sim [options]
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
}

export function parseSimArgs(argv: string[]): SimArgs | string {
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

export const NODE_HELP = `usage: triplex node --config FILE --board NAME [options]
  --config FILE        topology (serial, can or udp links)
  --board NAME         the board this process runs
  --keys DIR           key directory (default ./keys): public.json and this board's private key files,
                       written by \`triplex keys gen --config FILE --out DIR\`
  --log-level LEVEL    fatal, error, warn, info (default), debug, trace, silent
  --log-file FILE      write logs to FILE instead of stderr
  --status-every S     a status line in the log every S seconds (default 10; 0: none)
  --seed N             seed of this board's channel fault behaviours (default 1)
  --no-pace            do not pace serial writes at the baud rate (pseudo-terminals deliver instantly)
  --rig emulated       on the voter's board: run the emulated HIL rig here and fly the default scenario
  --duration S         with --rig: seconds of flight (default 20)
  --out DIR            with --rig: report folder (summary.json, trace.csv, report.html)
  --json               with --rig: print the summary as JSON
  --no-status          with --rig: no live status display`;

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

export function parseNodeArgs(argv: string[]): NodeArgs | string {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        board: { type: 'string' },
        keys: { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        'status-every': { type: 'string' },
        seed: { type: 'string' },
        rig: { type: 'string' },
        duration: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        'no-status': { type: 'boolean' },
        'no-pace': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return (e as Error).message;
  }
  if (values.help) return '';
  const str = (k: string): string | undefined => values[k] as string | undefined;
  if (str('config') === undefined) return '--config FILE is required';
  if (str('board') === undefined) return '--board NAME is required';
  const level = str('log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    return `--log-level must be one of ${LOG_LEVELS.join(', ')}; got '${level}'`;
  const num = (k: string, fallback: number, min: number): number | string =>
    numberOption(str(k), k, fallback, min);
  const statusEveryS = num('status-every', 10, 0);
  const seed = num('seed', 1, 0);
  const duration = num('duration', 20, 0.1);
  for (const x of [statusEveryS, seed, duration]) if (typeof x === 'string') return x;
  const rig = str('rig');
  if (rig !== undefined && rig !== 'emulated') return `--rig must be 'emulated', got '${rig}'`;
  if (rig === undefined) {
    for (const k of ['duration', 'out', 'json', 'no-status']) {
      if (values[k] !== undefined) return `--${k} needs --rig emulated`;
    }
  }
  return {
    config: str('config')!,
    board: str('board')!,
    keys: resolve(str('keys') ?? 'keys'),
    logLevel: level,
    logFile: str('log-file'),
    statusEveryS: statusEveryS as number,
    seed: seed as number,
    rig: rig === 'emulated',
    duration: duration as number,
    out: str('out') === undefined ? undefined : resolve(str('out')!),
    json: values.json === true,
    status: values['no-status'] !== true,
    pace: values['no-pace'] !== true,
  };
}
