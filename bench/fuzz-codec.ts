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

function mutate(src: Uint8Array): Uint8Array {
  const ops = 1 + rng.int(3);
  let out: Uint8Array = src.slice();
  for (let i = 0; i < ops; i++) {
    switch (rng.int(6)) {
      case 0:
        if (out.length > 0) out[rng.int(out.length)]! ^= 1 << rng.int(8);
        break;
      case 1:
        out = out.subarray(0, rng.int(out.length + 1));
        break;
      case 2:
        if (out.length > 0) out[rng.int(out.length)] = [0xff, 0x80, 0x7f, 0x00][rng.int(4)]!;
        break;
      case 3: {
        const other = pool[rng.int(pool.length)]!;
        const cut = rng.int(out.length + 1);
        const merged = new Uint8Array(cut + other.length - Math.min(cut, other.length));
        merged.set(out.subarray(0, cut));
        merged.set(other.subarray(Math.min(cut, other.length)), cut);
        out = merged;
        break;
      }
      case 4: {
        const ins = rng.bytes(1 + rng.int(8));
        const at = rng.int(out.length + 1);
        const grown = new Uint8Array(out.length + ins.length);
        grown.set(out.subarray(0, at));
        grown.set(ins, at);
        grown.set(out.subarray(at), at + ins.length);
        out = grown;
        break;
      }
      default:
        out = rng.bytes(rng.int(96));
    }
  }
  return out;
}

const reasons: Record<string, number> = {};
let accepted = 0;
const crashes: { input: string; error: string }[] = [];
const started = performance.now();
for (let i = 0; i < frames; i++) {
  if (i % 1024 === 0) pool[rng.int(pool.length)] = freshFrame();
  const input = mutate(pool[rng.int(pool.length)]!);
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
