/**
 * What a flood of wrong 4-byte ordering tags costs a correct board on the serial mesh (issue 13;
 * config/serial-mesh.json ships crypto.linkTagBytes.serial = 4, docs/MAC-TAGS.md argues it).
 *
 * A faulty neighbour fills its 921600-baud line to a correct replica board with well-formed messages whose tags
 * are random 4-byte strings, back to back at the line's message-rate ceiling (8N1: 10 bits a byte; each message
 * is a serial frame, 0x00 COBS(payload ‖ CRC-32C) 0x00, so the ceiling is baud / 10 / frame bytes). Two kinds:
 * the shortest tagged message a replica consumes (VIEW-CHANGE-FETCH, 9 bytes) and a typical ordering one
 * (COMMIT, 53 bytes with 3 tags). The faulty board also keeps sending its own correct protocol messages on
 * the same line, queued between flood frames as a UART would carry them.
 *
 * Two measurements per kind:
 * - On the loop: every board of the topology with its real roles (Board, bench/links/virtual-fleet.ts) on the
 *   virtual clock at the shipped frame rate; the target board's every byte in arrives through a real
 *   SerialTransport receive path (ingress budget, deframer, CRC) and its Router. Flown twice with one seed,
 *   without and with the flood: whether every flood message was counted as a `bad-mac` rejection (no silent
 *   loss: not over-rate, not another reason), whether the faulty board's own interleaved messages were
 *   accepted as in the run without flood, whether anything threw, and whether ordering kept its pace (voter
 *   decisions, last executed seq; on virtual time only what the protocol does can differ, the CPU is below).
 * - Isolated: the target board's replica, after that run, fed pre-built flood frames in a tight loop through a
 *   fresh SerialTransport and Router (the same receive path, run synchronously): process.cpuUsage over the
 *   loop gives ns of CPU per rejected message, and with the ceiling the share of one core the flood takes.
 *
 * - Burst: a peer writing at memory speed (a pty; a real UART cannot) in 64 KiB reads with the clock standing
 *   still: what the ingress budget's burst (4 s of line rate plus one largest frame, src/io/serial.ts) lets
 *   through at once and its CPU, the worst single read, and that the rest is counted as over-rate bytes.
 *
 * Also the MAC check alone (KeyRing.verify of a wrong tag, and GraceRing.verify while a grace keeps previous
 * keys, which checks a wrong tag twice: src/runtime/recovery/wire-keys.ts).
 *
 *   npm run bench:badmac
 *   npm run bench:badmac -- --kinds view-change-fetch,commit,state-request --flood-frames 250 --isolated 20000
 *   npm run bench:badmac -- --no-burst --target b0 --faulty b1 --seed 3
 *
 * Prints JSON (with the machine's load average); asserts nothing.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeMessage } from '../src/core/codec/encode.ts';
import { encodeSerialFrame } from '../src/core/codec/framing/serial-frame.ts';
import { DEFAULT_LIMITS } from '../src/core/codec/limits.ts';
import type { Message } from '../src/core/codec/messages.ts';
import { sessionKeysFromMaster } from '../src/core/crypto/hkdf.ts';
import { KeyRing } from '../src/core/crypto/keyring.ts';
import { othersOf, type PbftConfig } from '../src/core/pbft/config.ts';
import type { ReplicaRejection } from '../src/core/pbft/types.ts';
import { Prng } from '../src/core/prng.ts';
import { MemoryHub } from '../src/io/memory.ts';
import { type SerialPeerLink, SerialTransport, serialIngressBudget } from '../src/io/serial.ts';
import type { Received, Transport } from '../src/io/transport.ts';
import { loadTopology, type Topology } from '../src/runtime/config.ts';
import { LINK_MAX_MESSAGE } from '../src/runtime/link-limits.ts';
import { peerTagLengths } from '../src/runtime/link-tags.ts';
import { Counters } from '../src/runtime/loop/counters.ts';
import { principalOf } from '../src/runtime/loop/principals.ts';
import type { ReplicaHost } from '../src/runtime/loop/replica-host.ts';
import { Router } from '../src/runtime/loop/router.ts';
import { topologyPbftConfig } from '../src/runtime/loop/topology-pbft.ts';
import { GraceRing } from '../src/runtime/recovery/wire-keys.ts';
import { VirtualScheduler } from '../src/runtime/scheduler.ts';
import { type DecisionKind, VirtualFleet } from './links/virtual-fleet.ts';

export const FLOOD_KINDS = ['view-change-fetch', 'state-request', 'commit'] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

export interface BadMacOptions {
  readonly kind: FloodKind;
  readonly config: string;
  /** Frames flown before the flood starts. */
  readonly warmupFrames: number;
  /** Frames the flood lasts. */
  readonly floodFrames: number;
  /** Frames flown after it (does the loop go on as before?). */
  readonly tailFrames: number;
  /** Flood messages per round of the isolated CPU loop (0: skip it). */
  readonly isolatedMessages: number;
  readonly isolatedRounds: number;
  /** Also run the burst case (a memory-speed writer against the ingress budget). */
  readonly burst: boolean;
  readonly seed: number;
  /** Board under the flood (default: the view-0 primary's) and the faulty neighbour (default: the last replica's). */
  readonly target?: string;
  readonly faulty?: string;
}

