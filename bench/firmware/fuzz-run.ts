/**
 * The firmware decoder fuzzer: the codec fuzzer's mutations (bench/fuzz-codec.ts) of valid frames of every
 * kind, weighted towards OUTPUT and heartbeat, fed to the ASan + UBSan build of the firmware's decoder
 * (firmware-bridge/host/fuzz.c). A crash is a sanitizer report or any abnormal exit; a mismatch is a verdict
 * other than the TypeScript codec's (reference-decode.ts), or an accepted message that does not re-encode to
 * itself. A second stream pushes mutated link frames through the whole unit (deframer, requests, MAC, voter).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authPayload, encodeMessage } from '../../src/core/codec/encode.ts';
import { encodeSerialFrame } from '../../src/core/codec/framing/serial-frame.ts';
import { MESSAGE_KINDS, type Message, messageSchema } from '../../src/core/codec/messages.ts';
import { mutateBytes } from '../../src/core/codec/mutate.ts';
import { sampleShape } from '../../src/core/codec/sample.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { Prng } from '../../src/core/prng.ts';
import { encodeRequest } from '../../src/runtime/firmware/protocol.ts';
import { build } from '../../src/runtime/firmware/toolchain.ts';
import { generateCorpus, SETUPS } from './corpus.ts';
import { provisionFor } from './harness.ts';
import { expectedDecode, FIRMWARE_LIMITS, firmwareDecodeName } from './reference-decode.ts';

export interface FuzzSummary {
  readonly frames: number;
  readonly seed: number;
  readonly accepted: number;
  readonly verdicts: Record<string, number>;
  readonly crashes: number;
  readonly crashSamples: readonly { input: string; error: string }[];
  readonly mismatches: number;
  readonly mismatchSamples: readonly { input: string; firmware: string; typescript: string }[];
  readonly link: {
    readonly bytes: number;
    readonly requests: number;
    readonly exit: string;
    readonly stats: unknown;
  };
  readonly seconds: number;
}

interface ChildResult {
  readonly out: Buffer;
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

function runChild(binary: string, args: string[], input: Buffer): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
        UBSAN_OPTIONS: 'print_stacktrace=1',
      },
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 8000) stderr += s;
    });
    child.stdin.on('error', () => {}); // a crashed child closes its stdin: reported through the exit code
    child.on('close', (code, signal) => resolve({ out: Buffer.concat(out), code, signal, stderr }));
    child.stdin.end(input);
  });
}

function framePool(rng: Prng): () => Uint8Array {
  const limits = { ...FIRMWARE_LIMITS, maxMessageBytes: 64 * 1024 };
  const mac = keyedMac(new Uint8Array(32).fill(7));
  const fresh = (): Uint8Array => {
    const pick = rng.int(4);
    const kind =
      pick === 0 ? 'output' : pick === 1 ? 'heartbeat' : MESSAGE_KINDS[rng.int(MESSAGE_KINDS.length)]!;
    const body = sampleShape(messageSchema.variants[kind].shape, rng, limits, { maxLength: 4 }) as object;
    const m = { kind, ...body } as Message;
    if (m.kind === 'output') return encodeMessage({ ...m, tag: mac.mac(authPayload(m), 8 + rng.int(25)) });
    return encodeMessage(m);
  };
  const pool: Uint8Array[] = Array.from({ length: 256 }, fresh);
  let n = 0;
  return () => {
    if (n++ % 1024 === 0) pool[rng.int(pool.length)] = fresh();
    const src = pool[rng.int(pool.length)]!;
    // A few untouched frames, so acceptance is exercised too; the rest mutated as the codec fuzzer does.
    if (rng.chance(0.05)) return src;
    if (rng.chance(0.1)) return rng.bytes(rng.int(96));
    return mutateBytes(src, rng);
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Decode `frames` mutated frames with the sanitized firmware decoder; then the link stream. */
export async function runFirmwareFuzz(o: {
  frames: number;
  seed: number;
  workDir: string;
}): Promise<FuzzSummary> {
  const binary = build('fuzz');
  const started = performance.now();
  const rng = new Prng(o.seed);
  const next = framePool(rng.fork());
  const verdicts: Record<string, number> = {};
  const crashSamples: { input: string; error: string }[] = [];
  const mismatchSamples: { input: string; firmware: string; typescript: string }[] = [];
  let crashes = 0;
  let mismatches = 0;
  let accepted = 0;
  const CHUNK = 50_000;
  for (let done = 0; done < o.frames; ) {
    const inputs: Uint8Array[] = [];
    for (let i = 0; i < Math.min(CHUNK, o.frames - done); i++) {
      const f = next();
      inputs.push(f.length > 0xffff ? f.subarray(0, 0xffff) : f);
    }
    const records = Buffer.alloc(inputs.reduce((n, f) => n + 2 + f.length, 0));
    let at = 0;
    for (const f of inputs) {
      records.writeUInt16LE(f.length, at);
      records.set(f, at + 2);
      at += 2 + f.length;
    }
    const r = await runChild(binary, ['decode'], records);
    const answered = Math.min(r.out.length, inputs.length);
    for (let i = 0; i < answered; i++) {
      const fw = firmwareDecodeName(r.out[i]!);
      const ts = expectedDecode(inputs[i]!);
      verdicts[fw] = (verdicts[fw] ?? 0) + 1;
      if (fw === 'ok') accepted++;
      if (fw !== ts) {
        mismatches++;
        if (mismatchSamples.length < 5)
          mismatchSamples.push({ input: hex(inputs[i]!), firmware: fw, typescript: ts });
      }
    }
    const crashed = r.code !== 0 || r.signal !== null || answered < inputs.length;
    if (crashed) {
      crashes++;
      if (crashSamples.length < 5) {
        const input = inputs[answered];
        crashSamples.push({
          input: input === undefined ? '(after the last input)' : hex(input),
          error: `exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 1500)}`,
        });
      }
      done += answered + 1; // skip the crashing input and go on
      continue;
    }
    done += inputs.length;
  }
  const link = await fuzzLink(rng.fork(), Math.max(1000, Math.round(o.frames / 10)), o.workDir, binary);
  return {
    frames: o.frames,
    seed: o.seed,
    accepted,
    verdicts: Object.fromEntries(Object.entries(verdicts).sort((a, b) => b[1] - a[1])),
    crashes: crashes + (link.exit === 'ok' ? 0 : 1),
    crashSamples,
    mismatches,
    mismatchSamples,
    link,
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
}

/**
 * A provisioned unit under the sanitizers fed a link stream: the requests of a real corpus (DELIVER and
 * TICK), some mutated inside valid frames, some as corrupted frames, with line noise between.
 */
async function fuzzLink(rng: Prng, requests: number, workDir: string, binary: string) {
  const corpus = generateCorpus(SETUPS[0]!, Math.ceil(requests / 4), rng.u32());
  const provision = join(workDir, 'fuzz.prov');
  writeFileSync(provision, provisionFor(corpus));
  const parts: Uint8Array[] = [];
  let seq = 1;
  let sent = 0;
  for (const e of corpus.events) {
    if (sent >= requests) break;
    const payload =
      e.kind === 'arm'
        ? encodeRequest({ type: 'tick', seq: seq++, time: e.time + 16, frame: e.frame })
        : encodeRequest({ type: 'deliver', seq: seq++, time: e.time, message: e.bytes });
    const pick = rng.int(10);
    const mutated = mutateBytes(payload, rng).subarray(0, 560);
    if (pick === 0 && mutated.length > 0) parts.push(encodeSerialFrame(mutated));
    else if (pick === 1) parts.push(mutateBytes(encodeSerialFrame(payload), rng));
    else parts.push(encodeSerialFrame(payload));
    if (rng.chance(0.05)) parts.push(rng.bytes(rng.int(64)));
    if (rng.chance(0.002)) parts.push(rng.bytes(2000).map((b) => b | 1)); // an overlong run
    sent++;
  }
  const input = Buffer.concat(parts);
  const r = await runChild(binary, ['link', provision], input);
  const exit =
    r.code === 0 && r.signal === null ? 'ok' : `exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 1500)}`;
  let stats: unknown = null;
  try {
    stats = JSON.parse(r.out.toString('utf8'));
  } catch {
    stats = r.out.toString('utf8').slice(0, 200);
  }
  return { bytes: input.length, requests: sent, exit, stats };
}
