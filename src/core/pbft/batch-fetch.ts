/**
 * Fetching a batch by digest. A NEW-VIEW names the batches it carries over by digest only; the new primary
 * must re-propose each with its content, and it may never have seen one (its PRE-PREPARE was lost on the way
 * to it). The NEW-VIEW fixes a batch only if f+1 VIEW-CHANGEs report it pre-prepared, so at least one correct
 * replica holds its content (batch-store.ts keeps every batch the log refers to): the primary asks every peer
 * and takes the first answer that hashes to the digest. The sender of an answer is irrelevant; the digest
 * makes it trustworthy. Both sides are bounded: the primary asks only for digests its NEW-VIEW fixed (at
 * most one per slot of the window), again at most once per stall period; a peer answers each replica at
 * most one window's worth of batches per half stall period.
 */
import { bytesEqual, hex } from '../bytes.ts';
import { encodeBatch } from '../codec/encode.ts';
import type { BatchFetch, BatchReply } from '../codec/messages.ts';
import type { ReplicaId } from './config.ts';
import { type Ctx, isPrimary, NO_TAG, sendTagged, taggedFromPeer } from './context.ts';

export class BatchFetcher {
  /** Digests this primary must re-propose and does not hold: digest hex to a seq it is fixed at. */
  private readonly wanted = new Map<string, { readonly seq: number; readonly digest: Uint8Array }>();
  private readonly served = new Map<ReplicaId, { since: number; count: number }>();

  constructor(private readonly ctx: Ctx) {}

  get wantedCount(): number {
    return this.wanted.size;
  }

  /** New primary: ask every peer for each batch the NEW-VIEW fixed whose content is not here. */
  fetchMissing(): void {
    const ctx = this.ctx;
    this.wanted.clear();
    if (!isPrimary(ctx) || !ctx.s.active) return;
    const nullHex = hex(ctx.nullDigest);
    for (const slot of ctx.log.values()) {
      const d = slot.fixedDigestHex;
      if (
        d === undefined ||
        slot.prePrepare !== undefined ||
        d === nullHex ||
        ctx.batches.get(d) !== undefined
      )
        continue;
      const fixed = slot.fixedDigest;
      if (fixed !== undefined) this.wanted.set(d, { seq: slot.seq, digest: fixed });
    }
    for (const { seq, digest: batchDigest } of this.wanted.values()) {
      for (const to of ctx.others) {
        const unsigned: BatchFetch = { kind: 'batch-fetch', replica: ctx.id, seq, batchDigest, tag: NO_TAG };
        sendTagged(ctx, to, unsigned);
      }
    }
  }

  /** Serve a peer's ask from what we hold (bounded per asker). */
  onFetch(from: number, m: BatchFetch, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, config } = ctx;
    if (!taggedFromPeer(ctx, from, m, bytes)) return;
    let served = this.served.get(m.replica);
    if (served === undefined || s.now - served.since >= config.stallTicks / 2) {
      served = { since: s.now, count: 0 };
      this.served.set(m.replica, served);
    }
    if (served.count >= config.watermarkWindow) {
      ctx.out.reject('rate-limited', from, m.kind);
      return;
    }
    const batch = ctx.batches.get(hex(m.batchDigest));
    if (batch === undefined) return; // not here: another peer answers
    served.count++;
    const unsigned: BatchReply = {
      kind: 'batch-reply',
      replica: ctx.id,
      seq: m.seq,
      batchDigest: m.batchDigest,
      batch,
      tag: NO_TAG,
    };
    sendTagged(ctx, m.replica, unsigned);
  }

  /** A batch we asked for: keep it if it hashes to the digest, and re-propose it where it is fixed. */
  onReply(from: number, m: BatchReply, bytes: Uint8Array): void {
    const ctx = this.ctx;
    if (!taggedFromPeer(ctx, from, m, bytes)) return;
    const d = hex(m.batchDigest);
    const seq = this.wanted.get(d)?.seq;
    if (seq === undefined) return; // answered already, or never asked: a duplicate costs nothing more
    const encoded = encodeBatch(m.batch);
    if (m.batch.kind !== 'full' || !bytesEqual(ctx.crypto.digest(encoded), m.batchDigest)) {
      ctx.out.reject('unwanted-batch', from, m.kind);
      return;
    }
    this.wanted.delete(d);
    ctx.batches.keep(d, seq, m.batch, encoded.length);
    for (const slot of ctx.log.values())
      if (slot.fixedDigestHex === d) ctx.agreement.reproposeIfKnown(slot.seq);
  }
}
