/**
 * The flight use case shared by `triplex sim` (both modes) and `triplex node --rig emulated`: warm the code up,
 * build the rig around a control loop, fly the scenario on real timers, and collect the trace and the summary.
 * Printing, the report folder and process signals are the command's business (src/cli/fly.ts).
 *
 * @example
 * const flight = await fly({ topology, scenario: defaultScenario(20), seed: 1, logger, command: 'triplex sim' });
 * flight.summary.passed; // every assertion held
 */
import { loadavg } from 'node:os';
import type { Logger } from 'pino';
import type { UnitHealth } from '../src/core/frame/inputs.ts';
import type { LinkStats } from '../src/io/transport.ts';
import type { Topology } from '../src/runtime/config.ts';
import type { ControlLoop, ControlLoopFactory } from '../src/runtime/node/control-loop.ts';
import { collectNow, serialScavenges } from '../src/runtime/node/gc.ts';
import { HostProbe, type HostTotals } from '../src/runtime/node/host-probe.ts';
import { type HostReport, hostReportFrames } from '../src/runtime/node/ipc.ts';
import { RealtimeGovernor, requestRealtime, type Scheduling } from '../src/runtime/node/realtime.ts';
import { warmUp } from '../src/runtime/node/warm-up.ts';
import {
  type AttributionTiming,
  attribute,
  causeCounts,
  type Episode,
  findEpisodes,
} from '../src/runtime/report/episodes.ts';
import {
  type FlightTrace,
  type FrameRecord,
  type FrameSample,
  type Incident,
  type InputSample,
  inputStateOf,
  type RemoteStall,
} from '../src/runtime/report/trace.ts';
import { type Verdict, verdictOf } from '../src/runtime/report/verdict.ts';
import { RealScheduler } from '../src/runtime/scheduler.ts';
import { channelHealthOf } from '../src/runtime/status.ts';
import { checkAssertions } from './assertions.ts';
import { LoopBench } from './bench/legacy.ts';
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
  /** This board's link statistics by link name, sampled each frame (a link's errors and drops are incidents). */
  readonly links?: () => Readonly<Record<string, LinkStats>>;
  /** Host stalls the board processes measured and reported since the last call (process mode), drained per frame. */
  readonly remoteHost?: () => readonly HostReport[];
  /** Ask for real-time scheduling for the flight (default true; realtime.ts, TRIPLEX_REALTIME). */
  readonly realtime?: boolean;
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
  /** Garbage-collection pauses of this process by kind. */
  readonly gc: HostTotals['gc'];
  /** The scheduling the flight ran under (real-time where permitted, else why not). */
  readonly scheduling: Scheduling | { readonly summary: string };
  /** How long the boards took to start before frame 0, and the JIT warm-up before that, ms. */
  readonly startMs: number;
  readonly warmUpMs: number;
  /** The full garbage collection just before frame 0, ms. */
  readonly gcBeforeFrame0Ms?: number;
}

export interface FlightResult {
  readonly rig: Rig;
  readonly result: RigResult;
  readonly trace: FlightTrace;
  readonly outcomes: Readonly<OutcomeCounts>;
  readonly host: HostTiming;
  readonly wallSeconds: number;
}

/** Frames the live latency figures look back over. */
const RECENT_FRAMES = 500;
/** Incidents kept per flight (a link that fails every frame of a long run would fill memory otherwise). */
const MAX_INCIDENTS = 20_000;
/** Host stalls of board processes kept per flight. */
const MAX_REMOTE_STALLS = 20_000;
/** Runtime counters that can explain a missed frame (lost or refused messages, view changes, late outputs). */
const INCIDENT_COUNTERS =
  /^(board\.|voter\.rejected\.|ipc\.|replica\.view-change$|replica\.new-view$|channel\.(skipped-frames|stale-batch|malformed-samples|no-frame\..+)$|input\.(retransmit|superseded)$)/;

/**
 * What the flight measures per frame besides the rig's record: this process's host (HostProbe: worst event-loop
 * delay, CPU wait, GC pauses) and how late the frame's own timer ran, each channel's health as the voter saw
 * it, each input unit's health as the channels' input voters judge it, the counters that moved (links' errors
 * and drops, runtime counters), and the stalls board processes reported.
 */
