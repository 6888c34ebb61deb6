/**
 * The flight use case shared by `triplex sim` (both modes) and `triplex node --rig emulated`: warm the code up,
 * build the rig around a control loop, fly the scenario on real timers, and collect the trace and the summary.
 * Printing, the report folder and process signals are the command's business (src/cli/flight.ts).
 *
 * @example
 * const flight = await fly({ topology, scenario: defaultScenario(20), seed: 1, logger, command: 'triplex sim' });
 * flight.summary.passed; // every assertion held
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Topology } from '../src/runtime/config.ts';
import type { ControlLoopFactory } from '../src/runtime/node/control-loop.ts';
import { warmUp } from '../src/runtime/node/warm-up.ts';
import type { FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import { RealScheduler } from '../src/runtime/scheduler.ts';
import { checkAssertions } from './assertions.ts';
import { Rig, type RigResult } from './rig.ts';
import type { Scenario, ScenarioEvent } from './scenario.ts';

/** What a flight needs besides the topology. */
export interface FlightPlan {
  /** The command's name in the log (`triplex sim`). */
  readonly command: string;
  readonly topology: Topology;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly logger: Logger;
  /** The loop to close (default: every board in this process on a memory hub). */
  readonly loop?: (scheduler: RealScheduler) => ControlLoopFactory;
  /** Called after each frame is recorded, with running totals (the live status display). */
  readonly onFrame?: (progress: FlightProgress) => void;
  /** Stops the flight after the current frame (Ctrl-C); the result covers the frames flown. */
  readonly signal?: AbortSignal;
}

/** Running totals after each frame: kept incrementally, so a frame costs the same at the end of a run as at its start. */
export interface FlightProgress {
  readonly record: FrameRecord;
  readonly rig: Rig;
  readonly totalFrames: number;
  readonly outcomes: Readonly<OutcomeCounts>;
  /** Input-to-actuator latency of the last frames (at most RECENT_FRAMES), in arrival order; NaN for a miss. */
  readonly recentLatencyMs: readonly number[];
  /** The time on the flight's clock (ms). */
  readonly now: number;
}

export interface OutcomeCounts {
  write: number;
  hold: number;
  failsafe: number;
}

export interface HostTiming {
  /** Event-loop delay of this process, ms: a stall here delays every role at once (GC, a busy machine). */
  readonly eventLoopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly cpuSeconds: number;
}

export interface FlightResult {
  readonly rig: Rig;
  readonly result: RigResult;
  readonly trace: Trace;
  readonly outcomes: Readonly<OutcomeCounts>;
  readonly host: HostTiming;
  readonly wallSeconds: number;
}

/** Frames the live latency figures look back over. */
const RECENT_FRAMES = 500;

/** Warm-up, then the flight on real timers; closes the loop before it returns. */
export async function fly(plan: FlightPlan): Promise<FlightResult> {
  const { logger, scenario, topology } = plan;
  // Rig.stop() before the rig's first frame would never settle its run: an abort then waits for that frame.
  let abortRequested = plan.signal?.aborted ?? false;
  let flying: Rig | undefined;
  const onAbort = (): void => {
    abortRequested = true;
    flying?.stop();
  };
  plan.signal?.addEventListener('abort', onAbort, { once: true });
  const warmMs = await warmUp(topology);
  logger.debug({ warmMs: Math.round(warmMs) }, 'warmed up');
  // After the warm-up: the real clock (and so frame 0) starts now.
  const scheduler = new RealScheduler();
  const outcomes: OutcomeCounts = { write: 0, hold: 0, failsafe: 0 };
  const recent: number[] = [];
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed: plan.seed,
    logger,
    ...(plan.loop ? { loop: plan.loop(scheduler) } : {}),
    onFrame: (record, r) => {
      flying = r;
      if (abortRequested) r.stop();
      outcomes[record.outcome]++;
      recent.push(record.latencyMs);
      if (recent.length > RECENT_FRAMES) recent.shift();
      plan.onFrame?.({
        record,
        rig: r,
        totalFrames: r.totalFrames,
        outcomes,
        recentLatencyMs: recent,
        now: scheduler.now(),
      });
    },
  });
  logger.info(
    { config: topology.file, seed: plan.seed, scenario: scenario.name, budget: topology.budget.summary },
    `${plan.command} start`,
  );
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  let result: RigResult;
  try {
    result = await rig.run();
  } finally {
    loopDelay.disable();
    plan.signal?.removeEventListener('abort', onAbort);
  }
  const cpu = process.cpuUsage(cpuStart);
  const ms = (ns: number): number => Number((ns / 1e6).toFixed(3));
  const host: HostTiming = {
    eventLoopDelayMs: {
      p50: ms(loopDelay.percentile(50)),
      p99: ms(loopDelay.percentile(99)),
      max: ms(loopDelay.max),
    },
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  };
  const wallSeconds = (performance.now() - started) / 1000;
  await rig.system.close();
  if (result.stoppedEarly) result = judgeFlown(scenario, topology, result);
  logger.info({ passed: result.passed, stoppedEarly: result.stoppedEarly }, `${plan.command} end`);
  return { rig, result, trace: result.trace, outcomes, host, wallSeconds };
}

