/**
 * Vouches for requests this replica could not authenticate itself (requests.ts, rule V2): per client and per
 * voucher the newest such request, until f+1 vouchers agree on one (then the request is held as authentic) or
 * it executes. Each voucher has a byte and a count budget, so a faulty replica that vouches for junk fills only
 * its own share.
 *
 * @example
 * const vouches = new ForeignVouches(config.maxVouchBytesPerReplica, config.maxPendingRequests);
 * const kept = vouches.keep(voucher, request);
 * if (kept.kind === 'kept' && kept.same >= quorums.weak) admitOnVouches(request);
 */
import { assert } from '../assert.ts';
import { bytesEqual } from '../bytes.ts';
import type { Request } from '../codec/messages.ts';
import type { ClientId, ReplicaId } from './config.ts';

interface Foreign {
  readonly request: Request;
  readonly bytes: number;
}

/** What keeping one vouch did. */
export type KeptVouch =
  /** Kept; `same` vouchers (this one included) now vouch for the identical request. */
  | { readonly kind: 'kept'; readonly same: number }
  /** This voucher already vouched for this request or a newer one of the client: nothing changed. */
  | { readonly kind: 'stale' }
  /** Over the voucher's budget: refused. */
  | { readonly kind: 'over-budget' };

export class ForeignVouches {
  /** Per client, per voucher: the newest request it vouched for that we could not authenticate. */
  private readonly byClient = new Map<ClientId, Map<ReplicaId, Foreign>>();
  private readonly bytesOf = new Map<ReplicaId, number>();
  private readonly countOf = new Map<ReplicaId, number>();

  constructor(
    private readonly maxBytesPerVoucher: number,
    private readonly maxCountPerVoucher: number,
  ) {}

  /** Keep `voucher`'s vouch for `r` in place of an older one of the same client, within its budget. */
  keep(voucher: ReplicaId, r: Request): KeptVouch {
    const previous = this.byClient.get(r.client)?.get(voucher);
    if (previous !== undefined && previous.request.timestamp >= r.timestamp) return { kind: 'stale' };
    const size = requestSize(r);
    const used = (this.bytesOf.get(voucher) ?? 0) - (previous?.bytes ?? 0);
    const count = (this.countOf.get(voucher) ?? 0) - (previous === undefined ? 0 : 1);
    if (used + size > this.maxBytesPerVoucher || count + 1 > this.maxCountPerVoucher)
      return { kind: 'over-budget' };
    if (previous !== undefined) this.forget(r.client, voucher);
    let byVoucher = this.byClient.get(r.client);
    if (byVoucher === undefined) {
      byVoucher = new Map();
      this.byClient.set(r.client, byVoucher);
    }
    byVoucher.set(voucher, { request: r, bytes: size });
    this.bytesOf.set(voucher, (this.bytesOf.get(voucher) ?? 0) + size);
    this.countOf.set(voucher, (this.countOf.get(voucher) ?? 0) + 1);
    let same = 0;
    for (const f of byVoucher.values()) if (sameRequest(f.request, r)) same++;
    return { kind: 'kept', same };
  }

  /** The replicas that vouched for exactly `r` (kept here, not yet absorbed). */
  vouchersOf(r: Request): ReplicaId[] {
    const vouchers: ReplicaId[] = [];
    const byVoucher = this.byClient.get(r.client);
    if (byVoucher !== undefined)
      for (const [v, f] of byVoucher) if (sameRequest(f.request, r)) vouchers.push(v);
    return vouchers;
  }

  /**
   * `r` became pending here: hand each vouch for exactly `r` to `onVoucher` and forget every vouch for it or an
   * older request of its client (in voucher order, each forgotten right after it is handed over).
   */
  absorb(r: Request, onVoucher: (voucher: ReplicaId) => void): void {
    const byVoucher = this.byClient.get(r.client);
    if (byVoucher === undefined) return;
    for (const [v, f] of [...byVoucher]) {
      if (f.request.timestamp <= r.timestamp) {
        if (sameRequest(f.request, r)) onVoucher(v);
        this.forget(r.client, v);
      }
    }
  }

  /** Forget vouches for requests of `client` up to `timestamp` (executed). */
  forgetUpTo(client: ClientId, timestamp: number): void {
    const byVoucher = this.byClient.get(client);
    if (byVoucher === undefined) return;
    for (const [v, f] of [...byVoucher]) if (f.request.timestamp <= timestamp) this.forget(client, v);
  }

  private forget(client: ClientId, voucher: ReplicaId): void {
    const byVoucher = this.byClient.get(client);
    const f = byVoucher?.get(voucher);
    if (byVoucher === undefined || f === undefined) return;
    byVoucher.delete(voucher);
    if (byVoucher.size === 0) this.byClient.delete(client);
    const bytes = (this.bytesOf.get(voucher) ?? 0) - f.bytes;
    const count = (this.countOf.get(voucher) ?? 0) - 1;
    if (count > 0) {
      this.bytesOf.set(voucher, bytes);
      this.countOf.set(voucher, count);
    } else {
      this.bytesOf.delete(voucher);
      this.countOf.delete(voucher);
    }
  }

  /** Budgets agree with the entries and none is exceeded. */
  checkInvariants(): void {
    const bytes = new Map<ReplicaId, number>();
    const count = new Map<ReplicaId, number>();
    for (const byVoucher of this.byClient.values()) {
      assert(byVoucher.size > 0, 'empty vouch entry kept');
      for (const [v, f] of byVoucher) {
        bytes.set(v, (bytes.get(v) ?? 0) + f.bytes);
        count.set(v, (count.get(v) ?? 0) + 1);
      }
    }
    assert(bytes.size === this.bytesOf.size, 'vouch budgets differ from entries', {
      vouchers: bytes.size,
      budgets: this.bytesOf.size,
    });
    for (const [v, used] of this.bytesOf) {
      assert(used === bytes.get(v) && this.countOf.get(v) === count.get(v), 'vouch budget differs', { v });
      assert(used <= this.maxBytesPerVoucher, 'vouch budget exceeded', { v, used });
    }
  }
}

/** The same request: client, timestamp and op. */
export function sameRequest(a: Request, b: Request): boolean {
  return a.client === b.client && a.timestamp === b.timestamp && bytesEqual(a.op, b.op);
}

/** Bytes a request holds (op and tags): what the vouch budget counts. */
function requestSize(r: Request): number {
  let n = 16 + r.op.length;
  for (const t of r.auth) n += t.length + 1;
  return n;
}