class FrameProbe {
  readonly samples: FrameSample[] = [];
  readonly incidents: Incident[] = [];
  readonly remoteStalls: RemoteStall[] = [];
  incidentsDropped = 0;
  private readonly host = new HostProbe();
  private counters: Record<string, number> = {};
  private links: Record<string, Record<string, number>> = {};
  private missing: number[] = [];
  /** Epoch time (ms) of the flight's time 0, for placing board processes' reports on frames. */
  private epochZero = 0;
  /** A board process's window counts as a stall from here (a quarter of the deadline, as the boards report). */
  private readonly stallMs: number;

  constructor(
    private readonly topology: Topology,
    private readonly readLinks?: () => Readonly<Record<string, LinkStats>>,
    private readonly readRemote?: () => readonly HostReport[],
  ) {
    this.stallMs = (1000 / topology.frameRateHz) * topology.timing.deadlineFraction * 0.25;
  }

  /** Frame 0 starts now: what came before (the boards' start) belongs to no frame. */
  begin(): void {
    this.host.restart();
    this.readRemote?.();
    this.epochZero = performance.timeOrigin + performance.now();
  }

  /** Called as frame `record.frame` is recorded, which is when frame + 1's timer runs. */
  record(record: FrameRecord, rig: Rig, now: number, loop: ControlLoop | undefined): void {
    const lag = Math.max(0, now - rig.system.frameTime(record.frame + 1));
    const w = this.host.window();
    const health = rig.system.voterHealth();
    const inputs = loop?.inputHealth();
    const arrivals = loop?.outputArrivalMs?.(record.frame);
    this.samples.push({
      frame: record.frame,
      loopDelayMs: w.loopDelayMs,
      lagMs: Number(lag.toFixed(3)),
      ...(w.cpuWaitMs !== undefined ? { cpuWaitMs: w.cpuWaitMs } : {}),
      ...(w.gcMs > 0 ? { gcMs: w.gcMs } : {}),
      channels: this.topology.channels.map((c, i) => {
        const h = health[i];
        return { strikes: h?.strikes ?? 0, state: channelHealthOf(h, rig.system.channelRunning(c.id)) };
      }),
      ...(inputs !== undefined && inputs.length > 0 ? { inputs: this.inputSamples(inputs) } : {}),
      ...(arrivals !== undefined ? { outputsMs: arrivals } : {}),
    });
    const counters = rig.system.counters.toJSON();
    for (const [name, n] of Object.entries(counters)) {
      const delta = n - (this.counters[name] ?? 0);
      if (delta > 0 && INCIDENT_COUNTERS.test(name)) this.incident(record.frame, 'counters', name, delta);
    }
    this.counters = counters;
    if (this.readLinks) this.sampleLinks(record.frame, this.readLinks());
    if (this.readRemote) this.sampleRemote(this.readRemote());
  }

  totals(): HostTotals {
    return this.host.totals();
  }

  private inputSamples(units: readonly UnitHealth[]): InputSample[] {
    return units.map((u, i) => {
      const silent = u.missing > (this.missing[i] ?? u.missing);
      this.missing[i] = u.missing;
      return inputStateOf(u, silent);
    });
  }

  private sampleRemote(reports: readonly HostReport[]): void {
    const periodMs = 1000 / this.topology.frameRateHz;
    for (const r of reports) {
      if (this.remoteStalls.length >= MAX_REMOTE_STALLS) {
        this.incidentsDropped++;
        continue;
      }
      const { first, last } = hostReportFrames(r, this.epochZero, periodMs);
      if (last < 0) continue; // before frame 0: the boards' own start
      for (const [counter, delta] of Object.entries(r.counters ?? {}))
        this.incident(last, `board ${r.board}`, counter, delta);
      if (Math.max(r.loopDelayMs, r.gcMs, r.cpuWaitMs ?? 0) < this.stallMs) continue;
      this.remoteStalls.push({
        board: r.board,
        first: Math.max(0, first),
        last,
        loopDelayMs: r.loopDelayMs,
        ...(r.cpuWaitMs !== undefined ? { cpuWaitMs: r.cpuWaitMs } : {}),
        gcMs: r.gcMs,
      });
    }
  }

  private sampleLinks(frame: number, stats: Readonly<Record<string, LinkStats>>): void {
    for (const [link, s] of Object.entries(stats)) {
      const now: Record<string, number> = { ...s.errors, drops: s.drops };
      const before = this.links[link] ?? {};
      for (const [counter, n] of Object.entries(now)) {
        const delta = n - (before[counter] ?? 0);
        if (delta > 0) this.incident(frame, `link ${link}`, counter, delta);
      }
      this.links[link] = now;
    }
  }

  private incident(frame: number, source: string, counter: string, delta: number): void {
    if (this.incidents.length >= MAX_INCIDENTS) this.incidentsDropped++;
    else this.incidents.push({ frame, source, counter, delta });
  }

