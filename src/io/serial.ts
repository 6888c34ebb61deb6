/**
 * Serial transport: one point-to-point serial port per peer (a mesh of UARTs or pseudo-terminal pairs),
 * each carrying the phase-1 framing (0x00 COBS(payload ‖ CRC-32C) 0x00). Corrupt input is counted by reason
 * (cobs, crc, too-long, empty) and never passed up; the deframer resynchronizes at the next delimiter.
 *
 * A paced link is a UART at its baud rate, at both ends: bytes arriving faster than that wire could carry them
 * (with slack, and a burst of one largest frame plus a few seconds of line rate) are dropped before they are
 * deframed and counted as 'over-rate' bytes, so a faulty peer writing at memory speed into a pty costs a correct
 * board what a real wire would, not its whole event loop (ingress-budget.ts).
 */

import { performance } from 'node:perf_hooks';
import { BehaviorSubject, combineLatest, distinctUntilChanged, map, type Observable, Subject } from 'rxjs';
import { encodeSerialFrame, SerialDeframer, serialFrameLength } from '../core/codec/framing/serial-frame.ts';
import { IngressBudget } from './ingress-budget.ts';
import { type BackoffOptions, SerialDevice } from './serial-device.ts';
import {
  broadcastEach,
  combineStates,
  type LinkState,
  type LinkStats,
  type PeerId,
  type Received,
  StatsCounter,
  sumStats,
  type Transport,
  TransportConfigError,
} from './transport.ts';

export interface SerialPeerLink {
  /** Device path: /dev/ttyUSB0, /dev/serial0, or a socat pty link. */
  path: string;
  baudRate: number;
  /**
   * Pace writes at baudRate (default true). A paced link also bounds what it accepts to what its wire carries
   * (the peer paces too: both ends come from one link config); an unpaced one (a pty in a test) accepts all.
   */
  pace?: boolean;
}

/** Slack on the receive bound over the nominal line rate (clock drift, a peer's timer jitter). */
const INGRESS_RATE_SLACK = 1.25;
/** Seconds of line rate a receiver may find waiting at once (it stalled; the kernel kept the bytes). */
const INGRESS_BURST_SECONDS = 4;

/** The receive budget of a paced link at `baudRate` carrying messages up to `maxMessage` bytes (8N1: 10 bits a byte). */
export function serialIngressBudget(baudRate: number, maxMessage: number, now: () => number): IngressBudget {
  const lineRate = baudRate / 10;
  return new IngressBudget({
    bytesPerSecond: lineRate * INGRESS_RATE_SLACK,
    burstBytes: serialFrameLength(maxMessage) + INGRESS_BURST_SECONDS * lineRate,
    now,
  });
}

export interface SerialTransportOptions {
  self: PeerId;
  links: Record<PeerId, SerialPeerLink>;
  /** Largest payload sent or accepted. */
  maxMessage: number;
  reconnect?: BackoffOptions;
  maxQueueBytes?: number;
  /** Clock of the receive budgets, ms (default performance.now; tests pass their own). */
  now?: () => number;
}

interface PeerChannel {
  peer: PeerId;
  device: SerialDevice;
  deframer: SerialDeframer;
  /** Receive budget of a paced link (absent: unpaced, accepts all). */
  budget: IngressBudget | undefined;
}

