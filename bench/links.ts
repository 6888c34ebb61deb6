/**
 * Link budget of the control loop for f = 1, printed as JSON:
 *  1. traffic: the loop's real message pattern (config/laptop.json roles: 4 replicas, 3 channels, 3 input units,
 *     1 voter) run for N frames on the virtual clock, every message counted by kind and board pair as encoded;
 *  2. per link: serial (COBS + CRC-32C frames, 10 bits per byte) on each link of the serial mesh, classic CAN
 *     (8-byte frames) and CAN FD (64-byte frames, 2 Mbit/s data phase) with the segmentation of
 *     src/core/codec/framing/can-segment.ts and the bit-time model (worst-case stuffing) of src/io/can-frame.ts;
 *     the largest frame rate within 50% load (serial: the busiest direction of the busiest link; CAN: the
 *     shared bus, all frames);
 *  3. what-ifs that shrink the traffic (digest-only PRE-PREPAREs; one CAN broadcast per multicast);
 *  4. input-to-actuator latency across processes at 100 Hz (`triplex node` processes: UDP loopback, and
 *     `triplex sim --processes` over a paced pty serial mesh and the emulated CAN bus).
 *
 *   npm run bench:links                       # everything (about a minute and a half)
 *   npm run bench:links -- --frames 500 --latency-seconds 10 --no-latency
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Observable } from 'rxjs';
import { decodeMessage, encodeMessage } from '../src/core/codec/encode.ts';
import { type CanFrameData, CanSegmenter, canFdPad } from '../src/core/codec/framing/can-segment.ts';
import { encodeSerialFrame } from '../src/core/codec/framing/serial-frame.ts';
import type { Message, PrePrepare } from '../src/core/codec/messages.ts';
import { sha256 } from '../src/core/crypto/digest.ts';
import { Prng } from '../src/core/prng.ts';
import { canDataFrame, canFrameBits } from '../src/io/can-frame.ts';
import { MemoryHub } from '../src/io/memory.ts';
import type { LinkState, LinkStats, PeerId, Received, Transport } from '../src/io/transport.ts';
import { loadTopology, type Topology } from '../src/runtime/config.ts';
import { BoardRuntime } from '../src/runtime/loop/board-runtime.ts';
import { Counters } from '../src/runtime/loop/counters.ts';
import { seededKeys } from '../src/runtime/loop/keys.ts';
import { VirtualScheduler } from '../src/runtime/scheduler.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

interface Options {
  frames: number;
  warmupFrames: number;
  latency: boolean;
  latencySeconds: number;
  latencyRate: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { frames: 400, warmupFrames: 50, latency: true, latencySeconds: 15, latencyRate: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--frames') o.frames = Math.floor(num());
    else if (a === '--warmup-frames') o.warmupFrames = Math.floor(num());
    else if (a === '--latency-seconds') o.latencySeconds = num();
    else if (a === '--latency-rate') o.latencyRate = num();
    else if (a === '--no-latency') o.latency = false;
    else throw new Error(`unknown argument '${a}'`);
  }
  return o;
}

// ---------------------------------------------------------------- 1. traffic

interface Sent {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly kind: Message['kind'];
  readonly bytes: Uint8Array;
}

/** A transport that records every message it sends, then passes it on. */
class RecordingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly record: (to: PeerId, bytes: Uint8Array) => void,
  ) {}
  get self(): PeerId {
    return this.inner.self;
  }
  get peers(): readonly PeerId[] {
    return this.inner.peers;
  }
  get received$(): Observable<Received> {
    return this.inner.received$;
  }
  get state$(): Observable<LinkState> {
    return this.inner.state$;
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  send(peer: PeerId, bytes: Uint8Array): boolean {
    this.record(peer, bytes);
    return this.inner.send(peer, bytes);
  }
  broadcast(bytes: Uint8Array): boolean {
    for (const p of this.inner.peers) this.record(p, bytes);
    return this.inner.broadcast(bytes);
  }
  stats(): LinkStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Runs the loop of `t` on the virtual clock and returns what crossed a link during the measured frames. */
async function recordTraffic(
  t: Topology,
  o: Options,
): Promise<{ sent: Sent[]; written: number; decisions: number; counters: Record<string, number> }> {
  const clock = new VirtualScheduler();
  const rng = new Prng(7);
  const keys = seededKeys(t, rng.u32());
  const hub = new MemoryHub({ delivery: 'sync' });
  const counters = new Counters();
  const logger = pino({ level: 'silent' });
  const periodMs = 1000 / t.frameRateHz;
  const sent: Sent[] = [];
  let measuring = false;
  let decisions = 0;
  let written = 0;
  const boards: BoardRuntime[] = [];
  for (const b of t.boards) {
    const transport = new RecordingTransport(hub.join(b.name), (to, bytes) => {
      if (!measuring) return;
      const d = decodeMessage(bytes);
      if (!d.ok) throw new Error(`board ${b.name} sent bytes that do not decode: ${d.reason}`);
      sent.push({ at: clock.now(), from: b.name, to, kind: d.message.kind, bytes: bytes.slice() });
    });
    boards.push(
      new BoardRuntime({
        topology: t,
        board: b.name,
        transport,
        scheduler: clock,
        keys,
        logger,
        counters,
        rng: rng.fork(),
        linkDelayMs: () => 0.2,
        actuator: {
          write: (rec) => {
            if (!measuring) return;
            decisions++;
            if (rec.kind === 'write') written++;
          },
        },
      }),
    );
  }
  await Promise.all(boards.map((b) => b.start()));
  const front = boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
  const total = o.warmupFrames + o.frames;
  for (let k = 0; k < total; k++) {
    if (k === o.warmupFrames) measuring = true;
    clock.runUntil(k * periodMs);
    const samples = Array.from({ length: t.inputUnits }, () => ({
      stick: 0.2 * Math.sin(k / 20),
      pitch: 0.01,
    }));
    for (const b of front) b.startFrame(k, samples);
  }
  clock.runUntil((total + 1) * periodMs);
  measuring = false;
  await Promise.all(boards.map((b) => b.close()));
  return { sent, written, decisions, counters: counters.toJSON() };
}

// ---------------------------------------------------------------- 2. link framing and load

const CAN_ID = 0x100; // any 11-bit id: standard-id frames all cost the same bits

function serialWireBytes(m: Uint8Array): number {
  return encodeSerialFrame(m).length;
}

/** CAN frames and bus time (µs) of one message; FD: 1 Mbit/s arbitration, 2 Mbit/s data phase with BRS. */
function canCost(m: Uint8Array, frameData: CanFrameData): { frames: number; us: number } {
  const segments = new CanSegmenter(frameData).segment(m);
  let us = 0;
  for (const s of segments) {
    const fd = frameData === 64;
    const bits = canFrameBits(canDataFrame(CAN_ID, fd ? canFdPad(s) : s, fd ? { fd: true, brs: true } : {}));
    us += fd ? bits.nominal / 1 + bits.data / 2 : bits.nominal / 1; // bits at 1 Mbit/s = µs
  }
  return { frames: segments.length, us };
}

interface KindTotals {
  messages: number;
  bytes: number;
}

function addTo(map: Record<string, KindTotals>, key: string, bytes: number): void {
  const e = map[key] ?? { messages: 0, bytes: 0 };
  e.messages++;
  e.bytes += bytes;
  map[key] = e;
}

function perFrame<T extends Record<string, number>>(x: T, frames: number): T {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(x)) out[k] = round(v / frames, 2);
  return out as T;
}

