/**
 * Network model: every directed link has its own delay distribution; before the global stabilization time
 * (GST) messages may be lost, duplicated, delayed without bound (so reordered) and cut by partitions; from
 * GST on nothing is lost and every copy arrives within `maxDelayAfterGst` (partial synchrony).
 */
import type { Prng } from '../core/prng.ts';

export type DelayShape = 'uniform' | 'exponential' | 'normal';

export interface Partition {
  readonly start: number;
  readonly end: number;
  /** Nodes on one side; the rest are on the other. */
  readonly side: ReadonlySet<number>;
}

export interface NetworkParams {
  /** Time (ms) at which the network becomes synchronous and partitions heal. */
  readonly gst: number;
  /** Loss probability per copy before GST. */
  readonly loss: number;
  /** Probability of a duplicate copy (any time: duplicates are harmless to a correct protocol). */
  readonly duplicate: number;
  /** Mean extra delay (ms) before GST, on top of the link's base delay. */
  readonly jitterBeforeGst: number;
  /** Upper bound (ms) of any delivery delay after GST. */
  readonly maxDelayAfterGst: number;
  readonly partitions: readonly Partition[];
}

interface Link {
  readonly base: number;
  readonly shape: DelayShape;
  readonly spread: number;
}

export class Network {
  private readonly links = new Map<number, Link>();
  sent = 0;
  lost = 0;
  duplicated = 0;

  constructor(
    readonly params: NetworkParams,
    private readonly rng: Prng,
    private readonly nodes: number,
  ) {}

  /** Delivery delays (ms) of one message from `from` to `to` sent at `now`: zero, one or two copies. */
  delays(from: number, to: number, now: number): number[] {
    this.sent++;
    const p = this.params;
    const beforeGst = now < p.gst;
    if (beforeGst && (this.partitioned(from, to, now) || this.rng.chance(p.loss))) {
      this.lost++;
      return [];
    }
    const out = [this.delay(from, to, now)];
    if (this.rng.chance(p.duplicate)) {
      this.duplicated++;
      out.push(this.delay(from, to, now));
    }
    return out;
  }

  private delay(from: number, to: number, now: number): number {
    const link = this.link(from, to);
    const p = this.params;
    let d = link.base + this.sample(link);
    if (now < p.gst) d += this.rng.float() * 2 * p.jitterBeforeGst;
    else d = Math.min(d, p.maxDelayAfterGst);
    // A copy sent before GST still arrives by GST + bound (the model's promise after stabilization).
    if (now < p.gst && now + d > p.gst + p.maxDelayAfterGst) d = p.gst + p.maxDelayAfterGst - now;
    return Math.max(0.01, d);
  }

  private sample(link: Link): number {
    switch (link.shape) {
      case 'uniform':
        return this.rng.float() * link.spread;
      case 'exponential':
        return -Math.log(1 - this.rng.float()) * link.spread;
      case 'normal':
        return Math.abs(this.rng.normal()) * link.spread;
    }
  }

  private link(from: number, to: number): Link {
    const key = from * this.nodes + to;
    let link = this.links.get(key);
    if (link === undefined) {
      const shapes: DelayShape[] = ['uniform', 'exponential', 'normal'];
      link = {
        base: 0.2 + this.rng.float() * 3,
        shape: shapes[this.rng.int(3)]!,
        spread: this.rng.float() * 4,
      };
      this.links.set(key, link);
    }
    return link;
  }

  private partitioned(from: number, to: number, now: number): boolean {
    for (const part of this.params.partitions) {
      if (now >= part.start && now < part.end && part.side.has(from) !== part.side.has(to)) return true;
    }
    return false;
  }
}
