/**
 * Client requests on their way to execution: the requests this replica waits to see ordered (one per client,
 * the newest), the vouches other replicas sent for requests, and the last-reply cache (part of the replicated
 * state: a retransmitted request gets its cached reply and never executes twice).
 *
 * Vouching (the answer to the "big MAC" attack of Aardvark, NSDI 2009, with MACs kept). A faulty client can
 * make its authenticator fail only in the primary's slot: the primary cannot authenticate the request and
 * leaves it out, while every backup holds it authentic and would blame the correct primary. So blame and
 * proposal both go by vouches instead of by one replica's own tag:
 *  V1. A replica vouches for a request only when its own tag verified. A backup that has waited on a request
 *      it authenticated (vouchDelayTicks in size mode, one frame in frame mode, while the primary has room)
 *      sends a VOUCH carrying the request to every replica, the primary included, and repeats it each stall
 *      period while it still waits (this is also how a request whose copy to the primary was lost reaches it).
 *  V2. A replica that receives a vouched request and can verify its own tag takes it as if from the client.
 *      Otherwise it counts vouchers for the identical request (client, timestamp, op): at f+1 (one of them
 *      correct, so the client did send it) it holds the request as authentic.
 *  V3. The primary proposes what it authenticated itself and what f+1 replicas vouch for.
 *  V4. A backup blames the primary for a request left out (or not executed) only when 2f+1 replicas vouch
 *      for it, counting from when that became known. Among 2f+1 vouchers f+1 are correct, and their vouches
 *      reach the primary (after GST), which by V2 and V3 then proposes it. Fewer than 2f+1 may be a faulty
 *      client with faulty replicas whose vouches never reach the primary: no correct primary can be blamed.
 * A correct client's request is authentic at every correct replica, so all n - f >= 2f+1 of them vouch and a
 * primary that leaves it out is still voted out.
 *
 * Vouch-first clients (rules V5 to V7 and W3, the inverse attack: tags that verify at the primary and at fewer
 * than f backups): vouch-first.ts states them; the bound is in replica.ts.
 *
 * P1. A request already in a batch of this view that has not executed here is not proposed again, and a copy of
 *     it arriving later is held as in flight, even when learnt only from a carried-over batch (proposed.ts).
 *
 * Clients that read no replies (config.noReplyClients: the loop's input units) send each frame's request at once,
 * so a newer request replaces one the primary has not proposed yet. For them the wait is the client's, not the
 * request's:
 *  W1. A newer request that replaces an unproposed one inherits its waiting age (since, frames) and its blame
 *      evidence (2f+1 vouches that the client was left waiting); otherwise a primary that leaves the client out
 *      (or has crashed) is never blamed, as every frame's request would start the count afresh.
 *  W2. The age restarts when the primary is seen serving the client: a PRE-PREPARE accepted, or a batch
 *      executed, with an older request of it. So a faulty client that supersedes its requests faster than a
 *      correct primary can propose them gets that primary blamed no sooner than with one request it never
 *      retransmits: the primary proposes what it holds within the vouch round trip, and that restarts the age.
 *  W4. A frame the primary spent on a full batch of requests that were here no later than a waiting request's
 *      vouches (plus a stall period) is not counted against it (excuseFullBatch): a fair primary at its batch
 *      bound serves the older requests first, and one it learnt only by vouches is behind them.
 * Clients that read replies send a newer request only after f+1 replicas executed the older one, so a replica
 * that sees the replacement lags; it inherits nothing. A faulty replica's vouches cost one MAC check each; the
 * requests it vouches for that we cannot authenticate ourselves are kept within its byte budget.
 */
import { assert } from '../assert.ts';
import { bytesEqual } from '../bytes.ts';
import { encodeWithAuthenticator, requestAuthPayload } from '../codec/encode.ts';
import type { PrePrepare, Request, Vouch } from '../codec/messages.ts';
import { type ClientId, othersOf, primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, isPrimary, validReplica } from './context.ts';
import { ForeignVouches, sameRequest } from './foreign-vouches.ts';
import { type Next, type Pending, PendingTable, type WaitingRequests } from './pending.ts';
import { ProposedInView } from './proposed.ts';
import type { CachedReply } from './snapshot.ts';
import { VouchFirst } from './vouch-first.ts';
import { payloadOf } from './wire-views.ts';

