/**
 * UDP transport (node:dgram), for loopback benchmarks and boards on Ethernet. One socket per node; each
 * peer is a configured host:port and is recognised on receipt by its source address, so no header is
 * added. Datagrams from unknown addresses, empty or oversize ones are counted and dropped, and so is what a
 * peer sends past its receive budget (DatagramBudget: datagrams and bytes per second per source, counted
 * `over-rate:datagrams` / `over-rate:bytes`), so one flooding peer cannot starve the others. UDP has its own
 * checksum; the protocol's MACs stand behind it.
 */

import { createSocket, type Socket } from 'node:dgram';
import { BehaviorSubject, Subject } from 'rxjs';
import { DatagramBudget, type DatagramBudgetOptions, peerMessageLimits } from './ingress-budget.ts';
import {
  broadcastEach,
  type LinkState,
  type LinkStats,
  type PeerId,
  type Received,
  StatsCounter,
  type Transport,
  TransportConfigError,
} from './transport.ts';

export interface UdpEndpoint {
  host: string;
  port: number;
}

export interface UdpTransportOptions {
  self: PeerId;
  /** Where this node listens. Port 0 picks a free port (see `address()`). */
  bind: UdpEndpoint;
  /** Peers by name. May be completed later with `setPeer` (for port-0 tests). */
  peers: Record<PeerId, UdpEndpoint>;
  /** Largest datagram sent or accepted (default 65507, the IPv4 UDP maximum). */
  maxMessage?: number;
  /** Receive budget per peer (default `udpIngressLimits()`, for the fastest frame rate the config allows). */
  ingress?: UdpIngressLimits;
  /** Milliseconds, for the receive budget (default performance.now). */
  now?: () => number;
}

const UDP_MAX = 65507;

export type UdpIngressLimits = Omit<DatagramBudgetOptions, 'now'>;

/** The receive budget of one UDP peer at `frameRateHz` (ingress-budget.ts: the same for every link kind). */
export function udpIngressLimits(frameRateHz = 1000, maxMessage = UDP_MAX): UdpIngressLimits {
  return peerMessageLimits(frameRateHz, maxMessage);
}

export class UdpTransport implements Transport {
  readonly self: PeerId;
  private readonly rx = new Subject<Received>();
  private readonly state = new BehaviorSubject<LinkState>('connecting');
  private readonly counters = new StatsCounter();
  private readonly peerByAddress = new Map<string, PeerId>();
  private readonly addressByPeer = new Map<PeerId, UdpEndpoint>();
  private readonly maxMessage: number;
  private readonly budget: DatagramBudget;
  private socket: Socket | undefined;
  private closed = false;
  readonly received$ = this.rx.asObservable();
  readonly state$ = this.state.asObservable();

  constructor(private readonly options: UdpTransportOptions) {
    this.self = options.self;
    this.maxMessage = options.maxMessage ?? UDP_MAX;
    if (!(this.maxMessage >= 1 && this.maxMessage <= UDP_MAX)) {
      throw new TransportConfigError(`udp ${options.self}: maxMessage must be 1..${UDP_MAX}`);
    }
    for (const [peer, ep] of Object.entries(options.peers)) this.setPeer(peer, ep);
    this.budget = new DatagramBudget({
      ...(options.ingress ?? udpIngressLimits(undefined, this.maxMessage)),
      now: options.now ?? (() => performance.now()),
    });
  }

  get peers(): readonly PeerId[] {
    return [...this.addressByPeer.keys()];
  }

  /** Add or move a peer. */
  setPeer(peer: PeerId, ep: UdpEndpoint): void {
    if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535) {
      throw new TransportConfigError(`udp ${this.self}: peer ${peer} has bad port ${ep.port}`);
    }
    const old = this.addressByPeer.get(peer);
    if (old) this.peerByAddress.delete(key(old));
    this.addressByPeer.set(peer, ep);
    this.peerByAddress.set(key(ep), peer);
  }

  /** The bound address (after start). */
  address(): UdpEndpoint {
    if (!this.socket) throw new Error(`udp ${this.self}: not started`);
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  async start(): Promise<void> {
    if (this.socket) return;
    const socket = createSocket({ type: 'udp4' });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, `${rinfo.address}:${rinfo.port}`));
    await new Promise<void>((resolve) => {
      const fail = (err: Error): void => {
        this.counters.error(`bind:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        this.state.next('down');
        resolve();
      };
      socket.once('error', fail);
      socket.bind(this.options.bind.port, this.options.bind.host, () => {
        socket.off('error', fail);
        socket.on('error', (err) =>
          this.counters.error(`socket:${(err as NodeJS.ErrnoException).code ?? 'error'}`),
        );
        this.state.next('up');
        resolve();
      });
    });
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    const ep = this.addressByPeer.get(peer);
    const reason =
      ep === undefined
        ? 'unknown-peer'
        : this.state.value !== 'up' || !this.socket
          ? 'link-down'
          : bytes.length === 0 || bytes.length > this.maxMessage
            ? 'too-long'
            : undefined;
    if (reason !== undefined || ep === undefined || !this.socket)
      return this.counters.drop(reason ?? 'link-down');
    const n = bytes.length;
    this.socket.send(bytes, ep.port, ep.host, (err) => {
      if (err) this.counters.drop(`send:${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      else this.counters.sent(n);
    });
    return true;
  }

  broadcast(bytes: Uint8Array): boolean {
    return broadcastEach(this.peers, (peer) => this.send(peer, bytes));
  }

  stats(): LinkStats {
    return this.counters.snapshot();
  }

  /** The receive budget's refusals and table (status and tests). */
  ingressStats(): ReturnType<DatagramBudget['stats']> {
    return this.budget.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socket = this.socket;
    this.state.next('down');
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.state.complete();
    this.rx.complete();
  }

  private onMessage(msg: Buffer, from: string): void {
    const peer = this.peerByAddress.get(from);
    if (peer === undefined) {
      this.counters.error('unknown-peer');
      return;
    }
    if (msg.length === 0 || msg.length > this.maxMessage) {
      this.counters.error('too-long');
      return;
    }
    // By peer, not by address: a peer moved with setPeer keeps its budget.
    const refused = this.budget.take(peer, msg.length);
    if (refused !== undefined) {
      this.counters.error(`over-rate:${refused}`);
      return;
    }
    this.counters.received(msg.length);
    this.rx.next({ from: peer, bytes: new Uint8Array(msg.buffer, msg.byteOffset, msg.length) });
  }
}

function key(ep: UdpEndpoint): string {
  const host = ep.host === 'localhost' ? '127.0.0.1' : ep.host;
  return `${host}:${ep.port}`;
}
