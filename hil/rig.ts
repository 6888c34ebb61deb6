/**
 * The HIL rig: plant, elevator actuator and pitch sensors in software, closing the loop around a bench of boards
 * (hil/bench: every board in this process, or real and emulated board processes, or any ControlLoop). Each
 * frame: apply the previous frame's voted command to the actuator and advance the plant; start, toggle and end
 * the scenario's faults; sample sensors and stick through the sensor and input-unit faults; start the frame on
 * the bench. Records every frame and event, then checks the scenario's assertions.
 *
 * What the rig keeps from the network is bounded: channel outputs only for frames in flight, within a row limit
 * and a byte budget (OutputWindow); decisions only for frames in flight.
 */
import type { Logger } from 'pino';
import type { Command } from '../src/core/control/spec.ts';
import { ElevatorActuator } from '../src/core/plant/actuator.ts';
import { PitchPlant } from '../src/core/plant/pitch.ts';
import { SensorTriplex } from '../src/core/plant/sensors.ts';
import { Prng } from '../src/core/prng.ts';
import type { ChannelEvent, DecisionRecord } from '../src/core/vote/voter.ts';
import type { Topology } from '../src/runtime/config.ts';
import { CommandWatch } from '../src/runtime/firmware/actuator.ts';
import { topologyVoterConfig } from '../src/runtime/loop/board.ts';
import { Counters } from '../src/runtime/loop/counters.ts';
import type { VoterEvent } from '../src/runtime/loop/ports.ts';
import { type ControlLoopFactory, inProcessLoopFactory } from '../src/runtime/node/control-loop.ts';
import type { EventRecord, FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import type { Scheduler } from '../src/runtime/scheduler.ts';
import { type AssertionResult, checkAssertions } from './assertions.ts';
import type { Bench, BenchFactory, FaultHandle, UnitSample } from './bench/bench.ts';
import { loopBench } from './bench/legacy.ts';
import {
  buildTimeline,
  cycleOn,
  type FaultOutcome,
  maxDelayFrames,
  type TimelineEntry,
} from './fault-timeline.ts';
import { SampleFaults } from './faults/samples.ts';
import { OutputWindow } from './output-window.ts';
import { describeTarget, resolveTarget } from './scenario/targets.ts';
import { pilotAt, type Scenario } from './scenario.ts';
import { checkSpec } from './spec-assertions.ts';
import { FrameTally, rigSummary } from './summary.ts';
import { readTraceStream, TraceStream } from './trace-stream.ts';

export interface RigOptions {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly logger: Logger;
  /** Virtual time (tests): seeded link delays in ms. Absent: real timers, in-memory links. */
  readonly virtual?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** A ControlLoop to close (the built-in scenarios of `triplex sim`). */
  readonly loop?: ControlLoopFactory;
  /** The bench to fly (hil/bench); takes precedence over `loop`. */
  readonly bench?: BenchFactory;
  /** The fault-free reference run of the same scenario and seed (for deviation assertions). */
  readonly reference?: Trace;
  /** Called once the bench has started, just before frame 0 (a wall clock moves its time 0 here). */
  readonly onStarted?: () => void;
  /** Called after each frame is recorded (status display, telemetry). */
  readonly onFrame?: (record: FrameRecord, rig: Rig) => void;
  /**
   * A long run (a soak): stream every frame and event to this JSONL file as it completes (hil/trace-stream.ts)
   * and keep in memory only the last `keepFrames` frames (default STREAM_KEEP_FRAMES) and MAX_EVENTS events; the
   * summary comes from running totals, and the result's trace, extras and assertions are read back from the file
   * at the end. Absent: every frame stays in memory (short runs, tests).
   */
  readonly stream?: { readonly path: string; readonly keepFrames?: number };
}

/** Frames kept in memory when streaming: 60 s at 50 Hz (the tail a live display or a late decision looks at). */
export const STREAM_KEEP_FRAMES = 3000;
/** Events kept in memory when streaming (all of them are in the stream file; the count dropped is a counter). */
export const MAX_EVENTS = 10_000;

/** What the rig saw in a frame besides the trace's columns (for the MCAP recording and telemetry). */
export interface FrameExtra {
  /** What each sensor read (after sensor faults). */
  readonly readings: readonly (number | null)[];
  /** What each input unit submitted (null: nothing). */
  readonly samples: readonly (UnitSample | null)[];
  readonly reason: string;
  readonly contributors: readonly string[];
  readonly dissenters: readonly string[];
  readonly missing: readonly string[];
}

export interface RigResult {
  readonly trace: Trace;
  readonly assertions: readonly AssertionResult[];
  readonly passed: boolean;
  readonly frames: number;
  readonly stoppedEarly: boolean;
  readonly faults: readonly FaultOutcome[];
  readonly extras: readonly FrameExtra[];
  readonly summary: Record<string, unknown>;
}

interface Running {
  readonly entry: TimelineEntry;
  active: FaultHandle | undefined;
  clearRig: (() => void) | undefined;
  done: boolean;
}

export class Rig {
  readonly system: Bench;
  readonly trace: Trace = { frames: [], events: [] };
  readonly extras: FrameExtra[] = [];
  readonly totalFrames: number;
  /** The rig's own counters (outputs not kept, faults toggled). */
  readonly counters = new Counters();
  /** Running totals of every frame recorded (the summary's counts, longest run, latency percentiles). */
  readonly tally = new FrameTally();
  private readonly stream: TraceStream | undefined;
  private readonly keepFrames: number;
  private readonly plant: PitchPlant;
  private readonly actuator = new ElevatorActuator();
  /** The actuator's own loss-of-command timeout (failsafe after failsafeAfterMisses frames without a write). */
  private readonly commands: CommandWatch;
  private readonly failsafeElevator: number;
  private readonly sensors: SensorTriplex;
  private readonly decisions = new Map<number, DecisionRecord<Command>>();
  private readonly outputs: OutputWindow;
  private readonly sampled = new Map<
    number,
    { theta: number; reference: number; readings: (number | null)[]; samples: (UnitSample | null)[] }
  >();
  private readonly timeline: Running[];
  private readonly sampleFaults: SampleFaults;
  /** Byzantine behaviours draw from here (forked after the sensors, so sensor noise is unchanged). */
  private readonly faultRng: Prng;
  private readonly marks: { atS: number; text: string }[];
  private lastView = 0;
  private stopped = false;
  private finish: (() => void) | undefined;
  private readonly dt: number;

  constructor(private readonly o: RigOptions) {
    const rng = new Prng(o.seed);
    const t = o.topology;
    const loopSeed = rng.u32();
    const hooks = {
      onDecision: (rec: DecisionRecord<Command>) => this.onDecision(rec),
      onChannelEvents: (events: readonly ChannelEvent[]) => this.channelEvents(events),
      onVoterEvent: (e: VoterEvent) => this.event(e.frame, `voter-${e.kind}`, e.detail),
      onOutput: (channel: number, frame: number, cmd: Command) =>
        this.outputs.offer(channel, frame, cmd.elevator),
    };
    this.outputs = new OutputWindow(t.channels.length, this.counters);
    this.commands = new CommandWatch(t.voter.failsafeAfterMisses);
    this.failsafeElevator = topologyVoterConfig(t).failsafe.elevator;
    const gst = (): number => o.scheduler.now();
    const factory =
      o.bench ??
      loopBench(
        o.loop ??
          inProcessLoopFactory({
            topology: t,
            scheduler: o.scheduler,
            seed: loopSeed,
            logger: o.logger,
            ...(o.virtual ? { virtual: o.virtual } : {}),
          }),
        o.virtual !== undefined,
        gst,
      );
    this.system = factory(hooks);
    this.plant = new PitchPlant(t.frameRateHz);
    this.sensors = new SensorTriplex(rng.fork(), o.scenario.sensors ?? []);
    this.faultRng = rng.fork();
    const entries = buildTimeline(o.scenario, t);
    this.sampleFaults = new SampleFaults(t.inputUnits, rng.fork(), maxDelayFrames(entries));
    this.timeline = entries.map((entry) => ({ entry, active: undefined, clearRig: undefined, done: false }));
    this.marks = [...(o.scenario.marks ?? [])].sort((a, b) => a.atS - b.atS);
    this.dt = 1 / t.frameRateHz;
    this.totalFrames = Math.round(o.scenario.durationS * t.frameRateHz);
    this.stream = o.stream === undefined ? undefined : new TraceStream(o.stream.path);
    this.keepFrames =
      o.stream === undefined ? Number.POSITIVE_INFINITY : (o.stream.keepFrames ?? STREAM_KEEP_FRAMES);
  }

  get scenarioName(): string {
    return this.o.scenario.name;
  }

  /** Runs the scenario to its end (or until `stop`). Under a VirtualScheduler, call `runVirtual` instead. */
  async run(): Promise<RigResult> {
    await this.system.start();
    this.o.onStarted?.();
    return new Promise((resolve) => {
      this.finish = () => resolve(this.result());
      // Stopped while the bench started: settle now, there is no frame to wait for.
      if (this.stopped) this.finish();
      else this.schedule(0);
    });
  }

  /** Runs the whole scenario on a virtual clock (`runUntil` advances it), as fast as the CPU allows. */
  async runVirtual(runUntil: (t: number) => void | Promise<void>): Promise<RigResult> {
    await this.system.start();
    this.schedule(0);
    await runUntil((this.totalFrames + 1) * this.system.periodMs);
    return this.result();
  }

  /** Stop after the current frame (Ctrl-C); the result covers the frames flown. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.event(this.tally.frames, 'stopped', 'run interrupted');
    this.finish?.();
  }

  private schedule(frame: number): void {
    this.o.scheduler.at(this.system.frameTime(frame), () => this.onFrame(frame));
  }

  private onFrame(frame: number): void {
    if (this.stopped) return;
    if (frame > 0) this.closeFrame(frame - 1);
    if (frame >= this.totalFrames) {
      this.stopped = true;
      this.finish?.();
      return;
    }
    const t = frame * this.dt;
    while (this.marks.length > 0 && this.marks[0]!.atS <= t + 1e-9)
      this.event(frame, 'mark', this.marks.shift()!.text);
    this.runTimeline(frame);
    const theta = this.plant.theta;
    const reference = pilotAt(this.o.scenario, t);
    const healthy = this.sensors.read(theta, t);
    const { readings, samples } = this.sampleFaults.frame(frame, healthy, reference);
    this.sampled.set(frame, { theta, reference, readings, samples });
    this.outputs.started(frame);
    this.system.startFrame(frame, samples);
    this.schedule(frame + 1);
  }

  private onDecision(rec: DecisionRecord<Command>): void {
    // Decisions come from the voter on the rig's own board, one per frame it is on: bounded by the frames in flight.
    if (rec.frame < this.tally.frames || !this.sampled.has(rec.frame)) {
      this.counters.add('rig.decision-ignored');
      return;
    }
    this.decisions.set(rec.frame, rec);
  }

  /** Frame k is over: its decision drives the actuator for one frame, and the plant advances. */
  private closeFrame(frame: number): void {
    const rec = this.decisions.get(frame);
    const last = this.trace.frames.at(-1);
    const action = this.commands.frame(rec?.kind);
    const timedOut = action.kind === 'failsafe' && rec?.kind !== 'failsafe';
    if (timedOut) this.counters.add('rig.actuator-failsafe');
    const voted = timedOut ? this.failsafeElevator : (rec?.value.elevator ?? last?.voted ?? 0);
    const elevator = this.actuator.drive(voted, this.dt);
    this.plant.step(elevator);
    const s = this.sampled.get(frame)!;
    const { view, primary } = this.system.view();
    if (view !== this.lastView) {
      this.event(frame, 'view-change', `view ${this.lastView} -> ${view}, primary r${primary}`);
      this.lastView = view;
    }
    const start = this.system.frameTime(frame);
    const record: FrameRecord = {
      frame,
      t: frame * this.dt,
      reference: s.reference,
      theta: s.theta,
      elevator,
      voted,
      outcome: timedOut ? 'failsafe' : (rec?.kind ?? 'hold'),
      channels: this.outputs.take(frame),
      view,
      primary,
      latencyMs: rec ? rec.time - start : Number.NaN,
    };
    const extra: FrameExtra = {
      readings: s.readings,
      samples: s.samples,
      reason: timedOut ? 'command-timeout' : (rec?.reason ?? 'no-decision'),
      contributors: rec?.contributors ?? [],
      dissenters: rec?.dissenters ?? [],
      missing: rec?.missing ?? [],
    };
    this.tally.frame(record);
    this.stream?.frame(record, extra);
    this.trace.frames.push(record);
    this.extras.push(extra);
    // Bounded when streaming: drop the oldest in chunks (amortised O(1)), never more than 2 * keepFrames held.
    if (this.trace.frames.length > 2 * this.keepFrames) {
      const drop = this.trace.frames.length - this.keepFrames;
      this.trace.frames.splice(0, drop);
      this.extras.splice(0, drop);
    }
    this.decisions.delete(frame);
    this.sampled.delete(frame);
    this.o.onFrame?.(record, this);
  }

  private channelEvents(events: readonly ChannelEvent[]): void {
    for (const e of events) {
      if (e.kind !== 'strike') this.event(e.frame, `channel-${e.kind}`, `${e.channel} at frame ${e.frame}`);
    }
  }

  /** Starts, toggles and ends the faults due at `frame`. */
  private runTimeline(frame: number): void {
    for (const r of this.timeline) {
      const e = r.entry;
      if (r.done || frame < e.startFrame) continue;
      if (e.endFrame !== undefined && frame >= e.endFrame) {
        this.clear(r, frame, true);
        r.done = true;
        continue;
      }
      const on = cycleOn(e, frame);
      if (on && r.active === undefined) this.strike(r, frame);
      else if (!on && r.active !== undefined) this.clear(r, frame, false);
    }
  }

  private strike(r: Running, frame: number): void {
    const e = r.entry;
    const first = e.outcome.status === 'pending';
    const target = resolveTarget(
      e.fault.component,
      e.fault.target,
      this.o.topology,
      this.system.view().primary,
    );
    let handle: FaultHandle;
    if (target.component === 'sensor' || target.component === 'input-unit') {
      const index = target.component === 'sensor' ? target.sensor : target.unit;
      r.clearRig = this.sampleFaults.add(target.component, index, e.baseType, e.severity, frame);
      handle = { applied: true, detail: `${describeTarget(target)}: ${e.fault.type}` };
    } else {
      handle = this.system.apply({ target, type: e.baseType, severity: e.severity, frame }, this.faultRng);
    }
    if (!handle.applied) {
      e.outcome.status = 'not-applied';
      e.outcome.detail = handle.reason;
      e.outcome.frame = frame;
      r.done = true;
      this.event(
        frame,
        e.legacy ? 'event-not-applied' : 'fault-not-applied',
        `${e.outcome.fault} on ${describeTarget(target)}: ${handle.reason}`,
      );
      return;
    }
    r.active = handle;
    if (!first) {
      this.counters.add('rig.intermittent-on');
      return;
    }
    e.outcome.status = 'applied';
    e.outcome.detail = handle.detail;
    e.outcome.frame = frame;
    this.event(frame, eventKind(e), legacyDetail(e, this.o.topology, handle.detail));
  }

  private clear(r: Running, frame: number, final: boolean): void {
    if (r.active === undefined) return;
    const detail = r.active.applied ? r.active.clear?.() : undefined;
    r.clearRig?.();
    r.clearRig = undefined;
    r.active = undefined;
    if (!final) {
      this.counters.add('rig.intermittent-off');
      return;
    }
    this.event(frame, 'fault-cleared', detail ?? `${r.entry.outcome.fault} ended`);
  }

  private event(frame: number, kind: string, detail: string): void {
    const e: EventRecord = { frame, t: frame * this.dt, kind, detail };
    if (kind === 'view-change') this.tally.viewChanges++;
    this.stream?.event(e);
    if (this.stream === undefined || this.trace.events.length < MAX_EVENTS) this.trace.events.push(e);
    else this.counters.add('rig.events-not-kept');
    this.o.logger.info({ frame, kind, detail }, 'scenario event');
  }

  private result(): RigResult {
    const flown = this.tally.frames;
    const interrupted = this.stopped && flown < this.totalFrames;
    const faults = this.timeline.map((r) => ({ ...r.entry.outcome }));
    const summary = rigSummary(this, faults);
    // Streaming: the whole run back from its file, once, for the assertions and the report (not held by the rig).
    let trace: Trace = this.trace;
    let extras: readonly FrameExtra[] = this.extras;
    if (this.stream !== undefined) {
      this.stream.close();
      ({ trace, extras } = readTraceStream(this.stream.path));
    }
    const assertions =
      this.o.scenario.spec === undefined
        ? checkAssertions(this.o.scenario, this.o.topology, trace, interrupted)
        : checkSpec({
            scenario: this.o.scenario,
            topology: this.o.topology,
            trace,
            reference: this.o.reference,
            faults,
            summary,
            interrupted,
          });
    return {
      trace,
      assertions,
      passed: assertions.every((a) => a.passed),
      frames: flown,
      stoppedEarly: flown < this.totalFrames,
      faults,
      extras,
      summary,
    };
  }
}

/** Event names: the built-in scenarios' names where a fault stands for one of their events. */
function eventKind(e: TimelineEntry): string {
  if (e.legacy === 'replica-byzantine') return 'replica-byzantine';
  if (e.fault.component === 'board' && (e.baseType === 'crash' || e.baseType === 'off'))
    return 'board-crashed';
  if (e.fault.component === 'replica' && !['crash', 'hang', 'delayed'].includes(e.baseType))
    return 'replica-byzantine';
  return 'fault-injected';
}

/** A crash of the primary's or a backup's board reads `primary r0 (board mon)`, as the built-in events did. */
function legacyDetail(e: TimelineEntry, t: Topology, detail: string): string {
  const role = e.fault.target;
  if (e.fault.component !== 'board' || (role !== 'primary' && role !== 'backup')) return detail;
  const board = detail.replace(/^board /, '');
  const replica = t.replicas.find((r) => r.board === board);
  return replica === undefined ? `${role} ${detail}` : `${role} r${replica.id} (board ${board})`;
}
