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
 * Vouch-first clients (the inverse attack: tags that verify at the primary and at fewer than f backups, so a
 * correct primary proposes a request that can never prepare; the bound is stated in replica.ts):
 *  V5. A backup marks a client vouch-first (vouch-first.ts, for vouchFirstTicks) when it leaves a view holding a
 *      PRE-PREPARE that the view's primary sent under its own valid MAC with a request of the client that it
 *      still cannot authenticate (agreement.ts markHeldClients); a PRE-PREPARE whose MAC fails marks nobody,
 *      nor does a hold that resolves (tags that fail here only while keys are renewed), nor a recovering replica. A mark is extended, never created, by a
 *      request of the client whose tag fails here, and by the client sending again while a request of it has
 *      waited a stall period here without 2f+1 vouches; a client that goes quiet lets its mark run out.
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
 *
 * P1. A request already in a batch of this view that has not executed here is not proposed again, and a copy of
 *     it arriving later (a retransmission) is held as in flight, even when this replica learnt it only from a
 *     batch a NEW-VIEW carried over (see `proposed`).
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
import { encodeMessage, requestAuthPayload } from '../codec/encode.ts';
import type { PrePrepare, Request, Vouch } from '../codec/messages.ts';
import { type ClientId, othersOf, primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, isPrimary, validReplica } from './context.ts';
import type { CachedReply } from './snapshot.ts';
import { VouchFirst } from './vouch-first.ts';
import { payloadOf, withAuthenticator } from './wire-views.ts';

interface Pending {
  readonly request: Request;
  since: number;
  /** Proposed (primary) or part of an accepted PRE-PREPARE: not to be proposed again. */
  inFlight: boolean;
  /** This replica's own tag on it verified (it may vouch for it). */
  ownTag: boolean;
  /** Replicas vouching for it, this one included when `ownTag`. */
  readonly vouchers: Set<ReplicaId>;
  /** When f+1 vouchers were first known here (the primary may propose it). */
  certifiedAt: number | undefined;
  /** When 2f+1 vouchers were first known here (a backup may blame the primary for it). */
  blameFrom: number | undefined;
  /** When this replica last sent its own vouch. */
  vouchedAt: number | undefined;
  /** Frames seen while it waited unproposed (frame mode). */
  frames: number;
  /**
   * Rule W4: of those frames, how many the primary spent on a full batch of requests that reached this replica no
   * later than this one could have reached the primary (a fair primary serves those first).
   */
  excused: number;
  /** When this exact request became known here (never inherited): what rule W4 compares. */
  readonly arrivedAt: number;
  /**
   * The client's newest request authenticated here while this one is in flight (a client sends its next
   * request once f+1 replicas executed this one, so a replica behind may see it early). It is vouched for
   * too, so replicas at different execution points still vouch for the same request, and it becomes the
   * pending request once this one executes.
   */
  next: Next | undefined;
}

/** A newer request of a pending entry's client, kept aside until it may take the entry's place. */
interface Next {
  readonly request: Request;
  readonly since: number;
  /** Our own tag on it verified (otherwise f+1 replicas vouched for it). */
  readonly ownTag: boolean;
  vouchedAt: number | undefined;
  /** Replicas vouching for it, this one included when `ownTag`. */
  readonly vouchers: Set<ReplicaId>;
}

/** A vouch for a request this replica could not authenticate itself. */
interface Foreign {
  readonly request: Request;
  readonly bytes: number;
}

export class Requests {
  /** The last executed request per client, with its result. */
  readonly replies = new Map<ClientId, CachedReply>();
  private readonly pending = new Map<ClientId, Pending>();
  /** Per client, per voucher: the newest request it vouched for that we could not authenticate. */
  private readonly foreign = new Map<ClientId, Map<ReplicaId, Foreign>>();
  private readonly foreignBytes = new Map<ReplicaId, number>();
  private readonly foreignCount = new Map<ReplicaId, number>();
  /** Clients ordered only once 2f+1 replicas vouch for their requests (rules V5 to V7). */
  private readonly vouchFirst: VouchFirst;
  /**
   * Rule P1: per client, the newest timestamp of its requests in a batch proposed or accepted in this view and not
   * executed here yet, whether or not we held that request ourselves. A new primary learns some requests only from
   * the batches a NEW-VIEW carries over; without this, the client's retransmission reaching it before that batch
   * executes became a fresh pending request, proposed again at a later seq, which backups that executed the
   * carried-over batch refuse ('stale-request'): that PRE-PREPARE never prepares and a correct primary is voted
   * out. Bounded (oldest out): losing an entry only loses this protection for that client.
   */
  private readonly proposed = new Map<ClientId, number>();