export class SerialTransport implements Transport {
  readonly self: PeerId;
  readonly peers: readonly PeerId[];
  readonly received$: Observable<Received>;
  readonly state$: Observable<LinkState>;
  /** Per-peer link state, for status displays. */
  readonly peerStates$: Observable<Record<PeerId, LinkState>>;
  private readonly rx = new Subject<Received>();
  private readonly channels = new Map<PeerId, PeerChannel>();
  private readonly local = new StatsCounter();
  private readonly aggregate = new BehaviorSubject<LinkState>('connecting');
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: SerialTransportOptions) {
    this.self = options.self;
    const peers = Object.keys(options.links);
    if (peers.length === 0) throw new TransportConfigError(`serial ${options.self}: no links configured`);
    if (peers.includes(options.self))
      throw new TransportConfigError(`serial ${options.self}: link to itself`);
    this.peers = peers;
    for (const [peer, link] of Object.entries(options.links)) {
      const device = new SerialDevice({
        path: link.path,
        baudRate: link.baudRate,
        pace: link.pace ?? true,
        reconnect: options.reconnect,
        maxQueueBytes: options.maxQueueBytes,
      });
      const deframer = new SerialDeframer({ maxPayload: options.maxMessage });
      const now = options.now ?? (() => performance.now());
      const budget =
        (link.pace ?? true) ? serialIngressBudget(link.baudRate, options.maxMessage, now) : undefined;
      const channel: PeerChannel = { peer, device, deframer, budget };
      device.onData = (chunk) => this.onChunk(channel, chunk);
      this.channels.set(peer, channel);
    }
    const states = [...this.channels.values()].map((c) => c.device.state.asObservable());
    const perPeer = combineLatest(states);
    this.peerStates$ = perPeer.pipe(map((s) => Object.fromEntries(this.peers.map((p, i) => [p, s[i]!]))));
    perPeer.pipe(map(combineStates), distinctUntilChanged()).subscribe(this.aggregate);
    this.state$ = this.aggregate.asObservable();
    this.received$ = this.rx.asObservable();
  }

  /** Idempotent: a second call waits for the first. */
  start(): Promise<void> {
    this.starting ??= Promise.all([...this.channels.values()].map((c) => c.device.start())).then(
      () => undefined,
    );
    return this.starting;
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    const channel = this.channels.get(peer);
    if (channel === undefined) return this.local.drop('unknown-peer');
    if (bytes.length === 0 || bytes.length > this.options.maxMessage) return this.local.drop('too-long');
    return channel.device.write(encodeSerialFrame(bytes));
  }

  broadcast(bytes: Uint8Array): boolean {
    if (bytes.length === 0 || bytes.length > this.options.maxMessage) return this.local.drop('too-long');
    // One encoding for every link: the device queues only hold references to the frame.
    const frame = encodeSerialFrame(bytes);
    return broadcastEach(this.peers, (peer) => this.channels.get(peer)!.device.write(frame));
  }

  stats(): LinkStats {
    const parts = [...this.channels.values()].map((c) => c.device.counters.snapshot(c.deframer.stats()));
    return sumStats([this.local.snapshot(), ...parts]);
  }

  /** Per-peer statistics and the last error of each device (why it is down). */
  /** Per peer: its link's counters, the device's state and the bytes waiting for its wire (what a stuck link shows). */
  peerStats(): Record<PeerId, LinkStats & { lastError?: string; state: LinkState; queuedBytes: number }> {
    const out: Record<PeerId, LinkStats & { lastError?: string; state: LinkState; queuedBytes: number }> = {};
    for (const c of this.channels.values()) {
      const s: LinkStats & { lastError?: string; state: LinkState; queuedBytes: number } = {
        ...c.device.counters.snapshot(c.deframer.stats()),
        state: c.device.state.value,
        queuedBytes: c.device.queued(),
      };
      if (c.device.lastError !== undefined) s.lastError = c.device.lastError;
      out[c.peer] = s;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.channels.values()].map((c) => c.device.stop()));
    for (const c of this.channels.values()) c.device.state.complete();
    this.rx.complete();
  }

  private onChunk(channel: PeerChannel, chunk: Uint8Array): void {
    if (channel.budget !== undefined && !channel.budget.take(chunk.length)) {
      // Faster than the wire: dropped unread (the cost of a refusal is this check), and the frame it cut
      // into is discarded up to the next delimiter.
      channel.device.counters.error('over-rate', chunk.length);
      channel.deframer.resync();
      return;
    }
    for (const payload of channel.deframer.push(chunk)) {
      channel.device.counters.framesIn++;
      this.rx.next({ from: channel.peer, bytes: payload });
    }
  }
}
