/**
 * CAN transport over any CanDriver (SLCAN adapter, SocketCAN, emulated bus): messages are segmented into
 * frames (can-segment: per-stream sequence numbers, whole-message CRC, 19-bit length) and reassembled per CAN
 * id with bounded buffers (per sender and in total) and a timeout. Reassembled messages pass a receive budget
 * per source (DatagramBudget: messages and bytes per second, counted `over-rate:<reason>`), so a node flooding
 * the bus with short messages costs a correct node's CPU a bounded share (it still takes the bus's time: only a
 * bus guardian stops a babbling node). The source is the CAN id's source field, which a faulty node can forge:
 * the MACs stand behind it, and a forger can spend another node's budget. The CAN id carries priority, destination and
 * source (CanAddressing); a broadcast is sent once with the broadcast destination, since every node hears every
 * frame anyway.
 *
 * Sending goes through one FIFO of messages with a byte budget. Frames are cut from the head message as the
 * driver has room (a driver with a transmit window, such as SLCAN, reports it; others take every frame at
 * once), so a view change's messages of thousands of frames are fed to the bus at its pace instead of being
 * refused by a full adapter queue. A message whose frame the driver refuses is abandoned (its remaining frames
 * are not sent: the receiver could not complete it) and counted.
 */

import { performance } from 'node:perf_hooks';
import { type Observable, Subject } from 'rxjs';
import { CanReassembler } from '../core/codec/framing/can-reassembly.ts';
import {
  CAN_MAX_MESSAGE_LIMIT,
  type CanFrameCursor,
  type CanFrameData,
  CanSegmenter,
} from '../core/codec/framing/can-segment.ts';
import type { CanDriver } from './can-driver.ts';
import { CanAddressing, type CanFrame } from './can-frame.ts';
import { DatagramBudget, type DatagramBudgetOptions, peerMessageLimits } from './ingress-budget.ts';
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
  /** Largest message sent or accepted (default and at most CAN_MAX_MESSAGE_LIMIT). */
  maxMessage?: number;
  /**
   * Partial messages with no progress for this long are dropped (ms, default 5000). A long message of a node
   * with a high id can wait behind other nodes' long messages (a view change on classic CAN keeps the bus busy
   * for a second or more, longer when it repeats), so this is well above the bus time of the largest message.
   * A long timeout costs little: the byte budgets, not the timeout, bound what stale partials hold.
   */
  reassemblyTimeoutMs?: number;
  maxPartialsPerSender?: number;
  /** Bytes of partial messages held per CAN id (default maxMessage) and in total (default 4 x maxMessage). */
  maxReassemblyBytesPerSender?: number;
  maxReassemblyBytes?: number;
  /** Bytes of messages waiting to be sent; a message beyond it is dropped ('queue-full'). Default 1 MiB. */
  maxQueueBytes?: number;
  /** Receive budget per source node (default `peerMessageLimits()` for the largest message accepted). */
  ingress?: Omit<DatagramBudgetOptions, 'now'>;
  /** Milliseconds, for the receive budget (default performance.now). */
  now?: () => number;
}

/** A message waiting for the bus, cut into frames as the driver takes them. */
interface Outgoing {
  readonly id: number;
  readonly length: number;
  readonly cursor: CanFrameCursor;
  /** A newer message under this key replaces this one while it waits whole (broadcastLatest). */
  readonly key?: string;
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
  private readonly fd: boolean;
  private readonly segmenters = new Map<number, CanSegmenter>();
  private readonly reassembler: CanReassembler;
  private readonly budget: DatagramBudget;
  private readonly maxMessage: number;
  private readonly maxQueueBytes: number;
  private readonly priority: number;
  private readonly timeoutMs: number;
  private readonly queue: Outgoing[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private pumping = false;
  private expiry: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: CanTransportOptions) {
    this.self = options.self;
    this.addressing = new CanAddressing(options.nodes, options.extended ?? false);
    const selfNode = this.addressing.node(options.self);
    if (selfNode === undefined) throw new TransportConfigError(`can ${options.self}: not in the node list`);
    this.selfNode = selfNode;
    this.peers = this.addressing.names().filter((n) => n !== options.self);
    this.fd = options.driver.fd;
    this.frameData = this.fd ? 64 : 8;
    this.maxMessage = options.maxMessage ?? CAN_MAX_MESSAGE_LIMIT;
    this.maxQueueBytes = options.maxQueueBytes ?? 1 << 20;
    this.priority = options.priority ?? 4;
    this.timeoutMs = options.reassemblyTimeoutMs ?? 5000;
    this.reassembler = new CanReassembler({
      frameData: this.frameData,
      maxMessage: this.maxMessage,
      maxPartialsPerSender: options.maxPartialsPerSender ?? 2,
      // One stream per (known source, unicast or broadcast): every stream a peer can open has its slot, so no
      // stream ever evicts another's (streamKey).
      maxSenders: Math.max(1, Math.min(1024, 2 * this.peers.length)),
      timeout: this.timeoutMs,
      ...(options.maxReassemblyBytesPerSender !== undefined
        ? { maxBytesPerSender: options.maxReassemblyBytesPerSender }
        : {}),
      ...(options.maxReassemblyBytes !== undefined ? { maxBytesTotal: options.maxReassemblyBytes } : {}),
    });
    this.budget = new DatagramBudget({
      ...(options.ingress ?? peerMessageLimits(undefined, this.maxMessage)),
      now: options.now ?? (() => performance.now()),
    });
    options.driver.onFrame = (f) => this.onFrame(f);
    options.driver.onRoom = () => this.pump();
    this.state$ = options.driver.state.asObservable();
    this.received$ = this.rx.asObservable();
  }

