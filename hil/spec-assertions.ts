/**
 * The assertions of a scenario file, checked from the recorded trace, the fault-free reference run, what became
 * of each fault, and the summary. Each result says what was measured, not just a verdict. Three checks hold for
 * every scenario file whatever it asserts: the run completed, each written value had f+1 supporting outputs,
 * and every fault was applied (unless the scenario or the fault allows it not to be).
 */
import { stepMetrics, TUTORIAL_CRITERIA } from '../src/core/control/metrics.ts';
import type { Topology } from '../src/runtime/config.ts';
import type { FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import type { AssertionResult } from './assertions.ts';
import type { FaultOutcome } from './fault-timeline.ts';
import type { Scenario } from './scenario.ts';
import { atPath, longestRun } from './summary.ts';

export interface SpecInput {
  readonly scenario: Scenario;
  readonly topology: Topology;
  readonly trace: Trace;
  readonly reference: Trace | undefined;
  readonly faults: readonly FaultOutcome[];
  readonly summary: Record<string, unknown>;
  readonly interrupted: boolean;
}

const fmt = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

export function checkSpec(i: SpecInput): AssertionResult[] {
  const a = i.scenario.spec!.assertions;
  const out: AssertionResult[] = [];
  const frames = i.trace.frames;
  const rate = i.topology.frameRateHz;
  if (i.interrupted)
    out.push({ name: 'completed', passed: false, detail: `interrupted after ${frames.length} frames` });
  out.push(supported(frames, i.topology));
  out.push(...applied(i));
  if (a.noFailsafe) {
    const n = frames.filter((f) => f.outcome === 'failsafe').length;
    out.push({ name: 'no-failsafe', passed: n === 0, detail: `${n} failsafe frames` });
  }
  if (a.maxFramesWithoutWrite !== undefined) {
    const run = longestRun(frames, (f) => f.outcome !== 'write');
    out.push({
      name: 'frames-without-write',
      passed: run <= a.maxFramesWithoutWrite,
      detail: `longest run of frames without a write: ${run} (bound ${a.maxFramesWithoutWrite})`,
    });
  }
  for (const d of a.deviation ?? []) out.push(deviation(d, i));
  const firstFault = Math.min(...i.faults.map((f) => f.frame ?? Number.POSITIVE_INFINITY));
  for (const l of a.latched ?? []) {
    const onset = l.after !== undefined ? Math.round(l.after * rate) : firstFault;
    const latch = i.trace.events.find(
      (e) => e.kind === 'channel-latched' && e.detail.startsWith(`c${l.channel} `) && e.frame >= onset,
    );
    out.push({
      name: `c${l.channel}-latched`,
      passed: latch !== undefined && latch.frame - onset <= l.within,
      detail: latch
        ? `latched ${latch.frame - onset} frames after frame ${onset} (bound ${l.within})`
        : Number.isFinite(onset)
          ? `never latched after frame ${onset}`
          : 'no fault struck to count from',
    });
  }
  if (a.neverLatched !== undefined) {
    const bad = i.trace.events.filter(
      (e) => e.kind === 'channel-latched' && a.neverLatched!.some((c) => e.detail.startsWith(`c${c} `)),
    );
    out.push({
      name: 'correct-channels-never-latched',
      passed: bad.length === 0,
      detail:
        bad.length === 0
          ? `${a.neverLatched.map((c) => `c${c}`).join(', ')} never latched`
          : bad.map((e) => `${e.detail}`).join('; '),
    });
  }
  for (const s of a.step ?? []) out.push(step(s, i));
  if (a.recoveries !== undefined) {
    out.push({
      name: 'recoveries-completed',
      passed: true,
      notApplicable: true,
      detail: `not applicable yet: proactive recovery is not built (issue 8); wanted ${a.recoveries.completed}, none can run`,
    });
  }
  for (const s of a.summary ?? []) out.push(summaryBound(s, i.summary));
  return out;
}

/** The voter's own invariant, re-checked from outside: each written value is within tolerance of f+1 outputs. */
function supported(frames: readonly FrameRecord[], t: Topology): AssertionResult {
  const bad = frames.filter(
    (f) =>
      f.outcome === 'write' &&
      f.channels.filter((c) => c !== null && Math.abs(c - f.voted) <= t.voter.tolerance + 1e-12).length <
        t.f + 1,
  );
  return {
    name: 'writes-supported-by-f+1',
    passed: bad.length === 0,
    detail: `${bad.length} written frames with fewer than f+1 supporting channel outputs in the trace`,
  };
}

function applied(i: SpecInput): AssertionResult[] {
  const allowAll = i.scenario.spec!.allowUnapplied;
  return i.faults.map((f) => {
    const name = `applied: ${f.fault}${f.target === '' ? '' : ` ${f.target}`} at ${f.atS} s`;
    if (f.status === 'applied') return { name, passed: true, detail: f.detail };
    const allowed = allowAll || f.allowUnapplied;
    const why = f.status === 'pending' ? 'never struck: the run ended first' : `not applied: ${f.detail}`;
    return { name, passed: allowed, detail: allowed ? `${why} (allowed by allowUnapplied)` : why };
  });
}

type Deviation = NonNullable<NonNullable<Scenario['spec']>['assertions']['deviation']>[number];

function deviation(d: Deviation, i: SpecInput): AssertionResult {
  const name = `deviation-${d.signal}`;
  if (i.reference === undefined) {
    return { name, passed: false, detail: 'no fault-free reference run was flown' };
  }
  const from = d.from ?? 0;
  const to = d.to ?? Number.POSITIVE_INFINITY;
  let worst = 0;
  let at = 0;
  const n = Math.min(i.trace.frames.length, i.reference.frames.length);
  for (let k = 0; k < n; k++) {
    const f = i.trace.frames[k]!;
    if (f.t < from || f.t >= to) continue;
    const e = Math.abs(f[d.signal] - i.reference.frames[k]![d.signal]);
    if (e > worst) {
      worst = e;
      at = f.t;
    }
  }
  return {
    name,
    passed: worst <= d.max,
    detail: `largest |${d.signal} - reference| = ${fmt(worst, 5)} rad at t=${fmt(at, 2)} s (bound ${d.max})`,
  };
}

type Step = NonNullable<NonNullable<Scenario['spec']>['assertions']['step']>[number];

function step(s: Step, i: SpecInput): AssertionResult {
  const rate = i.topology.frameRateHz;
  const profile = i.scenario.profile;
  const name = `step-at-${s.at}s`;
  const start = Math.round(s.at * rate);
  const next = profile?.changes().find((c) => c > s.at + 1e-9) ?? i.scenario.durationS;
  const end = Math.min(
    i.trace.frames.length,
    Math.round((s.window !== undefined ? s.at + s.window : next) * rate),
  );
  const frames = i.trace.frames.slice(start, end);
  const before = i.trace.frames[Math.max(0, start - 1)];
  const level = (t: number): number => profile?.at(t) ?? 0;
  const delta = level(s.at + 1e-6) - level(s.at - 1e-6);
  if (frames.length < 2 || before === undefined || delta === 0) {
    return {
      name,
      passed: false,
      detail: `no step to measure at ${s.at} s (${frames.length} frames, step ${delta} rad)`,
    };
  }
  const m = stepMetrics(
    frames.map((f) => f.theta - before.theta),
    1 / rate,
    delta - (before.theta - level(s.at - 1e-6)),
  );
  const given = [s.overshootPct, s.riseTime, s.settlingTime, s.steadyStateErrorPct].some(
    (x) => x !== undefined,
  );
  const bounds = given
    ? {
        overshootPct: s.overshootPct,
        riseTime: s.riseTime,
        settlingTime: s.settlingTime,
        steadyStateErrorPct: s.steadyStateErrorPct,
      }
    : {
        overshootPct: TUTORIAL_CRITERIA.maxOvershootPct,
        riseTime: TUTORIAL_CRITERIA.maxRiseTime,
        settlingTime: TUTORIAL_CRITERIA.maxSettlingTime,
        steadyStateErrorPct: TUTORIAL_CRITERIA.maxSteadyStateErrorPct,
      };
  const failed = (Object.keys(bounds) as (keyof typeof bounds)[]).filter(
    (k) => bounds[k] !== undefined && !(m[k] <= bounds[k]!),
  );
  return {
    name,
    passed: failed.length === 0,
    detail:
      `overshoot ${fmt(m.overshootPct, 1)}%, rise ${fmt(m.riseTime, 2)} s, settling ${fmt(m.settlingTime, 2)} s, ` +
      `steady-state error ${fmt(m.steadyStateErrorPct, 2)}%` +
      (failed.length > 0 ? `; over bound: ${failed.map((k) => `${k} > ${bounds[k]}`).join(', ')}` : ''),
  };
}

type SummaryBound = NonNullable<NonNullable<Scenario['spec']>['assertions']['summary']>[number];

function summaryBound(s: SummaryBound, summary: Record<string, unknown>): AssertionResult {
  const name = `summary ${s.path}`;
  const v = atPath(summary, s.path);
  if (v === undefined) return { name, passed: false, detail: `no '${s.path}' in the summary` };
  if (s.equals !== undefined) {
    return {
      name,
      passed: v === s.equals,
      detail: `${JSON.stringify(v)} (want ${JSON.stringify(s.equals)})`,
    };
  }
  if (typeof v !== 'number') return { name, passed: false, detail: `${JSON.stringify(v)} is not a number` };
  const ok = (s.min === undefined || v >= s.min) && (s.max === undefined || v <= s.max);
  const range = `${s.min ?? '-inf'} .. ${s.max ?? 'inf'}`;
  return { name, passed: ok, detail: `${v} (bound ${range})` };
}