export const DEFAULT_BADMAC: Omit<BadMacOptions, 'kind'> = {
  config: 'config/serial-mesh.json',
  warmupFrames: 25,
  floodFrames: 125,
  tailFrames: 25,
  isolatedMessages: 20_000,
  isolatedRounds: 3,
  burst: true,
  seed: 7,
};

/** One flight of the loop, with or without the flood. */
export interface FleetRun {
  readonly flood: boolean;
  /** Flood frames written to the faulty line / reaching the target's replica / counted `bad-mac` there. */
  readonly floodSent: number;
  readonly floodCountedBadMac: number;
  /**
   * The runtime's own counter `replica.rejected.bad-mac` after the flight (what an operator watches). The
   * flight's boards share one Counters; only the target is flooded, and without the flood it stays 0.
   */
  readonly badMacCounter: number;
  /** Flood messages the replica accepted or refused for another reason (by reason), and those never seen. */
  readonly floodNotBadMac: Record<string, number>;
  readonly floodUnaccounted: number;
  /** The faulty board's own (correct) messages on that line: delivered, accepted, rejected by reason. */
  readonly correctOnFaultyLine: {
    readonly delivered: number;
    readonly accepted: number;
    readonly rejected: Record<string, number>;
  };
  /** Messages from the other boards' lines accepted by the target's replica. */
  readonly otherLinesAccepted: number;
  /** The target replica's rejections, by reason (all lines). */
  readonly targetRejections: Record<string, number>;
  /** What the faulty line's receive side counted (frames passed up; CRC, COBS and over-rate drops). */
  readonly faultyLine: { readonly framesIn: number; readonly errors: Record<string, number> };
  readonly decisionsDuringFlood: Record<DecisionKind, number>;
  readonly decisionsAfterFlood: Record<DecisionKind, number>;
  readonly targetLastExecuted: number;
  readonly finalViews: readonly number[];
  /** Wall ns in the target replica's receive (decode, MAC, counting) per flood message and per other message. */
  readonly replicaReceiveNs: { readonly perFlood: number | null; readonly perOther: number | null };
  /** Wall time in the replica's receive for the other messages, over the flight's virtual time (percent). */
  readonly ownWorkSharePercent: number;
  /** Throws that escaped the receive path or the loop (a correct node never throws on network input). */
  readonly throws: number;
  readonly firstThrow?: string;
  readonly cpuMs: number;
}

export interface IsolatedRun {
  readonly messagesPerRound: number;
  /** ns of CPU (user + system) per flood message, per round, and their median. */
  readonly cpuNsPerMessage: readonly number[];
  readonly cpuNsPerMessageMedian: number;
  readonly wallNsPerMessageMedian: number;
  /** Over all rounds: messages fed, `bad-mac` rejections counted by the replica, frames the deframer passed up. */
  readonly fed: number;
  readonly countedBadMac: number;
  readonly framesIn: number;
  readonly lineErrors: Record<string, number>;
  readonly throws: number;
}

