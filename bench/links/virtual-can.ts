/**
 * The whole loop over a CAN bus on virtual time: every board's real roles (Board) on a CanTransport
 * (real segmentation, reassembly and flow control) whose driver is a node of VirtualCanBus (the emulated bus's
 * timing and arbitration, on the virtual clock). Deterministic: bus load, queueing behind long messages, and
 * a view change after the primary's board crashes are the same on an idle laptop and on a loaded CI machine.
 *
 * Measured over the frames after the warm-up: the voter's decisions (writes, holds, failsafe, the longest run
 * without a write), the bus load (busy time over the window), and the runtime's counters.
 *
 *   npx tsx bench/links/virtual-can.ts [config/can-bus.json] [--rate HZ] [--frames N] [--crash-at K] [--classic]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { serialFrameLength } from '../../src/core/codec/framing/serial-frame.ts';
import { MESSAGE_KINDS } from '../../src/core/codec/messages.ts';
import { Prng } from '../../src/core/prng.ts';
import { CanTransport } from '../../src/io/can.ts';
import { VirtualCanBus } from '../../src/io/can-virtual.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import type { Transport } from '../../src/io/transport.ts';
import { loadTopology, type Topology } from '../../src/runtime/config.ts';
import { CAN_LINK_MAX_MESSAGE } from '../../src/runtime/link-limits.ts';
import { Board } from '../../src/runtime/loop/board.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

export interface VirtualCanOptions {
  readonly rateHz: number;
  readonly frames: number;
  readonly warmupFrames?: number;
  /** Crash the view-0 primary's board at this frame of the measured window. */
  readonly crashPrimaryAt?: number;
  readonly bitrate: number;
  /** CAN FD data-phase rate; absent: classic CAN. */
  readonly dataBitrate?: number;
  /**
   * 'serial': the topology's point-to-point links instead, each direction paced at `bitrate` baud (serial
   * framing, 10 bits a byte), messages queued per direction in order; `bitrate` is then the baud rate.
   */
  readonly medium?: 'can' | 'serial';
  readonly seed?: number;
}

export interface VirtualCanRun {
  readonly link: string;
  readonly rateHz: number;
  readonly frames: number;
  readonly decisions: { readonly write: number; readonly hold: number; readonly failsafe: number };
  /** Longest run of measured frames without a write. */
  readonly longestMissRun: number;
  readonly busLoadPercent: number;
  readonly busFramesPerControlFrame: number;
  readonly crashedAt?: number;
  readonly viewChanges: number;
  readonly finalViews: readonly number[];
  /** Messages handed to the bus in the window, by kind (a broadcast once). */
  readonly sentByKind: Record<string, { messages: number; bytes: number; largest: number }>;
  readonly counters: Record<string, number>;
}

