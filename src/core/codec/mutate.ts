/**
 * Mutations of encoded bytes, drawn from a caller-owned seeded Prng: the codec fuzzer's (bench/fuzz-codec.ts),
 * the firmware fuzzer's and the firmware corpus's corrupt outputs (bench/firmware/). One draw order, so that a
 * seed names the same inputs wherever it is replayed.
 *
 * @example
 * const rng = new Prng(7);
 * const input = mutateBytes(frame, rng); // 1 to 3 of BASIC_MUTATIONS
 * const wider = mutateBytes(frame, rng, [flipBit, truncate, spliceFrom(pool), seededNoise]);
 */
import type { Prng } from '../prng.ts';

/** One mutation of `bytes` (a copy the caller owns, changed in place or replaced); returns the result. */
export type ByteMutation = (bytes: Uint8Array, rng: Prng) => Uint8Array;

/** One bit of one byte flipped. */
export const flipBit: ByteMutation = (bytes, rng) => {
  if (bytes.length > 0) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
  return bytes;
};

/** Cut to a length from 0 to all of it. */
export const truncate: ByteMutation = (bytes, rng) => bytes.subarray(0, rng.int(bytes.length + 1));

/** One byte set to 0xff, 0x80, 0x7f or 0x00 (the edges of varints and lengths). */
export const specialByte: ByteMutation = (bytes, rng) => {
  if (bytes.length > 0) bytes[rng.int(bytes.length)] = [0xff, 0x80, 0x7f, 0x00][rng.int(4)]!;
  return bytes;
};

/** 1 to 8 random bytes inserted anywhere. */
export const insertBytes: ByteMutation = (bytes, rng) => {
  const ins = rng.bytes(1 + rng.int(8));
  const at = rng.int(bytes.length + 1);
  const grown = new Uint8Array(bytes.length + ins.length);
  grown.set(bytes.subarray(0, at));
  grown.set(ins, at);
  grown.set(bytes.subarray(at), at + ins.length);
  return grown;
};

/** Up to 95 bytes drawn from the caller's seeded Prng instead (never the OS's random source: replayable). */
export const seededNoise: ByteMutation = (_bytes, rng) => rng.bytes(rng.int(96));

/** A head of these bytes, then the rest of a frame of `pool` from the same offset (the pool may change). */
export function spliceFrom(pool: readonly Uint8Array[]): ByteMutation {
  return (bytes, rng) => {
    const other = pool[rng.int(pool.length)]!;
    const cut = rng.int(bytes.length + 1);
    const merged = new Uint8Array(cut + other.length - Math.min(cut, other.length));
    merged.set(bytes.subarray(0, cut));
    merged.set(other.subarray(Math.min(cut, other.length)), cut);
    return merged;
  };
}

/** Bit flips, truncation, special bytes, insertions: what every fuzzer here draws from. */
export const BASIC_MUTATIONS: readonly ByteMutation[] = [flipBit, truncate, specialByte, insertBytes];

/** 1 to 3 mutations of a copy of `src`, each drawn from `mutations`; `src` itself is left as it was. */
export function mutateBytes(
  src: Uint8Array,
  rng: Prng,
  mutations: readonly ByteMutation[] = BASIC_MUTATIONS,
): Uint8Array {
  const ops = 1 + rng.int(3);
  let out: Uint8Array = src.slice();
  for (let i = 0; i < ops; i++) out = mutations[rng.int(mutations.length)]!(out, rng);
  return out;
}
