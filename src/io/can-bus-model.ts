/**
 * The emulated bus's timing model, kept free of timers so it can be tested exactly: frames wait in a FIFO per
 * node (one transmit queue per controller); whenever the bus goes idle, the pending heads contend and the
 * lowest id wins arbitration (ties: lower node index, as a real bus would report an error instead); the
 * winner occupies the bus for its frame time (bits including a stuffing estimate, at the nominal and data
 * bit rates) and is delivered to every other node at the end of it. Time is in milliseconds.
 */

import { type CanFrame, canFrameTimeUs } from './can-frame.ts';

export interface BusTiming {
  bitrate: number;
  /** CAN FD data-phase bit rate (defaults to bitrate). */
  dataBitrate?: number;
}

export interface Delivery {
  from: number;
  frame: CanFrame;
  /** When the last bit left the bus. */
  at: number;
  /** When it was queued at its sender. */
  queuedAt: number;
}

interface Queued {
  frame: CanFrame;
  queuedAt: number;
}

export class CanBusModel {
  private readonly queues: Queued[][] = [];
  private busyUntil = 0;
  private busyTotal = 0;
  private pendingCount = 0;

  constructor(
    private readonly timing: BusTiming,
    private readonly maxQueuePerNode = 256,
  ) {
    if (!(timing.bitrate > 0)) throw new RangeError('CAN bus: bitrate must be positive');
  }

  /** Register a node; returns its index. */
  addNode(): number {
    this.queues.push([]);
    return this.queues.length - 1;
  }

  /** Queue a frame from `node` at time `now`. False when that node's queue is full (counted by the caller). */
  enqueue(node: number, frame: CanFrame, now: number): boolean {
    const q = this.queues[node];
    if (q === undefined) throw new RangeError(`CAN bus: no node ${node}`);
    if (q.length >= this.maxQueuePerNode) return false;
    q.push({ frame, queuedAt: now });
    this.pendingCount++;
    return true;
  }

  /** Frames whose transmission ends by `now`, in bus order. */
  advance(now: number): Delivery[] {
    const out: Delivery[] = [];
    for (let guard = 0; this.pendingCount > 0 && guard < 1_000_000; guard++) {
      const start = Math.max(this.busyUntil, this.earliestHead());
      const winner = this.arbitrate(start);
      if (winner === undefined) break;
      const q = this.queues[winner]!;
      const head = q[0]!;
      const duration = this.frameMs(head.frame);
      const end = start + duration;
      if (end > now) break;
      q.shift();
      this.pendingCount--;
      this.busyUntil = end;
      this.busyTotal += duration;
      out.push({ from: winner, frame: head.frame, at: end, queuedAt: head.queuedAt });
    }
    return out;
  }

  /** When the next transmission will end, if anything is pending. */
  nextEventAt(): number | undefined {
    if (this.pendingCount === 0) return undefined;
    const start = Math.max(this.busyUntil, this.earliestHead());
    const winner = this.arbitrate(start);
    return winner === undefined ? undefined : start + this.frameMs(this.queues[winner]![0]!.frame);
  }

  /** Total time the bus has been busy, in ms (for bus-load figures). */
  busyMs(): number {
    return this.busyTotal;
  }

  pending(): number {
    return this.pendingCount;
  }

  frameMs(frame: CanFrame): number {
    return canFrameTimeUs(frame, this.timing.bitrate, this.timing.dataBitrate ?? this.timing.bitrate) / 1000;
  }

  private earliestHead(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const q of this.queues) if (q[0] !== undefined && q[0].queuedAt < t) t = q[0].queuedAt;
    return t;
  }

  /** Node whose head frame wins arbitration among those queued by `start`. */
  private arbitrate(start: number): number | undefined {
    let best: number | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    this.queues.forEach((q, node) => {
      const head = q[0];
      if (head === undefined || head.queuedAt > start) return;
      // Arbitration compares the id bits as sent: a standard id is compared against the top 11 bits of an
      // extended one, and a standard frame wins a tie (its IDE bit is dominant).
      const key = head.frame.extended ? head.frame.id * 2 + 1 : ((head.frame.id << 18) >>> 0) * 2;
      if (key < bestKey) {
        best = node;
        bestKey = key;
      }
    });
    return best;
  }
}
