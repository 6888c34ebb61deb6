/**
 * CAN transport over any CanDriver (SLCAN adapter, SocketCAN, emulated bus): messages are segmented into
 * frames (phase-1 can-segment: per-stream sequence numbers, whole-message CRC) and reassembled per CAN id
 * with bounded buffers and a timeout. The CAN id carries priority, destination and source (CanAddressing);
 * a broadcast is sent once with the broadcast destination, since every node hears every frame anyway.
 */

import { performance } from 'node:perf_hooks';
import { type Observable, Subject } from 'rxjs';
import {
  CAN_MAX_MESSAGE_LIMIT,
  type CanFrameData,
  CanReassembler,
  CanSegmenter,
  canFdPad,
} from '../core/codec/framing/can-segment.ts';
import type { CanDriver } from './can-driver.ts';
import { CanAddressing, type CanFrame } from './can-frame.ts';
import {
  type LinkState,
  type LinkStats,
  type PeerId,
  type Received,
  StatsCounter,
  type Transport,
  TransportConfigError,
} from './transport.ts';

export interface CanTransportOptions {
  self: PeerId;
  /** Node number of every board on the bus, this one included. */
  nodes: Record<PeerId, number>;
  driver: CanDriver;
  /** 29-bit ids (default: 11-bit). */
  extended?: boolean;
  /** Arbitration priority of this node's messages (lower wins; default 4). */
  priority?: number;
  maxMessage?: number;
  /** Partial messages older than this are dropped (ms, default 200). */
  reassemblyTimeoutMs?: number;
  maxPartialsPerSender?: number;
}

export class CanTransport implements Transport {
  readonly sharedMedium = true;
  readonly self: PeerId;
  readonly peers: readonly PeerId[];
  readonly received$: Observable<Received>;
  readonly state$: Observable<LinkState>;
  private readonly rx = new Subject<Received>();
  private readonly local = new StatsCounter();
  private readonly addressing: CanAddressing;
  private readonly selfNode: number;
  private readonly frameData: CanFrameData;
  private readonly segmenters = new Map<number, CanSegmenter>();
  private readonly reassembler: CanReassembler;
  private readonly maxMessage: number;
  private readonly priority: number;
  private expiry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CanTransportOptions) {
    this.self = options.self;
    this.addressing = new CanAddressing(options.nodes, options.extended ?? false);
    const selfNode = this.addressing.node(options.self);
    if (selfNode === undefined) throw new TransportConfigError(`can ${options.self}: not in the node list`);
    this.selfNode = selfNode;
    this.peers = this.addressing.names().filter((n) => n !== options.self);
    this.frameData = options.driver.fd ? 64 : 8;
    this.maxMessage = options.maxMessage ?? CAN_MAX_MESSAGE_LIMIT;
    this.priority = options.priority ?? 4;
    const timeout = options.reassemblyTimeoutMs ?? 200;
    this.reassembler = new CanReassembler({
      frameData: this.frameData,
      maxMessage: this.maxMessage,
      maxPartialsPerSender: options.maxPartialsPerSender ?? 2,
      // One stream per (source, destination) id pair: unicast plus broadcast from each peer, and slack.
      maxSenders: Math.min(1024, 4 * (this.peers.length + 1)),
      timeout,
    });
    options.driver.onFrame = (f) => this.onFrame(f);
    this.state$ = options.driver.state.asObservable();
    this.received$ = this.rx.asObservable();
  }

  async start(): Promise<void> {
    const timeout = this.options.reassemblyTimeoutMs ?? 200;
    this.expiry = setInterval(() => this.reassembler.expire(performance.now()), Math.max(10, timeout / 2));
    this.expiry.unref?.();
    await this.options.driver.start();
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    const node = this.addressing.node(peer);
    if (node === undefined || node === this.selfNode) return this.drop('unknown-peer');
    return this.sendTo(node, bytes);
  }

  broadcast(bytes: Uint8Array): boolean {
    return this.sendTo(this.addressing.broadcastNode, bytes);
  }

  stats(): LinkStats {
    const driver = this.options.driver.counters.snapshot(this.reassembler.stats());
    const local = this.local.snapshot();
    return {
      ...driver,
      framesIn: this.local.framesIn,
      framesOut: this.local.framesOut,
      errors: { ...driver.errors, ...local.errors },
      drops: driver.drops + local.drops,
    };
  }

  /** Frame-level counters of the driver (frames on the bus rather than messages). */
  busStats(): LinkStats {
    return this.options.driver.counters.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expiry);
    await this.options.driver.stop();
    this.rx.complete();
  }

  private sendTo(dst: number, bytes: Uint8Array): boolean {
    if (bytes.length === 0 || bytes.length > this.maxMessage) return this.drop('too-long');
    const id = this.addressing.id(this.priority, dst, this.selfNode);
    let segmenter = this.segmenters.get(id);
    if (segmenter === undefined) {
      segmenter = new CanSegmenter(this.frameData, this.maxMessage);
      this.segmenters.set(id, segmenter);
    }
    const fd = this.frameData === 64;
    for (const data of segmenter.segment(bytes)) {
      const frame: CanFrame = {
        id,
        extended: this.addressing.extended,
        remote: false,
        fd,
        brs: fd,
        data: fd ? canFdPad(data) : data,
        dlc: 0,
      };
      frame.dlc = frame.data.length;
      // A message missing a frame is useless: stop at the first refusal (the driver counted it).
      if (!this.options.driver.send(frame)) return this.drop('frame-refused');
    }
    this.local.sent(bytes.length);
    return true;
  }

  private onFrame(f: CanFrame): void {
    if (f.remote || f.extended !== this.addressing.extended) return; // not ours: other traffic on the bus
    const { dst, src } = this.addressing.parse(f.id);
    if (src === this.selfNode || (dst !== this.selfNode && dst !== this.addressing.broadcastNode)) return;
    const from = this.addressing.name(src);
    if (from === undefined) {
      this.local.error('unknown-peer');
      return;
    }
    const message = this.reassembler.push(f.id, f.data, performance.now());
    if (message === undefined) return;
    this.local.received(message.length);
    this.rx.next({ from, bytes: message });
  }

  private drop(reason: string): false {
    this.local.drops++;
    this.local.error(reason);
    return false;
  }
}
