/**
 * Member health for a voter: strikes, decay, latching and probation, with integer counters only. The output
 * voter keeps one book over its channels; the input voter one per sensor field over the input units. Only
 * judged rounds (select.ts) reach `judge`; silence is never judged here.
 *
 * The rule for one judgment of member i (in this order, integers throughout):
 * - agrees:   agreeStreak += 1; if agreeStreak % strikeDecayFrames == 0 and strikes > 0 then strikes -= 1;
 *             if latched: probation += 1, and if probation >= probationFrames then latched = false,
 *             strikes = 0, probation = 0 (reintegrated);
 * - disagrees: agreeStreak = 0; probation = 0; strikes = min(strikeThreshold, strikes + 1) (a strike);
 *             if not latched and strikes >= strikeThreshold then latched = true, latchCount += 1 (latched).
 *
 * @example
 * const book = new HealthBook(3, { strikeThreshold: 4, strikeDecayFrames: 5, probationFrames: 50 });
 * book.judge(2, false); // { kind: 'strike', strikes: 1, latched: false }
 */

export interface HealthRules {
  /** Strikes at which a member is latched failed. */
  readonly strikeThreshold: number;
  /** Consecutive agreeing judgments that remove one strike. */
  readonly strikeDecayFrames: number;
  /** Consecutive agreeing judgments a latched member needs to be reintegrated. */
  readonly probationFrames: number;
}

/** The carried state of one member (also the form it is exported and imported in). */
export interface MemberState {
  readonly strikes: number;
  readonly agreeStreak: number;
  readonly latched: boolean;
  readonly probation: number;
  readonly latchCount: number;
}

export type Verdict =
  | { readonly kind: 'agree'; readonly reintegrated: boolean }
  | { readonly kind: 'strike'; readonly strikes: number; readonly latched: boolean };

const FRESH: MemberState = { strikes: 0, agreeStreak: 0, latched: false, probation: 0, latchCount: 0 };

/** Largest counter value carried (keeps every counter an exact integer, in C an int64). */
const COUNTER_MAX = Number.MAX_SAFE_INTEGER;

export function validateHealthRules(r: HealthRules, where: string): void {
  for (const key of ['strikeThreshold', 'strikeDecayFrames', 'probationFrames'] as const) {
    const v = r[key];
    if (!Number.isSafeInteger(v) || v < 1)
      throw new RangeError(`${where}: ${key} must be a positive integer, got ${v}`);
  }
}

export class HealthBook {
  readonly rules: HealthRules;
  private readonly members: MemberState[];

  constructor(size: number, rules: HealthRules) {
    validateHealthRules(rules, 'HealthBook');
    this.rules = rules;
    this.members = Array.from({ length: size }, () => FRESH);
  }

  get size(): number {
    return this.members.length;
  }

  state(i: number): MemberState {
    const s = this.members[i];
    if (s === undefined) throw new RangeError(`HealthBook: no member ${i}`);
    return s;
  }

  latched(i: number): boolean {
    return this.state(i).latched;
  }

  /** Latched flags in member order. */
  latchedFlags(): boolean[] {
    return this.members.map((m) => m.latched);
  }

  latchedCount(): number {
    let n = 0;
    for (const m of this.members) if (m.latched) n++;
    return n;
  }

  /** One judgment of member i (see the rule in the header). */
  judge(i: number, agrees: boolean): Verdict {
    const s = this.state(i);
    const r = this.rules;
    if (agrees) {
      const agreeStreak = Math.min(COUNTER_MAX, s.agreeStreak + 1);
      const strikes = agreeStreak % r.strikeDecayFrames === 0 && s.strikes > 0 ? s.strikes - 1 : s.strikes;
      if (s.latched) {
        const probation = s.probation + 1;
        if (probation >= r.probationFrames) {
          this.members[i] = { ...s, agreeStreak, latched: false, strikes: 0, probation: 0 };
          return { kind: 'agree', reintegrated: true };
        }
        this.members[i] = { ...s, agreeStreak, strikes, probation };
        return { kind: 'agree', reintegrated: false };
      }
      this.members[i] = { ...s, agreeStreak, strikes };
      return { kind: 'agree', reintegrated: false };
    }
    const strikes = Math.min(r.strikeThreshold, s.strikes + 1);
    const latchNow = !s.latched && strikes >= r.strikeThreshold;
    this.members[i] = {
      ...s,
      agreeStreak: 0,
      probation: 0,
      strikes,
      latched: s.latched || latchNow,
      latchCount: latchNow ? Math.min(COUNTER_MAX, s.latchCount + 1) : s.latchCount,
    };
    return { kind: 'strike', strikes, latched: latchNow };
  }

  export(): MemberState[] {
    return this.members.map((m) => ({ ...m }));
  }

  /** Replace every member's state (a rebuilt channel takes its peers'); throws RangeError on a malformed one. */
  import(states: readonly MemberState[]): void {
    if (states.length !== this.members.length)
      throw new RangeError(`HealthBook.import: ${states.length} members, expected ${this.members.length}`);
    for (const s of states) validateMemberState(s, this.rules);
    for (let i = 0; i < states.length; i++) this.members[i] = { ...(states[i] as MemberState) };
  }
}

function validateMemberState(s: MemberState, r: HealthRules): void {
  const count = (v: number) => Number.isSafeInteger(v) && v >= 0;
  const ok =
    typeof s === 'object' &&
    s !== null &&
    count(s.strikes) &&
    s.strikes <= r.strikeThreshold &&
    count(s.agreeStreak) &&
    typeof s.latched === 'boolean' &&
    count(s.probation) &&
    s.probation < r.probationFrames &&
    count(s.latchCount);
  if (!ok) throw new RangeError(`HealthBook.import: malformed member state ${JSON.stringify(s)}`);
}