export interface BadMacRun {
  readonly kind: FloodKind;
  readonly target: string;
  readonly faulty: string;
  readonly baud: number;
  readonly messageBytes: { readonly min: number; readonly mean: number; readonly max: number };
  readonly serialFrameBytes: { readonly min: number; readonly mean: number };
  /** Messages a second the line carries back to back: at the shortest frame, and at the mean one sent. */
  readonly lineCeilingPerSecond: { readonly atShortest: number; readonly atMean: number };
  readonly tagBytes: number;
  readonly baseline: FleetRun;
  readonly flooded: FleetRun;
  /** Flood run against the baseline. */
  readonly verdict: {
    readonly everyFloodMessageCounted: boolean;
    /** No message of the faulty board's own failed its MAC, and as many were accepted as without the flood. */
    readonly interleavedNeverBadMac: boolean;
    readonly interleavedAcceptedAsBaseline: boolean;
    readonly decisionsAsBaseline: boolean;
    readonly lastExecutedAsBaseline: boolean;
    readonly noThrows: boolean;
    /** Burst case: each message offered was counted bad-mac or sat in a read dropped as over-rate (bytes counted). */
    readonly burstAllAccounted: boolean;
  };
  readonly isolated: IsolatedRun | null;
  readonly burst: BurstRun | null;
  /** Isolated median ns per message times the ceiling at the shortest frame: share of one core, percent. */
  readonly coreSharePercentAtLineRate: number | null;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The serial links of `board` in the topology, as SerialTransport wants them (nothing is opened). */
function serialLinks(t: Topology, board: string): Record<string, SerialPeerLink> {
  const peers: Record<string, SerialPeerLink> = {};
  for (const l of t.links) {
    if (l.type !== 'serial' || !l.between.includes(board)) continue;
    const peer = l.between[0] === board ? l.between[1] : l.between[0];
    peers[peer] = { path: l.devices[board]!, baudRate: l.baud, pace: true };
  }
  return peers;
}

/**
 * The receive side of a board's SerialTransport, fed by hand: the chunk handler of the device of the link to
 * `peer` (budget, deframer, counters; SerialTransport.onChunk), as if the UART had read `chunk`. The devices are
 * never opened. SerialTransport keeps its channels private: this is the one place a bench reaches in.
 */
function feeder(serial: SerialTransport): (peer: string, chunk: Uint8Array) => void {
  const channels = (
    serial as unknown as { channels: Map<string, { device: { onData(c: Uint8Array): void } }> }
  ).channels;
  return (peer, chunk) => channels.get(peer)!.device.onData(chunk);
}

/** Bytes of the tags `from` sends `to` (replica ids): the length of the link between their boards. */
function replicaTagBytes(t: Topology, from: number, to: number): number {
  return peerTagLengths(t, principalOf.replica(from)).get(principalOf.replica(to)) ?? t.crypto.tagBytes;
}

/** Builds the flood: well-formed messages of `kind` with random tags of the pair's length, from what is known. */
class FloodMaker {
  private readonly rng: Prng;
  private readonly claims: number[];
  private readonly pbft: PbftConfig;
  /** tagBytes[from][to]: the pair's tag length, looked up once. */
  private readonly tagBytes: number[][];

  constructor(
    private readonly kind: FloodKind,
    t: Topology,
    private readonly targetReplica: number,
    seed: number,
  ) {
    this.rng = new Prng(seed);
    this.pbft = topologyPbftConfig(t);
    const ids = t.replicas.map((r) => r.id);
    this.tagBytes = ids.map((from) => ids.map((to) => replicaTagBytes(t, from, to)));
    // It may claim to be any replica but the target (the target refuses its own id before any MAC).
    this.claims = t.replicas.map((r) => r.id).filter((id) => id !== targetReplica);
  }