  close(): void {
    this.host.close();
  }
}

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
  const warmUpMs = await warmUp(topology);
  logger.debug({ warmMs: Math.round(warmUpMs) }, 'warmed up');
  // The clock is held at 0 while the boards start: frame 0 starts when they are ready, not already late.
  const scheduler = new RealScheduler({ held: true });
  const outcomes: OutcomeCounts = { write: 0, hold: 0, failsafe: 0 };
  const recent: number[] = [];
  const probe = new FrameProbe(topology, plan.links, plan.remoteHost);
  const flight = new FlightClock(plan, logger);
  let loop: ControlLoop | undefined;
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed: plan.seed,
    logger,
    ...(plan.loop ? { loop: plan.loop(scheduler) } : {}),
    onStarted: () => {
      flight.begin();
      scheduler.begin();
      probe.begin();
    },
    onFrame: (record, r) => {
      flying = r;
      if (abortRequested) r.stop();
      const now = scheduler.now();
      probe.record(record, r, now, loop);
      outcomes[record.outcome]++;
      recent.push(record.latencyMs);
      if (recent.length > RECENT_FRAMES) recent.shift();
      plan.onFrame?.({
        record,
        rig: r,
        totalFrames: r.totalFrames,
        outcomes,
        recentLatencyMs: recent,
        now,
      });
    },
  });
  loop = rig.system instanceof LoopBench ? rig.system.loop : undefined;
  logger.info(
    { config: topology.file, seed: plan.seed, scenario: scenario.name, budget: topology.budget.summary },
    `${plan.command} start`,
  );
  let result: RigResult;
  try {
    result = await rig.run();
  } finally {
    flight.end();
    plan.signal?.removeEventListener('abort', onAbort);
  }
  const totals = probe.totals();
  probe.close();
  const host: HostTiming = {
    eventLoopDelayMs: totals.eventLoopDelayMs,
    cpuSeconds: flight.cpuSeconds,
    gc: totals.gc,
    scheduling: flight.scheduling ?? { summary: 'not requested' },
    startMs: Math.round(flight.startMs),
    warmUpMs: Math.round(warmUpMs),
    ...(flight.gcMs !== undefined ? { gcBeforeFrame0Ms: Math.round(flight.gcMs) } : {}),
  };
  await rig.system.close();
  if (result.stoppedEarly) result = judgeFlown(scenario, topology, result);
  logger.info({ passed: result.passed, stoppedEarly: result.stoppedEarly }, `${plan.command} end`);
  const trace: FlightTrace = {
    ...result.trace,
    samples: probe.samples,
    incidents: probe.incidents,
    incidentsDropped: probe.incidentsDropped,
    remoteStalls: probe.remoteStalls,
  };
  return { rig, result, trace, outcomes, host, wallSeconds: flight.wallSeconds };
}

/**
 * The flight's own timekeeping: from frame 0 (the boards started) to the end, this process's CPU and wall time,
 * and the real-time scheduling asked for at frame 0 and given back at the end (with a governor that gives it
 * back early if the process spins).
 */
class FlightClock {
  scheduling: Scheduling | undefined;
  /** The full collection before frame 0, ms (undefined: not run). */
  gcMs: number | undefined;
  private readonly created = performance.now();
  private started: number | undefined;
  private cpu: NodeJS.CpuUsage | undefined;
  private ended: { wall: number; cpu: NodeJS.CpuUsage } | undefined;
  private governor: RealtimeGovernor | undefined;

  constructor(
    private readonly plan: FlightPlan,
    private readonly logger: Logger,
  ) {}

  /**
   * Frame 0 is next: real-time scheduling where permitted, then the GC settings and a full collection (on a
   * loaded host a collection at ordinary priority took 1.5 s of wall time; at real-time, its CPU time).
   */
  begin(): void {
    this.started = performance.now();
    if (this.plan.realtime !== false) {
      this.scheduling = requestRealtime();
      const realtime = this.scheduling.policy === 'fifo' || this.scheduling.policy === 'rr';
      this.logger[realtime ? 'info' : 'warn'](
        { scheduling: this.scheduling },
        `scheduling: ${this.scheduling.summary}`,
      );
    }
    serialScavenges();
    this.gcMs = collectNow();
    // Watching from here: the collection just run is not the process spinning.
    if (this.scheduling?.how === 'chrt') this.governor = RealtimeGovernor.start(this.logger);
    this.cpu = process.cpuUsage();
  }

