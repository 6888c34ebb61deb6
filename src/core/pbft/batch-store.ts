/**
 * Batch contents by digest, kept for re-proposal in a later view (a NEW-VIEW names batches by digest only).
 *
 * Two kinds of entry, so that a flood of one cannot push out the other:
 *  - kept: a batch this replica proposed, accepted in a PRE-PREPARE of its view, or fetched by digest. It stays
 *    while a slot of the log refers to it (its PRE-PREPARE, its P or Q entry, or the digest a NEW-VIEW fixed
 *    there), and is never refused: a NEW-VIEW can only fix a batch that f+1 replicas report pre-prepared, so
 *    at least one correct replica keeps it this way, and a replica missing it can fetch it (batch-fetch.ts).
 *    The log bounds these entries (a few per slot of the window).
 *  - old: the batch of a PRE-PREPARE of a view this replica already left, authenticated by that view's
 *    primary. It may be what a NEW-VIEW fixes, but nothing refers to it yet, so it is kept within a byte
 *    budget per primary (one faulty primary fills only its own share) until its seq is stable.
 */
import { assert } from '../assert.ts';
import { hex as hexOf } from '../bytes.ts';
import type { Batch } from '../codec/messages.ts';
import type { ReplicaId } from './config.ts';
import type { Log } from './log.ts';

interface Entry {
  readonly batch: Batch;
  /** Encoded size (what the budget counts). */
  readonly bytes: number;
  /** The highest seq it was seen at (old entries go when that seq is stable). */
  lastSeq: number;
  /** The primary whose budget an old entry uses; undefined for a kept entry. */
  oldFrom: ReplicaId | undefined;
}

export class BatchStore {
  private readonly byDigest = new Map<string, Entry>();
  private readonly oldBytes = new Map<ReplicaId, number>();

  /** `oldBudget`: bytes of old entries per primary. */
  constructor(private readonly oldBudget: number) {}

  get size(): number {
    return this.byDigest.size;
  }

  get(digestHex: string): Batch | undefined {
    return this.byDigest.get(digestHex)?.batch;
  }

  /** Keep a batch the log refers to (proposed, accepted or fetched); `bytes` is its encoded size. */
  keep(digestHex: string, seq: number, batch: Batch, bytes: number): void {
    const known = this.byDigest.get(digestHex);
    if (known === undefined) {
      this.byDigest.set(digestHex, { batch, bytes, lastSeq: seq, oldFrom: undefined });
      return;
    }
    if (seq > known.lastSeq) known.lastSeq = seq;
    if (known.oldFrom !== undefined) {
      this.release(known.oldFrom, known.bytes);
      known.oldFrom = undefined;
    }
  }

  /**
   * Keep the batch of an old-view PRE-PREPARE authenticated by primary `from`, within its budget. Returns false
   * when `from`'s share is used up (nothing else is evicted).
   */
  keepOld(from: ReplicaId, digestHex: string, seq: number, batch: Batch, bytes: number): boolean {
    const known = this.byDigest.get(digestHex);
    if (known !== undefined) {
      if (seq > known.lastSeq) known.lastSeq = seq;
      return true;
    }
    const used = this.oldBytes.get(from) ?? 0;
    if (used + bytes > this.oldBudget) return false;
    this.oldBytes.set(from, used + bytes);
    this.byDigest.set(digestHex, { batch, bytes, lastSeq: seq, oldFrom: from });
    return true;
  }

  /** A checkpoint at `stableSeq` is stable: forget old entries at or below it and what the log no longer needs. */
  prune(stableSeq: number, log: Log): void {
    const referenced = referencedBy(log);
    for (const [d, e] of this.byDigest) {
      const keep = e.oldFrom === undefined ? referenced.has(d) : e.lastSeq > stableSeq;
      if (!keep) this.drop(d, e);
    }
  }

  /** A new view was installed: forget kept entries no slot refers to any more. */
  dropUnreferenced(log: Log): void {
    const referenced = referencedBy(log);
    for (const [d, e] of this.byDigest) if (e.oldFrom === undefined && !referenced.has(d)) this.drop(d, e);
  }

  /** Old bytes per primary add up and stay within budget; kept entries stay within what the log can refer to. */
  checkInvariants(window: number): void {
    const sums = new Map<ReplicaId, number>();
    let kept = 0;
    for (const e of this.byDigest.values()) {
      if (e.oldFrom === undefined) kept++;
      else sums.set(e.oldFrom, (sums.get(e.oldFrom) ?? 0) + e.bytes);
    }
    for (const [from, used] of this.oldBytes) {
      assert(used === (sums.get(from) ?? 0), 'old-batch bytes differ from their entries', { from, used });
      assert(used <= this.oldBudget, 'old-batch budget exceeded', { from, used, budget: this.oldBudget });
    }
    for (const from of sums.keys())
      assert(this.oldBytes.has(from), 'old-batch entry without its budget', { from });
    // Per view each slot accepts one PRE-PREPARE; the previous view's P and Q entries and fixed digests add three.
    assert(kept <= 5 * window, 'more kept batches than the log can refer to', { kept, window });
  }

  private drop(digestHex: string, e: Entry): void {
    this.byDigest.delete(digestHex);
    if (e.oldFrom !== undefined) this.release(e.oldFrom, e.bytes);
  }

  private release(from: ReplicaId, bytes: number): void {
    const left = (this.oldBytes.get(from) ?? 0) - bytes;
    if (left > 0) this.oldBytes.set(from, left);
    else this.oldBytes.delete(from);
  }
}

/** Digests the log refers to: every slot's PRE-PREPARE, P and Q entries, and the digest a NEW-VIEW fixed. */
export function referencedBy(log: Log): Set<string> {
  const out = new Set<string>();
  for (const slot of log.values()) {
    if (slot.digestHex !== undefined) out.add(slot.digestHex);
    if (slot.fixedDigestHex !== undefined) out.add(slot.fixedDigestHex);
    if (slot.pInfo !== undefined) out.add(hexOf(slot.pInfo.batchDigest));
    if (slot.qInfo !== undefined) out.add(hexOf(slot.qInfo.batchDigest));
  }
  return out;
}
