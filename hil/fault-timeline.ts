/**
 * The fault timeline of a run: each grid fault starts at its frame, ends at its end frame, and an intermittent
 * one toggles its base fault (off; hang for a board) on and off within each period. The timeline decides when;
 * the rig carries out (sensors and input units itself, the rest through the bench) and records what happened,
 * including every fault that could not be applied, and why.
 */
import type { Topology } from '../src/runtime/config.ts';
import { type AppliesCell, cell, severityOf } from './grid.ts';
import type { GridFault, Scenario, ScenarioEvent } from './scenario.ts';

/** What became of one fault of the scenario (the report's fault table, the summary's `faults`). */
export interface FaultOutcome {
  readonly fault: string;
  readonly target: string;
  readonly atS: number;
  readonly untilS: number | undefined;
  readonly source: string;
  /** 'applied', 'not-applied' (with the reason), or 'pending' (the run ended first). */
  status: 'applied' | 'not-applied' | 'pending';
  detail: string;
  readonly allowUnapplied: boolean;
  /** Frame at which it struck. */
  frame?: number;
}

export interface TimelineEntry {
  readonly fault: GridFault;
  readonly cell: AppliesCell;
  readonly startFrame: number;
  readonly endFrame: number | undefined;
  /** Intermittent: frames per cycle and frames on per cycle. */
  readonly cycle: { readonly frames: number; readonly on: number } | undefined;
  /** The type the bench or the rig carries out (the base type for intermittent faults). */
  readonly baseType: string;
  readonly severity: number | undefined;
  readonly outcome: FaultOutcome;
  /** The legacy event this entry stands for (its events keep their old names). */
  readonly legacy?: ScenarioEvent['kind'];
}

const frameOf = (s: number, rate: number): number => Math.ceil(s * rate - 1e-9);

/** Built-in scenario events as grid faults: a channel fault ends at the next repair of that channel. */
export function legacyFaults(s: Scenario): (GridFault & { legacy: ScenarioEvent['kind'] })[] {
  const out: (GridFault & { legacy: ScenarioEvent['kind'] })[] = [];
  const events = [...s.events].sort((a, b) => a.atS - b.atS);
  const base = { severity: undefined, periodS: undefined, allowUnapplied: true, source: 'built-in' };
  for (const [i, e] of events.entries()) {
    switch (e.kind) {
      case 'channel-fault': {
        const repair = events
          .slice(i + 1)
          .find((r) => r.kind === 'channel-repair' && r.channel === e.channel);
        out.push({
          ...base,
          component: 'channel',
          type: e.fault,
          target: e.channel,
          atS: e.atS,
          untilS: repair?.atS,
          legacy: e.kind,
        });
        break;
      }
      case 'crash-primary':
      case 'crash-backup':
        out.push({
          ...base,
          component: 'board',
          type: 'crash',
          target: e.kind === 'crash-primary' ? 'primary' : 'backup',
          atS: e.atS,
          untilS: undefined,
          legacy: e.kind,
        });
        break;
      case 'crash-board':
        out.push({
          ...base,
          component: 'board',
          type: 'crash',
          target: e.board,
          atS: e.atS,
          untilS: undefined,
          legacy: e.kind,
        });
        break;
      case 'replica-byzantine':
        out.push({
          ...base,
          component: 'replica',
          type: e.behaviour,
          target: e.replica,
          atS: e.atS,
          untilS: undefined,
          legacy: e.kind,
        });
        break;
      case 'channel-repair':
        break;
    }
  }
  return out;
}

/** The timeline of a scenario on a topology: built-in events first, then the file's grid faults. */
export function buildTimeline(s: Scenario, t: Topology): TimelineEntry[] {
  const rate = t.frameRateHz;
  const periodMs = 1000 / rate;
  const faults: (GridFault & { legacy?: ScenarioEvent['kind'] })[] = [
    ...legacyFaults(s),
    ...(s.faults ?? []),
  ];
  return faults.map((f) => {
    const c = cell(f.component, f.type);
    if (c === undefined || !c.applies) throw new Error(`not a grid cell: ${f.component} ${f.type}`);
    const intermittent = f.type === 'intermittent';
    const duty = intermittent ? (severityOf(c, f.severity, periodMs) ?? 0.5) : undefined;
    const cycleFrames = intermittent ? Math.max(2, Math.round((f.periodS ?? 1) * rate)) : 0;
    const outcome: FaultOutcome = {
      fault: `${f.component} ${f.type}`,
      target: f.target === undefined ? '' : String(f.target),
      atS: f.atS,
      untilS: f.untilS,
      source: f.source,
      status: 'pending',
      detail: 'the run ended before it struck',
      allowUnapplied: f.allowUnapplied,
    };
    return {
      fault: f,
      cell: c,
      startFrame: frameOf(f.atS, rate),
      endFrame: f.untilS === undefined ? undefined : frameOf(f.untilS, rate),
      cycle: intermittent
        ? { frames: cycleFrames, on: Math.min(cycleFrames, Math.max(1, Math.round(cycleFrames * duty!))) }
        : undefined,
      baseType: intermittent ? (f.component === 'board' ? 'hang' : 'off') : f.type,
      severity: intermittent ? undefined : severityOf(c, f.severity, periodMs),
      outcome,
      ...(f.legacy ? { legacy: f.legacy } : {}),
    };
  });
}

/** Whether an intermittent entry's base fault is on at `frame` (it starts on). */
export function cycleOn(e: TimelineEntry, frame: number): boolean {
  if (e.cycle === undefined) return true;
  return (frame - e.startFrame) % e.cycle.frames < e.cycle.on;
}

/** The largest `delayed` severity (frames) of rig-side faults: the history the rig must keep. */
export function maxDelayFrames(entries: readonly TimelineEntry[]): number {
  let max = 1;
  for (const e of entries) {
    const rigSide = e.fault.component === 'sensor' || e.fault.component === 'input-unit';
    if (rigSide && e.baseType === 'delayed' && e.severity !== undefined) max = Math.max(max, e.severity);
  }
  return max;
}
