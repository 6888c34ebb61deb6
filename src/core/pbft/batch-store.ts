/**
 * Batch contents by digest, kept for re-proposal in a later view. `lastSeq` is the highest seq a batch was seen
 * at: one batch can be proposed at several seqs (a request proposed again after a view change), and truncation
 * must keep it until the last of them is stable, or a NEW-VIEW can fix a seq to a digest whose content no
 * replica holds any more, and every later view stalls on it.
 */
import { assert } from '../assert.ts';
import type { Batch } from '../codec/messages.ts';

interface Entry {
  lastSeq: number;
  readonly batch: Batch;
}

export class BatchStore {
  private readonly byDigest = new Map<string, Entry>();

  /** `capacity`: batches held at most (a correct view needs one per seq of the window). */
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.byDigest.size;
  }

  get(digestHex: string): Batch | undefined {
    return this.byDigest.get(digestHex)?.batch;
  }

  /**
   * Keep `batch` (whose digest is `digestHex`) until `seq` is stable. Returns false when the store is full and
   * the batch was new (it is then not kept).
   */
  remember(digestHex: string, seq: number, batch: Batch): boolean {
    const known = this.byDigest.get(digestHex);
    if (known !== undefined) {
      // Seen again at a later seq: keep the content until that seq is stable too.
      if (seq > known.lastSeq) known.lastSeq = seq;
      return true;
    }
    if (this.byDigest.size >= this.capacity) return false;
    this.byDigest.set(digestHex, { lastSeq: seq, batch });
    return true;
  }

  checkInvariants(): void {
    assert(this.byDigest.size <= this.capacity, 'batch store over capacity', {
      size: this.byDigest.size,
      capacity: this.capacity,
    });
  }

  /** A checkpoint at `stableSeq` is stable: forget batches whose every seq is at or below it. */
  prune(stableSeq: number): void {
    for (const [d, b] of this.byDigest) if (b.lastSeq <= stableSeq) this.byDigest.delete(d);
  }
}