  /** Idempotent: a second call waits for the first. */
  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    const every = Math.max(10, this.timeoutMs / 2);
    this.expiry = setInterval(() => this.reassembler.expire(performance.now()), every);
    this.expiry.unref?.();
    await this.options.driver.start();
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    const node = this.addressing.node(peer);
    if (node === undefined || node === this.selfNode) return this.local.drop('unknown-peer');
    return this.enqueue(node, bytes);
  }

  broadcast(bytes: Uint8Array): boolean {
    return this.enqueue(this.addressing.broadcastNode, bytes);
  }

  /**
   * A broadcast that replaces the message queued under `key` if that one has not started on the bus (every
   * message behind the head is whole: only the head is being cut into frames). Stale input samples then do not
   * pile up behind a view change's long messages, which win arbitration over a high node id for seconds.
   */
  broadcastLatest(key: string, bytes: Uint8Array): boolean {
    for (let i = this.queueHead + 1; i < this.queue.length; i++) {
      const waiting = this.queue[i]!;
      if (waiting.key !== key) continue;
      this.queue.splice(i, 1);
      this.queuedBytes -= waiting.length;
      this.local.drop('superseded');
      break;
    }
    return this.enqueue(this.addressing.broadcastNode, bytes, key);
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

  /** Bytes of messages waiting for the bus. */
  queued(): number {
    return this.queuedBytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.expiry);
    const waiting = this.queue.length - this.queueHead;
    if (waiting > 0) this.local.drop('closed', waiting);
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    await this.options.driver.stop();
    this.rx.complete();
  }

  private enqueue(dst: number, bytes: Uint8Array, key?: string): boolean {
    if (this.closed) return this.local.drop('closed');
    if (bytes.length === 0 || bytes.length > this.maxMessage) return this.local.drop('too-long');
    if (this.queuedBytes + bytes.length > this.maxQueueBytes) return this.local.drop('queue-full');
    const id = this.addressing.id(this.priority, dst, this.selfNode);
    let segmenter = this.segmenters.get(id);
    if (segmenter === undefined) {
      segmenter = new CanSegmenter(this.frameData, this.maxMessage);
      this.segmenters.set(id, segmenter);
    }
    const cursor = segmenter.cursor(bytes, true);
    this.queue.push(
      key === undefined ? { id, length: bytes.length, cursor } : { id, length: bytes.length, cursor, key },
    );
    this.queuedBytes += bytes.length;
    this.pump();
    // Still waiting for the bus: keep our own copy, since the caller may reuse its buffer.
    if (cursor.remaining > 0) cursor.detach();
    return true;
  }

  /** Hand frames to the driver while it has room, head message first. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      const driver = this.options.driver;
      while (this.queueHead < this.queue.length) {
        const head = this.queue[this.queueHead]!;
        let room = driver.room?.() ?? Number.POSITIVE_INFINITY;
        let refused = false;
        while (head.cursor.remaining > 0) {
          // room() is the truth: an acknowledgement that came in meanwhile shows up when asked again.
          if (room <= 0) room = driver.room?.() ?? Number.POSITIVE_INFINITY;
          if (room <= 0) break;
          const frame = this.frame(head.id, head.cursor.next()!);
          // A message missing a frame is useless: abandon it at the first refusal (the driver counted it).
          if (!driver.send(frame)) {
            refused = true;
            break;
          }
          room--;
        }
        if (!refused && head.cursor.remaining > 0) return; // no room: onRoom resumes
        this.dequeue();
        if (refused) this.local.drop('frame-refused');
        else this.local.sent(head.length);
      }
    } finally {
      this.pumping = false;
    }
  }

  private dequeue(): void {
    const head = this.queue[this.queueHead]!;
    this.queuedBytes -= head.length;
    this.queueHead++;
    // Compact now and then so the array does not grow without bound.
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= 64) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /**
   * The reassembly stream of a frame: its source and whether it is a broadcast, not its whole id. A sender uses
   * one priority, so the priority bits name no stream of their own; keyed by the whole id, one faulty node
   * cycling its own priorities opened more streams than the reassembler tracks and evicted the partial
   * messages of correct senders (issue 9). Now each known peer has exactly two streams, each with its slot.
   */
  private streamKey(src: number, dst: number): number {
    return 2 * src + (dst === this.addressing.broadcastNode ? 1 : 0);
  }

  private frame(id: number, data: Uint8Array): CanFrame {
    return {
      id,
      extended: this.addressing.extended,
      remote: false,
      fd: this.fd,
      brs: this.fd,
      data,
      dlc: data.length,
    };
  }

  private onFrame(f: CanFrame): void {
    if (f.remote || f.extended !== this.addressing.extended) return; // not ours: other traffic on the bus
    const { dst, src } = this.addressing.parse(f.id);
    if (src === this.selfNode) {
      // No driver hands a node its own frames back: another node is sending with this node's id (a forgery,
      // or two boards configured with one node number). It cannot be told from this node's own traffic on the
      // bus, so it is only counted, where the status shows it.
      this.local.error('own-id-heard');
      return;
    }
    if (dst !== this.selfNode && dst !== this.addressing.broadcastNode) return;
    const from = this.addressing.name(src);
    if (from === undefined) {
      this.local.error('unknown-peer');
      return;
    }
    if (!this.addressing.canonical(f.id)) {
      this.local.error('bad-id');
      return;
    }
    const message = this.reassembler.push(this.streamKey(src, dst), f.data, performance.now());
    if (message === undefined) return;
    const refused = this.budget.take(from, message.length);
    if (refused !== undefined) {
      this.local.error(`over-rate:${refused}`);
      return;
    }
    this.local.received(message.length);
    this.rx.next({ from, bytes: message });
  }
}