  constructor(private readonly ctx: Ctx) {
    this.vouchFirst = new VouchFirst(ctx.config.maxPendingRequests, ctx.config.vouchFirstTicks);
  }

  /** Clients marked vouch-first here now (tests and status). */
  get vouchFirstCount(): number {
    return this.vouchFirst.size;
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
      inFlight: this.inProposedBatch(request),
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
    const byVoucher = this.foreign.get(request.client);
    if (byVoucher !== undefined) {
      for (const [v, f] of byVoucher) if (sameRequest(f.request, request)) next.vouchers.add(v);
    }
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
      inFlight: this.inProposedBatch(next.request),
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
    const unsignedBytes = encodeMessage(unsigned);
    const auth = ctx.crypto.authenticator(ctx.others, unsignedBytes.subarray(0, unsignedBytes.length - 1));
    ctx.out.multicast({ ...unsigned, auth }, withAuthenticator(unsignedBytes, auth));
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
    // Every request we authenticated and wait on (the pending one, and a newer one kept meanwhile), least
    // recently vouched first, a batch's worth per stall period: no waiting request is starved by others.
    const due: { request: Request; last: number; mark: () => void }[] = [];
    for (const p of this.pending.values()) {
      const next = p.next;
      if (
        next !== undefined &&
        next.since <= limit &&
        (next.vouchedAt ?? Number.NEGATIVE_INFINITY) <= limit
      ) {
        due.push({
          request: next.request,
          last: next.vouchedAt ?? Number.NEGATIVE_INFINITY,
          mark: () => {
            next.vouchedAt = ctx.s.now;
          },
        });
      }
      if (p.ownTag && p.since <= limit && (p.vouchedAt ?? Number.NEGATIVE_INFINITY) <= limit) {
        due.push({
          request: p.request,
          last: p.vouchedAt ?? Number.NEGATIVE_INFINITY,
          mark: () => {
            p.vouchedAt = ctx.s.now;
          },
        });
      }
    }
    due.sort((a, b) => a.last - b.last);
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
    const ctx = this.ctx;
    const { config, out } = ctx;
    const previous = this.foreign.get(r.client)?.get(voucher);
    if (previous !== undefined && previous.request.timestamp >= r.timestamp) return;
    const size = requestSize(r);
    const used = (this.foreignBytes.get(voucher) ?? 0) - (previous?.bytes ?? 0);
    const count = (this.foreignCount.get(voucher) ?? 0) - (previous === undefined ? 0 : 1);
    if (used + size > config.maxVouchBytesPerReplica || count + 1 > config.maxPendingRequests) {
      out.reject('over-budget', from, 'vouch');
      return;
    }
    if (previous !== undefined) this.forgetForeign(r.client, voucher);
    let byVoucher = this.foreign.get(r.client);
    if (byVoucher === undefined) {
      byVoucher = new Map();
      this.foreign.set(r.client, byVoucher);
    }
    byVoucher.set(voucher, { request: r, bytes: size });
    this.foreignBytes.set(voucher, (this.foreignBytes.get(voucher) ?? 0) + size);
    this.foreignCount.set(voucher, (this.foreignCount.get(voucher) ?? 0) + 1);
    let same = 0;
    for (const f of byVoucher.values()) if (sameRequest(f.request, r)) same++;
    // f+1 vouchers: one is correct, so the client sent it. admit() takes the vouches over (absorbForeign).
    if (same >= ctx.quorums.weak) this.admit(from, r, false);
  }

  /** Vouches that arrived before `p` became pending here count for it. */
  private absorbForeign(p: Pending): void {
    const byVoucher = this.foreign.get(p.request.client);
    if (byVoucher === undefined) return;
    for (const [v, f] of [...byVoucher]) {
      if (f.request.timestamp <= p.request.timestamp) {
        if (sameRequest(f.request, p.request)) this.addVoucher(p, v);
        this.forgetForeign(p.request.client, v);
      }
    }
  }