function round(x: number, digits = 1): number {
  const p = 10 ** digits;
  return Math.round(x * p) / p;
}

/** Largest frame rate with `perFrameSeconds` of wire time per frame at 50% load. */
function rateAt50(perFrameSeconds: number): number {
  return perFrameSeconds > 0 ? Math.floor(0.5 / perFrameSeconds) : Number.POSITIVE_INFINITY;
}

/** Messages sent to several boards at one instant with identical bytes: one CAN broadcast would do. */
function multicastGroups(sent: readonly Sent[]): Sent[][] {
  const groups = new Map<string, Sent[]>();
  for (const s of sent) {
    const key = `${s.at}|${s.from}|${Buffer.from(sha256(s.bytes)).toString('hex')}`;
    const g = groups.get(key) ?? [];
    g.push(s);
    groups.set(key, g);
  }
  return [...groups.values()];
}

/** The same PRE-PREPARE with its batch as request digests (batch kind 'digests'), for the what-if. */
function digestOnly(bytes: Uint8Array): Uint8Array {
  const d = decodeMessage(bytes);
  if (!d.ok || d.message.kind !== 'pre-prepare' || d.message.batch.kind !== 'full') return bytes;
  const pp: PrePrepare = d.message;
  const reqs = pp.batch.kind === 'full' ? pp.batch.requests : [];
  return encodeMessage({
    ...pp,
    batch: { kind: 'digests', digests: reqs.map((r) => sha256(encodeMessage({ kind: 'request', ...r }))) },
  });
}

