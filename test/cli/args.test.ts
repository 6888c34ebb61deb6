/** Option parsing of every subcommand, in process: each bad value is refused with a sentence naming the option. */
import { describe, expect, it } from 'vitest';
import {
  checkFlightLength,
  HIL_LIST_OPTIONS,
  HIL_RUN_OPTIONS,
  parseCommand,
  parseNodeArgs,
  parseOptions,
  parseSimArgs,
} from '../../src/cli/args.ts';

describe('options', () => {
  it('refuses each bad value with the option, the bound and what was given', () => {
    const cases: [string[], string][] = [
      [['--rate', '20000'], "--rate must be a number from 1 to 1000 (Hz), got '20000'"],
      [['--rate', '-5'], "--rate must be a number from 1 to 1000 (Hz), got '-5'"],
      [['--rate', '0.5'], "--rate must be a number from 1 to 1000 (Hz), got '0.5'"],
      [['--rate', 'Infinity'], "--rate must be a number from 1 to 1000 (Hz), got 'Infinity'"],
      [['--duration', '0'], "--duration must be a number from 0.1 to 3600 (s), got '0'"],
      [['--duration', 'ten'], "--duration must be a number from 0.1 to 3600 (s), got 'ten'"],
      [['--duration', ''], "--duration must be a number from 0.1 to 3600 (s), got ''"],
      [['--seed', '-1'], "--seed must be an integer from 0 to 4294967295, got '-1'"],
      [['--seed', '1.5'], "--seed must be an integer from 0 to 4294967295, got '1.5'"],
      [['--seed', '4294967296'], "--seed must be an integer from 0 to 4294967295, got '4294967296'"],
      [['--bogus'], "unknown option '--bogus'"],
      [['extra'], "unexpected argument 'extra' (options start with --)"],
      [['--rate'], '--rate needs a value'],
      [['--rate', '--seed', '1'], '--rate needs a value'],
      [['--link', 'can'], '--link needs --processes'],
      [['--no-pace'], '--no-pace needs --processes'],
      [['--processes', '--link', 'wifi'], "--link must be one of serial, can; got 'wifi'"],
      [
        ['--log-level', 'loud'],
        "--log-level must be one of fatal, error, warn, info, debug, trace, silent; got 'loud'",
      ],
    ];
    for (const [argv, message] of cases) expect(parseSimArgs(argv), argv.join(' ')).toBe(message);
    expect(parseNodeArgs(['--config', 'c', '--board', 'b', '--status-every', '-1'])).toBe(
      "--status-every must be a number from 0 to 86400 (s), got '-1'",
    );
    expect(parseNodeArgs(['--config', 'c', '--board', 'b', '--duration', '5'])).toBe(
      '--duration needs --rig emulated',
    );
    expect(parseNodeArgs(['--board', 'b'])).toBe('--config FILE is required');
  });

  it('parses good values, negative numbers included, and the bounds themselves', () => {
    const a = parseSimArgs(['--rate', '1000', '--duration', '0.1', '--seed', '4294967295', '--json']);
    if (typeof a === 'string') throw new Error(a);
    expect([a.rate, a.duration, a.seed, a.json, a.status]).toEqual([1000, 0.1, 4294967295, true, true]);
    const n = parseOptions(['--x', '-2.5', '--y=-1e3'], {
      x: { type: 'number', min: -10, max: 10 },
      y: { type: 'number', min: -1e4, max: 0 },
    });
    expect(n).toEqual({ ok: true, values: { x: -2.5, y: -1000 } });
    expect(parseSimArgs(['-h'])).toBe('');
  });

  it('a flight must fit in one trace at the rate it flies', () => {
    expect(checkFlightLength(20, 50)).toBeUndefined();
    expect(checkFlightLength(3600, 100)).toBeUndefined();
    expect(checkFlightLength(3600, 1000)).toBe(
      '--duration 3600 at 1000 Hz is 3600000 frames; a run records at most 360000 (lower --duration or --rate)',
    );
    expect(checkFlightLength(0.1, 1)).toBe('--duration 0.1 at 1 Hz is less than one frame');
  });
});

describe('triplex hil options (parsed by args.ts like every other command)', () => {
  it('takes scenarios as positionals and checks each option against its bound', () => {
    const ok = parseCommand(['board-crash', 'x.yaml', '--seed', '3', '--speedup', '2'], HIL_RUN_OPTIONS);
    expect(ok).toEqual({
      ok: true,
      values: { options: { seed: 3, speedup: 2 }, positionals: ['board-crash', 'x.yaml'] },
    });
    const cases: [string[], string][] = [
      [['a', '--seed', '-1'], "--seed must be an integer from 0 to 4294967295, got '-1'"],
      [['a', '--speedup', '0'], "--speedup must be a number from 0.001 to 1000 (times real time), got '0'"],
      [
        ['a', '--probe-timeout', 'soon'],
        "--probe-timeout must be a number from 1 to 600000 (ms), got 'soon'",
      ],
      [['a', '--voter', 'rust'], "--voter must be one of ts, firmware-host, firmware-qemu; got 'rust'"],
      [['a', '--bogus'], "unknown option '--bogus'"],
    ];
    for (const [argv, message] of cases)
      expect(parseCommand(argv, HIL_RUN_OPTIONS), argv.join(' ')).toEqual({ ok: false, message });
  });

  it('a command without positionals refuses one', () => {
    expect(parseCommand(['stray'], HIL_LIST_OPTIONS, false)).toEqual({
      ok: false,
      message: "unexpected argument 'stray' (options start with --)",
    });
  });
});
