/**
 * Client requests on their way to execution: the requests this replica authenticated and still waits to see
 * ordered (one per client, the newest), and the last-reply cache (part of the replicated state: a
 * retransmitted request gets its cached reply and never executes twice).
 */
import type { PrePrepare, Request } from '../codec/messages.ts';
import type { ClientId } from './config.ts';
import { type Ctx, isPrimary } from './context.ts';
import type { CachedReply } from './snapshot.ts';
import { payloadOf } from './wire-views.ts';

interface Pending {
  readonly request: Request;
  readonly since: number;
  /** Proposed (primary) or part of an accepted PRE-PREPARE: not to be proposed again. */
  inFlight: boolean;
}

export class Requests {
  /** The last executed request per client, with its result. */
  readonly replies = new Map<ClientId, CachedReply>();
  private readonly pending = new Map<ClientId, Pending>();

  constructor(private readonly ctx: Ctx) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  onRequest(from: number, request: Request & { kind: 'request' }, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { config, out } = ctx;
    if (
      !ctx.crypto.verifyAuthenticator(request.client, ctx.everyone, payloadOf(bytes, request), request.auth)
    ) {
      out.reject('bad-mac', from, 'request');
      return;
    }
    const cached = this.replies.get(request.client);
    if (cached !== undefined && request.timestamp <= cached.timestamp) {
      // A retransmission of the last executed request gets the cached reply; it never executes again.
      if (request.timestamp === cached.timestamp) {
        ctx.agreement.sendReply(request.client, request.timestamp, cached.result);
        out.emit({ type: 'cached-reply', client: request.client, timestamp: request.timestamp });
        return;
      }
      out.reject('stale-request', from, 'request');
      return;
    }
    const existing = this.pending.get(request.client);
    if (existing !== undefined) {
      if (existing.request.timestamp >= request.timestamp || existing.inFlight) {
        out.reject('duplicate-request', from, 'request');
        return;
      }
      this.pending.delete(request.client);
    } else if (this.pending.size >= config.maxPendingRequests) {
      out.reject('pending-full', from, 'request');
      return;
    }
    this.pending.set(request.client, { request, since: ctx.s.now, inFlight: false });
    if (ctx.log.heldCount > 0) ctx.agreement.retryHeld();
    const batching = config.batching;
    if (isPrimary(ctx) && batching.mode === 'size') {
      if (batching.maxDelayTicks === 0 || this.proposableCount() >= config.maxBatchRequests)
        ctx.agreement.cutBatches();
    }
  }

  /** The request of `client` this replica authenticated and still waits on, if any. */
  held(client: ClientId): Request | undefined {
    return this.pending.get(client)?.request;
  }

  proposableCount(): number {
    let n = 0;
    for (const p of this.pending.values()) if (!p.inFlight) n++;
    return n;
  }

  /** When the oldest request not yet proposed arrived. */
  oldestProposable(): number | undefined {
    for (const p of this.pending.values()) if (!p.inFlight) return p.since;
    return undefined;
  }

  /** Primary: up to `max` requests not yet proposed, oldest first, now marked in flight. */
  takeProposable(max: number): Request[] {
    const requests: Request[] = [];
    for (const p of this.pending.values()) {
      if (requests.length >= max) break;
      if (p.inFlight) continue;
      p.inFlight = true;
      requests.push(p.request);
    }
    return requests;
  }

  /** The requests of an accepted or proposed PRE-PREPARE are not to be proposed again. */
  markInFlight(pp: PrePrepare): void {
    if (pp.batch.kind !== 'full') return;
    for (const r of pp.batch.requests) {
      const p = this.pending.get(r.client);
      if (p !== undefined && p.request.timestamp <= r.timestamp) p.inFlight = true;
    }
  }

  /** `client`'s request at `timestamp` executed: stop waiting on it (and on anything older). */
  executed(client: ClientId, timestamp: number): void {
    const p = this.pending.get(client);
    if (p !== undefined && p.request.timestamp <= timestamp) this.pending.delete(client);
  }

  /** The reply cache was replaced (state transfer): stop waiting on what it shows executed. */
  dropExecuted(): void {
    for (const [c, p] of this.pending) {
      const cached = this.replies.get(c);
      if (cached !== undefined && p.request.timestamp <= cached.timestamp) this.pending.delete(c);
    }
  }

  /** A new view: nothing is in flight in it yet. */
  resetInFlight(): void {
    for (const p of this.pending.values()) p.inFlight = false;
  }

  /** Whether a request has waited since `limit` or earlier. */
  waitingSince(limit: number): boolean {
    for (const p of this.pending.values()) if (p.since <= limit) return true;
    return false;
  }

  /** Whether a request not yet proposed has waited since `limit` or earlier. */
  unproposedSince(limit: number): boolean {
    for (const p of this.pending.values()) if (!p.inFlight && p.since <= limit) return true;
    return false;
  }

  /** Up to `max` requests not in flight that arrived at `limit` or earlier (forwarded to the primary). */
  stale(limit: number, max: number): Request[] {
    const out: Request[] = [];
    for (const p of this.pending.values()) {
      if (out.length >= max) break;
      if (p.inFlight || p.since > limit) continue;
      out.push(p.request);
    }
    return out;
  }
}
