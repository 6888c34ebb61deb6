/**
 * The whole loop over a CAN bus on virtual time: every board's real roles (Board) on a CanTransport
 * (real segmentation, reassembly and flow control) whose driver is a node of VirtualCanBus (the emulated bus's
 * timing and arbitration, on the virtual clock). Deterministic: bus load, queueing behind long messages, and
 * a view change after the primary's board crashes are the same on an idle laptop and on a loaded CI machine.
 *
 * Measured over the frames after the warm-up: the voter's decisions (writes, holds, failsafe, the longest run
 * without a write), the bus load (busy time over the window), when a majority of the channels' OUTPUTs reached
 * the voter (from the frame's start, late ones included: what decides whether a frame can be written at all),
 * and the runtime's counters.
 *
 *   npx tsx bench/links/virtual-can.ts [config/can-bus.json] [--rate HZ] [--frames N] [--crash-at K] [--classic]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialFrameLength } from '../../src/core/codec/framing/serial-frame.ts';
import { MESSAGE_KINDS } from '../../src/core/codec/messages.ts';
import type { ReplicaEvent } from '../../src/core/pbft/types.ts';
import { CanTransport } from '../../src/io/can.ts';
import { VirtualCanBus } from '../../src/io/can-virtual.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import type { Transport } from '../../src/io/transport.ts';
import { loadTopology, type Topology } from '../../src/runtime/config.ts';
import { CAN_LINK_MAX_MESSAGE } from '../../src/runtime/link-limits.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { type FleetOptions, VirtualFleet } from './virtual-fleet.ts';

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
  /** Every replica event with its board and virtual time (for tracing a run). */
  readonly onReplicaEvent?: (board: string, replica: number, event: ReplicaEvent, now: number) => void;
  /** Every voter decision with its virtual time, warm-up included. */
  readonly onDecision?: (frame: number, kind: 'write' | 'hold' | 'failsafe', now: number) => void;
}

export interface VirtualCanRun {
  readonly link: string;
  readonly rateHz: number;
  readonly frames: number;
  readonly decisions: { readonly write: number; readonly hold: number; readonly failsafe: number };
  /** Longest run of measured frames without a write. */
  readonly longestMissRun: number;
  /**
   * From each measured frame's start to the arrival at the voter of the OUTPUT that made a majority of the
   * channels (the earliest the voter can write it), over the frames whose majority arrived in the run, late
   * ones included (the voter refuses those). Null when no frame's did.
   */
  readonly outputLatencyMs: { readonly frames: number; readonly p50: number; readonly max: number } | null;
  /** The voter's deadline from a frame's start (timing.deadlineFraction of the period). */
  readonly deadlineMs: number;
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
  if (o.medium === 'serial') return serialRun(t0, o);
  // The topology's CAN link is the bus run here (its timeouts follow the link: topology-pbft.ts).
  const links = t0.links.map((l) =>
    l.type === 'can' ? { ...l, bitrate: o.bitrate, dataBitrate: o.dataBitrate } : l,
  );
  const t: Topology = { ...t0, frameRateHz: o.rateHz, links };
  const clock = new VirtualScheduler();
  const fd = o.dataBitrate !== undefined;
  const bus = new VirtualCanBus(
    { bitrate: o.bitrate, ...(fd ? { dataBitrate: o.dataBitrate } : {}) },
    clock,
    fd,
  );
  const nodes = Object.fromEntries(t.boards.map((b, i) => [b.name, i]));
  const sent = new SentByKind();
  const fleet: VirtualFleet = new VirtualFleet(t, {
    ...fleetOptions(o, 0.05),
    clock,
    transportFor: (board) => {
      const transport = new CanTransport({
        self: board,
        nodes,
        driver: bus.driver(),
        priority: 4,
        maxMessage: CAN_LINK_MAX_MESSAGE,
      });
      const count = (bytes: Uint8Array): void => {
        if (fleet.measuring) sent.add(bytes);
      };
      const send = transport.send.bind(transport);
      const broadcast = transport.broadcast.bind(transport);
      const latest = transport.broadcastLatest.bind(transport);
      transport.send = (peer, bytes) => {
        count(bytes);
        return send(peer, bytes);
      };
      transport.broadcast = (bytes) => {
        count(bytes);
        return broadcast(bytes);
      };
      transport.broadcastLatest = (key, bytes) => {
        count(bytes);
        return latest(key, bytes);
      };
      return transport;
    },
  });
  const warmupFrames = o.warmupFrames ?? Math.ceil(t.frameRateHz);
  const arrivals = new OutputArrivals(fleet, warmupFrames, o.frames);
  await fleet.start();
  let busAtStart = bus.stats();
  fleet.fly({
    warmupFrames,
    frames: o.frames,
    ...(o.crashPrimaryAt !== undefined ? { crashPrimaryAt: o.crashPrimaryAt } : {}),
    atFrame: (k) => {
      if (k === warmupFrames) busAtStart = bus.stats();
    },
  });
  const busAtEnd = bus.stats();
  const windowMs = o.frames * fleet.periodMs;
  return summary(fleet, o, sent, arrivals, {
    link: fd
      ? `can-fd-${o.bitrate / 1e6}M-${o.dataBitrate! / 1e6}M`
      : `can-classic-11bit-${o.bitrate / 1e6}M`,
    busLoadPercent: Math.round((1000 * (busAtEnd.busyMs - busAtStart.busyMs)) / windowMs) / 10,
    busFramesPerControlFrame: Math.round((10 * (busAtEnd.frames - busAtStart.frames)) / o.frames) / 10,
  });
}

