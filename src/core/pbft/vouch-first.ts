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
 *
 * The rules requests.ts applies to marked clients (the inverse big-MAC attack: tags that verify at the primary and
 * at fewer than f backups, so a correct primary proposes a request that can never prepare; the bound is stated
 * in replica.ts):
 *  V5. A backup marks a client vouch-first (in this table, for vouchFirstTicks) when it leaves a view holding a
 *      PRE-PREPARE that the view's primary sent under its own valid MAC with a request of the client that it
 *      still cannot authenticate (agreement.ts markHeldClients); a PRE-PREPARE whose MAC fails marks nobody,
 *      nor does a hold that resolves (tags that fail here only while keys are renewed), nor a recovering
 *      replica. A mark is extended, never created, by a request of the client whose tag fails here, and by the
 *      client sending again while a request of it has waited a stall period here without 2f+1 vouches; a
 *      client that goes quiet lets its mark run out.
 *  V6. A replica that authenticates a marked client's request vouches for it at once (the delay of V1 is for
 *      requests a primary may propose on its own tag), the primary included, and a primary proposes it only once
 *      2f+1 replicas vouch for it (itself included if its tag verified). A newer request of a marked client
 *      waits aside until it has its own vouches; the older one may still be proposed meanwhile.
 *  V7. Nothing runs against the primary for a marked client's request before it has 2f+1 vouches: blame (V4)
 *      needs the same 2f+1 that allow the proposal. Once proposed on 2f+1 vouches, f+1 correct vouchers' vouches
 *      reach every correct backup, which then accepts the batch (V2), so the head-of-pipeline rule (monitor.ts),
 *      the one timer a held PRE-PREPARE runs, is not tripped by it after GST. A request authentic at f replicas
 *      or fewer is neither proposed nor blamed for: it is never ordered.
 *  W3. A marked client that reads no replies keeps one request in flight and its successor waiting: a newer
 *      request replaces one already proposed (which still executes) and may be proposed in the next batch.
 *      Otherwise, with the vouch hop added, a request that takes longer than a frame from proposal to execution
 *      gets its successor superseded while it waits behind, and every other sample of the unit is lost. Only
 *      for marked clients: for the others it would let a primary that stalls execution (gaps in its sequence
 *      numbers) fill its whole pipeline with prepared batches that the next view must then re-agree, which
 *      costs the loop frames in that view change.
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