interface Variant {
  readonly name: string;
  /** Bytes on the wire for a message (after the what-if rewrite). */
  readonly rewrite: (s: Sent) => Uint8Array;
  /** CAN: one bus transmission per multicast group. */
  readonly canBroadcast: boolean;
}

function linkBudget(mesh: Topology, sent: readonly Sent[], frames: number, v: Variant) {
  // Serial: per link direction (full duplex UARTs), bytes on the wire including COBS and CRC.
  const serialDirs = new Map<string, { bytes: number; frames: number; byKind: Record<string, KindTotals> }>();
  const pairs: Record<string, Record<string, KindTotals>> = {};
  for (const s of sent) {
    const m = v.rewrite(s);
    const dir = `${s.from}->${s.to}`;
    const e = serialDirs.get(dir) ?? { bytes: 0, frames: 0, byKind: {} };
    const wire = serialWireBytes(m);
    e.bytes += wire;
    e.frames++;
    addTo(e.byKind, s.kind, wire);
    serialDirs.set(dir, e);
    const pairKey = [s.from, s.to].sort().join('<->');
    pairs[pairKey] ??= {};
    addTo(pairs[pairKey], s.kind, m.length);
  }
  const meshPairs = new Map<string, number>();
  for (const l of mesh.links) {
    if (l.type !== 'serial') continue;
    meshPairs.set([...l.between].sort().join('<->'), l.baud);
  }
  const missing = Object.keys(pairs).filter((p) => !meshPairs.has(p));
  if (missing.length > 0)
    throw new Error(`traffic between boards without a serial link: ${missing.join(', ')}`);
  const directions = [...serialDirs.entries()]
    .map(([dir, e]) => ({
      direction: dir,
      bytesPerFrame: round(e.bytes / frames),
      messagesPerFrame: round(e.frames / frames, 2),
      byKindBytesPerFrame: Object.fromEntries(
        Object.entries(e.byKind)
          .sort((a, b) => b[1].bytes - a[1].bytes)
          .map(([k, x]) => [k, round(x.bytes / frames)]),
      ),
    }))
    .sort((a, b) => b.bytesPerFrame - a.bytesPerFrame);
  const busiest = directions[0];
  const serialRate = (baud: number): number =>
    busiest === undefined ? Number.POSITIVE_INFINITY : rateAt50((busiest.bytesPerFrame * 10) / baud);

  // CAN: one shared bus; every frame of every message counts.
  const can = (frameData: CanFrameData) => {
    let us = 0;
    let canFrames = 0;
    const byKind: Record<string, { frames: number; us: number }> = {};
    const units = v.canBroadcast ? multicastGroups(sent).map((g) => g[0]!) : sent;
    for (const s of units) {
      const c = canCost(v.rewrite(s), frameData);
      us += c.us;
      canFrames += c.frames;
      const k = byKind[s.kind] ?? { frames: 0, us: 0 };
      k.frames += c.frames;
      k.us += c.us;
      byKind[s.kind] = k;
    }
    const perFrameUs = us / frames;
    return {
      canFramesPerControlFrame: round(canFrames / frames, 1),
      busTimeUsPerControlFrame: round(perFrameUs),
      busLoadAt100HzPercent: round((perFrameUs * 100) / 1e4, 1),
      maxFrameRateAt50PercentLoadHz: rateAt50(perFrameUs / 1e6),
      busTimeShareByKindPercent: Object.fromEntries(
        Object.entries(byKind)
          .sort((a, b) => b[1].us - a[1].us)
          .map(([k, x]) => [k, round((100 * x.us) / us)]),
      ),
    };
  };

  return {
    variant: v.name,
    serial: {
      framing: 'COBS + CRC-32C + delimiter per message; 10 bits per byte (8N1); full duplex: per direction',
      busiestDirection: busiest,
      maxFrameRateAt50PercentLoadHz: { baud115200: serialRate(115200), baud921600: serialRate(921600) },
      directions: directions.slice(0, 6),
    },
    canClassic1M: can(8),
    canFd1M2M: can(64),
    ...(v.name === 'as-sent'
      ? {
          perBoardPairBytesPerFrame: Object.fromEntries(
            Object.entries(pairs).map(([p, kinds]) => [
              p,
              Object.fromEntries(Object.entries(kinds).map(([k, x]) => [k, round(x.bytes / frames)])),
            ]),
          ),
        }
      : {}),
  };
}

