/**
 * Codec fuzzer: mutates valid frames of every kind (bit flips, truncation, length inflation, splices, random
 * bytes) and feeds them to the decoder. Prints JSON: frames, accepted, rejections per reason, crashes.
 * A crash is any exception escaping decodeMessage, or an accepted frame that does not re-encode to itself.
 *
 *   npm run fuzz:codec -- [--frames 1000000] [--seed 1]
 */
import { parseArgs } from 'node:util';
import { decodeMessage, encodeMessage } from '../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../src/core/codec/limits.ts';
import { MESSAGE_KINDS, type Message, messageSchema } from '../src/core/codec/messages.ts';
import {
  flipBit,
  insertBytes,
  mutateBytes,
  seededNoise,
  specialByte,
  spliceFrom,
  truncate,
} from '../src/core/codec/mutate.ts';
import { sampleShape } from '../src/core/codec/sample.ts';
import { Prng } from '../src/core/prng.ts';

const { values } = parseArgs({
  options: { frames: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' } },
});
const frames = Number(values.frames);
const seed = Number(values.seed);
const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 64 * 1024 };
const rng = new Prng(seed);
const variants = messageSchema.variants;

// A pool of valid frames per kind, refreshed as the run goes, so mutations start from realistic bytes.
const pool: Uint8Array[] = [];
function freshFrame(): Uint8Array {
  const kind = MESSAGE_KINDS[rng.int(MESSAGE_KINDS.length)]!;
  const body = sampleShape(variants[kind]!.shape, rng, limits, { maxLength: 4 }) as object;
  return encodeMessage({ kind, ...body } as Message);
}
for (let i = 0; i < 256; i++) pool.push(freshFrame());

// The basic mutations (src/core/codec/mutate.ts), a splice with another frame of the pool, and random bytes.
const MUTATIONS = [flipBit, truncate, specialByte, spliceFrom(pool), insertBytes, seededNoise];

const reasons: Record<string, number> = {};
let accepted = 0;
const crashes: { input: string; error: string }[] = [];
const started = performance.now();
for (let i = 0; i < frames; i++) {
  if (i % 1024 === 0) pool[rng.int(pool.length)] = freshFrame();
  const input = mutateBytes(pool[rng.int(pool.length)]!, rng, MUTATIONS);
  try {
    const r = decodeMessage(input, limits);
    if (r.ok) {
      accepted++;
      const again = encodeMessage(r.message);
      if (Buffer.compare(Buffer.from(again), Buffer.from(input)) !== 0) {
        crashes.push({ input: Buffer.from(input).toString('hex'), error: 'accepted frame is not canonical' });
      }
    } else {
      reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    }
  } catch (e) {
    if (crashes.length < 20) crashes.push({ input: Buffer.from(input).toString('hex'), error: String(e) });
    else crashes.length++;
  }
}
const seconds = (performance.now() - started) / 1000;
const summary = {
  frames,
  seed,
  accepted,
  rejected: Object.fromEntries(Object.entries(reasons).sort((a, b) => b[1] - a[1])),
  crashes: crashes.length,
  crashSamples: crashes.slice(0, 5),
  seconds: Number(seconds.toFixed(2)),
  framesPerSecond: Math.round(frames / seconds),
  replay: `npm run fuzz:codec -- --frames ${frames} --seed ${seed}`,
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
process.exitCode = crashes.length === 0 ? 0 : 1;
