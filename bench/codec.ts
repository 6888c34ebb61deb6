/**
 * Codec benchmark: encode and decode per second for every message kind (typical small sizes), then the MAC
 * authenticator numbers from bench/mac.ts (both backends). Prints one JSON object.
 *
 *   npm run bench:codec
 */
import { decodeMessage, encodeMessage } from '../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../src/core/codec/limits.ts';
import { MESSAGE_KINDS, type Message, messageSchema } from '../src/core/codec/messages.ts';
import { sampleShape } from '../src/core/codec/sample.ts';
import { Prng } from '../src/core/prng.ts';
import { benchMacs } from './mac.ts';

const CASE_MS = 300;

function perSecond(fn: () => void): number {
  for (let i = 0; i < 1000; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < CASE_MS) {
    for (let i = 0; i < 256; i++) fn();
    n += 256;
    elapsed = performance.now() - start;
  }
  return Math.round((n / elapsed) * 1000);
}

function sample(kind: string, rng: Prng): Message {
  const shape = messageSchema.shape;
  if (shape.t !== 'union') throw new Error('message schema must be a union');
  const body = sampleShape(shape.variants[kind]!, rng, DEFAULT_LIMITS, { maxLength: 4 }) as object;
  return { kind, ...body } as Message;
}

const rng = new Prng(1);
const codec: Record<string, { bytes: number; encodePerSec: number; decodePerSec: number }> = {};
for (const kind of MESSAGE_KINDS) {
  const m = sample(kind, rng);
  const bytes = encodeMessage(m);
  codec[kind] = {
    bytes: bytes.length,
    encodePerSec: perSecond(() => encodeMessage(m)),
    decodePerSec: perSecond(() => decodeMessage(bytes)),
  };
}

const mac = await benchMacs();
process.stdout.write(`${JSON.stringify({ node: process.version, codec, mac }, null, 2)}\n`);
