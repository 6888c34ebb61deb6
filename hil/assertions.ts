/**
 * The checks a scenario run must pass, computed from the recorded trace alone (so a report can be re-checked
 * later from its CSV). Each returns what was measured, not just a verdict.
 */
import type { Topology } from '../src/runtime/config.ts';
import type { Trace } from '../src/runtime/report/trace.ts';
import type { Scenario } from './scenario.ts';

export interface AssertionResult {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
  /** The assertion cannot be checked yet (what it needs is not built): it neither passes nor fails the run. */
  readonly notApplicable?: true;
}

/** Frames a wrong-valued channel may take to be latched: the strike threshold plus a margin for chance agreement. */
const LATCH_MARGIN_FRAMES = 10;
/** A pilot segment shorter than this is not checked for tracking (the law settles in about 2.2 s). */
const SETTLE_SECONDS = 4;

function maxRun(flags: readonly boolean[]): number {
  let best = 0;
  let run = 0;
  for (const f of flags) {
    run = f ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

export function checkAssertions(
  scenario: Scenario,
  topo: Topology,
  trace: Trace,
  interrupted: boolean,
): AssertionResult[] {
  const frames = trace.frames;
  const out: AssertionResult[] = [];
  const rate = topo.frameRateHz;
  if (interrupted)
    out.push({ name: 'completed', passed: false, detail: `interrupted after ${frames.length} frames` });

  const failsafes = frames.filter((f) => f.outcome === 'failsafe').length;
  out.push({ name: 'no-failsafe', passed: failsafes === 0, detail: `${failsafes} failsafe frames` });

  const misses = maxRun(frames.map((f) => f.outcome !== 'write'));
  out.push({
    name: 'misses-bounded',
    passed: misses <= scenario.maxConsecutiveMisses,
    detail: `longest run of frames without a write: ${misses} (bound ${scenario.maxConsecutiveMisses})`,
  });

  // The voter's own invariant, re-checked from outside: each written value is within tolerance of f+1 outputs.
  const unsupported = frames.filter(
    (f) =>
      f.outcome === 'write' &&
      f.channels.filter((c) => c !== null && Math.abs(c - f.voted) <= topo.voter.tolerance + 1e-12).length <
        topo.f + 1,
  );
  out.push({
    name: 'writes-supported-by-f+1',
    passed: unsupported.length === 0,
    detail: `${unsupported.length} written frames with fewer than f+1 supporting channel outputs in the trace`,
  });

  for (const e of scenario.events) {
    const onset = Math.round(e.atS * rate);
    if (e.kind === 'channel-fault' && e.fault !== 'silent' && e.fault !== 'late') {
      const latch = trace.events.find(
        (x) => x.kind === 'channel-latched' && x.detail.startsWith(`c${e.channel} `) && x.frame >= onset,
      );
      const bound = topo.voter.persistence + LATCH_MARGIN_FRAMES;
      out.push({
        name: `c${e.channel}-latched`,
        passed: latch !== undefined && latch.frame - onset <= bound,
        detail: latch
          ? `latched ${latch.frame - onset} frames after onset (bound ${bound})`
          : 'never latched',
      });
    }
    if (e.kind === 'channel-repair') {
      const back = trace.events.find(
        (x) => x.kind === 'channel-reintegrated' && x.detail.startsWith(`c${e.channel} `) && x.frame >= onset,
      );
      const bound = topo.voter.probationFrames + LATCH_MARGIN_FRAMES;
      // Probation counts judged rounds only (src/core/vote/health.ts: silence is never judged): a frame the
      // voter held because no ordered batch carried it, or this channel's output came late, neither advances
      // nor resets it. So the bound is on judged frames; such misses are charged by misses-bounded instead.
      const judged = (from: number, to: number) =>
        frames.filter(
          (f) => f.frame >= from && f.frame < to && f.outcome === 'write' && f.channels[e.channel] != null,
        ).length;
      const flown = judged(onset, frames.length);
      // Proactive recovery may have restarted the channel before the scenario repairs it: the fault did not
      // survive the restart, and the voter reintegrated it already (and has not latched it since).
      const mine = (kind: string) => (x: { kind: string; detail: string }) =>
        x.kind === kind && x.detail.startsWith(`c${e.channel} `);
      const early = trace.events.filter((x) => mine('channel-reintegrated')(x) && x.frame < onset).at(-1);
      const earlyHeld =
        back === undefined &&
        early !== undefined &&
        !trace.events.some((x) => mine('channel-latched')(x) && x.frame > early.frame);
      out.push({
        name: `c${e.channel}-reintegrated`,
        passed: back !== undefined ? judged(onset, back.frame) <= bound : earlyHeld || flown < bound,
        detail: back
          ? `reintegrated ${back.frame - onset} frames after repair, ${judged(onset, back.frame)} of them judged (bound ${bound} judged)`
          : earlyHeld
            ? `reintegrated ${onset - early!.frame} frames before the repair (restarted by its supervisor)`
            : `not reintegrated (${flown} judged frames since repair)`,
      });
    }
    if (e.kind === 'crash-primary') {
      const after = frames.filter((f) => f.frame >= onset);
      const changed = after.some((f) => f.view > (frames[onset - 1]?.view ?? 0));
      out.push({
        name: 'view-change-after-primary-crash',
        passed: changed,
        detail: changed
          ? `new view ${after.at(-1)?.view}, primary r${after.at(-1)?.primary}`
          : 'no view change',
      });
    }
  }

  // Tracking: at the end of each pilot segment long enough to settle, the pitch angle is near the command.
  const ends = [...scenario.pilot.map((p) => p.atS), scenario.durationS].slice(1);
  scenario.pilot.forEach((step, i) => {
    if (ends[i]! - step.atS < SETTLE_SECONDS) return;
    const endFrame = Math.min(frames.length, Math.round(ends[i]! * rate)) - 1;
    const f = frames[endFrame];
    if (f === undefined || endFrame < Math.round(step.atS * rate)) return;
    const err = Math.abs(f.theta - step.pitch);
    out.push({
      name: `tracks-step-${i}`,
      passed: err <= 0.01,
      detail: `|theta - command| = ${err.toFixed(4)} rad at t=${f.t.toFixed(2)} s (command ${step.pitch})`,
    });
  });
  return out;
}
