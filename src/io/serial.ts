/**
 * Serial transport: one point-to-point serial port per peer (a mesh of UARTs or pseudo-terminal pairs),
 * each carrying the phase-1 framing (0x00 COBS(payload ‖ CRC-32C) 0x00). Corrupt input is counted by reason
 * (cobs, crc, too-long, empty) and never passed up; the deframer resynchronizes at the next delimiter.
 */

import { BehaviorSubject, combineLatest, distinctUntilChanged, map, type Observable, Subject } from 'rxjs';
import { encodeSerialFrame, SerialDeframer } from '../core/codec/framing/serial-frame.ts';
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
  /** Pace writes at baudRate (default true). */
  pace?: boolean;
}

export interface SerialTransportOptions {
  self: PeerId;
  links: Record<PeerId, SerialPeerLink>;
  /** Largest payload sent or accepted. */
  maxMessage: number;
  reconnect?: BackoffOptions;
  maxQueueBytes?: number;
}

interface PeerChannel {
  peer: PeerId;
  device: SerialDevice;
  deframer: SerialDeframer;
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
      const channel: PeerChannel = { peer, device, deframer };
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
  peerStats(): Record<PeerId, LinkStats & { lastError?: string }> {
    const out: Record<PeerId, LinkStats & { lastError?: string }> = {};
    for (const c of this.channels.values()) {
      const s: LinkStats & { lastError?: string } = c.device.counters.snapshot(c.deframer.stats());
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
    for (const payload of channel.deframer.push(chunk)) {
      channel.device.counters.framesIn++;
      this.rx.next({ from: channel.peer, bytes: payload });
    }
  }
}
