/**
 * The run's summary as the rig knows it (deterministic under lockstep: no wall-clock values), and the dotted
 * paths scenario assertions read from it. Counter names contain dots (`voter.write`), so a path is matched
 * greedily: `counters.voter.write` finds the key `voter.write` under `counters`.
 */
import type { FrameRecord } from '../src/runtime/report/trace.ts';
import type { FaultOutcome } from './fault-timeline.ts';
import type { Rig } from './rig.ts';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Longest run of frames for which `pick` holds. */
export function longestRun(frames: readonly FrameRecord[], pick: (f: FrameRecord) => boolean): number {
  let best = 0;
  let run = 0;
  for (const f of frames) {
    run = pick(f) ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

const round = (x: number): number => (Number.isFinite(x) ? Number(x.toFixed(3)) : x);

export function rigSummary(rig: Rig, faults: readonly FaultOutcome[]): Record<string, unknown> {
  const frames = rig.trace.frames;
  const count = (k: string): number => frames.filter((f) => f.outcome === k).length;
  const lat = frames
    .map((f) => f.latencyMs)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const events = rig.trace.events;
  return {
    scenario: rig.scenarioName,
    timing: rig.system.timing,
    framesFlown: frames.length,
    framesPlanned: rig.totalFrames,
    voter: { write: count('write'), hold: count('hold'), failsafe: count('failsafe') },
    longestRunWithoutWrite: longestRun(frames, (f) => f.outcome !== 'write'),
    latencyMs: {
      p50: round(percentile(lat, 0.5)),
      p99: round(percentile(lat, 0.99)),
      max: round(lat.at(-1) ?? Number.NaN),
    },
    finalView: frames.at(-1)?.view ?? 0,
    viewChanges: events.filter((e) => e.kind === 'view-change').length,
    latched: events.filter((e) => e.kind === 'channel-latched').map((e) => e.detail.split(' ')[0]),
    ...voterEvents(events),
    counters: { ...rig.system.counters.toJSON(), ...rig.counters.toJSON() },
    faults,
    boards: rig.system.boards(),
  };
}

/** The voter's own hang, reset and rejoin (the `voter hang` fault), when there were any. */
function voterEvents(events: Rig['trace']['events']): { voterEvents?: string[] } {
  const mine = events.filter((e) => e.kind.startsWith('voter-'));
  if (mine.length === 0) return {};
  return { voterEvents: mine.map((e) => `frame ${e.frame} ${e.kind.slice(6)}: ${e.detail}`) };
}

/** The value at a dotted path of `obj`, or undefined. */
export function atPath(obj: unknown, path: string): unknown {
  const parts = path.split('.');
  let node: unknown = obj;
  let i = 0;
  while (i < parts.length) {
    if (typeof node !== 'object' || node === null) return undefined;
    const rec = node as Record<string, unknown>;
    let matched = false;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join('.');
      if (Object.hasOwn(rec, key)) {
        node = rec[key];
        i = j;
        matched = true;
        break;
      }
    }
    if (!matched) return undefined;
  }
  return node;
}
