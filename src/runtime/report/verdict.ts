/**
 * The one line a reader looks for first: did the run pass, and if not, the first assertion that failed. An
 * interrupted run is its own verdict: it says how far it got and how what it flew was judged.
 *
 * @example
 * verdictOf({ assertions, interrupted: false, framesFlown: 1000, framesPlanned: 1000 });
 * // { state: 'failed', headline: 'FAILED: no-failsafe: 16 failsafe frames', firstFailed: { name: 'no-failsafe', ... } }
 */

export interface AssertionLike {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
  /** Cannot be checked yet: neither passes nor fails the run. */
  readonly notApplicable?: boolean;
}

export interface Verdict {
  readonly state: 'passed' | 'failed' | 'interrupted';
  readonly headline: string;
  /** The first failed assertion (the `completed` check of an interrupted run aside). */
  readonly firstFailed?: AssertionLike;
}

export interface VerdictInput {
  readonly assertions: readonly AssertionLike[];
  readonly interrupted: boolean;
  readonly framesFlown: number;
  readonly framesPlanned: number;
}

export function verdictOf(v: VerdictInput): Verdict {
  const judged = v.interrupted ? v.assertions.filter((a) => a.name !== 'completed') : v.assertions;
  const firstFailed = judged.find((a) => !a.passed && a.notApplicable !== true);
  const failure = firstFailed ? `${firstFailed.name}: ${firstFailed.detail}` : '';
  if (v.interrupted) {
    const flown = `INTERRUPTED after ${v.framesFlown} of ${v.framesPlanned} frames`;
    return {
      state: 'interrupted',
      headline: firstFailed
        ? `${flown}; what was flown FAILED: ${failure}`
        : `${flown}; what was flown passed`,
      ...(firstFailed ? { firstFailed } : {}),
    };
  }
  if (firstFailed) return { state: 'failed', headline: `FAILED: ${failure}`, firstFailed };
  const na = v.assertions.filter((a) => a.notApplicable === true).length;
  const held = v.assertions.length - na;
  return {
    state: 'passed',
    headline: `PASSED: all ${held} assertions held${na > 0 ? ` (${na} not applicable yet)` : ''}`,
  };
}
