/**
 * The log window: one slot per sequence number h < seq <= h + L, where h (`low`) is the last stable checkpoint.
 * A slot holds the agreement state of its sequence number in the current view (PRE-PREPARE, votes, prepared,
 * committed) and the P and Q entries a VIEW-CHANGE reports. The log owns the window and the count of slots
 * held while their requests are not yet authentic; the replica decides what goes into a slot.
 */
import { assert } from '../assert.ts';
import type { CertEntry, PrePrepare } from '../codec/messages.ts';
import type { ReplicaId } from './config.ts';

/** One sequence number's agreement state. */
export interface Slot {
  readonly seq: number;
  view: number;
  prePrepare: PrePrepare | undefined;
  /** The PRE-PREPARE as received: relayable to a lagging peer (its authenticator covers every replica). */
  prePrepareBytes: Uint8Array | undefined;
  digestHex: string | undefined;
  /** Every request of the batch is authentic for this replica (see the rule in replica.ts). */
  authentic: boolean;
  readonly prepares: Map<ReplicaId, string>;
  readonly commits: Map<ReplicaId, string>;
  ownPrepare: Uint8Array | undefined;
  ownCommit: Uint8Array | undefined;
  prepared: boolean;
  committed: boolean;
  /** When the slot was created (by a PRE-PREPARE or by a vote). */
  readonly firstSeen: number;
  /** When its PRE-PREPARE of the current view was accepted or proposed: request timers measure from here. */
  prePreparedAt: number | undefined;
  /** Latest (view, digest) this replica prepared / pre-prepared at this seq: its P and Q entries. */
  pInfo: CertEntry | undefined;
  qInfo: CertEntry | undefined;
  /** The digest a NEW-VIEW fixed for this seq in the current view: any other PRE-PREPARE conflicts. */
  fixedDigestHex: string | undefined;
  fixedDigest: Uint8Array | undefined;
}

export class Log {
  /** h: the last stable checkpoint; slots at or below it are truncated. */
  low = 0;
  private readonly slots = new Map<number, Slot>();
  private held = 0;

  constructor(private readonly window: number) {}

