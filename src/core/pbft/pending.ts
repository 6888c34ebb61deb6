/**
 * The requests this replica waits to see ordered, one per client (the newest), each with its vouchers, its wait
 * and the successor kept aside while it is in flight (requests.ts says the rules), and the questions primary
 * monitoring asks of them (monitor.ts, state-transfer.ts, agreement.ts): what has waited since when, what
 * 2f+1 replicas vouch for, how many frames a request waited unproposed.
 *
 * @example
 * const waiting = new PendingTable();
 * waiting.set(request.client, pending);
 * if (waiting.blamedFramesWaited() > config.maxMissedFrames) views.start(view + 1, 'slow-primary');
 */
import { assert } from '../assert.ts';
import type { Request } from '../codec/messages.ts';
import type { ClientId, ReplicaId } from './config.ts';
import { sameRequest } from './foreign-vouches.ts';

export interface Pending {
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
export interface Next {
  readonly request: Request;
  readonly since: number;
  /** Our own tag on it verified (otherwise f+1 replicas vouched for it). */
  readonly ownTag: boolean;
  vouchedAt: number | undefined;
  /** Replicas vouching for it, this one included when `ownTag`. */
  readonly vouchers: Set<ReplicaId>;
}

/** The questions others ask of the waiting requests (read only). */
export type WaitingRequests = Pick<
  PendingTable,
  'holds' | 'waitingSince' | 'blameSince' | 'blameUnproposed' | 'blamedFramesWaited'
>;

/** Client -> its pending request. Map order is arrival order: the primary proposes oldest first. */
export class PendingTable extends Map<ClientId, Pending> {
  /** Whether this replica holds `r` (same client, timestamp and op) as authentic and waits on it. */
  holds(r: Request): boolean {
    const p = this.get(r.client);
    if (p === undefined) return false;
    if (sameRequest(p.request, r)) return true;
    return p.next !== undefined && sameRequest(p.next.request, r);
  }

  /** Whether a request has waited since `limit` or earlier (we may have missed its ordering: ask peers). */
  waitingSince(limit: number): boolean {
    for (const p of this.values()) if (p.since <= limit) return true;
    return false;
  }

  /** Rule V4, request timer: a request 2f+1 replicas vouch for has waited since `limit` or earlier. */
  blameSince(limit: number): boolean {
    for (const p of this.values()) if (p.blameFrom !== undefined && p.blameFrom <= limit) return true;
    return false;
  }

  /**
   * Rule V4, monitoring: a request 2f+1 replicas vouch for is still unproposed, known so since `limit` or
   * earlier (`limit` undefined: at all).
   */
  blameUnproposed(limit = Number.POSITIVE_INFINITY): boolean {
    for (const p of this.values()) {
      if (!p.inFlight && p.blameFrom !== undefined && p.blameFrom <= limit) return true;
    }
    return false;
  }

  /** Rule V4, frame mode: the most frames a request 2f+1 replicas vouch for has waited unproposed. */
  blamedFramesWaited(): number {
    let most = 0;
    for (const p of this.values()) {
      if (!p.inFlight && p.blameFrom !== undefined && p.frames - p.excused > most)
        most = p.frames - p.excused;
    }
    return most;
  }

  /** A new view's primary is watched from now on (monitor.ts): frames waited before do not count against it. */
  restartFrameCounts(): void {
    for (const p of this.values()) {
      p.frames = 0;
      p.excused = 0;
    }
  }

  /**
   * Rule W4 (a backup; `requests` is a full batch): a full batch whose every request reached this replica no
   * later than a stall period after a waiting request's 2f+1 vouches were known here excuses one of the frames
   * that request waited (before they are known, any full batch does: those are the vouch delay's frames, two in
   * frame mode, while the primary may not hold the request yet). With a batch bound of b and more than
   * b clients sending, a correct primary proposes b requests a frame, oldest first, so a request it learnt late
   * (a big-MAC client's, which reaches the primary only by vouches) waits behind the ones it learnt before;
   * counting those frames voted a correct primary out for load (sim:seeds seeds 9586 and 1618: one request a
   * batch, five clients). The vouches counted here were sent to the primary too, so after GST the primary held
   * the waiting request within a message delay of `blameFrom`; a request served ahead of it that arrived here
   * more than two message delays after that (the stall period is at least that) reached the primary after it
   * too, and its batch excuses nothing; nor does a batch with a request this replica never held. Cost, stated:
   * a faulty primary that censors one request while its batches are full gains at most the frames it serves
   * requests that were here before the censored one, plus the frames until its vouches were known here (two in
   * frame mode) and stallTicks (test/core/pbft/fair-primary.test.ts).
   * A batch bound above the number of clients (the loop's input units) is never full: W4 never applies there.
   */
  excuseFullBatch(requests: readonly Request[], now: number, stallTicks: number): void {
    let latest = Number.NEGATIVE_INFINITY;
    for (const r of requests) latest = Math.max(latest, this.arrivalOf(r));
    if (latest === Number.POSITIVE_INFINITY) return;
    for (const p of this.values()) {
      if (p.inFlight || p.frames <= p.excused) continue;
      if (requests.some((r) => r.client === p.request.client)) continue;
      const after = (p.blameFrom ?? now) + stallTicks;
      if (latest <= after) p.excused++;
    }
  }

  /** When `r` (exactly) became known here, pending or kept aside; +Infinity when this replica never held it. */
  private arrivalOf(r: Request): number {
    const p = this.get(r.client);
    if (p === undefined) return Number.POSITIVE_INFINITY;
    if (sameRequest(p.request, r)) return p.arrivedAt;
    if (p.next !== undefined && sameRequest(p.next.request, r)) return p.next.since;
    return Number.POSITIVE_INFINITY;
  }

  /** Own vouches match own tags; a successor is newer; nothing is held without f+1 vouchers or our own tag. */
  checkInvariants(self: ReplicaId): void {
    for (const p of this.values()) {
      const client = p.request.client;
      assert(
        p.next === undefined || p.next.ownTag === p.next.vouchers.has(self),
        'own vouch and own tag disagree on a successor',
        { client },
      );
      assert(
        p.next === undefined || p.next.request.timestamp > p.request.timestamp,
        'next request not newer',
        { client },
      );
      assert(p.ownTag === p.vouchers.has(self), 'own vouch and own tag disagree', { client });
      assert(p.certifiedAt !== undefined, 'a request held without f+1 vouchers or our own tag', { client });
    }
  }

  /**
   * Every request we authenticated and wait on (the pending one, and a newer one kept meanwhile) whose last vouch
   * is a stall period old (`limit`), least recently vouched first, each with how to record a new vouch at `now`:
   * vouched a batch's worth at a time, no waiting request is starved by others.
   */
  dueForRevouch(limit: number, now: number): { readonly request: Request; readonly mark: () => void }[] {
    const due: { request: Request; last: number; mark: () => void }[] = [];
    for (const p of this.values()) {
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
            next.vouchedAt = now;
          },
        });
      }
      if (p.ownTag && p.since <= limit && (p.vouchedAt ?? Number.NEGATIVE_INFINITY) <= limit) {
        due.push({
          request: p.request,
          last: p.vouchedAt ?? Number.NEGATIVE_INFINITY,
          mark: () => {
            p.vouchedAt = now;
          },
        });
      }
    }
    due.sort((a, b) => a.last - b.last);
    return due;
  }
}
