/** Command-line options of the link benchmarks (bench:links and its parts), parsed by `src/cli/args.ts`. */
import { MAX_DURATION_S, type OptionSpecs, scriptOptions } from '../../src/cli/args.ts';
import { FRAME_RATE_HZ } from '../../src/runtime/config.ts';

export interface LinksOptions {
  /** Frames measured in the virtual-time traffic recording. */
  frames: number;
  warmupFrames: number;
  /** Run the loop over real transports (emulated CAN bus on SLCAN ptys, pty serial mesh) in this process. */
  real: boolean;
  /** Frames measured per real-transport run (the view change needs about viewChangeTimeoutFrames of them). */
  realFrames: number;
  realRateHz: number;
  /** The cross-process latency runs (`triplex node` on UDP, `triplex sim --processes`). */
  latency: boolean;
  latencySeconds: number;
  latencyRate: number;
}

export const DEFAULT_OPTIONS: LinksOptions = {
  frames: 400,
  warmupFrames: 50,
  real: true,
  realFrames: 60,
  realRateHz: 5,
  latency: true,
  latencySeconds: 15,
  latencyRate: 100,
};

/** The options, as `src/cli/args.ts` checks them (the counts are whole frames, the seconds and rate those of a flight). */
const LINKS_OPTIONS = {
  frames: { type: 'number', min: 1, max: 100_000, integer: true },
  'warmup-frames': { type: 'number', min: 1, max: 100_000, integer: true },
  'real-frames': { type: 'number', min: 1, max: 100_000, integer: true },
  'real-rate': { type: 'number', min: 0.01, max: FRAME_RATE_HZ.max, unit: 'Hz' },
  'no-real': { type: 'boolean' },
  'latency-seconds': { type: 'number', min: 0.1, max: MAX_DURATION_S, unit: 's' },
  'latency-rate': { type: 'number', min: FRAME_RATE_HZ.min, max: FRAME_RATE_HZ.max, unit: 'Hz' },
  'no-latency': { type: 'boolean' },
} as const satisfies OptionSpecs;

export const LINKS_USAGE = `usage: npm run bench:links [-- options]   (bench:links:latency takes the --latency-* ones)
  --frames N           frames measured in the virtual-time traffic recording (default ${DEFAULT_OPTIONS.frames})
  --warmup-frames N    frames flown before those (default ${DEFAULT_OPTIONS.warmupFrames})
  --real-frames N      frames measured per real-transport run (default ${DEFAULT_OPTIONS.realFrames})
  --real-rate HZ       frame rate of the real-transport runs (default ${DEFAULT_OPTIONS.realRateHz})
  --no-real            skip the real-transport runs
  --latency-seconds S  seconds of each cross-process latency run (default ${DEFAULT_OPTIONS.latencySeconds})
  --latency-rate HZ    frame rate of the latency runs (default ${DEFAULT_OPTIONS.latencyRate})
  --no-latency         skip the cross-process latency runs
exit codes: 0 done (the JSON on stdout), 1 a run failed, 2 bad options`;

/** The options of `argv` over `defaults`; --help prints the usage and a bad option is a usage error (exit 2). */
export function parseLinksArgs(
  argv: readonly string[],
  defaults: LinksOptions = DEFAULT_OPTIONS,
): LinksOptions {
  const v = scriptOptions(argv, LINKS_OPTIONS, 'bench:links', LINKS_USAGE);
  return {
    frames: v.frames ?? defaults.frames,
    warmupFrames: v['warmup-frames'] ?? defaults.warmupFrames,
    real: v['no-real'] === true ? false : defaults.real,
    realFrames: v['real-frames'] ?? defaults.realFrames,
    realRateHz: v['real-rate'] ?? defaults.realRateHz,
    latency: v['no-latency'] === true ? false : defaults.latency,
    latencySeconds: v['latency-seconds'] ?? defaults.latencySeconds,
    latencyRate: v['latency-rate'] ?? defaults.latencyRate,
  };
}

export function round(x: number, digits = 1): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}
