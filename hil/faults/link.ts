/**
 * Link faults as a Transport decorator: the rig wraps a board's transport and lays rules on it (drop, corrupt,
 * delay, throttle, hold), per peer and direction, optionally only for messages a predicate picks (the OUTPUTs
 * of one channel: a voter-link fault). Everything it does is counted; every queue it keeps is bounded.
 *
 * The board behind it sees an ordinary transport: corrupted bytes reach it as they would from a noisy wire
 * (its decoder and MAC checks must count and drop them), held bytes arrive late as from a stopped process.
 *
 * @example
 * const t = new FaultyTransport(inner, scheduler, new Prng(1), counters);
 * const off = t.add({ peer: 'b1', dir: 'both', action: { kind: 'drop' } });
 * t.remove(off); // the link works again
 */
import { type Observable, Subject } from 'rxjs';
import type { Prng } from '../../src/core/prng.ts';
import type { LinkState, LinkStats, PeerId, Received, Transport } from '../../src/io/transport.ts';
import type { Counters } from '../../src/runtime/loop/counters.ts';
import type { Scheduler } from '../../src/runtime/scheduler.ts';

export type LinkAction =
  | { readonly kind: 'drop' }
  | { readonly kind: 'corrupt'; readonly fraction: number }
  | { readonly kind: 'delay'; readonly ms: number }
  /** Carry `bytesPerSecond`; a queue of at most QUEUE_BYTES waits, the rest is dropped. */
  | { readonly kind: 'throttle'; readonly bytesPerSecond: number }
  /** Hold everything until the rule is removed (a stopped process), then release it in order. */
  | { readonly kind: 'hold' }
  /** Hold for `stallMs` of every `everyMs` (an overloaded host), release in between. */
  | { readonly kind: 'stall'; readonly stallMs: number; readonly everyMs: number };

export interface LinkRule {
  /** A peer, or '*' for every peer. */
  readonly peer: PeerId | '*';
  readonly dir: 'in' | 'out' | 'both';
  readonly action: LinkAction;
  /** Only messages this picks (default: all). */
  readonly match?: (bytes: Uint8Array) => boolean;
  /** Counter name prefix (default 'fault.link'). */
  readonly label?: string;
}

/** Most messages in flight on delays, and most bytes held or queued per rule: the rig's own memory bound. */
export const MAX_IN_FLIGHT = 10_000;
export const QUEUE_BYTES = 1 << 20;

interface ActiveRule extends LinkRule {
  readonly id: number;
  /** Throttle: when the wire is next free (scheduler ms). */
  nextFree: number;
  queuedBytes: number;
  held: { deliver: () => void; bytes: number }[];
  heldBytes: number;
  cancel?: () => void;
}

export class FaultyTransport implements Transport {
  readonly self: PeerId;
  readonly received$: Observable<Received>;
  readonly state$: Observable<LinkState>;
  private readonly rx = new Subject<Received>();
  private readonly rules: ActiveRule[] = [];
  private nextId = 1;
  private inFlight = 0;

  constructor(
    private readonly inner: Transport,
    private readonly scheduler: Scheduler,
    private readonly rng: Prng,
    private readonly counters: Counters,
  ) {
    this.self = inner.self;
    this.state$ = inner.state$;
    this.received$ = this.rx.asObservable();
    inner.received$.subscribe({
      next: ({ from, bytes }) => this.pass('in', from, bytes, (b) => this.rx.next({ from, bytes: b })),
      complete: () => this.rx.complete(),
    });
  }

  get peers(): readonly PeerId[] {
    return this.inner.peers;
  }

  get sharedMedium(): boolean {
    // With rules on, every copy goes through them one peer at a time.
    return this.rules.length === 0 && this.inner.sharedMedium === true;
  }

  /** Lays a rule on the transport; returns its id for `remove`. */
  add(rule: LinkRule): number {
    const active: ActiveRule = {
      ...rule,
      id: this.nextId++,
      nextFree: 0,
      queuedBytes: 0,
      held: [],
      heldBytes: 0,
    };
    this.rules.push(active);
    if (rule.action.kind === 'stall') this.scheduleStall(active, this.scheduler.now());
    return active.id;
  }

  /** Removes a rule; anything it held is released in order. */
  remove(id: number): void {
    const i = this.rules.findIndex((r) => r.id === id);
    if (i < 0) return;
    const [rule] = this.rules.splice(i, 1);
    rule!.cancel?.();
    this.release(rule!);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    if (this.rules.length === 0) return this.inner.send(peer, bytes);
    this.pass('out', peer, bytes, (b) => this.inner.send(peer, b));
    return true;
  }