/**
 * The loop on paced point-to-point links (every pair of boards joined, as the serial mesh configs are).
 *
 * A mesh is latency-bound before it is load-bound: each direction carries only part of a frame's traffic, but a
 * frame's path crosses five lines one after the other, each hop a whole message's wire time (a frame is taken
 * off a line only when complete: CRC and tag): the three input units' REQUESTs in turn on the input board's line
 * to the primary, the PRE-PREPARE carrying them, a PREPARE, a COMMIT, an OUTPUT. At 921600 baud with 8-byte tags
 * that is 7.1-7.3 ms at any rate (outputLatencyMs), so the voter's deadline (0.8 of the period) is missed
 * above about 109 Hz however idle the lines are (at 122 Hz, 0.9 of the 50%-load bound, 44% line load, every
 * OUTPUT is late and nothing is written).
 */
async function serialRun(t0: Topology, o: VirtualCanOptions): Promise<VirtualCanRun> {
  const links = t0.links.map((l) => (l.type === 'serial' ? { ...l, baud: o.bitrate } : l));
  const t: Topology = { ...t0, frameRateHz: o.rateHz, links };
  const clock = new VirtualScheduler();
  const hub = new MemoryHub({ delivery: 'sync' });
  const busy = new Map<string, number>();
  const sent = new SentByKind();
  const lineMs = new Map<string, number>();
  const fleet: VirtualFleet = new VirtualFleet(t, {
    ...fleetOptions(o, 0.05),
    clock,
    transportFor: (board) => {
      const paced = pacedTransport(hub.join(board), clock, o.bitrate, busy);
      const send = paced.send;
      paced.send = (peer, bytes) => {
        if (fleet.measuring) {
          sent.add(bytes);
          const key = `${board}->${peer}`;
          lineMs.set(key, (lineMs.get(key) ?? 0) + (1000 * 10 * serialFrameLength(bytes.length)) / o.bitrate);
        }
        return send(peer, bytes);
      };
      return paced;
    },
  });
  const warmupFrames = o.warmupFrames ?? Math.ceil(t.frameRateHz);
  const arrivals = new OutputArrivals(fleet, warmupFrames, o.frames);
  await fleet.start();
  fleet.fly({
    warmupFrames,
    frames: o.frames,
    ...(o.crashPrimaryAt !== undefined ? { crashPrimaryAt: o.crashPrimaryAt } : {}),
  });
  const busiest = Math.max(0, ...lineMs.values());
  return summary(fleet, o, sent, arrivals, {
    link: `serial-${o.bitrate}`,
    // A mesh: the busiest direction of the busiest link.
    busLoadPercent: Math.round((1000 * busiest) / (o.frames * fleet.periodMs)) / 10,
    busFramesPerControlFrame: 0,
  });
}