  end(): void {
    if (this.ended !== undefined) return;
    this.ended = { wall: performance.now(), cpu: process.cpuUsage(this.cpu) };
    const dropped = this.governor?.stop();
    if (dropped !== undefined && this.scheduling !== undefined)
      this.scheduling = { ...this.scheduling, summary: `${this.scheduling.summary}; ${dropped}` };
  }

  get startMs(): number {
    return (this.started ?? this.created) - this.created;
  }

  get wallSeconds(): number {
    return ((this.ended?.wall ?? performance.now()) - (this.started ?? this.created)) / 1000;
  }

  get cpuSeconds(): number {
    const c = this.ended?.cpu ?? process.cpuUsage(this.cpu);
    return Number(((c.user + c.system) / 1e6).toFixed(3));
  }
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

/** The voter's timing: what the attribution of missed frames measures against. */
export function timingOf(t: Topology): AttributionTiming {
  const periodMs = 1000 / t.frameRateHz;
  return {
    periodMs,
    deadlineMs: periodMs * t.timing.deadlineFraction,
    viewChangeTimeoutFrames: t.timing.viewChangeTimeoutFrames,
    outputQuorum: t.f + 1,
  };
}

/** The verdict, the episodes without a write and their causes: the story a report and summary.json tell. */
export interface FlightStory {
  readonly verdict: Verdict;
  readonly episodes: readonly Episode[];
  /** Episodes found (only the first MAX_EPISODES are described). */
  readonly episodesTotal: number;
}

/**
 * The story of a flight; `remoteBoards` are the boards that flew in other processes (their hosts are not
 * measured by this one).
 */
export function storyOf(
  plan: FlightPlan,
  flight: FlightResult,
  interrupted: boolean,
  remoteBoards: readonly string[] = [],
): FlightStory {
  const { trace, result, rig } = flight;
  const episodes = attribute({
    frames: trace.frames,
    events: trace.events,
    samples: trace.samples,
    incidents: trace.incidents,
    timing: timingOf(plan.topology),
    remoteBoards,
    ...(plan.remoteHost ? { remoteStalls: trace.remoteStalls ?? [] } : {}),
  });
  const verdict = verdictOf({
    assertions: result.assertions,
    interrupted: interrupted && result.stoppedEarly,
    framesFlown: result.frames,
    framesPlanned: rig.totalFrames,
  });
  return { verdict, episodes, episodesTotal: findEpisodes(trace.frames).length };
}

/** The run's summary: what summary.json and `--json` carry. */
export function summarize(
  plan: FlightPlan,
  flight: FlightResult,
  story: FlightStory,
  ctx: SummaryContext,
): Record<string, unknown> {
  const { rig, result, outcomes, host, topology } = { ...flight, topology: plan.topology };
  const lat = latencyStats(result.trace.frames.map((f) => f.latencyMs));
  const round = (x: number): number => Number(x.toFixed(3));
  return {
    passed: result.passed,
    verdict: story.verdict,
    scenario: rig.scenarioName,
    config: topology.file,
    voterImpl: topology.voterImpl,
    seed: plan.seed,
    frameRateHz: topology.frameRateHz,
    framesFlown: result.frames,
    framesPlanned: rig.totalFrames,
    stoppedEarly: result.stoppedEarly,
    wallSeconds: round(flight.wallSeconds),
    voter: { ...outcomes },
    latencyMs: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max) },
    finalView: result.trace.frames.at(-1)?.view ?? 0,
    host: { ...host, ...hostWorst(flight.trace.samples), loadAverage: loadavg().map((x) => round(x)) },
    faultBudget: topology.budget.summary,
    assertions: result.assertions,
    episodesTotal: story.episodesTotal,
    causes: causeCounts(story.episodes),
    episodes: story.episodes,
    incidentsDropped: flight.trace.incidentsDropped,
    counters: rig.system.counters.toJSON(),
    replay: ctx.replay,
  };
}

/** The worst per-frame host figures of a flight, ms. */
function hostWorst(samples: readonly FrameSample[]): Record<string, number> {
  let delay = 0;
  let lag = 0;
  let wait = 0;
  for (const s of samples) {
    delay = Math.max(delay, s.loopDelayMs);
    lag = Math.max(lag, s.lagMs);
    wait = Math.max(wait, s.cpuWaitMs ?? 0);
  }
  return { worstFrameLoopDelayMs: delay, worstFrameLagMs: lag, worstFrameCpuWaitMs: Number(wait.toFixed(3)) };
}
