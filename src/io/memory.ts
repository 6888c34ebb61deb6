/**
 * In-process transport: a hub that delivers each message to the peer's transport synchronously or on a
 * microtask. Used by tests and by the single-process laptop mode. Delivery is in order per sender and
 * lossless unless a link is cut with `hub.cut(a, b)` (for fault tests), where messages are dropped and counted.
 */

import { BehaviorSubject, Subject } from 'rxjs';
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

export interface MemoryHubOptions {
  /** Deliver on a microtask (default) so a send never re-enters the sender's own handler. */
  delivery?: 'microtask' | 'sync';
  /** Largest message accepted; longer ones are dropped and counted as 'too-long'. */
  maxMessage?: number;
}

export class MemoryHub {
  private readonly members = new Map<PeerId, MemoryTransport>();
  private readonly cuts = new Set<string>();

  constructor(readonly options: MemoryHubOptions = {}) {}

  /** Create the transport of `self`, reaching every other member of the hub (present and future). */
  join(self: PeerId): MemoryTransport {
    if (this.members.has(self)) throw new TransportConfigError(`memory hub: ${self} joined twice`);
    const t = new MemoryTransport(this, self);
    this.members.set(self, t);
    return t;
  }

  /** Drop all traffic between a and b (both directions) until healed. */
  cut(a: PeerId, b: PeerId): void {
    this.cuts.add(pairKey(a, b));
  }

  heal(a: PeerId, b: PeerId): void {
    this.cuts.delete(pairKey(a, b));
  }

  /** Names of the current members other than `self`. */
  peersOf(self: PeerId): PeerId[] {
    return [...this.members.keys()].filter((p) => p !== self);
  }

  /** @internal Route one message; false when dropped. */
  route(from: MemoryTransport, to: PeerId, bytes: Uint8Array): 'ok' | 'unknown-peer' | 'cut' | 'peer-down' {
    const target = this.members.get(to);
    if (target === undefined) return 'unknown-peer';
    if (this.cuts.has(pairKey(from.self, to))) return 'cut';
    if (!target.isOpen()) return 'peer-down';
    // Copy: the sender may reuse its buffer, and the receiver must not see later writes to it.
    const copy = bytes.slice();
    if (this.options.delivery === 'sync') target.deliver(from.self, copy);
    else queueMicrotask(() => target.deliver(from.self, copy));
    return 'ok';
  }

  /** @internal */
  leave(self: PeerId): void {
    this.members.delete(self);
  }
}

export class MemoryTransport implements Transport {
  private readonly rx = new Subject<Received>();
  private readonly state = new BehaviorSubject<LinkState>('connecting');
  private readonly counters = new StatsCounter();
  private closed = false;
  readonly received$ = this.rx.asObservable();
  readonly state$ = this.state.asObservable();

  constructor(
    private readonly hub: MemoryHub,
    readonly self: PeerId,
  ) {}

  get peers(): readonly PeerId[] {
    return this.hub.peersOf(this.self);
  }

  isOpen(): boolean {
    return this.state.value === 'up';
  }

  async start(): Promise<void> {
    if (this.state.value === 'connecting') this.state.next('up');
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    const max = this.hub.options.maxMessage ?? Number.POSITIVE_INFINITY;
    if (!this.isOpen() || bytes.length > max || bytes.length === 0) {
      return this.counters.drop(!this.isOpen() ? 'link-down' : 'too-long');
    }
    const outcome = this.hub.route(this, peer, bytes);
    if (outcome !== 'ok') return this.counters.drop(outcome);
    this.counters.sent(bytes.length);
    return true;
  }

  broadcast(bytes: Uint8Array): boolean {
    return broadcastEach(this.peers, (peer) => this.send(peer, bytes));
  }

  stats(): LinkStats {
    return this.counters.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.leave(this.self);
    this.state.next('down');
    this.state.complete();
    this.rx.complete();
  }

  /** @internal Called by the hub. */
  deliver(from: PeerId, bytes: Uint8Array): void {
    if (!this.isOpen()) {
      this.counters.error('closed');
      return;
    }
    this.counters.received(bytes.length);
    this.rx.next({ from, bytes });
  }
}

function pairKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}