  /** One message; `k`: the target's view and window, as a faulty replica learns them from its own traffic. */
  next(k: Knowledge): Uint8Array {
    const rng = this.rng;
    const replica = this.claims[rng.int(this.claims.length)]!;
    const tag = (to: number): Uint8Array => rng.bytes(this.tagBytes[replica]![to]!);
    let m: Message;
    switch (this.kind) {
      case 'view-change-fetch':
        // The shortest: every varint one byte.
        m = { kind: 'view-change-fetch', view: Math.min(127, k.view), replica, tag: tag(this.targetReplica) };
        break;
      case 'state-request':
        m = {
          kind: 'state-request',
          replica,
          fromSeq: rng.int(128),
          nonce: rng.int(128),
          tag: tag(this.targetReplica),
        };
        break;
      case 'commit':
        // Past every check before the MAC: the target's view, inside its window, from a valid other replica.
        m = {
          kind: 'commit',
          view: k.view,
          seq: k.low + 1 + rng.int(k.window),
          batchDigest: rng.bytes(32),
          replica,
          auth: othersOf(this.pbft, replica).map(tag),
        };
        break;
    }
    return encodeMessage(m);
  }
}

interface Knowledge {
  readonly view: number;
  readonly low: number;
  readonly window: number;
}

function knowledgeOf(host: ReplicaHost): Knowledge {
  const s = host.replica.status();
  return { view: s.view, low: s.lowWatermark, window: s.highWatermark - s.lowWatermark };
}

interface Flight {
  readonly run: FleetRun;
  readonly fleet: VirtualFleet;
  readonly sizes: { readonly messages: number[]; readonly frames: number[] };
}

/** Latin-1 string of a message's bytes: the key that tells a flood message from the faulty board's own. */
const keyOf = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/**
 * Flies the loop once; `flood` turns the faulty line's flood on for the flood window. The faulty line is paced in
 * both flights (each frame takes its wire time, one at a time, the board's own messages before flood frames), so
 * the flight without flood differs from the one with it only by the flood.
 */
async function fly(
  o: BadMacOptions,
  t: Topology,
  target: string,
  faulty: string,
  flood: boolean,
): Promise<Flight> {
  const clock = new VirtualScheduler();
  const hub = new MemoryHub({ delivery: 'sync' });
  const names = t.boards.map((b) => b.name);
  const faultyIndex = names.indexOf(faulty);
  const targetReplica = t.replicas.find((r) => r.board === target)!.id;
  const links = serialLinks(t, target);
  const baud = links[faulty]!.baudRate;
  const serial = new SerialTransport({
    self: target,
    links,
    maxMessage: LINK_MAX_MESSAGE,
    now: () => clock.now(),
  });
  const feed = feeder(serial);
  let throws = 0;
  let firstThrow: string | undefined;
  const caught = (e: unknown): void => {
    throws++;
    firstThrow ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  };
  const deliver = (peer: string, frame: Uint8Array): void => {
    try {
      feed(peer, frame);
    } catch (e) {
      caught(e);
    }
  };

  // The faulty line: one frame at a time; its own messages first, flood frames in every gap while flooding.
  const waiting: Uint8Array[] = [];
  let flooding = false;
  let lineBusy = false;
  let floodSent = 0;
  let ownSent = 0;
  /** Flood messages on the wire or in the target's inbox, by content (a repeat is counted twice). */
  const inFlight = new Map<string, number>();
  const sizes = { messages: [] as number[], frames: [] as number[] };
  const maker = new FloodMaker(o.kind, t, targetReplica, o.seed * 7919 + 13);
  const pump = (): void => {
    const own = waiting.shift();
    let frame: Uint8Array;
    if (own !== undefined) frame = own;
    else if (flooding) {
      const bytes = maker.next(knowledgeOf(host));
      frame = encodeSerialFrame(bytes);
      const key = keyOf(bytes);
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      if (sizes.messages.length < 10_000) {
        sizes.messages.push(bytes.length);
        sizes.frames.push(frame.length);
      }
    } else {
      lineBusy = false;
      return;
    }
    lineBusy = true;
    clock.at(clock.now() + (frame.length * 10 * 1000) / baud, () => {
      if (own === undefined) floodSent++;
      else ownSent++;
      deliver(faulty, frame);
      pump();
    });
  };

  const targetTransport = (inner: Transport): Transport => {
    inner.received$.subscribe(({ from, bytes }: Received) => {
      const frame = encodeSerialFrame(bytes);
      if (from !== faulty) deliver(from, frame);
      else {
        waiting.push(frame);
        if (!lineBusy) pump();
      }
    });
    return {
      self: inner.self,
      peers: inner.peers,
      received$: serial.received$,
      state$: inner.state$,
      start: () => inner.start(),
      send: (peer, bytes) => inner.send(peer, bytes),
      broadcast: (bytes) => inner.broadcast(bytes),
      stats: () => inner.stats(),
      close: async () => {
        await serial.close();
        await inner.close();
      },
    };
  };

  const decisions = {
    during: { write: 0, hold: 0, failsafe: 0 },
    after: { write: 0, hold: 0, failsafe: 0 },
  };
  const floodStart = o.warmupFrames;
  const floodEnd = o.warmupFrames + o.floodFrames;
  const fleet: VirtualFleet = new VirtualFleet(t, {
    seed: o.seed,
    clock,
    linkDelayMs: 0.05,
    transportFor: (board) => (board === target ? targetTransport(hub.join(board)) : hub.join(board)),
    onDecision: (frame, kind) => {
      if (frame >= floodStart && frame < floodEnd) decisions.during[kind]++;
      else if (frame >= floodEnd) decisions.after[kind]++;
    },
  });

  // The target replica's receive: what each message was (flood or not), accepted or why not; wall time of each.
  const host = fleet.boards.find((b) => b.name === target)!.replica!;
  const receive = host.receive.bind(host);
  const rejected: Record<string, number> = {};
  const own = { accepted: 0, rejected: {} as Record<string, number> };
  const floodSeen = { badMac: 0, other: {} as Record<string, number>, ns: 0 };
  let othersAccepted = 0;
  let otherNs = 0;
  let otherCount = 0;
  host.receive = (from, bytes) => {
    const t0 = process.hrtime.bigint();
    let ok = false;
    try {
      ok = receive(from, bytes);
    } catch (e) {
      caught(e);
    }
    const dt = Number(process.hrtime.bigint() - t0);
    const why: ReplicaRejection | undefined = ok ? undefined : host.lastRejection;
    const reason = why ?? (ok ? 'accepted' : 'stopped');
    if (why !== undefined) rejected[why] = (rejected[why] ?? 0) + 1;
    const key = from === faultyIndex && inFlight.size > 0 ? keyOf(bytes) : undefined;
    const left = key === undefined ? undefined : inFlight.get(key);
    if (key !== undefined && left !== undefined) {
      if (left > 1) inFlight.set(key, left - 1);
      else inFlight.delete(key);
      if (why === 'bad-mac') floodSeen.badMac++;
      else floodSeen.other[reason] = (floodSeen.other[reason] ?? 0) + 1;
      floodSeen.ns += dt;
      return ok;
    }
    otherNs += dt;
    otherCount++;
    if (from === faultyIndex) {
      if (ok) own.accepted++;
      else own.rejected[reason] = (own.rejected[reason] ?? 0) + 1;
    } else if (ok) othersAccepted++;
    return ok;
  };

  const cpu0 = process.cpuUsage();
  await fleet.start();
  try {
    fleet.fly({
      warmupFrames: o.warmupFrames,
      frames: o.floodFrames + o.tailFrames,
      atFrame: (k) => {
        if (!flood) return;
        if (k === floodStart) {
          flooding = true;
          if (!lineBusy) pump();
        }
        if (k === floodEnd) flooding = false;
      },
      tailPeriods: 1,
    });
  } catch (e) {
    caught(e);
  }
  const cpu = process.cpuUsage(cpu0);
  host.receive = receive; // the isolated loop runs the receive path without this bookkeeping
  const line = serial.peerStats()[faulty]!;
  const flightSeconds = ((o.warmupFrames + o.floodFrames + o.tailFrames + 1) * 1000) / t.frameRateHz / 1000;
  const run: FleetRun = {
    flood,
    floodSent,
    floodCountedBadMac: floodSeen.badMac,
    badMacCounter: fleet.counters.get('replica.rejected.bad-mac'),
    floodNotBadMac: floodSeen.other,
    floodUnaccounted: [...inFlight.values()].reduce((a, b) => a + b, 0),
    correctOnFaultyLine: { delivered: ownSent, accepted: own.accepted, rejected: own.rejected },
    otherLinesAccepted: othersAccepted,
    targetRejections: rejected,
    faultyLine: { framesIn: line.framesIn, errors: line.errors },
    decisionsDuringFlood: decisions.during,
    decisionsAfterFlood: decisions.after,
    targetLastExecuted: host.replica.status().lastExecuted,
    finalViews: fleet.finalViews(),
    replicaReceiveNs: {
      perFlood: floodSeen.badMac > 0 ? Math.round(floodSeen.ns / floodSeen.badMac) : null,
      perOther: otherCount > 0 ? Math.round(otherNs / otherCount) : null,
    },
    ownWorkSharePercent: round((otherNs / 1e9 / flightSeconds) * 100, 2),
    throws,
    ...(firstThrow !== undefined ? { firstThrow } : {}),
    cpuMs: round((cpu.user + cpu.system) / 1000),
  };
  return { run, fleet, sizes };
}

/**
 * The isolated CPU loop: pre-built flood frames into the target's replica through a fresh SerialTransport and
 * Router (synchronous: no scheduler between the bytes and the MAC check), cpuUsage around each round.
 */
function isolated(
  o: BadMacOptions,
  t: Topology,
  flight: Flight,
  target: string,
  faulty: string,
): IsolatedRun {
  const path = receivePath(t, flight, target);
  const host = path.host;
  const baud = serialLinks(t, target)[faulty]!.baudRate;
  const maker = new FloodMaker(o.kind, t, host.replica.id, o.seed * 104729 + 1);
  const k = knowledgeOf(host);
  const counted = (): number => flight.fleet.counters.get('replica.rejected.bad-mac');
  const before = counted();
  let throws = 0;
  const perRound: number[] = [];
  const wallPerRound: number[] = [];
  let fed = 0;
  // One warm-up round (JIT), then the measured ones.
  for (let r = 0; r <= o.isolatedRounds; r++) {
    const frames = Array.from({ length: o.isolatedMessages }, () => encodeSerialFrame(maker.next(k)));
    const gaps = frames.map((f) => (f.length * 10 * 1000) / baud);
    const w0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < frames.length; i++) {
      path.clock.ms += gaps[i]!; // the line's own pace: the ingress budget sees line rate, not memory speed
      try {
        path.feed(faulty, frames[i]!);
      } catch {
        throws++;
      }
    }
    const c = process.cpuUsage(c0);
    const wall = Number(process.hrtime.bigint() - w0);
    fed += frames.length;
    if (r === 0) continue;
    perRound.push(Math.round(((c.user + c.system) * 1000) / frames.length));
    wallPerRound.push(Math.round(wall / frames.length));
  }
  const line = path.serial.peerStats()[faulty]!;
  path.close();
  return {
    messagesPerRound: o.isolatedMessages,
    cpuNsPerMessage: perRound,
    cpuNsPerMessageMedian: median(perRound),
    wallNsPerMessageMedian: median(wallPerRound),
    fed,
    countedBadMac: counted() - before,
    framesIn: line.framesIn,
    lineErrors: line.errors,
    throws,
  };
}

