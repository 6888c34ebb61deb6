/**
 * The verdict of one scenario run, as the console, the index page and the JUnit file show it.
 *
 * - pass: every applicable assertion held;
 * - fail: one did not (exit code 1);
 * - known-failure: it failed, and the scenario names the open issue that makes it fail (not counted as failed);
 * - unexpected-pass: it passed although it names a known issue (the issue may be fixed: update the scenario);
 * - error: the run could not start (bad scenario, missing hardware with --require-hardware): exit code 2.
 */
import type { AssertionResult } from '../assertions.ts';
import type { BoardInfo } from '../bench/bench.ts';
import type { FaultOutcome } from '../fault-timeline.ts';

export type Verdict = 'pass' | 'fail' | 'known-failure' | 'unexpected-pass' | 'error';

export interface ScenarioOutcome {
  readonly name: string;
  readonly file: string;
  readonly description: string;
  readonly promise?: string;
  readonly verdict: Verdict;
  readonly assertions: readonly AssertionResult[];
  readonly faults: readonly FaultOutcome[];
  readonly boards: readonly BoardInfo[];
  readonly timing: 'lockstep' | 'realtime';
  readonly seed: number;
  readonly frames: number;
  readonly wallSeconds: number;
  readonly knownIssue?: string;
  /** Why the run could not start (verdict 'error'). */
  readonly error?: string;
  /** The scenario's report folder and its HTML page. */
  readonly dir?: string;
  readonly html?: string;
}

export function verdictOf(passed: boolean, knownIssue: string | undefined): Verdict {
  if (knownIssue === undefined) return passed ? 'pass' : 'fail';
  return passed ? 'unexpected-pass' : 'known-failure';
}

/** Whether the verdict makes the run's exit code non-zero. */
export const failing = (v: Verdict): boolean => v === 'fail' || v === 'error';
