/**
 * Random well-formed values for any schema shape, drawn from a caller-owned seeded Prng. Used by property tests,
 * the codec fuzzer and Byzantine behaviours that send plausible-looking garbage.
 */
import type { Prng } from '../prng.ts';
import type { DecodeLimits } from './limits.ts';
import type { Shape } from './schema.ts';

export interface SampleOptions {
  /** Upper bound on sampled counts and lengths (also capped by the limits). */
  readonly maxLength: number;
}

const UVAR_EDGES = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER];

function sampleUvar(rng: Prng): number {
  const pick = rng.int(4);
  if (pick === 0) return UVAR_EDGES[rng.int(UVAR_EDGES.length)]!;
  if (pick === 1) return rng.u32() * 2 ** 21 + (rng.u32() >>> 11);
  return rng.int(1000);
}

function sampleF64(rng: Prng): number {
  const pick = rng.int(5);
  if (pick === 0) return [0, -0, 1, -1, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE][rng.int(7)]!;
  return (rng.float() - 0.5) * 10 ** rng.int(12);
}

/** One random value conforming to `shape` and to `limits`. */
export function sampleShape(shape: Shape, rng: Prng, limits: DecodeLimits, opts: SampleOptions): unknown {
  switch (shape.t) {
    case 'u8':
      return rng.int(256);
    case 'uvar':
      return sampleUvar(rng);
    case 'f64':
      return sampleF64(rng);
    case 'bool':
      return rng.chance(0.5);
    case 'fixed':
      return rng.bytes(shape.n);
    case 'bytes':
      return rng.bytes(rng.int(Math.min(opts.maxLength, limits[shape.limit]) + 1));
    case 'array': {
      const n = rng.int(Math.min(opts.maxLength, limits[shape.limit]) + 1);
      return Array.from({ length: n }, () => sampleShape(shape.item, rng, limits, opts));
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(shape.fields)) out[k] = sampleShape(s, rng, limits, opts);
      return out;
    }
    case 'union': {
      const names = Object.keys(shape.variants);
      const kind = names[rng.int(names.length)]!;
      return { kind, ...(sampleShape(shape.variants[kind]!, rng, limits, opts) as object) };
    }
  }
}
