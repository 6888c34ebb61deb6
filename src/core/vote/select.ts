/**
 * The voting round shared by the output voter (voter.ts) and the input voter (input-voter.ts): one set of
 * reports from members (channels or input units) in, a reference value, its supporters, and whether the
 * round may be written and judged out. Pure functions; every float operation is stated, so that the C99
 * port of the voter computes the same bits (IEEE 754 binary64, round to nearest, no FMA contraction).
 *
 * Definitions (the voters' headers cite them by name):
 * - voters V: the non-latched members that reported, in member (configuration) order;
 * - reference R: per analog field `midValue` of V's values; per discrete field the unique plurality of V's
 *   values (`majority(values, 1)`); none when V is empty or a discrete field has no unique plurality;
 * - supporters: the members of V that agree with R (`agree`, which the caller supplies: within tolerance, or
 *   within the early band);
 * - writable: R exists and |supporters| >= quorum;
 * - judgeable: writable and |V| >= 2 * max(0, f - L) + 1, where L is the number of latched members.
 *
 * Why `judgeable` is sound (no correct member is ever struck): suppose no correct member is latched (the
 * induction hypothesis; it holds initially). Then the L latched members are faulty, so at most f - L faulty
 * members are in V. With |V| >= 2(f - L) + 1 the correct members of V outnumber the faulty ones, so for each
 * analog field the sorted values' middle element(s) lie between the smallest and the largest correct value,
 * and for each discrete field the correct members' common value is the unique plurality. Hence R is within S
 * of every correct member, where S is the largest disagreement between correct members; with S <= tolerance
 * no correct member is outside tolerance of R, so none gets a strike, so none is ever latched.
 */

export type FieldValue = number | string | boolean;
/** Any command type whose fields are all analog or discrete values (interfaces included). */
export type CommandShape<C> = { readonly [K in keyof C]: FieldValue };

export interface AnalogField<C extends CommandShape<C>> {
  readonly field: keyof C & string;
  /** Two values agree when |a - b| <= tolerance. */
  readonly tolerance: number;
  /**
   * The output voter may write before its deadline only when f+1 voted outputs are within this band of the
   * value it would write (0 <= earlyBand <= tolerance; see voter.ts). Absent: no early write on this field.
   */
  readonly earlyBand?: number;
}

export interface FieldRules<C extends CommandShape<C>> {
  readonly analog: readonly AnalogField<C>[];
  readonly discrete: readonly (keyof C & string)[];
}

/**
 * Mid-value select: sort ascending (by a - b), lo = sorted[(n - 1) >> 1], hi = sorted[n >> 1], and return
 * lo + (hi - lo) / 2 (the median for odd n, the mean of the two middle values for even n). The result does
 * not depend on the order of `values`: only +0 and -0 compare equal yet differ, and every combination of
 * them yields +0.
 *
 * @example
 * midValue([0.3, 0.1, 0.2]); // 0.2
 * midValue([0.1, 0.2]);      // 0.15000000000000002 (0.1 + (0.2 - 0.1) / 2)
 */
export function midValue(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('midValue: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const hi = sorted[sorted.length >> 1] as number;
  const lo = sorted[(sorted.length - 1) >> 1] as number;
  return lo + (hi - lo) / 2;
}

/**
 * The value with at least `quorum` identical (===) votes, if exactly one value has the most votes. The result
 * does not depend on the order of `values`.
 *
 * @example
 * majority(['x', 'y', 'x'], 2); // 'x'
 * majority([true, false], 1);   // undefined (tie)
 */
export function majority(values: readonly FieldValue[], quorum: number): FieldValue | undefined {
  const counts = new Map<FieldValue, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: FieldValue | undefined;
  let bestCount = 0;
  let tie = false;
  for (const [v, n] of counts) {
    if (n > bestCount) {
      best = v;
      bestCount = n;
      tie = false;
    } else if (n === bestCount) {
      tie = true;
    }
  }
  return bestCount >= quorum && !tie ? best : undefined;
}

/** R of a set of reports (see the definitions above), or null. */
export function referenceOf<C extends CommandShape<C>>(
  reports: readonly C[],
  rules: FieldRules<C>,
): C | null {
  if (reports.length === 0) return null;
  const value: Record<string, FieldValue> = {};
  for (const { field } of rules.analog) value[field] = midValue(reports.map((r) => r[field] as number));
  for (const field of rules.discrete) {
    const winner = majority(
      reports.map((r) => r[field] as FieldValue),
      1,
    );
    if (winner === undefined) return null;
    value[field] = winner;
  }
  return value as C;
}

/** |a - b| <= tolerance on every analog field (computed as Math.abs(a - b)) and === on every discrete field. */
export function withinTolerance<C extends CommandShape<C>>(a: C, b: C, rules: FieldRules<C>): boolean {
  for (const { field, tolerance } of rules.analog) {
    if (!(Math.abs((a[field] as number) - (b[field] as number)) <= tolerance)) return false;
  }
  for (const field of rules.discrete) if (a[field] !== b[field]) return false;
  return true;
}

/** As `withinTolerance` with each analog field's early band; false when a field has none. */
export function withinEarlyBand<C extends CommandShape<C>>(a: C, b: C, rules: FieldRules<C>): boolean {
  for (const { field, earlyBand } of rules.analog) {
    if (earlyBand === undefined) return false;
    if (!(Math.abs((a[field] as number) - (b[field] as number)) <= earlyBand)) return false;
  }
  for (const field of rules.discrete) if (a[field] !== b[field]) return false;
  return true;
}

export interface RoundInput<C> {
  /** One entry per member, in member order; undefined = no report. */
  readonly reports: readonly (C | undefined)[];
  /** Per member, in member order. */
  readonly latched: readonly boolean[];
  /** Byzantine members tolerated. */
  readonly f: number;
  /** Supporters needed to write. */
  readonly quorum: number;
}

export type RoundReason = 'majority' | 'no-majority' | 'too-few-outputs';

export interface Round<C> {
  /** Member indices of V, ascending. */
  readonly voters: readonly number[];
  readonly reference: C | null;
  /** Member indices of V that agree with the reference, ascending. */
  readonly supporters: readonly number[];
  readonly writable: boolean;
  readonly judgeable: boolean;
  readonly reason: RoundReason;
}

/** One voting round (see the definitions at the top of this file). `agree(report, reference)` decides support. */
export function voteRound<C extends CommandShape<C>>(
  input: RoundInput<C>,
  rules: FieldRules<C>,
  agree: (report: C, reference: C) => boolean,
): Round<C> {
  const voters: number[] = [];
  let latchedCount = 0;
  for (let i = 0; i < input.reports.length; i++) {
    if (input.latched[i] === true) latchedCount++;
    else if (input.reports[i] !== undefined) voters.push(i);
  }
  const reference = referenceOf(
    voters.map((i) => input.reports[i] as C),
    rules,
  );
  const supporters = reference === null ? [] : voters.filter((i) => agree(input.reports[i] as C, reference));
  const writable = reference !== null && supporters.length >= input.quorum;
  const judgeable = writable && voters.length >= 2 * Math.max(0, input.f - latchedCount) + 1;
  const reason: RoundReason = writable
    ? 'majority'
    : voters.length < input.quorum
      ? 'too-few-outputs'
      : 'no-majority';
  return { voters, reference, supporters, writable, judgeable, reason };
}