  private forgetForeign(client: ClientId, voucher: ReplicaId): void {
    const byVoucher = this.foreign.get(client);
    const f = byVoucher?.get(voucher);
    if (byVoucher === undefined || f === undefined) return;
    byVoucher.delete(voucher);
    if (byVoucher.size === 0) this.foreign.delete(client);
    const bytes = (this.foreignBytes.get(voucher) ?? 0) - f.bytes;
    const count = (this.foreignCount.get(voucher) ?? 0) - 1;
    if (count > 0) {
      this.foreignBytes.set(voucher, bytes);
      this.foreignCount.set(voucher, count);
    } else {
      this.foreignBytes.delete(voucher);
      this.foreignCount.delete(voucher);
    }
  }

  /** Forget vouches for requests of `client` up to `timestamp` (executed). */
  private forgetForeignUpTo(client: ClientId, timestamp: number): void {
    const byVoucher = this.foreign.get(client);
    if (byVoucher === undefined) return;
    for (const [v, f] of [...byVoucher]) if (f.request.timestamp <= timestamp) this.forgetForeign(client, v);
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

  /** Whether this replica holds `r` (same client, timestamp and op) as authentic and waits on it. */
  holds(r: Request): boolean {
    const p = this.pending.get(r.client);
    if (p === undefined) return false;
    if (sameRequest(p.request, r)) return true;
    return p.next !== undefined && sameRequest(p.next.request, r);
  }

  /** Rule P1: `request` (or a newer one of its client) is in a batch of this view not executed yet. */
  private inProposedBatch(request: Request): boolean {
    const ts = this.proposed.get(request.client);
    return ts !== undefined && request.timestamp <= ts;
  }

  private noteProposed(client: ClientId, timestamp: number): void {
    const known = this.proposed.get(client);
    if (known !== undefined && known >= timestamp) return;
    this.proposed.delete(client);
    this.proposed.set(client, timestamp);
    if (this.proposed.size > 4 * this.ctx.config.maxPendingRequests) {
      const oldest = this.proposed.keys().next().value;
      if (oldest !== undefined) this.proposed.delete(oldest);
    }
  }

  /** Rule V3 (and V6 for a marked client; P1: never a request already in a batch of this view). */
  private proposable(p: Pending): boolean {
    return (
      !p.inFlight && !this.inProposedBatch(p.request) && p.certifiedAt !== undefined && this.vouchedEnough(p)
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
    this.excuseFullBatch(pp.batch.requests);
    for (const r of pp.batch.requests) {
      this.noteProposed(r.client, r.timestamp);
      const p = this.pending.get(r.client);
      if (p === undefined) continue;
      if (p.request.timestamp <= r.timestamp) {
        p.inFlight = true;
        this.supersedeInFlight(p);
      } else this.served(p);
    }
  }

  /**
   * Rule W4: a full batch whose every request reached this replica no later than a stall period after a waiting
   * request's 2f+1 vouches were known here excuses one of the frames that request waited. With a batch bound of
   * b and more than b clients sending, a correct primary proposes b requests a frame, oldest first, so a request
   * it learnt late (a big-MAC client's, which reaches the primary only by vouches) waits behind the ones it
   * learnt before; counting those frames voted a correct primary out for load (sim:seeds seed 9586: n = 5, one
   * request a batch, five clients). The vouches this replica counted were sent to the primary too, so after GST
   * the primary held the waiting request within a message delay of `blameFrom`; a request served ahead of it
   * that arrived here later than a stall period (two message delays) after that reached the primary after it
   * too, and its batch excuses nothing. Requests this replica never held excuse nothing either. So a faulty
   * primary that censors one request can excuse itself only with the requests that were already here when the
   * censored one was vouched for: at most maxPendingRequests / maxBatchRequests frames more.
   */
  private excuseFullBatch(requests: readonly Request[]): void {
    const ctx = this.ctx;
    if (requests.length < ctx.config.maxBatchRequests || isPrimary(ctx)) return;
    let latest = Number.NEGATIVE_INFINITY;
    for (const r of requests) latest = Math.max(latest, this.arrivalOf(r));
    if (latest === Number.POSITIVE_INFINITY) return;
    for (const p of this.pending.values()) {
      if (p.inFlight || p.frames <= p.excused) continue;
      if (requests.some((r) => r.client === p.request.client)) continue;
      const after = (p.blameFrom ?? ctx.s.now) + ctx.config.stallTicks;
      if (latest <= after) p.excused++;
    }
  }

  /** When `r` (exactly) became known here, pending or kept aside; +Infinity when this replica never held it. */
  private arrivalOf(r: Request): number {
    const p = this.pending.get(r.client);
    if (p === undefined) return Number.POSITIVE_INFINITY;
    if (sameRequest(p.request, r)) return p.arrivedAt;
    if (p.next !== undefined && sameRequest(p.next.request, r)) return p.next.since;
    return Number.POSITIVE_INFINITY;
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
    const proposed = this.proposed.get(client);
    if (proposed !== undefined && proposed <= timestamp) this.proposed.delete(client);
    const p = this.pending.get(client);
    if (p !== undefined) {
      if (p.request.timestamp <= timestamp) this.advancePast(p, timestamp);
      else this.served(p);
    }
    this.forgetForeignUpTo(client, timestamp);
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
    for (const [c, r] of this.replies) this.forgetForeignUpTo(c, r.timestamp);
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

  /** A new view's primary is watched from now on (monitor.ts): frames waited before do not count against it. */
  restartFrameCounts(): void {
    for (const p of this.pending.values()) {
      p.frames = 0;
      p.excused = 0;
    }
  }

  /** Whether a request has waited since `limit` or earlier (we may have missed its ordering: ask peers). */
  waitingSince(limit: number): boolean {
    for (const p of this.pending.values()) if (p.since <= limit) return true;
    return false;
  }

  /** Rule V4, request timer: a request 2f+1 replicas vouch for has waited since `limit` or earlier. */
  blameSince(limit: number): boolean {
    for (const p of this.pending.values()) if (p.blameFrom !== undefined && p.blameFrom <= limit) return true;
    return false;
  }

  /**
   * Rule V4, monitoring: a request 2f+1 replicas vouch for is still unproposed, known so since `limit` or
   * earlier (`limit` undefined: at all).
   */
  blameUnproposed(limit = Number.POSITIVE_INFINITY): boolean {
    for (const p of this.pending.values()) {
      if (!p.inFlight && p.blameFrom !== undefined && p.blameFrom <= limit) return true;
    }
    return false;
  }

  /** Rule V4, frame mode: the most frames a request 2f+1 replicas vouch for has waited unproposed. */
  blamedFramesWaited(): number {
    let most = 0;
    for (const p of this.pending.values()) {
      if (!p.inFlight && p.blameFrom !== undefined && p.frames - p.excused > most)
        most = p.frames - p.excused;
    }
    return most;
  }

  /** Counts and budgets agree with what is held. */
  checkInvariants(): void {
    const { config } = this.ctx;
    const bytes = new Map<ReplicaId, number>();
    const count = new Map<ReplicaId, number>();
    for (const byVoucher of this.foreign.values()) {
      assert(byVoucher.size > 0, 'empty vouch entry kept');
      for (const [v, f] of byVoucher) {
        bytes.set(v, (bytes.get(v) ?? 0) + f.bytes);
        count.set(v, (count.get(v) ?? 0) + 1);
      }
    }
    assert(bytes.size === this.foreignBytes.size, 'vouch budgets differ from entries', {
      vouchers: bytes.size,
      budgets: this.foreignBytes.size,
    });
    for (const [v, used] of this.foreignBytes) {
      assert(used === bytes.get(v) && this.foreignCount.get(v) === count.get(v), 'vouch budget differs', {
        v,
      });
      assert(used <= config.maxVouchBytesPerReplica, 'vouch budget exceeded', { v, used });
    }
    this.vouchFirst.checkInvariants();
    for (const p of this.pending.values()) {
      assert(
        p.next === undefined || p.next.ownTag === p.next.vouchers.has(this.ctx.id),
        'own vouch and own tag disagree on a successor',
        { client: p.request.client },
      );
      assert(
        p.next === undefined || p.next.request.timestamp > p.request.timestamp,
        'next request not newer',
        {
          client: p.request.client,
        },
      );
      assert(p.ownTag === p.vouchers.has(this.ctx.id), 'own vouch and own tag disagree', {
        client: p.request.client,
      });
      assert(p.certifiedAt !== undefined, 'a request held without f+1 vouchers or our own tag', {
        client: p.request.client,
      });
    }
  }
}

function sameRequest(a: Request, b: Request): boolean {
  return a.client === b.client && a.timestamp === b.timestamp && bytesEqual(a.op, b.op);
}

/** Bytes a request holds (op and tags): what the vouch budget counts. */
function requestSize(r: Request): number {
  let n = 16 + r.op.length;
  for (const t of r.auth) n += t.length + 1;
  return n;
}