function messageSummary(sent: readonly Sent[], frames: number) {
  const byKind: Record<string, KindTotals & { minBytes: number; maxBytes: number }> = {};
  for (const s of sent) {
    const e = byKind[s.kind] ?? { messages: 0, bytes: 0, minBytes: Number.POSITIVE_INFINITY, maxBytes: 0 };
    e.messages++;
    e.bytes += s.bytes.length;
    e.minBytes = Math.min(e.minBytes, s.bytes.length);
    e.maxBytes = Math.max(e.maxBytes, s.bytes.length);
    byKind[s.kind] = e;
  }
  return Object.fromEntries(
    Object.entries(byKind)
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([k, e]) => [
        k,
        {
          messagesPerFrame: round(e.messages / frames, 2),
          encodedBytesPerFrame: round(e.bytes / frames),
          messageBytes: e.minBytes === e.maxBytes ? e.minBytes : `${e.minBytes}..${e.maxBytes}`,
          serialFrameBytes: serialWireBytes(new Uint8Array(e.maxBytes)),
          canClassicFrames: new CanSegmenter(8).segment(new Uint8Array(e.maxBytes)).length,
          canFdFrames: new CanSegmenter(64).segment(new Uint8Array(e.maxBytes)).length,
        },
      ]),
  );
}

// ---------------------------------------------------------------- 4. latency across processes

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => process.exit(130));
}

/** Run the triplex CLI (same tsx loader as this process); resolves with stdout, stderr and exit code. */
function triplex(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [...process.execArgv, join(root, 'src/cli/main.ts'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      ok({ code, stdout, stderr });
    });
  });
}

function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const hard = setTimeout(() => c.kill('SIGKILL'), 2000);
    c.once('exit', () => {
      clearTimeout(hard);
      ok();
    });
    c.kill('SIGTERM');
  });
}

interface LatencyRun {
  link: string;
  ok: boolean;
  frameRateHz?: number;
  framesFlown?: number;
  voter?: unknown;
  latencyMs?: unknown;
  /** From the run's trace.csv: latency of the frames the voter wrote (majority in before the deadline). */
  writtenFramesLatencyMs?: { frames: number; p50: number; p99: number; max: number } | null;
  passed?: boolean;
  error?: string;
}

/** Latency percentiles of the written frames of a report folder's trace.csv (null when there is none). */
function writtenLatency(reportDir: string): LatencyRun['writtenFramesLatencyMs'] {
  const file = join(reportDir, 'trace.csv');
  if (!existsSync(file)) return null;
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = header?.split(',') ?? [];
  const outcome = cols.indexOf('outcome');
  const latency = cols.indexOf('latency_ms');
  if (outcome < 0 || latency < 0) return null;
  const xs = rows
    .map((r) => r.split(','))
    .filter((c) => c[outcome] === 'write')
    .map((c) => Number(c[latency]))
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  const at = (q: number): number =>
    round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN, 3);
  return { frames: xs.length, p50: at(0.5), p99: at(0.99), max: round(xs[xs.length - 1] ?? Number.NaN, 3) };
}

