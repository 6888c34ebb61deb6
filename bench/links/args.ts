/** Command-line options of the link benchmarks (bench:links and its parts). */

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

export function parseLinksArgs(
  argv: readonly string[],
  defaults: LinksOptions = DEFAULT_OPTIONS,
): LinksOptions {
  const o: LinksOptions = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--frames') o.frames = Math.floor(num());
    else if (a === '--warmup-frames') o.warmupFrames = Math.floor(num());
    else if (a === '--real-frames') o.realFrames = Math.floor(num());
    else if (a === '--real-rate') o.realRateHz = num();
    else if (a === '--no-real') o.real = false;
    else if (a === '--latency-seconds') o.latencySeconds = num();
    else if (a === '--latency-rate') o.latencyRate = num();
    else if (a === '--no-latency') o.latency = false;
    else throw new Error(`unknown argument '${a}'`);
  }
  return o;
}

export function round(x: number, digits = 1): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}