function fleetOptions(
  o: VirtualCanOptions,
  linkDelayMs: number,
): Pick<FleetOptions, 'seed' | 'linkDelayMs' | 'onReplicaEvent' | 'onDecision'> {
  return {
    seed: o.seed ?? 7,
    linkDelayMs,
    ...(o.onReplicaEvent ? { onReplicaEvent: o.onReplicaEvent } : {}),
    ...(o.onDecision ? { onDecision: o.onDecision } : {}),
  };
}

/**
 * What both media report once the fleet has flown (it is closed here): the medium's own figures in `medium`,
 * decisions, views and counters from the fleet.
 */
async function summary(
  fleet: VirtualFleet,
  o: VirtualCanOptions,
  sent: SentByKind,
  arrivals: OutputArrivals,
  medium: Pick<VirtualCanRun, 'link' | 'busLoadPercent' | 'busFramesPerControlFrame'>,
): Promise<VirtualCanRun> {
  const finalViews = fleet.finalViews();
  await fleet.close();
  const c = fleet.counters.toJSON();
  return {
    link: medium.link,
    rateHz: o.rateHz,
    frames: o.frames,
    decisions: fleet.tally.decisions,
    longestMissRun: fleet.tally.longestMissRun,
    outputLatencyMs: arrivals.latency(),
    deadlineMs: round2(fleet.periodMs * fleet.topology.timing.deadlineFraction),
    busLoadPercent: medium.busLoadPercent,
    busFramesPerControlFrame: medium.busFramesPerControlFrame,
    ...(fleet.crashedAt !== undefined ? { crashedAt: fleet.crashedAt } : {}),
    viewChanges: c['replica.new-view'] ?? 0,
    finalViews,
    sentByKind: sent.byKind,
    counters: c,
  };
}

const round2 = (x: number): number => Math.round(100 * x) / 100;

/**
 * When the OUTPUTs of the measured frames reach the voter's board (after its link delay, as the voter gets them):
 * the voter board's inbox is wrapped before the fleet starts, every decoded OUTPUT passes through.
 */
class OutputArrivals {
  /** Per frame: each channel's first OUTPUT's arrival time, in arrival order. */
  private readonly at = new Map<number, Map<number, number>>();
  private readonly majority: number;

  constructor(
    private readonly fleet: VirtualFleet,
    firstFrame: number,
    frames: number,
  ) {
    this.majority = Math.floor(fleet.topology.channels.length / 2) + 1;
    const router = fleet.boards.find((b) => b.voter !== undefined)?.board;
    const inbox = router?.roles.voter;
    if (router === undefined || inbox === undefined) return;
    const end = firstFrame + frames;
    router.roles.voter = {
      output: (m) => {
        if (m.frame >= firstFrame && m.frame < end) {
          const byChannel = this.at.get(m.frame) ?? new Map<number, number>();
          this.at.set(m.frame, byChannel);
          if (!byChannel.has(m.channel)) byChannel.set(m.channel, fleet.clock.now());
        }
        inbox.output(m);
      },
    };
  }

  /** Frame start to the majority's OUTPUT, over the frames whose majority arrived. */
  latency(): VirtualCanRun['outputLatencyMs'] {
    const xs: number[] = [];
    for (const [frame, byChannel] of this.at) {
      const t = [...byChannel.values()][this.majority - 1];
      if (t !== undefined) xs.push(t - frame * this.fleet.periodMs);
    }
    if (xs.length === 0) return null;
    xs.sort((a, b) => a - b);
    return { frames: xs.length, p50: round2(xs[Math.floor((xs.length - 1) / 2)]!), max: round2(xs.at(-1)!) };
  }
}

/** Messages handed to the medium in the measured window, by kind (a broadcast once). */
class SentByKind {
  readonly byKind: Record<string, { messages: number; bytes: number; largest: number }> = {};

  add(bytes: Uint8Array): void {
    const kind = MESSAGE_KINDS[bytes[1] ?? 255] ?? 'unknown';
    const e = this.byKind[kind] ?? { messages: 0, bytes: 0, largest: 0 };
    this.byKind[kind] = e;
    e.messages++;
    e.bytes += bytes.length;
    e.largest = Math.max(e.largest, bytes.length);
  }
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