/** Bytes per read in the burst case (what one read of a serial port may hand over at once). */
const BURST_READ_BYTES = 64 * 1024;

export interface BurstRun {
  readonly readBytes: number;
  /** Flood bytes written at memory speed (a pty peer, not a wire): the budget's burst plus 10%. */
  readonly bytesOffered: number;
  readonly messagesOffered: number;
  /** Messages the budget let through (counted bad-mac) and bytes it dropped as over-rate (counted, in bytes). */
  readonly messagesCountedBadMac: number;
  readonly overRateBytes: number;
  /** Messages in the reads the budget dropped whole: with those counted bad-mac, every message offered. */
  readonly messagesInDroppedReads: number;
  readonly cpuMsTotal: number;
  /** CPU of the costliest single read: how long one read turn keeps the event loop. */
  readonly cpuMsWorstRead: number;
  readonly throws: number;
}

/**
 * The burst case: a peer writing flood frames at memory speed (a pty; a real UART cannot) in reads of
 * BURST_READ_BYTES with the clock standing still, so only the ingress budget's burst gets through: how much
 * CPU that burst costs at once, and that the rest is counted as over-rate bytes rather than lost.
 */
function burst(o: BadMacOptions, t: Topology, flight: Flight, target: string, faulty: string): BurstRun {
  const path = receivePath(t, flight, target);
  const maker = new FloodMaker(o.kind, t, path.host.replica.id, o.seed * 15485863 + 5);
  const k = knowledgeOf(path.host);
  const budget = serialIngressBudget(serialLinks(t, target)[faulty]!.baudRate, LINK_MAX_MESSAGE, () => 0);
  const offered = Math.ceil(budget.available() * 1.1);
  const reads: Uint8Array[] = [];
  const perRead: number[] = [];
  let messages = 0;
  let bytes = 0;
  while (bytes < offered) {
    const chunk: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const f = encodeSerialFrame(maker.next(k));
      if (size + f.length > BURST_READ_BYTES) break;
      chunk.push(f);
      size += f.length;
      messages++;
    }
    reads.push(Buffer.concat(chunk));
    perRead.push(chunk.length);
    bytes += size;
  }
  const counted = (): number => flight.fleet.counters.get('replica.rejected.bad-mac');
  const before = counted();
  let throws = 0;
  let worst = 0;
  let total = 0;
  let inDropped = 0;
  const overRate = (): number => path.serial.peerStats()[faulty]!.errors['over-rate'] ?? 0;
  for (const [i, r] of reads.entries()) {
    const dropped = overRate();
    const r0 = process.cpuUsage();
    try {
      path.feed(faulty, r);
    } catch {
      throws++;
    }
    const c = process.cpuUsage(r0);
    worst = Math.max(worst, c.user + c.system);
    total += c.user + c.system;
    if (overRate() > dropped) inDropped += perRead[i]!;
  }
  const line = path.serial.peerStats()[faulty]!;
  path.close();
  return {
    readBytes: BURST_READ_BYTES,
    bytesOffered: bytes,
    messagesOffered: messages,
    messagesCountedBadMac: counted() - before,
    overRateBytes: line.errors['over-rate'] ?? 0,
    messagesInDroppedReads: inDropped,
    cpuMsTotal: round(total / 1000),
    cpuMsWorstRead: round(worst / 1000),
    throws,
  };
}