function pickSummary(link: string, out: { code: number | null; stdout: string; stderr: string }): LatencyRun {
  const at = out.stdout.indexOf('{');
  try {
    const s = JSON.parse(out.stdout.slice(at)) as Record<string, unknown>;
    return {
      link,
      ok: true,
      frameRateHz: s.frameRateHz as number,
      framesFlown: s.framesFlown as number,
      voter: s.voter,
      latencyMs: s.latencyMs,
      passed: s.passed as boolean,
    };
  } catch {
    return {
      link,
      ok: false,
      error: `exit ${out.code}: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
}

/** Five `triplex node` processes on UDP loopback; the voter's board flies the emulated rig and reports. */
async function latencyUdp(t: Topology, o: Options): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-links-'));
  const started: ChildProcess[] = [];
  try {
    const basePort = 20000 + Math.floor(Math.random() * 20000);
    const { file: _file, ...raw } = t as Topology & { file?: string };
    const config = {
      name: `${t.name}-udp`,
      f: t.f,
      frameRateHz: o.latencyRate,
      boards: t.boards,
      links: [{ type: 'udp', host: '127.0.0.1', basePort }],
      timing: raw.timing,
      voter: raw.voter,
      recovery: raw.recovery,
      crypto: raw.crypto,
    };
    const configFile = join(dir, 'udp.json');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const keysDir = join(dir, 'keys');
    const gen = await triplex(['keys', 'gen', '--out', keysDir, '--config', configFile], 60_000);
    if (gen.code !== 0) return { link: 'udp', ok: false, error: `keys gen: ${gen.stderr.trim()}` };
    const rigBoard = t.voters[0]!.board;
    for (const b of t.boards) {
      if (b.name === rigBoard) continue;
      const child = spawn(
        process.execPath,
        [
          ...process.execArgv,
          join(root, 'src/cli/main.ts'),
          'node',
          '--config',
          configFile,
          '--board',
          b.name,
          '--keys',
          keysDir,
          '--log-level',
          'warn',
          '--log-file',
          join(dir, `${b.name}.log`),
        ],
        { cwd: root, stdio: 'ignore' },
      );
      children.add(child);
      started.push(child);
    }
    // Let the board processes load and bind before the rig's first frame.
    await new Promise((ok) => setTimeout(ok, 4000));
    const rig = await triplex(
      [
        'node',
        '--config',
        configFile,
        '--board',
        rigBoard,
        '--keys',
        keysDir,
        '--rig',
        'emulated',
        '--duration',
        String(o.latencySeconds),
        '--json',
        '--no-status',
        '--log-level',
        'warn',
        '--log-file',
        join(dir, `${rigBoard}.log`),
        '--out',
        join(dir, 'report'),
      ],
      (o.latencySeconds + 60) * 1000,
    );
    return {
      ...pickSummary('udp loopback (triplex node x5)', rig),
      writtenFramesLatencyMs: writtenLatency(join(dir, 'report')),
    };
  } finally {
    await Promise.all(started.map(kill));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `triplex sim --processes`: board processes on a pty serial mesh (paced) or the emulated CAN bus. */
async function latencySim(link: 'serial' | 'can', config: string, o: Options): Promise<LatencyRun> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-links-sim-'));
  try {
    const out = await triplex(
      [
        'sim',
        '--processes',
        '--link',
        link,
        '--config',
        config,
        '--rate',
        String(o.latencyRate),
        '--duration',
        String(o.latencySeconds),
        '--json',
        '--no-status',
        '--out',
        dir,
      ],
      (o.latencySeconds + 90) * 1000,
    );
    return pickSummary(
      link === 'serial'
        ? `serial pty mesh, paced (${config})`
        : `emulated CAN bus over SLCAN ptys (${config})`,
      out,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const laptop = loadTopology(join(root, 'config/laptop.json'));
  const mesh = loadTopology(join(root, 'config/serial-mesh.json'));
  const { sent, written, decisions, counters } = await recordTraffic(laptop, o);
  const frames = o.frames;
  const variants: Variant[] = [
    { name: 'as-sent', rewrite: (s) => s.bytes, canBroadcast: false },
    { name: 'can-broadcast-multicasts', rewrite: (s) => s.bytes, canBroadcast: true },
    {
      name: 'digest-only-pre-prepares+can-broadcast',
      rewrite: (s) => (s.kind === 'pre-prepare' ? digestOnly(s.bytes) : s.bytes),
      canBroadcast: true,
    },
  ];
  const budgets = variants.map((v) => linkBudget(mesh, sent, frames, v));
  const latency: LatencyRun[] = [];
  if (o.latency) {
    latency.push(await latencyUdp(laptop, o));
    latency.push(await latencySim('serial', 'config/serial-mesh.json', o));
    latency.push(await latencySim('can', 'config/can-bus.json', o));
  }
  const totalBytes = sent.reduce((t, s) => t + s.bytes.length, 0);
  const out = {
    bench: 'links',
    topology: {
      config: 'config/laptop.json',
      f: laptop.f,
      replicas: laptop.replicas.length,
      channels: laptop.channels.length,
      inputUnits: laptop.inputUnits,
      voters: laptop.voters.length,
      tagBytes: laptop.crypto.tagBytes,
      frameRateHzOfRun: laptop.frameRateHz,
    },
    measuredFrames: frames,
    voterDecisionsInWindow: decisions,
    voterWritesInWindow: written,
    runtimeCounters: counters,
    messagesPerFrame: round(sent.length / frames, 2),
    encodedBytesPerFrame: round(totalBytes / frames),
    byKind: messageSummary(sent, frames),
    perCount: perFrame({ messages: sent.length, bytes: totalBytes }, frames),
    budgets,
    aim: { canClassicHz: 100, serial921600Hz: 200 },
    latencyAcrossProcesses: o.latency
      ? { rateHz: o.latencyRate, seconds: o.latencySeconds, runs: latency }
      : 'skipped',
    node: process.version,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
