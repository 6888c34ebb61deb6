/**
 * The clients this replica orders only on others' word ("vouch-first"), each until a time. A client is marked
 * when this replica leaves a view still holding a PRE-PREPARE that the view's primary sent under its own valid
 * MAC with a request of that client that this replica cannot authenticate (requests.ts, rule V5): with MAC
 * authenticators that is a client whose tags verify at some replicas and not at others (the inverse big MAC
 * attack), or a faulty primary.
 *
 * What a faulty primary can do with this table: mark any client it likes, correct ones included, up to the
 * capacity, and so evict the oldest marks. A marked correct client loses nothing but time (its requests wait
 * one vouch round trip before they are proposed, requests.ts V6); an evicted big-MAC client can cost the next
 * correct primary its view once more, which the replica.ts bound counts (at most f per vouchFirstTicks).
 * Nothing but a primary-authenticated PRE-PREPARE held until the view is left creates a mark; a request whose
 * tag fails here only extends a mark that exists.
 */
import { assert } from '../assert.ts';
import type { ClientId } from './config.ts';

export class VouchFirst {
  /** Client -> the time its mark expires; Map order is refresh order, oldest first (the eviction order). */
  private readonly until = new Map<ClientId, number>();

  constructor(
    private readonly capacity: number,
    private readonly ticks: number,
  ) {}

  get size(): number {
    return this.until.size;
  }

  /** Mark `client` (or extend its mark) until now + vouchFirstTicks; the oldest mark goes when full. */
  mark(client: ClientId, now: number): void {
    if (this.ticks <= 0 || this.capacity <= 0) return;
    this.until.delete(client);
    this.dropExpired(now);
    if (this.until.size >= this.capacity) {
      const oldest = this.until.keys().next().value;
      if (oldest !== undefined) this.until.delete(oldest);
    }
    this.until.set(client, now + this.ticks);
  }

  /** Extend the mark of `client` if it has one; an unmarked client stays unmarked. */
  extend(client: ClientId, now: number): void {
    if (this.marked(client, now)) this.mark(client, now);
  }

  /** Whether `client` is marked at `now` (an expired mark is forgotten here). */
  marked(client: ClientId, now: number): boolean {
    const until = this.until.get(client);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(client);
    return false;
  }

  /** Expired marks sit at the front (refresh order, one fixed length): drop them. */
  private dropExpired(now: number): void {
    for (const [client, until] of this.until) {
      if (until > now) return;
      this.until.delete(client);
    }
  }

  checkInvariants(): void {
    assert(this.until.size <= Math.max(0, this.capacity), 'more vouch-first marks than allowed', {
      marks: this.until.size,
      capacity: this.capacity,
    });
    let last = Number.NEGATIVE_INFINITY;
    for (const until of this.until.values()) {
      assert(until >= last, 'vouch-first marks out of expiry order', { until, last });
      last = until;
    }
  }
}