/** Runs the loop of `t` over a virtual CAN bus and measures the window after the warm-up. */
export async function virtualCanRun(t0: Topology, o: VirtualCanOptions): Promise<VirtualCanRun> {
  // The topology's CAN link is the bus run here (its timeouts follow the link: topology-pbft.ts).
  const links = t0.links.map((l) =>
    l.type === 'can' ? { ...l, bitrate: o.bitrate, dataBitrate: o.dataBitrate } : l,
  );
  const t: Topology = { ...t0, frameRateHz: o.rateHz, links };
  const clock = new VirtualScheduler();
  const rng = new Prng(o.seed ?? 7);
  const keys = seededKeys(t, rng.u32());
  if (o.medium === 'serial') return serialRun(t0, o);
  const fd = o.dataBitrate !== undefined;
  const bus = new VirtualCanBus(
    { bitrate: o.bitrate, ...(fd ? { dataBitrate: o.dataBitrate } : {}) },
    clock,
    fd,
  );
  const nodes = Object.fromEntries(t.boards.map((b, i) => [b.name, i]));
  const counters = new Counters();
  const logger = pino({ level: 'silent' });
  const periodMs = 1000 / t.frameRateHz;
  const warmup = o.warmupFrames ?? Math.ceil(t.frameRateHz);
  const decisions = { write: 0, hold: 0, failsafe: 0 };
  let measuring = false;
  let missRun = 0;
  let longestMissRun = 0;
  const boards: Board[] = [];
  const sentByKind: Record<string, { messages: number; bytes: number; largest: number }> = {};
  const count = (bytes: Uint8Array): void => {
    if (!measuring) return;
    const kind = MESSAGE_KINDS[bytes[1] ?? 255] ?? 'unknown';
    const e = sentByKind[kind] ?? { messages: 0, bytes: 0, largest: 0 };
    sentByKind[kind] = e;
    e.messages++;
    e.bytes += bytes.length;
    e.largest = Math.max(e.largest, bytes.length);
  };
  for (const b of t.boards) {
    const transport = new CanTransport({
      self: b.name,
      nodes,
      driver: bus.driver(),
      priority: 4,
      maxMessage: CAN_LINK_MAX_MESSAGE,
    });
    const send = transport.send.bind(transport);
    const broadcast = transport.broadcast.bind(transport);
    transport.send = (peer, bytes) => {
      count(bytes);
      return send(peer, bytes);
    };
    transport.broadcast = (bytes) => {
      count(bytes);
      return broadcast(bytes);
    };
    boards.push(
      new Board({
        topology: t,
        board: b.name,
        transport,
        scheduler: clock,
        keys,
        logger,
        counters,
        rng: rng.fork(),
        linkDelayMs: () => 0.05,
        actuator: {
          write: (rec) => {
            if (!measuring) return;
            decisions[rec.kind]++;
            missRun = rec.kind === 'write' ? 0 : missRun + 1;
            longestMissRun = Math.max(longestMissRun, missRun);
          },
        },
      }),
    );
  }
  await Promise.all(boards.map((b) => b.start()));
  const front = boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
  const primaryBoard = t.replicas.find((r) => r.id === 0)!.board;
  let busAtStart = bus.stats();
  let crashedAt: number | undefined;
  const total = warmup + o.frames;
  for (let k = 0; k < total; k++) {
    const frame = k - warmup;
    clock.runUntil(k * periodMs);
    if (k === warmup) {
      measuring = true;
      busAtStart = bus.stats();
    }
    if (o.crashPrimaryAt !== undefined && frame === o.crashPrimaryAt) {
      boards.find((b) => b.name === primaryBoard)!.crash();
      crashedAt = frame;
    }
    const samples = Array.from({ length: t.inputUnits }, () => ({
      stick: 0.2 * Math.sin(k / 20),
      pitch: 0.01,
    }));
    for (const b of front) b.startFrame(k, samples);
  }
  clock.runUntil(total * periodMs);
  const busAtEnd = bus.stats();
  measuring = false;
  const windowMs = o.frames * periodMs;
  const finalViews = boards.flatMap((b) => (b.replica?.running ? [b.replica.replica.status().view] : []));
  await Promise.all(boards.map((b) => b.close()));
  const c = counters.toJSON();
  return {
    link: fd
      ? `can-fd-${o.bitrate / 1e6}M-${o.dataBitrate! / 1e6}M`
      : `can-classic-11bit-${o.bitrate / 1e6}M`,
    rateHz: o.rateHz,
    frames: o.frames,
    decisions,
    longestMissRun,
    busLoadPercent: Math.round((1000 * (busAtEnd.busyMs - busAtStart.busyMs)) / windowMs) / 10,
    busFramesPerControlFrame: Math.round((10 * (busAtEnd.frames - busAtStart.frames)) / o.frames) / 10,
    ...(crashedAt !== undefined ? { crashedAt } : {}),
    viewChanges: c['replica.new-view'] ?? 0,
    finalViews,
    sentByKind,
    counters: c,
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const flag = (name: string): number | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const file =
    argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--')) ?? 'config/can-bus.json';
  const t = loadTopology(file);
  const link = t.links.find((l) => l.type === 'can');
  const classic = argv.includes('--classic');
  const serial = t.links.find((l) => l.type === 'serial');
  const run = await virtualCanRun(t, {
    rateHz: flag('--rate') ?? t.frameRateHz,
    frames: flag('--frames') ?? 200,
    ...(flag('--crash-at') !== undefined ? { crashPrimaryAt: flag('--crash-at')! } : {}),
    ...(serial?.type === 'serial' && link === undefined ? { medium: 'serial' as const } : {}),
    bitrate:
      flag('--bitrate') ??
      (link?.type === 'can' ? link.bitrate : serial?.type === 'serial' ? serial.baud : 1_000_000),
    ...(classic
      ? {}
      : { dataBitrate: flag('--data-bitrate') ?? (link?.type === 'can' ? link.dataBitrate : undefined) }),
  });
  process.stdout.write(`${JSON.stringify({ bench: 'links-virtual-can', config: file, ...run }, null, 2)}\n`);
}

/** A memory-hub transport whose sends each take their wire time on a per-direction line (a paced serial link). */
function pacedTransport(
  inner: Transport,
  clock: VirtualScheduler,
  baud: number,
  busy: Map<string, number>,
): Transport {
  const send = (peer: string, bytes: Uint8Array): boolean => {
    const key = `${inner.self}->${peer}`;
    const copy = bytes.slice();
    const start = Math.max(clock.now(), busy.get(key) ?? 0);
    const end = start + (1000 * 10 * serialFrameLength(bytes.length)) / baud;
    busy.set(key, end);
    clock.at(end, () => inner.send(peer, copy));
    return true;
  };
  return {
    self: inner.self,
    peers: inner.peers,
    received$: inner.received$,
    state$: inner.state$,
    start: () => inner.start(),
    send,
    broadcast: (bytes) => inner.peers.every((p) => send(p, bytes)),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

/** The loop on paced point-to-point links (every pair of boards joined, as the serial mesh configs are). */
async function serialRun(t0: Topology, o: VirtualCanOptions): Promise<VirtualCanRun> {
  const links = t0.links.map((l) => (l.type === 'serial' ? { ...l, baud: o.bitrate } : l));
  const t: Topology = { ...t0, frameRateHz: o.rateHz, links };
  const clock = new VirtualScheduler();
  const rng = new Prng(o.seed ?? 7);
  const keys = seededKeys(t, rng.u32());
  const hub = new MemoryHub({ delivery: 'sync' });
  const busy = new Map<string, number>();
  const counters = new Counters();
  const logger = pino({ level: 'silent' });
  const periodMs = 1000 / t.frameRateHz;
  const warmup = o.warmupFrames ?? Math.ceil(t.frameRateHz);
  const decisions = { write: 0, hold: 0, failsafe: 0 };
  const sentByKind: Record<string, { messages: number; bytes: number; largest: number }> = {};
  let measuring = false;
  let missRun = 0;
  let longestMissRun = 0;
  const lineMs = new Map<string, number>();
  const boards: Board[] = [];
  for (const b of t.boards) {
    const paced = pacedTransport(hub.join(b.name), clock, o.bitrate, busy);
    const send = paced.send;
    paced.send = (peer, bytes) => {
      if (measuring) {
        const kind = MESSAGE_KINDS[bytes[1] ?? 255] ?? 'unknown';
        const e = sentByKind[kind] ?? { messages: 0, bytes: 0, largest: 0 };
        sentByKind[kind] = e;
        e.messages++;
        e.bytes += bytes.length;
        e.largest = Math.max(e.largest, bytes.length);
        const key = `${b.name}->${peer}`;
        lineMs.set(key, (lineMs.get(key) ?? 0) + (1000 * 10 * serialFrameLength(bytes.length)) / o.bitrate);
      }
      return send(peer, bytes);
    };
    boards.push(
      new Board({
        topology: t,
        board: b.name,
        transport: paced,
        scheduler: clock,
        keys,
        logger,
        counters,
        rng: rng.fork(),
        linkDelayMs: () => 0.05,
        actuator: {
          write: (rec) => {
            if (!measuring) return;
            decisions[rec.kind]++;
            missRun = rec.kind === 'write' ? 0 : missRun + 1;
            longestMissRun = Math.max(longestMissRun, missRun);
          },
        },
      }),
    );
  }
  await Promise.all(boards.map((b) => b.start()));
  const front = boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
  const primaryBoard = t.replicas.find((r) => r.id === 0)!.board;
  let crashedAt: number | undefined;
  const total = warmup + o.frames;
  for (let k = 0; k < total; k++) {
    const frame = k - warmup;
    clock.runUntil(k * periodMs);
    if (k === warmup) measuring = true;
    if (o.crashPrimaryAt !== undefined && frame === o.crashPrimaryAt) {
      boards.find((b) => b.name === primaryBoard)!.crash();
      crashedAt = frame;
    }
    const samples = Array.from({ length: t.inputUnits }, () => ({
      stick: 0.2 * Math.sin(k / 20),
      pitch: 0.01,
    }));
    for (const b of front) b.startFrame(k, samples);
  }
  clock.runUntil(total * periodMs);
  measuring = false;
  const finalViews = boards.flatMap((b) => (b.replica?.running ? [b.replica.replica.status().view] : []));
  await Promise.all(boards.map((b) => b.close()));
  const c = counters.toJSON();
  const busiest = Math.max(0, ...lineMs.values());
  return {
    link: `serial-${o.bitrate}`,
    rateHz: o.rateHz,
    frames: o.frames,
    decisions,
    longestMissRun,
    // A mesh: the busiest direction of the busiest link.
    busLoadPercent: Math.round((1000 * busiest) / (o.frames * periodMs)) / 10,
    busFramesPerControlFrame: 0,
    ...(crashedAt !== undefined ? { crashedAt } : {}),
    viewChanges: c['replica.new-view'] ?? 0,
    finalViews,
    sentByKind,
    counters: c,
  };
}