/**
 * Frames after an event's onset that its assertion needs before it can be judged: a Byzantine channel must be
 * latched within persistence + 10 frames (hil/assertions.ts), a crashed primary replaced within a view-change
 * timeout plus the misses the scenario allows.
 */
function judgementWindow(e: ScenarioEvent, scenario: Scenario, t: Topology): number {
  switch (e.kind) {
    case 'channel-fault':
      return t.voter.persistence + 10;
    case 'crash-primary':
      return t.timing.viewChangeTimeoutFrames + scenario.maxConsecutiveMisses;
    default:
      return 0;
  }
}

/**
 * The part of `scenario` an interrupted flight of `frames` frames reached: its duration cut to the frames flown,
 * and only the events whose judgement window was flown. Events not yet reached are not judged.
 */
export function flownPart(scenario: Scenario, t: Topology, frames: number): Scenario {
  const rate = t.frameRateHz;
  return {
    ...scenario,
    durationS: frames / rate,
    pilot: scenario.pilot.filter((p) => Math.round(p.atS * rate) < frames),
    events: scenario.events.filter(
      (e) => Math.round(e.atS * rate) + judgementWindow(e, scenario, t) <= frames,
    ),
  };
}

/** Re-judges an interrupted flight on what it flew; the `completed` assertion still says it was cut short. */
function judgeFlown(scenario: Scenario, t: Topology, result: RigResult): RigResult {
  const assertions = checkAssertions(flownPart(scenario, t, result.frames), t, result.trace, true);
  return { ...result, assertions, passed: assertions.every((a) => a.passed) };
}

/** p-quantile of an ascending list (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Latency p50, p99 and max over frames with a decision (misses carry NaN and are left out). */
export function latencyStats(latencies: readonly number[]): { p50: number; p99: number; max: number } {
  const xs = latencies.filter(Number.isFinite).sort((a, b) => a - b);
  return { p50: percentile(xs, 0.5), p99: percentile(xs, 0.99), max: xs.at(-1) ?? Number.NaN };
}

/** Context of the summary that the flight does not know (the command line that replays it). */
export interface SummaryContext {
  readonly replay: string;
}

/** The run's summary: what summary.json and `--json` carry. */
export function summarize(
  plan: FlightPlan,
  flight: FlightResult,
  ctx: SummaryContext,
): Record<string, unknown> {
  const { rig, result, outcomes, host, topology } = { ...flight, topology: plan.topology };
  const lat = latencyStats(result.trace.frames.map((f) => f.latencyMs));
  const round = (x: number): number => Number(x.toFixed(3));
  return {
    passed: result.passed,
    scenario: rig.scenarioName,
    config: topology.file,
    seed: plan.seed,
    frameRateHz: topology.frameRateHz,
    framesFlown: result.frames,
    framesPlanned: rig.totalFrames,
    stoppedEarly: result.stoppedEarly,
    wallSeconds: round(flight.wallSeconds),
    voter: { ...outcomes },
    latencyMs: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max) },
    finalView: result.trace.frames.at(-1)?.view ?? 0,
    host,
    faultBudget: topology.budget.summary,
    assertions: result.assertions,
    counters: rig.system.counters.toJSON(),
    replay: ctx.replay,
  };
}