/**
 * The target board's receive path, run synchronously: a fresh SerialTransport (its clock `clock.ms`, moved by
 * the caller) and Router in front of the board's own replica inbox (Board.receiveAtReplica, its ReplicaHost).
 */
function receivePath(
  t: Topology,
  flight: Flight,
  target: string,
): {
  host: ReplicaHost;
  serial: SerialTransport;
  feed: (peer: string, chunk: Uint8Array) => void;
  clock: { ms: number };
  close: () => void;
} {
  const board = flight.fleet.boards.find((b) => b.name === target)!;
  const clock = { ms: 0 };
  const serial = new SerialTransport({
    self: target,
    links: serialLinks(t, target),
    maxMessage: LINK_MAX_MESSAGE,
    now: () => clock.ms,
  });
  const router = new Router({
    name: target,
    index: t.boards.findIndex((b) => b.name === target),
    transport: serial,
    scheduler: flight.fleet.clock,
    limits: DEFAULT_LIMITS,
    counters: new Counters(),
  });
  router.setBoardIndex(t.boards.map((b) => b.name));
  router.roles.replica = board.board.roles.replica!;
  return {
    host: board.replica!,
    serial,
    feed: feeder(serial),
    clock,
    close: () => void router.close(),
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Both flights and the isolated loop for one kind. */
export async function badMacFlood(o: BadMacOptions): Promise<BadMacRun> {
  const t = loadTopology(o.config);
  const target = o.target ?? t.replicas.find((r) => r.id === 0)!.board;
  const faulty = o.faulty ?? t.replicas.at(-1)!.board;
  if (target === faulty) throw new Error(`target and faulty board are both '${target}'`);
  const links = serialLinks(t, target);
  const baud = links[faulty]?.baudRate;
  if (baud === undefined) throw new Error(`${o.config}: no serial link between '${target}' and '${faulty}'`);
  const baseline = await fly(o, t, target, faulty, false);
  await baseline.fleet.close();
  const flooded = await fly(o, t, target, faulty, true);
  const iso = o.isolatedMessages > 0 ? isolated(o, t, flooded, target, faulty) : null;
  const burstRun = o.burst ? burst(o, t, flooded, target, faulty) : null;
  await flooded.fleet.close();
  const { messages, frames } = flooded.sizes;
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const shortest = Math.min(...frames);
  const b = baseline.run;
  const f = flooded.run;
  const sameDecisions = (x: Record<DecisionKind, number>, y: Record<DecisionKind, number>): boolean =>
    x.write === y.write && x.hold === y.hold && x.failsafe === y.failsafe;
  const ceiling = baud / 10 / shortest;
  return {
    kind: o.kind,
    target,
    faulty,
    baud,
    messageBytes: { min: Math.min(...messages), mean: round(mean(messages)), max: Math.max(...messages) },
    serialFrameBytes: { min: shortest, mean: round(mean(frames)) },
    lineCeilingPerSecond: { atShortest: Math.floor(ceiling), atMean: Math.floor(baud / 10 / mean(frames)) },
    tagBytes: replicaTagBytes(
      t,
      t.replicas.find((r) => r.board === faulty)!.id,
      t.replicas.find((r) => r.board === target)!.id,
    ),
    baseline: b,
    flooded: f,
    verdict: {
      everyFloodMessageCounted:
        f.floodSent > 0 &&
        f.floodCountedBadMac === f.floodSent &&
        f.badMacCounter === f.floodSent &&
        b.badMacCounter === 0 &&
        f.floodUnaccounted === 0 &&
        Object.keys(f.floodNotBadMac).length === 0,
      interleavedNeverBadMac: f.correctOnFaultyLine.rejected['bad-mac'] === undefined,
      interleavedAcceptedAsBaseline:
        f.correctOnFaultyLine.accepted === b.correctOnFaultyLine.accepted &&
        f.correctOnFaultyLine.delivered === b.correctOnFaultyLine.delivered,
      decisionsAsBaseline:
        sameDecisions(f.decisionsDuringFlood, b.decisionsDuringFlood) &&
        sameDecisions(f.decisionsAfterFlood, b.decisionsAfterFlood),
      lastExecutedAsBaseline: f.targetLastExecuted === b.targetLastExecuted,
      noThrows: f.throws === 0 && b.throws === 0 && (iso?.throws ?? 0) === 0 && (burstRun?.throws ?? 0) === 0,
      burstAllAccounted:
        burstRun === null ||
        burstRun.messagesCountedBadMac + burstRun.messagesInDroppedReads === burstRun.messagesOffered,
    },
    isolated: iso,
    burst: burstRun,
    coreSharePercentAtLineRate: iso === null ? null : round((iso.cpuNsPerMessageMedian * ceiling) / 1e7, 2),
  };
}

/** ns per KeyRing.verify of a wrong tag, and per GraceRing.verify while a grace keeps the previous keys. */
export function macVerifyCost(payloadBytes: number, tagBytes: number, count: number): Record<string, number> {
  const principals = [0, 1, 2, 3];
  const backend = 'midstate' as const;
  const peerTagLengths = principals.map((p) => [p, tagBytes] as const);
  const ring = KeyRing.fromMaster(new Uint8Array(32).fill(1), 0, principals, { backend, peerTagLengths });
  const previous = KeyRing.fromMaster(new Uint8Array(32).fill(2), 0, principals, { backend, peerTagLengths });
  const keys = principals.map((p) => [p, sessionKeysFromMaster(new Uint8Array(32).fill(1), 0, p)] as const);
  const grace = new GraceRing({ self: 0, keys, backend, peerTagLengths }, () => 0, new Counters());
  grace.keepUntil(previous, Number.POSITIVE_INFINITY);
  const rng = new Prng(3);
  const data = rng.bytes(payloadBytes);
  const tags = Array.from({ length: 1024 }, () => rng.bytes(tagBytes));
  const cost = (verify: (tag: Uint8Array) => boolean): number => {
    let wrong = 0;
    for (let i = 0; i < count / 4; i++) if (!verify(tags[i & 1023]!)) wrong++;
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) if (!verify(tags[i & 1023]!)) wrong++;
    const c = process.cpuUsage(c0);
    if (wrong === 0) console.error('unreachable');
    return Math.round(((c.user + c.system) * 1000) / count);
  };
  return {
    keyRing: cost((tag) => ring.verify(1, data, tag)),
    graceRingInGrace: cost((tag) => grace.verify(1, data, tag)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kinds: { type: 'string' },
      config: { type: 'string' },
      'warmup-frames': { type: 'string' },
      'flood-frames': { type: 'string' },
      'tail-frames': { type: 'string' },
      isolated: { type: 'string' },
      rounds: { type: 'string' },
      'no-burst': { type: 'boolean' },
      seed: { type: 'string' },
      target: { type: 'string' },
      faulty: { type: 'string' },
    },
  });
  const kinds = (values.kinds ?? 'view-change-fetch,commit').split(',') as FloodKind[];
  for (const k of kinds) if (!FLOOD_KINDS.includes(k)) throw new Error(`--kinds: unknown kind '${k}'`);
  const num = (v: string | undefined, d: number): number => (v === undefined ? d : Number(v));
  const d = DEFAULT_BADMAC;
  const base = {
    config: values.config ?? d.config,
    warmupFrames: num(values['warmup-frames'], d.warmupFrames),
    floodFrames: num(values['flood-frames'], d.floodFrames),
    tailFrames: num(values['tail-frames'], d.tailFrames),
    isolatedMessages: num(values.isolated, d.isolatedMessages),
    isolatedRounds: num(values.rounds, d.isolatedRounds),
    burst: values['no-burst'] !== true,
    seed: num(values.seed, d.seed),
    ...(values.target ? { target: values.target } : {}),
    ...(values.faulty ? { faulty: values.faulty } : {}),
  };
  const loadBefore = loadavg();
  const t0 = performance.now();
  const runs: BadMacRun[] = [];
  for (const kind of kinds) runs.push(await badMacFlood({ ...base, kind }));
  const mac = {
    payload9B: macVerifyCost(9, 4, 50_000),
    payload45B: macVerifyCost(45, 4, 50_000),
  };
  const r2 = (xs: number[]): number[] => xs.map((x) => round(x, 2));
  console.log(
    JSON.stringify(
      {
        bench: 'badmac-flood',
        node: process.version,
        loadAverage: { before: r2(loadBefore), after: r2(loadavg()) },
        wallSeconds: round((performance.now() - t0) / 1000, 2),
        options: base,
        runs,
        macVerifyNsWrongTag: mac,
      },
      null,
      2,
    ),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