  broadcast(bytes: Uint8Array): boolean {
    if (this.rules.length === 0) return this.inner.broadcast(bytes);
    for (const p of this.inner.peers) this.send(p, bytes);
    return true;
  }

  stats(): LinkStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    for (const r of this.rules.splice(0)) r.cancel?.();
    return this.inner.close();
  }

  private count(rule: ActiveRule, what: string): void {
    this.counters.add(`${rule.label ?? 'fault.link'}.${what}`);
  }

  /** Runs one message through the rules that match it, in the order they were laid. */
  private pass(dir: 'in' | 'out', peer: PeerId, bytes: Uint8Array, deliver: (b: Uint8Array) => void): void {
    let b = bytes;
    let delay = 0;
    let holdBy: ActiveRule | undefined;
    for (const r of this.rules) {
      if (r.dir !== 'both' && r.dir !== dir) continue;
      if (r.peer !== '*' && r.peer !== peer) continue;
      if (r.match !== undefined && !r.match(b)) continue;
      const a = r.action;
      switch (a.kind) {
        case 'drop':
          this.count(r, 'dropped');
          return;
        case 'corrupt':
          if (this.rng.chance(a.fraction)) {
            b = this.corrupt(b);
            this.count(r, 'corrupted');
          }
          break;
        case 'delay':
          delay += a.ms;
          this.count(r, 'delayed');
          break;
        case 'throttle': {
          const now = this.scheduler.now() + delay;
          if (r.queuedBytes + b.length > QUEUE_BYTES / 16) {
            this.count(r, 'throttle-overflow');
            return;
          }
          const start = Math.max(now, r.nextFree);
          r.nextFree = start + (b.length * 1000) / a.bytesPerSecond;
          r.queuedBytes += b.length;
          const size = b.length;
          this.scheduler.at(r.nextFree, () => {
            r.queuedBytes -= size;
          });
          delay = r.nextFree - this.scheduler.now();
          this.count(r, 'throttled');
          break;
        }
        case 'hold':
          holdBy ??= r;
          break;
        case 'stall':
          if (r.cancel !== undefined && this.stalling(r)) holdBy ??= r;
          break;
      }
    }
    const copy = b;
    const go = (): void => deliver(copy);
    if (holdBy !== undefined) {
      if (holdBy.heldBytes + copy.length > QUEUE_BYTES || holdBy.held.length >= MAX_IN_FLIGHT) {
        this.count(holdBy, 'hold-overflow');
        return;
      }
      holdBy.held.push({ deliver: delay > 0 ? () => this.later(delay, go) : go, bytes: copy.length });
      holdBy.heldBytes += copy.length;
      this.count(holdBy, 'held');
      return;
    }
    if (delay > 0) this.later(delay, go);
    else go();
  }

  private later(ms: number, fn: () => void): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.counters.add('fault.link.in-flight-overflow');
      return;
    }
    this.inFlight++;
    this.scheduler.at(this.scheduler.now() + ms, () => {
      this.inFlight--;
      fn();
    });
  }

  /** Flips 1 to 4 bits at random places of a copy. */
  private corrupt(bytes: Uint8Array): Uint8Array {
    const out = bytes.slice();
    if (out.length === 0) return out;
    const flips = 1 + this.rng.int(4);
    for (let i = 0; i < flips; i++) out[this.rng.int(out.length)]! ^= 1 << this.rng.int(8);
    return out;
  }

  private release(rule: ActiveRule): void {
    const held = rule.held.splice(0);
    rule.heldBytes = 0;
    for (const h of held) h.deliver();
  }

  /** Stall windows: [k * everyMs, k * everyMs + stallMs) from the moment the rule was laid. */
  private stallOrigin = new Map<number, number>();

  private stalling(r: ActiveRule): boolean {
    const a = r.action as Extract<LinkAction, { kind: 'stall' }>;
    const origin = this.stallOrigin.get(r.id) ?? 0;
    return (this.scheduler.now() - origin) % a.everyMs < a.stallMs;
  }

  private scheduleStall(r: ActiveRule, origin: number): void {
    const a = r.action as Extract<LinkAction, { kind: 'stall' }>;
    this.stallOrigin.set(r.id, origin);
    let k = 0;
    let cancelled = false;
    let cancelTimer: () => void = () => {};
    const endOfStall = (): void => {
      if (cancelled) return;
      this.release(r);
      k++;
      cancelTimer = this.scheduler.at(origin + k * a.everyMs + a.stallMs, endOfStall);
    };
    cancelTimer = this.scheduler.at(origin + a.stallMs, endOfStall);
    r.cancel = () => {
      cancelled = true;
      cancelTimer();
      this.stallOrigin.delete(r.id);
    };
  }
}
