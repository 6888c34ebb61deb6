/**
 * The NEW-VIEW decision, as a pure function of a set of VIEW-CHANGE messages (Castro's MAC-era view change,
 * TOCS 2002 section 3.2.4 / thesis 3.2.4: P and Q entries without third-party proofs). The new primary runs it
 * to build NEW-VIEW, and every backup runs it again on the NEW-VIEW's own V set and rejects a NEW-VIEW whose
 * chosen list differs: the check is against V, never against the backup's own checkpoint state (a known trap).
 *
 * For each sequence number n above the chosen checkpoint h (the highest stable checkpoint proven in V):
 *  A. batch d is chosen if some VIEW-CHANGE has P entry (n, d, v) and
 *     A1. at least q VIEW-CHANGEs have no P entry for n, or one with a lower view, or (v, d) itself, and
 *     A2. at least f+1 VIEW-CHANGEs have a Q entry (n, d, v') with v' >= v;
 *  B. the null batch is chosen if at least q VIEW-CHANGEs have no P entry for n;
 * where q is the quorum of quorum.ts (2f+1 when n = 3f+1). Why q works for any n >= 3f+1: a batch committed
 * at n was prepared by a quorum; any q VIEW-CHANGEs share at least one correct replica with it, whose P entry
 * for n has that batch at a view no lower, so neither A1 for another batch nor B can hold. A2's f+1 make sure
 * a correct replica pre-prepared d (a lone faulty P entry cannot force a batch nobody proposed).
 *  otherwise n is undecided and the primary waits for more VIEW-CHANGEs.
 * The list runs from h+1 to the highest n with a non-null choice; every n in it must be decided.
 */
import { bytesEqual, compareBytes } from '../bytes.ts';
import type { CertEntry, ViewChange } from '../codec/messages.ts';
import type { Quorums } from './quorum.ts';

/** A VIEW-CHANGE as carried in a NEW-VIEW's V set (no kind tag of its own). */
export type ViewChangeBody = Omit<ViewChange, 'kind'>;

export interface Choice {
  readonly seq: number;
  readonly batchDigest: Uint8Array;
}

export type NewViewDecision =
  | {
      readonly ok: true;
      /** The checkpoint the new view starts from, and the VIEW-CHANGE that proves it. */
      readonly stableSeq: number;
      readonly proofFrom: ViewChangeBody | undefined;
      readonly chosen: readonly Choice[];
    }
  | { readonly ok: false; readonly reason: 'too-few' | 'undecided'; readonly seq?: number };

/** The certificate sizes the decision uses (see quorum.ts). */
export type NewViewQuorums = Pick<
  Quorums,
  'viewChanges' | 'newViewNoConflict' | 'newViewPrePrepared' | 'newViewNull'
>;

/**
 * Decide from `viewChanges` (already verified, one per replica, all for the same new view). `nullDigest` is the
 * digest of the empty batch; `window` the watermark window L; `q` the certificate sizes of the group.
 */
export function decideNewView(
  viewChanges: readonly ViewChangeBody[],
  q: NewViewQuorums,
  window: number,
  nullDigest: Uint8Array,
): NewViewDecision {
  if (viewChanges.length < q.viewChanges) return { ok: false, reason: 'too-few' };
  let proofFrom: ViewChangeBody | undefined;
  for (const vc of viewChanges) if (vc.stableSeq > (proofFrom?.stableSeq ?? 0)) proofFrom = vc;
  const h = proofFrom?.stableSeq ?? 0;
  const prepared = viewChanges.map((vc) => bySeq(vc.prepared, h, window));
  const prePrepared = viewChanges.map((vc) => bySeq(vc.prePrepared, h, window));
  let top = h;
  for (const p of prepared) for (const seq of p.keys()) top = Math.max(top, seq);
  const chosen: Choice[] = [];
  let lastNonNull = h;
  for (let n = h + 1; n <= top; n++) {
    const d = chooseFor(n, prepared, prePrepared, q);
    if (d === 'undecided') return { ok: false, reason: 'undecided', seq: n };
    if (d === 'null') chosen.push({ seq: n, batchDigest: nullDigest });
    else {
      chosen.push({ seq: n, batchDigest: d.batchDigest });
      lastNonNull = n;
    }
  }
  return { ok: true, stableSeq: h, proofFrom, chosen: chosen.filter((c) => c.seq <= lastNonNull) };
}

function chooseFor(
  n: number,
  prepared: readonly Map<number, CertEntry[]>[],
  prePrepared: readonly Map<number, CertEntry[]>[],
  q: NewViewQuorums,
): CertEntry | 'null' | 'undecided' {
  // Candidates in a fixed order (highest view first, then digest bytes) so every replica picks the same one.
  const candidates = prepared.flatMap((p) => p.get(n) ?? []).sort(compareEntries);
  for (const c of candidates) {
    const a1 = prepared.filter((p) =>
      (p.get(n) ?? []).every((e) => e.view < c.view || (e.view === c.view && sameDigest(e, c))),
    ).length;
    const a2 = prePrepared.filter((q) =>
      (q.get(n) ?? []).some((e) => sameDigest(e, c) && e.view >= c.view),
    ).length;
    if (a1 >= q.newViewNoConflict && a2 >= q.newViewPrePrepared) return c;
  }
  const empty = prepared.filter((p) => (p.get(n) ?? []).length === 0).length;
  return empty >= q.newViewNull ? 'null' : 'undecided';
}

/** Entries above h and inside the window, by sequence number (anything else in a VIEW-CHANGE is ignored). */
function bySeq(entries: readonly CertEntry[], h: number, window: number): Map<number, CertEntry[]> {
  const out = new Map<number, CertEntry[]>();
  for (const e of entries) {
    if (e.seq <= h || e.seq > h + window) continue;
    const list = out.get(e.seq) ?? [];
    list.push(e);
    out.set(e.seq, list);
  }
  return out;
}

function compareEntries(a: CertEntry, b: CertEntry): number {
  if (a.view !== b.view) return b.view - a.view;
  return compareBytes(a.batchDigest, b.batchDigest);
}

function sameDigest(a: CertEntry, b: CertEntry): boolean {
  return bytesEqual(a.batchDigest, b.batchDigest);
}

/** Whether two decisions agree exactly (what a backup checks against the NEW-VIEW it received). */
export function sameChoices(
  a: readonly Choice[],
  b: readonly { seq: number; batchDigest: Uint8Array }[],
): boolean {
  if (a.length !== b.length) return false;
  return a.every((c, i) => {
    const o = b[i]!;
    return c.seq === o.seq && bytesEqual(c.batchDigest, o.batchDigest);
  });
}