export class Requests {
  /** The last executed request per client, with its result. */
  readonly replies = new Map<ClientId, CachedReply>();
  private readonly pending = new PendingTable();
  /** Vouches for requests we could not authenticate ourselves, within each voucher's budget (rule V2). */
  private readonly foreign: ForeignVouches;
  /** Clients ordered only once 2f+1 replicas vouch for their requests (rules V5 to V7). */
  private readonly vouchFirst: VouchFirst;
  /** Rule P1: requests in a batch of this view not executed here yet (proposed.ts). */
  private readonly proposed: ProposedInView;

  constructor(private readonly ctx: Ctx) {
    this.foreign = new ForeignVouches(ctx.config.maxVouchBytesPerReplica, ctx.config.maxPendingRequests);
    this.proposed = new ProposedInView(4 * ctx.config.maxPendingRequests);
    this.vouchFirst = new VouchFirst(ctx.config.maxPendingRequests, ctx.config.vouchFirstTicks);
  }

  /** Clients marked vouch-first here now (tests and status). */
  get vouchFirstCount(): number {
    return this.vouchFirst.size;
  }

  /** What monitoring asks of the requests waiting here (pending.ts). */
  get waiting(): WaitingRequests {
    return this.pending;
  }

  /** A new view's primary is watched from now on (monitor.ts): frames waited before do not count against it. */
  restartFrameCounts(): void {
    this.pending.restartFrameCounts();
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  onRequest(from: number, request: Request & { kind: 'request' }, bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (
      !ctx.crypto.verifyAuthenticator(request.client, ctx.everyone, payloadOf(bytes, request), request.auth)
    ) {
      // Rule V5: a marked client whose tag still fails here stays marked (this never marks anyone new).
      this.vouchFirst.extend(request.client, ctx.s.now);
      ctx.out.reject('bad-mac', from, 'request');
      return;
    }
    this.admit(from, request, true);
  }

  /**
   * Rule V5: we leave a view whose primary, under its own valid MAC, showed us a request of `client` that we still
   * cannot authenticate (agreement.ts). A correct client's request is authentic at every correct replica, so
   * either the client's tags differ between replicas or the primary is faulty: order this client on vouches.
   */
  markVouchFirst(client: ClientId): void {
    // A restarted replica has fresh keys that clients' tags may not use yet: its failures say nothing of them.
    if (this.ctx.s.recovering) return;
    this.vouchFirst.mark(client, this.ctx.s.now);
  }

  /** Whether `client` is vouch-first here now. */
  isVouchFirst(client: ClientId): boolean {
    return this.vouchFirst.marked(client, this.ctx.s.now);
  }

  /**
   * A request authentic here (own tag, or f+1 vouchers when `ownTag` is false): answer it from the cache, or
   * hold it until it is ordered. Returns the pending entry, if it is held.
   */
  private admit(from: number, request: Request, ownTag: boolean): Pending | undefined {
    const ctx = this.ctx;
    const { config, out } = ctx;
    const cached = this.replies.get(request.client);
    if (cached !== undefined && request.timestamp <= cached.timestamp) {
      // A retransmission of the last executed request gets the cached reply; it never executes again.
      if (request.timestamp === cached.timestamp) {
        ctx.agreement.sendReply(request.client, request.timestamp, cached.result);
        out.emit({ type: 'cached-reply', client: request.client, timestamp: request.timestamp });
        return undefined;
      }
      out.reject('stale-request', from, 'request');
      return undefined;
    }
    const existing = this.pending.get(request.client);
    if (existing !== undefined) {
      if (ownTag) this.extendMarkIfUnvouched(existing);
      if (existing.request.timestamp === request.timestamp && bytesEqual(existing.request.op, request.op)) {
        if (ownTag && !existing.ownTag) {
          // Held on others' word; now authenticated here too.
          existing.ownTag = true;
          this.addVoucher(existing, ctx.id);
          return existing;
        }
        out.reject('duplicate-request', from, 'request');
        return undefined;
      }
      if (existing.request.timestamp >= request.timestamp) {
        out.reject('duplicate-request', from, 'request');
        return undefined;
      }
      const next = existing.next;
      if (existing.inFlight && !this.pipelined(request.client)) {
        if (!ownTag || (next !== undefined && next.request.timestamp >= request.timestamp)) {
          out.reject('duplicate-request', from, 'request');
          return undefined;
        }
        this.keepNext(existing, request, ownTag);
        return undefined;
      }
      if (!existing.inFlight && this.isVouchFirst(request.client)) {
        // Rule V6: a marked client's newer request waits aside for its own vouches, and takes the older one's
        // place once it has them; until then the older one may still get its vouches and be proposed. A
        // client that sends faster than vouches come back (W1) is never starved by its own supersession.
        if (next !== undefined && next.request.timestamp >= request.timestamp) {
          out.reject('duplicate-request', from, 'request');
          return undefined;
        }
        this.keepNext(existing, request, ownTag);
        return undefined;
      }
      this.pending.delete(request.client);
    } else if (this.pending.size >= config.maxPendingRequests) {
      out.reject('pending-full', from, 'request');
      return undefined;
    }
    // Rule W1: a client that reads no replies still waits for the unproposed one it superseded. Rule W3: a marked
    // one that supersedes a proposed one (still to execute) waits afresh, and may be proposed while that is agreed.
    const waited =
      existing !== undefined && !existing.inFlight && config.noReplyClients.has(request.client)
        ? existing
        : undefined;
    const p: Pending = {
      request,
      since: waited?.since ?? ctx.s.now,
      inFlight: this.proposed.covers(request),
      ownTag,
      vouchers: new Set(),
      certifiedAt: undefined,
      blameFrom: waited?.blameFrom,
      vouchedAt: undefined,
      frames: waited?.frames ?? 0,
      excused: waited?.excused ?? 0,
      arrivedAt: ctx.s.now,
      next: undefined,
    };
    this.pending.set(request.client, p);
    if (ownTag) this.addVoucher(p, ctx.id);
    this.absorbForeign(p);
    // Rule V6: a marked client's request is vouched for at once, by every replica that authenticated it.
    if (ownTag && this.isVouchFirst(request.client)) this.vouch(p);
    if (ctx.log.heldCount > 0) ctx.agreement.retryHeld();
    this.cutIfDue();
    return p;
  }

  /**
   * Rule V5: a marked client sends again (a retransmission or a newer request) while a request of it has waited
   * a stall period here without its 2f+1 vouches: its tags verify at too few replicas (or the network is not
   * yet synchronous, which GST ends for a correct client), so it stays marked for as long as it keeps that up.
   * A client that stops sending lets its mark run out.
   */
  private extendMarkIfUnvouched(p: Pending): void {
    const ctx = this.ctx;
    if (p.inFlight || p.since > ctx.s.now - ctx.config.stallTicks || this.vouchedEnough(p)) return;
    this.vouchFirst.extend(p.request.client, ctx.s.now);
  }

  /** Primary, size mode: cut at once when batches are cut without delay or a full batch is proposable. */
  private cutIfDue(): void {
    const ctx = this.ctx;
    const batching = ctx.config.batching;
    if (isPrimary(ctx) && batching.mode === 'size') {
      if (batching.maxDelayTicks === 0 || this.proposableCount() >= ctx.config.maxBatchRequests)
        ctx.agreement.cutBatches();
    }
  }

  /** Keep `request` aside as `p`'s successor (vouched for at once when its client is marked, rule V6). */
  private keepNext(p: Pending, request: Request, ownTag: boolean): void {
    const ctx = this.ctx;
    const next: Next = { request, since: ctx.s.now, ownTag, vouchedAt: undefined, vouchers: new Set() };
    if (ownTag) next.vouchers.add(ctx.id);
    p.next = next;
    for (const v of this.foreign.vouchersOf(request)) next.vouchers.add(v);
    if (this.isVouchFirst(request.client)) this.vouchNext(next);
    this.promoteIfVouched(p);
  }

  /**
   * Rule V6: `p` is not proposed yet and its successor now has the vouches a marked client's request needs
   * (or its client's mark ran out): the successor takes its place, with the wait of a client that reads no
   * replies carried over (W1).
   */
  private promoteIfVouched(p: Pending): void {
    const next = p.next;
    if (next === undefined || p.inFlight) return;
    if (this.isVouchFirst(p.request.client) && next.vouchers.size < this.ctx.quorums.suspect) return;
    const ctx = this.ctx;
    const waited = ctx.config.noReplyClients.has(p.request.client);
    this.installSuccessor(
      next,
      waited
        ? { since: p.since, blameFrom: p.blameFrom, frames: p.frames, excused: p.excused }
        : { since: next.since },
    );
    this.cutIfDue();
  }

  /**
   * `next` becomes its client's pending request, with the wait it inherits (W1) or none, its vouchers so far and
   * any foreign vouches for it; in flight already if a batch of this view holds it (P1).
   */
  private installSuccessor(
    next: Next,
    wait: {
      readonly since: number;
      readonly blameFrom?: number | undefined;
      readonly frames?: number;
      readonly excused?: number;
    },
  ): Pending {
    const q: Pending = {
      request: next.request,
      since: wait.since,
      inFlight: this.proposed.covers(next.request),
      ownTag: next.ownTag,
      vouchers: new Set(),
      certifiedAt: undefined,
      blameFrom: wait.blameFrom,
      vouchedAt: next.vouchedAt,
      frames: wait.frames ?? 0,
      excused: wait.excused ?? 0,
      arrivedAt: next.since,
      next: undefined,
    };
    this.pending.set(q.request.client, q);
    for (const v of next.vouchers) this.addVoucher(q, v);
    this.absorbForeign(q);
    return q;
  }

  /**
   * Rule V6: a marked client's request may be proposed once 2f+1 replicas vouch for it (ourselves included if
   * our tag verified): f+1 of them are correct and sent their vouch to every replica, so after GST every
   * correct backup holds the request authentic (V2) by the time it could blame anyone. Fewer vouches may be a
   * client whose tags verify at the primary and at fewer than f backups: proposed, it could never prepare.
   */
  private vouchedEnough(p: Pending): boolean {
    return p.vouchers.size >= this.ctx.quorums.suspect || !this.isVouchFirst(p.request.client);
  }

  // ---------------------------------------------------------------- vouches

  /** Rule V1: multicast our vouch for `p` (a request we authenticated ourselves). */
  private vouch(p: Pending): void {
    this.vouchFor(p.request);
    p.vouchedAt = this.ctx.s.now;
  }

  private vouchFor(request: Request): void {
    const ctx = this.ctx;
    const unsigned: Vouch = { kind: 'vouch', replica: ctx.id, request, auth: [] };
    const { bytes, auth } = encodeWithAuthenticator(unsigned, (payload) =>
      ctx.crypto.authenticator(ctx.others, payload),
    );
    ctx.out.multicast({ ...unsigned, auth }, bytes);
  }

  /** Backup, size mode, on a tick: vouch for requests that waited vouchDelayTicks unproposed (bounded per tick). */
  vouchForWaiting(): void {
    const ctx = this.ctx;
    const limit = ctx.s.now - ctx.config.vouchDelayTicks;
    let sent = 0;
    for (const p of this.pending.values()) {
      if (sent >= ctx.config.maxBatchRequests) return;
      if (!p.ownTag || p.inFlight || p.vouchedAt !== undefined || p.since > limit) continue;
      this.vouch(p);
      sent++;
    }
  }

  /** Backup, frame mode, on a frame: vouch for requests a whole frame passed without (bounded per frame). */
  frameSeen(): void {
    const ctx = this.ctx;
    let sent = 0;
    for (const p of this.pending.values()) {
      if (p.inFlight) continue;
      p.frames++;
      if (sent >= ctx.config.maxBatchRequests) continue;
      if (!p.ownTag || p.vouchedAt !== undefined || p.frames < 2) continue;
      this.vouch(p);
      sent++;
    }
  }

  /**
   * Stalled: vouch again for requests still waiting a stall period after our last vouch (messages get lost),
   * proposed or not, in an active view or not: replicas that left the view (or whose proposal was lost with
   * it) must still vouch, or the others can never gather the 2f+1 vouches that let them leave it too.
   */
  revouchStale(): void {
    const ctx = this.ctx;
    const limit = ctx.s.now - ctx.config.stallTicks;
    const due = this.pending.dueForRevouch(limit, ctx.s.now);
    for (const d of due.slice(0, ctx.config.maxBatchRequests)) {
      this.vouchFor(d.request);
      d.mark();
    }
  }

  /** Rule V2: a vouch from another replica. */
  onVouch(from: number, m: Vouch, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { config, out } = ctx;
    if (!validReplica(config, m.replica) || m.replica === ctx.id) {
      out.reject('bad-replica-id', from, m.kind);
      return;
    }
    if (
      !ctx.crypto.verifyAuthenticator(m.replica, othersOf(config, m.replica), payloadOf(bytes, m), m.auth)
    ) {
      out.reject('bad-mac', from, m.kind);
      return;
    }
    const r = m.request;
    const cached = this.replies.get(r.client);
    if (cached !== undefined && r.timestamp <= cached.timestamp) return; // executed already
    // Rule V6: the primary vouching asks for vouches (it marked the client); we answer at once, not after V1's
    // delay, or a primary whose marks the backups do not share waits for vouches that come frames late.
    const asked = m.replica === primaryOf(config, ctx.s.view);
    const existing = this.pending.get(r.client);
    if (
      existing !== undefined &&
      existing.request.timestamp === r.timestamp &&
      bytesEqual(existing.request.op, r.op)
    ) {
      this.addVoucher(existing, m.replica);
      if (asked && existing.ownTag && existing.vouchedAt === undefined) this.vouch(existing);
      return;
    }
    if (existing !== undefined && existing.request.timestamp > r.timestamp) return; // older than what we hold
    const next = existing?.next;
    if (existing !== undefined && next !== undefined && sameRequest(next.request, r)) {
      next.vouchers.add(m.replica);
      if (asked) this.vouchNext(next);
      this.promoteIfVouched(existing);
      return;
    }
    if (ctx.crypto.verifyAuthenticator(r.client, ctx.everyone, requestAuthPayload(r), r.auth)) {
      // Authentic for us: as if the client had sent it (its copy to us was lost, or we are the primary).
      const p = this.admit(from, r, true);
      if (p !== undefined) {
        this.addVoucher(p, m.replica);
        if (asked && p.vouchedAt === undefined) this.vouch(p);
      } else if (
        existing !== undefined &&
        existing.next !== undefined &&
        sameRequest(existing.next.request, r)
      ) {
        existing.next.vouchers.add(m.replica);
        if (asked) this.vouchNext(existing.next);
        this.promoteIfVouched(existing);
      }
      return;
    }
    this.keepForeign(from, m.replica, r);
  }

  /** Our vouch for a successor we authenticated, once. */
  private vouchNext(next: Next): void {
    if (!next.ownTag || next.vouchedAt !== undefined) return;
    this.vouchFor(next.request);
    next.vouchedAt = this.ctx.s.now;
  }

  /** Keep a vouched request we cannot authenticate, within the voucher's budget; admit it at f+1 vouchers. */
  private keepForeign(from: number, voucher: ReplicaId, r: Request): void {
    const kept = this.foreign.keep(voucher, r);
    if (kept.kind === 'over-budget') this.ctx.out.reject('over-budget', from, 'vouch');
    // f+1 vouchers: one is correct, so the client sent it. admit() takes the vouches over (absorbForeign).
    else if (kept.kind === 'kept' && kept.same >= this.ctx.quorums.weak) this.admit(from, r, false);
  }

  /** Vouches that arrived before `p` became pending here count for it. */
  private absorbForeign(p: Pending): void {
    this.foreign.absorb(p.request, (v) => this.addVoucher(p, v));
  }

  private addVoucher(p: Pending, voucher: ReplicaId): void {
    const ctx = this.ctx;
    const before = p.vouchers.size;
    p.vouchers.add(voucher);
    if (p.certifiedAt === undefined && (p.ownTag || p.vouchers.size >= ctx.quorums.weak)) {
      p.certifiedAt = ctx.s.now;
    }
    if (p.blameFrom === undefined && p.vouchers.size >= ctx.quorums.suspect) p.blameFrom = ctx.s.now;
    // Rule V6: a marked client's request just got its 2f+1 vouches: the primary may propose it now.
    if (before < ctx.quorums.suspect && p.vouchers.size >= ctx.quorums.suspect && !p.inFlight) {
      if (this.pending.get(p.request.client) === p && this.isVouchFirst(p.request.client)) this.cutIfDue();
    }
  }

  // ---------------------------------------------------------------- what the other parts ask

  /** Rule V3 (and V6 for a marked client; P1: never a request already in a batch of this view). */
  private proposable(p: Pending): boolean {
    return (
      !p.inFlight && !this.proposed.covers(p.request) && p.certifiedAt !== undefined && this.vouchedEnough(p)
    );
  }

  proposableCount(): number {
    let n = 0;
    for (const p of this.pending.values()) if (this.proposable(p)) n++;
    return n;
  }

  /** When the oldest request not yet proposed arrived. */
  oldestProposable(): number | undefined {
    for (const p of this.pending.values()) if (this.proposable(p)) return p.since;
    return undefined;
  }

  /** Primary: up to `max` requests not yet proposed, oldest first, now marked in flight. */
  takeProposable(max: number): Request[] {
    const requests: Request[] = [];
    for (const p of this.pending.values()) {
      if (requests.length >= max) break;
      if (!this.proposable(p)) continue;
      p.inFlight = true;
      requests.push(p.request);
    }
    return requests;
  }

  /** The requests of an accepted or proposed PRE-PREPARE are not to be proposed again. */
  markInFlight(pp: PrePrepare): void {
    if (pp.batch.kind !== 'full') return;
    // Rule W4 (pending.ts excuseFullBatch): a backup's waiting requests are not blamed for frames of full batches.
    if (!isPrimary(this.ctx) && pp.batch.requests.length >= this.ctx.config.maxBatchRequests)
      this.pending.excuseFullBatch(pp.batch.requests, this.ctx.s.now, this.ctx.config.stallTicks);
    for (const r of pp.batch.requests) {
      this.proposed.note(r.client, r.timestamp);
      const p = this.pending.get(r.client);
      if (p === undefined) continue;
      if (p.request.timestamp <= r.timestamp) {
        p.inFlight = true;
        this.supersedeInFlight(p);
      } else this.served(p);
    }
  }

  /** Rule W3 applies to `client`: it reads no replies and is vouch-first here. */
  private pipelined(client: ClientId): boolean {
    return this.ctx.config.noReplyClients.has(client) && this.isVouchFirst(client);
  }

  /**
   * Rule W3: a marked client that reads no replies keeps one request in flight and the next one waiting, not a queue
   * behind its proposal: the successor kept aside (V6) takes the place of `p` as soon as `p` is proposed, and
   * may be proposed in the next batch while `p` is still agreed on. Otherwise a client whose request takes
   * longer than a frame from proposal to execution (or a vouch round trip, when marked) has every other
   * request dropped, superseded while it waited behind the one in flight.
   */
  private supersedeInFlight(p: Pending): void {
    const ctx = this.ctx;
    const next = p.next;
    if (next === undefined || !this.pipelined(p.request.client)) return;
    this.installSuccessor(next, { since: ctx.s.now });
  }

  /** `client`'s request at `timestamp` executed: stop waiting on it (and on anything older). */
  executed(client: ClientId, timestamp: number): void {
    this.proposed.executed(client, timestamp);
    const p = this.pending.get(client);
    if (p !== undefined) {
      if (p.request.timestamp <= timestamp) this.advancePast(p, timestamp);
      else this.served(p);
    }
    this.foreign.forgetUpTo(client, timestamp);
  }

  /**
   * Rule W2: the primary served an older request of `p`'s client: a client that reads no replies waits afresh
   * (its age and blame evidence inherited under W1 no longer count; vouches for `p` itself still do).
   */
  private served(p: Pending): void {
    const ctx = this.ctx;
    if (!ctx.config.noReplyClients.has(p.request.client)) return;
    p.since = ctx.s.now;
    p.frames = 0;
    p.excused = 0;
    p.blameFrom = p.vouchers.size >= ctx.quorums.suspect ? ctx.s.now : undefined;
  }

  /** `p` executed (up to `timestamp`): forget it; its newer successor, if any, becomes the pending request. */
  private advancePast(p: Pending, timestamp: number): void {
    const ctx = this.ctx;
    this.pending.delete(p.request.client);
    const next = p.next;
    if (next === undefined || next.request.timestamp <= timestamp) return;
    const q = this.installSuccessor(next, { since: next.since });
    assert(q.ownTag === q.vouchers.has(ctx.id), 'successor taken over without its own vouch', {
      client: q.request.client,
    });
  }

  /** The reply cache was replaced (state transfer): stop waiting on what it shows executed. */
  dropExecuted(): void {
    for (const [c, p] of [...this.pending]) {
      const cached = this.replies.get(c);
      if (cached !== undefined && p.request.timestamp <= cached.timestamp)
        this.advancePast(p, cached.timestamp);
    }
    for (const [c, r] of this.replies) this.foreign.forgetUpTo(c, r.timestamp);
  }

  /** A new view: nothing is in flight in it yet. */
  resetInFlight(): void {
    // A new view: its batches (carried over ones included) are proposed or accepted afresh and noted again (P1).
    this.proposed.clear();
    for (const p of this.pending.values()) {
      p.inFlight = false;
      p.frames = 0;
      p.excused = 0;
    }
  }

  /** Counts and budgets agree with what is held. */
  checkInvariants(): void {
    this.foreign.checkInvariants();
    this.vouchFirst.checkInvariants();
    this.pending.checkInvariants(this.ctx.id);
  }
}
