/**
 * Frame numbering of a committed batch: which frame the batch stands for, decided from the frame numbers the
 * input units claim in their samples, so that no f lying units can move it. Pure; every channel decides it on
 * the same batch and the same last executed frame, so every channel executes the same frame.
 *
 * Rule. `last` is the last executed frame (-1 before the first) and W the window. Each claim (a unit's
 * sample frame) is classified: stale when frame <= last; in-window when last < frame <= last + W; ahead when
 * frame > last + W. Per unit, take its largest in-window claim and its largest ahead claim (a unit may have
 * more than one sample in a batch). With q = f + 1:
 *   1. if at least q units have an in-window claim: frame = the q-th largest of those claims ('window');
 *   2. else if at least q units have an ahead claim: frame = the q-th largest of those claims ('resync': a
 *      quorum moved past the window, as after an ordering outage longer than W frames, or at a channel's
 *      first batch after it starts with last = -1 far behind the units);
 *   3. else no frame ('no-quorum'): the batch executes no control frame.
 * Why no f liars can move it: the q-th largest claim is reached by q = f + 1 units, so by at least one correct
 * unit; correct units claim the true frame, so the voted frame is never ahead of every correct unit. A liar
 * can only lower it when fewer than q correct units' claims are in the batch. A single claim outside the
 * window is counted and never trusted.
 *
 * @example
 * voteFrame(41, [[42], [42], [1e15]], { f: 1, window: 8 }); // { frame: 42, how: 'window' }
 */

export interface FrameWindowRules {
  /** Lying units tolerated. */
  readonly f: number;
  /** Frames past the last executed one a claim may be and still be in the window (W >= 1). */
  readonly window: number;
}

export type ClaimClass = 'stale' | 'in-window' | 'ahead';

export type FrameVote =
  | { readonly frame: number; readonly how: 'window' | 'resync' }
  | { readonly frame: undefined; readonly how: 'no-quorum' };

export function classifyClaim(last: number, frame: number, window: number): ClaimClass {
  if (frame <= last) return 'stale';
  return frame - last <= window ? 'in-window' : 'ahead';
}

/** The batch's frame from each unit's claims (`claims[u]`: the frames of unit u's samples in the batch). */
export function voteFrame(
  last: number,
  claims: readonly (readonly number[])[],
  rules: FrameWindowRules,
): FrameVote {
  const inWindow: number[] = [];
  const ahead: number[] = [];
  for (const unitClaims of claims) {
    let bestIn = -1;
    let bestAhead = -1;
    for (const frame of unitClaims) {
      const c = classifyClaim(last, frame, rules.window);
      if (c === 'in-window' && frame > bestIn) bestIn = frame;
      else if (c === 'ahead' && frame > bestAhead) bestAhead = frame;
    }
    if (bestIn >= 0) inWindow.push(bestIn);
    if (bestAhead >= 0) ahead.push(bestAhead);
  }
  const q = rules.f + 1;
  const w = qthLargest(inWindow, q);
  if (w !== undefined) return { frame: w, how: 'window' };
  const a = qthLargest(ahead, q);
  if (a !== undefined) return { frame: a, how: 'resync' };
  return { frame: undefined, how: 'no-quorum' };
}

function qthLargest(values: number[], q: number): number | undefined {
  if (values.length < q) return undefined;
  values.sort((a, b) => b - a);
  return values[q - 1];
}

export function validateWindowRules(r: FrameWindowRules): void {
  if (!Number.isSafeInteger(r.f) || r.f < 0) throw new RangeError(`FrameWindowRules: bad f ${r.f}`);
  if (!Number.isSafeInteger(r.window) || r.window < 1 || r.window > 1_000_000)
    throw new RangeError(`FrameWindowRules: window must be in [1, 1e6], got ${r.window}`);
}