  /** H = h + L: the highest sequence number accepted. */
  get high(): number {
    return this.low + this.window;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Slots whose PRE-PREPARE is held while its requests are not yet authentic here. */
  get heldCount(): number {
    return this.held;
  }

  inWindow(seq: number): boolean {
    return seq > this.low && seq <= this.low + this.window;
  }

  get(seq: number): Slot | undefined {
    return this.slots.get(seq);
  }

  values(): IterableIterator<Slot> {
    return this.slots.values();
  }

  /** The slot of `seq`, created on first use; `seq` must be inside the window (callers check). */
  slot(seq: number, view: number, now: number): Slot {
    let slot = this.slots.get(seq);
    if (slot === undefined) {
      assert(this.inWindow(seq), 'slot outside the watermark window', { seq, low: this.low });
      slot = {
        seq,
        view,
        prePrepare: undefined,
        prePrepareBytes: undefined,
        digestHex: undefined,
        authentic: false,
        prepares: new Map(),
        commits: new Map(),
        ownPrepare: undefined,
        ownCommit: undefined,
        prepared: false,
        committed: false,
        firstSeen: now,
        prePreparedAt: undefined,
        pInfo: undefined,
        qInfo: undefined,
        fixedDigestHex: undefined,
        fixedDigest: undefined,
      };
      this.slots.set(seq, slot);
    }
    return slot;
  }

  /** Count a PRE-PREPARE about to be stored in a slot as held (its requests not yet authentic). */
  hold(): void {
    this.held++;
  }

  /** The held PRE-PREPARE of `slot` became authentic. */
  release(slot: Slot): void {
    if (slot.authentic || slot.prePrepare === undefined) return;
    slot.authentic = true;
    this.held--;
  }

  /** Drop every slot at or below `seq` (a checkpoint became stable there); returns how many went. */
  truncate(seq: number): number {
    const before = this.slots.size;
    for (const s of this.slots.keys()) {
      if (s <= seq) {
        const slot = this.slots.get(s)!;
        if (!slot.authentic && slot.prePrepare !== undefined) this.held--;
        this.slots.delete(s);
      }
    }
    return before - this.slots.size;
  }

  /** A new view began: agreement restarts in it; P and Q entries survive for the next view change. */
  resetForView(view: number): void {
    for (const slot of this.slots.values()) {
      slot.view = view;
      slot.prePrepare = undefined;
      slot.prePrepareBytes = undefined;
      slot.digestHex = undefined;
      slot.authentic = false;
      slot.prepares.clear();
      slot.commits.clear();
      slot.ownPrepare = undefined;
      slot.ownCommit = undefined;
      slot.prepared = false;
      slot.committed = false;
      slot.prePreparedAt = undefined;
      slot.fixedDigestHex = undefined;
      slot.fixedDigest = undefined;
    }
    this.held = 0;
  }

  /** This replica's P and Q entries above h, by ascending seq: the body of its VIEW-CHANGE. */
  certificates(): { prepared: CertEntry[]; prePrepared: CertEntry[] } {
    const prepared: CertEntry[] = [];
    const prePrepared: CertEntry[] = [];
    for (const slot of this.slots.values()) {
      if (slot.seq <= this.low) continue;
      if (slot.pInfo !== undefined) prepared.push(slot.pInfo);
      if (slot.qInfo !== undefined) prePrepared.push(slot.qInfo);
    }
    const byAscendingSeq = (a: CertEntry, b: CertEntry): number => a.seq - b.seq;
    return { prepared: prepared.sort(byAscendingSeq), prePrepared: prePrepared.sort(byAscendingSeq) };
  }

  /** Every slot inside the window; committed implies prepared implies pre-prepared; the held count is exact. */
  checkInvariants(): void {
    let held = 0;
    for (const [seq, slot] of this.slots) {
      assert(seq === slot.seq, 'slot filed under another seq', { seq, slotSeq: slot.seq });
      assert(this.inWindow(seq), 'slot outside the watermark window', {
        seq,
        low: this.low,
        high: this.high,
      });
      assert(!slot.committed || slot.prepared, 'committed slot not prepared', { seq });
      assert(!slot.prepared || slot.prePrepare !== undefined, 'prepared slot without PRE-PREPARE', { seq });
      assert(
        slot.prePrepare === undefined || slot.digestHex !== undefined,
        'PRE-PREPARE without its digest',
        { seq },
      );
      assert(
        (slot.prePrepare === undefined) === (slot.prePreparedAt === undefined),
        'PRE-PREPARE and its arrival time disagree',
        { seq },
      );
      if (slot.prePrepare !== undefined && !slot.authentic) held++;
    }
    assert(held === this.held, 'held count differs from the held slots', { counted: held, held: this.held });
  }

  /**
   * The end of the run of PRE-PREPAREd seqs just above `floor` (seqs at or below the low watermark count as
   * filled): how far a primary's pipeline is known to be occupied. A correct primary assigns seqs in order, so
   * its pipeline is full only when the seqs above `floor` are pre-prepared without a gap; a lone PRE-PREPARE
   * far ahead (a faulty primary's junk, held here) proves nothing and must not look like a full pipeline.
   *
   * @example
   * // PRE-PREPAREs held at 6, 7 and 40, last executed 5: the run ends at 7.
   * log.prePreparedRunEnd(5); // 7
   */
  prePreparedRunEnd(floor: number): number {
    let end = Math.max(floor, this.low);
    // Bounded by the window: no slot lies above the high watermark.
    while (end < this.high && this.slots.get(end + 1)?.prePrepare !== undefined) end++;
    return end;
  }
}

/** Votes in `votes` for `digestHex`, not counting replica `exclude` (-1: count everyone). */
export function matchingVotes(
  votes: ReadonlyMap<ReplicaId, string>,
  digestHex: string | undefined,
  exclude: ReplicaId,
): number {
  let count = 0;
  for (const [replica, d] of votes) if (replica !== exclude && d === digestHex) count++;
  return count;
}
