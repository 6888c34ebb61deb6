/**
 * BASE rebuild of a restarted channel: choose the abstract state to start from. Peers offer their abstract
 * state after executing committed batch `seq` (a short history each); a state is taken only when f+1 distinct
 * peers offer matching states for the same seq (at least one of them is correct, so a faulty peer cannot plant
 * its state), and the newest such seq wins (the least replay). `same` says when two states match: dissimilar
 * implementations convert to the abstract state with their own rounding, so the runtime compares analog fields
 * within a tolerance and discrete ones exactly.
 *
 * @example
 * const pick = matchAbstractStates(offers, 1, sameChannelState, (seq) => seq >= firstBuffered - 1);
 * if (pick.ok) channel.importState(pick.state); // then replay the committed batches after pick.seq
 */

export interface AbstractOffer<S> {
  /** Who offers it (a channel id); counted once per seq. */
  readonly source: number;
  /** The committed batch after which the state was taken. */
  readonly seq: number;
  readonly state: S;
}

export type AbstractPick<S> =
  | { readonly ok: true; readonly seq: number; readonly state: S; readonly supporters: readonly number[] }
  | { readonly ok: false; readonly reason: 'no-offers' | 'no-quorum' };

/** Most offers looked at (peers x history): bounds the pairwise comparisons. */
export const MAX_ABSTRACT_OFFERS = 1024;

export function matchAbstractStates<S>(
  offers: readonly AbstractOffer<S>[],
  f: number,
  same: (a: S, b: S) => boolean,
  usable: (seq: number) => boolean = () => true,
): AbstractPick<S> {
  if (offers.length === 0) return { ok: false, reason: 'no-offers' };
  const bySeq = new Map<number, AbstractOffer<S>[]>();
  for (const o of offers.slice(0, MAX_ABSTRACT_OFFERS)) {
    if (!Number.isSafeInteger(o.seq) || !usable(o.seq)) continue;
    const list = bySeq.get(o.seq) ?? [];
    if (!list.some((x) => x.source === o.source)) list.push(o);
    bySeq.set(o.seq, list);
  }
  const seqs = [...bySeq.keys()].sort((a, b) => b - a);
  for (const seq of seqs) {
    const list = bySeq.get(seq)!;
    for (const candidate of list) {
      const supporters = list.filter((o) => same(candidate.state, o.state)).map((o) => o.source);
      if (supporters.length >= f + 1) return { ok: true, seq, state: candidate.state, supporters };
    }
  }
  return { ok: false, reason: 'no-quorum' };
}
