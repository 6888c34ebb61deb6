/**
 * The HIL rig in emulated mode: plant, elevator actuator and pitch sensors in software, closing the loop around
 * a ControlLoop: by default the single-process LoopSystem, or any other loop through `loop` (the voter's board
 * of a set of board processes: src/runtime/node/board-loop.ts). Each frame: apply the previous frame's voted command to the actuator and advance the plant;
 * apply due scenario events; sample sensors and stick; start the frame in the system. Records every frame and
 * event, then checks the scenario's assertions.
 */
import type { Logger } from 'pino';
import type { Command } from '../src/core/control/spec.ts';
import { ElevatorActuator } from '../src/core/plant/actuator.ts';
import { PitchPlant } from '../src/core/plant/pitch.ts';
import { SensorTriplex } from '../src/core/plant/sensors.ts';
import { Prng } from '../src/core/prng.ts';
import type { ChannelEvent, DecisionRecord } from '../src/core/vote/voter.ts';
import type { Topology } from '../src/runtime/config.ts';
import { type BoardCallbacks, plantPortsFrom } from '../src/runtime/loop/ports.ts';
import {
  type ControlLoop,
  type ControlLoopFactory,
  inProcessLoopFactory,
} from '../src/runtime/node/control-loop.ts';
import type { EventRecord, FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import type { Scheduler } from '../src/runtime/scheduler.ts';
import { behaviour } from '../src/sim/byzantine.ts';
import { type AssertionResult, checkAssertions } from './assertions.ts';
import { pilotAt, type Scenario, type ScenarioEvent } from './scenario.ts';

export interface RigOptions {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly logger: Logger;
  /** Virtual time (tests): seeded link delays in ms. Absent: real timers, in-memory links. */
  readonly virtual?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /**
   * Builds the loop the rig closes, given the rig's callbacks. Absent: every board in this process on a memory
   * hub (LoopSystem), seeded from `seed`.
   */
  readonly loop?: ControlLoopFactory;
  /** Called after each frame is recorded (status display). */
  readonly onFrame?: (record: FrameRecord, rig: Rig) => void;
}

export interface RigResult {
  readonly trace: Trace;
  readonly assertions: readonly AssertionResult[];
  readonly passed: boolean;
  readonly frames: number;
  readonly stoppedEarly: boolean;
}

export class Rig {
  readonly system: ControlLoop;
  readonly trace: Trace = { frames: [], events: [] };
  readonly totalFrames: number;
  private readonly plant: PitchPlant;
  private readonly actuator = new ElevatorActuator();
  private readonly sensors: SensorTriplex;
  private readonly decisions = new Map<number, DecisionRecord<Command>>();
  private readonly channelOutputs = new Map<number, (number | null)[]>();
  private readonly sampled = new Map<number, { theta: number; reference: number }>();
  private readonly pendingEvents: ScenarioEvent[];
  /** Byzantine replica behaviours draw from here (forked after the sensors, so sensor noise is unchanged). */
  private readonly faultRng: Prng;
  private lastView = 0;
  private stopped = false;
  private finish: (() => void) | undefined;
  private readonly dt: number;

  constructor(private readonly o: RigOptions) {
    const rng = new Prng(o.seed);
    const loop =
      o.loop ??
      inProcessLoopFactory({
        topology: o.topology,
        scheduler: o.scheduler,
        seed: rng.u32(),
        logger: o.logger,
        ...(o.virtual ? { virtual: o.virtual } : {}),
      });
    if (o.loop !== undefined) rng.u32(); // the same sensor stream whichever loop is flown
    const callbacks: BoardCallbacks = {
      onDecision: (rec) => this.decisions.set(rec.frame, rec),
      onChannelEvents: (events) => this.channelEvents(events),
      onChannelCommand: (channel, frame, cmd) => {
        // A late output for a frame already recorded is the voter's business (counted there), not the trace's.
        if (frame < this.trace.frames.length) return;
        let row = this.channelOutputs.get(frame);
        if (row === undefined) {
          row = Array.from({ length: o.topology.channels.length }, () => null);
          this.channelOutputs.set(frame, row);
        }
        row[channel] = cmd.elevator;
      },
    };
    this.system = loop(plantPortsFrom(callbacks));
    this.plant = new PitchPlant(o.topology.frameRateHz);
    this.sensors = new SensorTriplex(rng.fork());
    this.faultRng = rng.fork();
    this.dt = 1 / o.topology.frameRateHz;
    this.totalFrames = Math.round(o.scenario.durationS * o.topology.frameRateHz);
    this.pendingEvents = [...o.scenario.events].sort((a, b) => a.atS - b.atS);
  }

  get scenarioName(): string {
    return this.o.scenario.name;
  }

  /** Runs the scenario to its end (or until `stop`). Under a VirtualScheduler, call `runVirtual` instead. */
  async run(): Promise<RigResult> {
    await this.system.start();
    return new Promise((resolve) => {
      this.finish = () => resolve(this.result());
      this.schedule(0);
    });
  }

  /** Runs the whole scenario on a virtual clock (`runUntil` advances it), as fast as the CPU allows. */
  async runVirtual(runUntil: (t: number) => void): Promise<RigResult> {
    await this.system.start();
    this.schedule(0);
    runUntil((this.totalFrames + 1) * this.system.periodMs);
    return this.result();
  }

  /** Stop after the current frame (Ctrl-C); the result covers the frames flown. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.event(this.trace.frames.length, 'stopped', 'run interrupted');
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
    this.applyEvents(frame, t);
    const theta = this.plant.theta;
    const reference = pilotAt(this.o.scenario, t);
    this.sampled.set(frame, { theta, reference });
    const readings = this.sensors.read(theta, t);
    const samples = Array.from({ length: this.o.topology.inputUnits }, (_, u) => ({
      stick: reference,
      pitch: readings[u % 3] ?? null,
    }));
    this.system.startFrame(frame, samples);
    this.schedule(frame + 1);
  }

  /** Frame k is over: its decision drives the actuator for one frame, and the plant advances. */
  private closeFrame(frame: number): void {
    const rec = this.decisions.get(frame);
    const last = this.trace.frames.at(-1);
    const voted = rec?.value.elevator ?? last?.voted ?? 0;
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
      outcome: rec?.kind ?? 'hold',
      channels:
        this.channelOutputs.get(frame) ?? Array.from({ length: this.o.topology.channels.length }, () => null),
      view,
      primary,
      latencyMs: rec ? rec.time - start : Number.NaN,
    };
    this.trace.frames.push(record);
    this.decisions.delete(frame);
    this.channelOutputs.delete(frame);
    this.sampled.delete(frame);
    this.o.onFrame?.(record, this);
  }

  private channelEvents(events: readonly ChannelEvent[]): void {
    for (const e of events) {
      if (e.kind !== 'strike') this.event(e.frame, `channel-${e.kind}`, `${e.channel} at frame ${e.frame}`);
    }
  }

  private applyEvents(frame: number, t: number): void {
    while (this.pendingEvents.length > 0 && this.pendingEvents[0]!.atS <= t + 1e-9) {
      const e = this.pendingEvents.shift()!;
      switch (e.kind) {
        case 'channel-fault':
          if (this.system.injectChannelFault(e.channel, { kind: e.fault, fromFrame: frame }))
            this.event(frame, 'fault-injected', `channel c${e.channel}: ${e.fault}`);
          else this.unreachable(frame, `channel c${e.channel}`);
          break;
        case 'channel-repair':
          if (this.system.clearChannelFault(e.channel))
            this.event(frame, 'fault-cleared', `channel c${e.channel} repaired`);
          else this.unreachable(frame, `channel c${e.channel}`);
          break;
        case 'crash-primary': {
          const { primary } = this.system.view();
          const board = this.o.topology.replicas[primary]!.board;
          this.crash(frame, board, `primary r${primary} (board ${board})`);
          break;
        }
        case 'crash-backup': {
          const { primary } = this.system.view();
          const backups = this.o.topology.replicas.filter((r) => r.id !== primary);
          const victim = backups.at(-1)!;
          this.crash(frame, victim.board, `backup r${victim.id} (board ${victim.board})`);
          break;
        }
        case 'crash-board':
          this.crash(frame, e.board, `board ${e.board}`);
          break;
        case 'replica-byzantine': {
          const id = e.replica === 'primary' ? this.system.view().primary : e.replica;
          const entry = behaviour(e.behaviour);
          const gst = this.o.scheduler.now();
          const rng = this.faultRng.fork();
          const applied = this.system.makeReplicaByzantine(id, (inside) =>
            entry.create({
              id,
              config: inside.config,
              crypto: inside.crypto,
              rng,
              nodes: inside.nodes,
              replica: inside.replica,
              gst,
            }),
          );
          if (applied) this.event(frame, 'replica-byzantine', `r${id}: ${entry.name} (${entry.summary})`);
          else this.unreachable(frame, `replica r${id}`);
          break;
        }
      }
    }
  }

  private crash(frame: number, board: string, detail: string): void {
    if (this.system.crashBoard(board)) this.event(frame, 'board-crashed', detail);
    else this.unreachable(frame, `board ${board}`);
  }

  /** A scenario event this loop cannot carry out (a bench with no control path): recorded, never silent. */
  private unreachable(frame: number, what: string): void {
    this.event(frame, 'event-not-applied', `${what} cannot be reached from the rig`);
  }

  private event(frame: number, kind: string, detail: string): void {
    this.trace.events.push({ frame, t: frame * this.dt, kind, detail } satisfies EventRecord);
    this.o.logger.info({ frame, kind, detail }, 'scenario event');
  }

  private result(): RigResult {
    const assertions = checkAssertions(
      this.o.scenario,
      this.o.topology,
      this.trace,
      this.stopped && this.trace.frames.length < this.totalFrames,
    );
    return {
      trace: this.trace,
      assertions,
      passed: assertions.every((a) => a.passed),
      frames: this.trace.frames.length,
      stoppedEarly: this.trace.frames.length < this.totalFrames,
    };
  }
}
