/**
 * The run's summary as the rig knows it (deterministic under lockstep: no wall-clock values), and the dotted
 * paths scenario assertions read from it. Counter names contain dots (`voter.write`), so a path is matched
 * greedily: `counters.voter.write` finds the key `voter.write` under `counters`.
 */
import type { FrameRecord } from '../src/runtime/report/trace.ts';
import type { FaultOutcome } from './fault-timeline.ts';
import type { Rig } from './rig.ts';

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

/** Fine latency bins: 1 microsecond (the summary rounds to 3 decimals of a millisecond), 0 to about 1048 ms. */
const FINE_BIN_MS = 0.001;
const FINE_BINS = 2 ** 20;
/** Coarse bins for what is longer: 1 ms up to about 17 minutes; past that the max (exact) is the bound. */
const COARSE_BIN_MS = 1;
const COARSE_BINS = 2 ** 20;
const FINE_LIMIT_MS = FINE_BINS * FINE_BIN_MS;

/**
 * What the summary needs from every frame, kept as the frames complete: constant memory however long the run
 * (a 60-minute soak at 50 Hz is 180,000 frames). Percentiles come from two histograms (8 MiB, allocated at the
 * first finite latency): to the microsecond (the summary's rounding) up to about 1 s, and to the millisecond
 * above, so a slow run's p99 is never clipped; one past the coarse range reads as the exact max.
 */
export class FrameTally {
  frames = 0;
  readonly outcomes = { write: 0, hold: 0, failsafe: 0 };
  longestRunWithoutWrite = 0;
  private run = 0;
  lastView = 0;
  viewChanges = 0;
  private latencies = 0;
  private maxLatency = Number.NaN;
  private fine: Uint32Array | undefined;
  private coarse: Uint32Array | undefined;

  frame(f: FrameRecord): void {
    this.frames++;
    this.outcomes[f.outcome]++;
    this.run = f.outcome !== 'write' ? this.run + 1 : 0;
    if (this.run > this.longestRunWithoutWrite) this.longestRunWithoutWrite = this.run;
    this.lastView = f.view;
    if (!Number.isFinite(f.latencyMs)) return;
    this.latencies++;
    if (!(f.latencyMs <= this.maxLatency)) this.maxLatency = f.latencyMs;
    const fine = Math.round(Math.max(0, f.latencyMs) / FINE_BIN_MS);
    if (fine < FINE_BINS) {
      this.fine ??= new Uint32Array(FINE_BINS);
      this.fine[fine]!++;
      return;
    }
    this.coarse ??= new Uint32Array(COARSE_BINS);
    this.coarse[Math.min(COARSE_BINS - 1, Math.round(f.latencyMs / COARSE_BIN_MS))]!++;
  }

  /** The latency at quantile p (the element at floor(p * n) of the sorted latencies), to its bin. */
  latencyAt(p: number): number {
    if (this.latencies === 0) return Number.NaN;
    const k = Math.min(this.latencies - 1, Math.floor(p * this.latencies));
    let seen = 0;
    if (this.fine !== undefined) {
      for (let b = 0; b < FINE_BINS; b++) {
        seen += this.fine[b]!;
        if (seen > k) return b * FINE_BIN_MS;
      }
    }
    if (this.coarse !== undefined) {
      for (let b = 0; b < COARSE_BINS - 1; b++) {
        seen += this.coarse[b]!;
        if (seen > k) return Math.max(FINE_LIMIT_MS, b * COARSE_BIN_MS);
      }
    }
    return this.maxLatency;
  }

  get latencyMax(): number {
    return this.maxLatency;
  }
}

export function rigSummary(rig: Rig, faults: readonly FaultOutcome[]): Record<string, unknown> {
  const t = rig.tally;
  const events = rig.trace.events;
  return {
    scenario: rig.scenarioName,
    timing: rig.system.timing,
    framesFlown: t.frames,
    framesPlanned: rig.totalFrames,
    voter: { ...t.outcomes },
    longestRunWithoutWrite: t.longestRunWithoutWrite,
    latencyMs: {
      p50: round(t.latencyAt(0.5)),
      p99: round(t.latencyAt(0.99)),
      max: round(t.latencyMax),
    },
    finalView: t.lastView,
    viewChanges: t.viewChanges,
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
