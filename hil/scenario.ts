/**
 * Scenarios: what the pilot commands and which faults strike when. Times are seconds of simulated flight.
 *
 * Two forms share this type. Built-in scenarios (`defaultScenario`, tests) name their faults as `events` of a few
 * fixed kinds and are checked by hil/assertions.ts. Scenario files (hil/scenario/load.ts) name faults on the grid
 * (`faults`, hil/grid.ts), carry a pilot profile and sensor models, and bring their own assertions (`spec`).
 */
import type { SensorConfig } from '../src/core/plant/sensors.ts';
import type { ChannelFaultKind } from '../src/runtime/loop/channel-fault.ts';
import type { Component } from './grid.ts';
import type { ScenarioAssertions } from './scenario/schema.ts';

export type ScenarioEvent =
  | {
      readonly atS: number;
      readonly kind: 'channel-fault';
      readonly channel: number;
      readonly fault: ChannelFaultKind;
    }
  | { readonly atS: number; readonly kind: 'channel-repair'; readonly channel: number }
  /** Crash the board hosting the current primary replica (view change takes over). */
  | { readonly atS: number; readonly kind: 'crash-primary' }
  /** Crash the board of the highest-numbered replica that is not the primary. */
  | { readonly atS: number; readonly kind: 'crash-backup' }
  | { readonly atS: number; readonly kind: 'crash-board'; readonly board: string }
  /**
   * Replica `replica` (or the current primary) turns Byzantine with a named behaviour of the catalog in
   * src/sim/byzantine.ts (equivocate, censor, slow-primary, silent, ...), from this time on.
   */
  | {
      readonly atS: number;
      readonly kind: 'replica-byzantine';
      readonly replica: number | 'primary';
      readonly behaviour: string;
    };

export interface PilotStep {
  readonly atS: number;
  /** Commanded pitch angle from this time on, rad. */
  readonly pitch: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly durationS: number;
  readonly pilot: readonly PilotStep[];
  readonly events: readonly ScenarioEvent[];
  /** Consecutive frames without a write the scenario tolerates (around a view change). */
  readonly maxConsecutiveMisses: number;
  /** A pilot profile replacing `pilot` (steps, doublets, sweeps, a recording). */
  readonly profile?: { at(t: number): number; changes(): number[] };
  /** Models of the three pitch sensors (noise, bias). */
  readonly sensors?: readonly SensorConfig[];
  /** Faults named on the grid, with start, end and severity. */
  readonly faults?: readonly GridFault[];
  /** Notes on the timeline, shown in the report. */
  readonly marks?: readonly { readonly atS: number; readonly text: string }[];
  /** A scenario file's assertions and verdict rules (absent: the built-in checks of hil/assertions.ts). */
  readonly spec?: ScenarioSpec;
}

/** One fault of a scenario file: a grid cell, its target and when it strikes. */
export interface GridFault {
  readonly component: Component;
  readonly type: string;
  /** Channel/replica id, unit/sensor index, board name, 'primary', 'backup', or a link 'a-b'. */
  readonly target: number | string | undefined;
  readonly atS: number;
  readonly untilS: number | undefined;
  readonly severity: number | undefined;
  /** Intermittent faults: one on/off cycle, s. */
  readonly periodS: number | undefined;
  readonly allowUnapplied: boolean;
  /** Where it is written (file:line), for reports. */
  readonly source: string;
}

export interface ScenarioSpec {
  readonly file: string;
  readonly promise: string | undefined;
  readonly tags: readonly string[];
  readonly seed: number;
  readonly assertions: ScenarioAssertions;
  readonly allowUnapplied: boolean;
  readonly knownIssue: string | undefined;
}

/** The pilot's command at time t (s). */
export function pilotAt(s: Scenario, t: number): number {
  if (s.profile !== undefined) return s.profile.at(t);
  let pitch = 0;
  for (const step of s.pilot) if (t >= step.atS) pitch = step.pitch;
  return pitch;
}

/**
 * The default laptop scenario: pitch steps; channel c1 turns Byzantine (random outputs) at 25% of the run and
 * is repaired at 45% (latched, then reintegrated after probation); at 65% the primary's board crashes (view
 * change) or, with `crash: 'backup'`, a backup's. One fault at a time, inside the f = 1 budget of each role.
 */
export function defaultScenario(durationS = 20, crash: 'primary' | 'backup' = 'primary'): Scenario {
  const at = (fraction: number): number => Number((durationS * fraction).toFixed(3));
  return {
    name: 'default',
    description: `pitch steps of 0.2, -0.1 and 0.1 rad; channel c1 Byzantine (random) then repaired; the ${crash} board crashes`,
    durationS,
    pilot: [
      { atS: at(0.05), pitch: 0.2 },
      { atS: at(0.4), pitch: -0.1 },
      { atS: at(0.7), pitch: 0.1 },
    ],
    events: [
      { atS: at(0.25), kind: 'channel-fault', channel: 1, fault: 'random' },
      { atS: at(0.45), kind: 'channel-repair', channel: 1 },
      { atS: at(0.65), kind: crash === 'primary' ? 'crash-primary' : 'crash-backup' },
    ],
    // One view change costs at most ~10 frames (measured: 4-9 at 50 Hz); the shipped failsafe threshold is 10.
    maxConsecutiveMisses: 10,
  };
}
