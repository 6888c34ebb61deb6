/**
 * Shared runner of the issue-9 simulation suites: every catalog entry added for Byzantine hardening (and every
 * intruder, and the larger topologies), a few seeds each, with load kept up after GST so that what happens once
 * the network has settled (a correct primary blamed, a livelock) shows. One test per run; its name carries the
 * replay command.
 */
import { expect, it } from 'vitest';
import { behaviours } from '../../src/sim/byzantine.ts';
import {
  replayCommandFor,
  runSimulation,
  SETTLED_LOAD_MS,
  type SimOptions,
} from '../../src/sim/simulator.ts';

/** The catalog of issue 3 (test/sim/byzantine/catalog.test.ts covers it); every later entry a hardening one. */
export const ISSUE_3_BEHAVIOURS: readonly string[] = [
  'crash',
  'silent',
  'corrupt-macs',
  'replay',
  'random-bytes',
  'equivocate',
  'censor',
  'skip-seq',
  'reuse-seq',
  'slow-primary',
  'huge-view',
  'forge-view-change',
  'bad-state',
];

export const HARDENING_BEHAVIOURS = behaviours().filter((b) => !ISSUE_3_BEHAVIOURS.includes(b.name));

/** Short runs: two clients, a few requests before GST; the settled load after GST does the rest. */
const SHORT = { clients: 2, requestsPerClient: 4, loadAfterGstMs: SETTLED_LOAD_MS } as const;

/** Safe, live within the stated bound, and (checked inside the run) no correct primary blamed after GST. */
export function runIt(label: string, options: SimOptions): void {
  const o: SimOptions = { ...SHORT, ...options };
  it(`${label} (replay: ${replayCommandFor(o)})`, () => {
    const r = runSimulation(o);
    expect(r.requestsCompleted).toBeGreaterThan(0);
    expect(r.maxLatencyAfterGstMs).toBeLessThanOrEqual(r.livenessBoundMs);
  });
}

/**
 * f faulty replicas of one kind: a primary-only entry sits on the first primary; the others alternate between
 * including the first primary (odd seeds) and backups only (even seeds).
 */
export function behaviourRuns(
  name: string,
  role: 'any' | 'primary',
  f: number,
  seeds: readonly number[],
): void {
  for (const seed of seeds) {
    const asPrimary = role === 'primary' || seed % 2 === 1;
    const options: SimOptions = asPrimary
      ? { seed, f, behaviours: [name], primaryBehaviour: name, faultyBackups: f - 1 }
      : { seed, f, behaviours: [name], faultyBackups: f, faultyMayIncludePrimary: false };
    runIt(`${name} x${f} seed ${seed}`, options);
  }
}
