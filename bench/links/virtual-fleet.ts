/**
 * Every board of a topology with its real roles (Board) on the virtual clock, over transports the caller
 * builds, flown frame by frame with the same pilot input: the one fleet the link benches measure
 * (traffic.ts records what crosses the links, virtual-can.ts times it on a bus or a paced mesh).
 *
 * Deterministic: the keys and every board's PRNG come from `seed`, in board order, so a run is the same on
 * an idle laptop and on a loaded CI machine.
 *
 * @example
 *   const fleet = new VirtualFleet(t, { seed: 7, linkDelayMs: 0.2, transportFor: (b) => hub.join(b) });
 *   await fleet.start();
 *   fleet.fly({ warmupFrames: 20, frames: 100, crashPrimaryAt: 25 });
 *   await fleet.close();
 */
import pino from 'pino';
import type { ReplicaEvent } from '../../src/core/pbft/types.ts';
import { Prng } from '../../src/core/prng.ts';
import type { Transport } from '../../src/io/transport.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { Board } from '../../src/runtime/loop/board.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

export type DecisionKind = 'write' | 'hold' | 'failsafe';

export interface FleetOptions {
  readonly seed: number;
  /** The virtual clock (default: a new one); pass one when a transport needs it before the boards exist. */
  readonly clock?: VirtualScheduler;
  /** One-way delay the boards assume for their links (their timers follow it). */
  readonly linkDelayMs: number;
  /** The transport of one board, built once per board in topology order. */
  readonly transportFor: (board: string) => Transport;
  /** Every replica event with its board and virtual time (for tracing a run). */
  readonly onReplicaEvent?: (board: string, replica: number, event: ReplicaEvent, now: number) => void;
  /** Every voter decision with its virtual time, warm-up included. */
  readonly onDecision?: (frame: number, kind: DecisionKind, now: number) => void;
}

export interface FlightPlan {
  readonly warmupFrames: number;
  readonly frames: number;
  /** Crash the view-0 primary's board at this frame of the measured window (0-based). */
  readonly crashPrimaryAt?: number;
  /** Called with the run's frame index k before the clock advances to frame k's start. */
  readonly beforeFrame?: (k: number) => void;
  /** Called with k once the clock stands at frame k's start, before its samples are taken. */
  readonly atFrame?: (k: number) => void;
  /** How many frame periods past the last frame's start the clock runs at the end (default 0). */
  readonly tailPeriods?: number;
}

/** The voter's decisions over the measured window: counts and the longest run without a write. */
export class DecisionTally {
  readonly decisions = { write: 0, hold: 0, failsafe: 0 };
  longestMissRun = 0;
  private missRun = 0;

  add(kind: DecisionKind): void {
    this.decisions[kind]++;
    this.missRun = kind === 'write' ? 0 : this.missRun + 1;
    this.longestMissRun = Math.max(this.longestMissRun, this.missRun);
  }

  get total(): number {
    return this.decisions.write + this.decisions.hold + this.decisions.failsafe;
  }
}

export class VirtualFleet {
  readonly clock: VirtualScheduler;
  readonly counters = new Counters();
  readonly boards: Board[] = [];
  readonly tally = new DecisionTally();
  /** True while the measured window runs (after the warm-up): what callers count. */
  measuring = false;
  /** Frame of the measured window the primary's board crashed at, if it did. */
  crashedAt: number | undefined;
  readonly periodMs: number;

  constructor(
    readonly topology: Topology,
    o: FleetOptions,
  ) {
    this.clock = o.clock ?? new VirtualScheduler();
    const rng = new Prng(o.seed);
    const keys = seededKeys(topology, rng.u32());
    const logger = pino({ level: 'silent' });
    this.periodMs = 1000 / topology.frameRateHz;
    for (const b of topology.boards) {
      this.boards.push(
        new Board({
          topology,
          board: b.name,
          transport: o.transportFor(b.name),
          scheduler: this.clock,
          keys,
          logger,
          counters: this.counters,
          rng: rng.fork(),
          linkDelayMs: () => o.linkDelayMs,
          ...(o.onReplicaEvent
            ? {
                replicaEvents: {
                  replicaEvent: (id, e) => o.onReplicaEvent!(b.name, id, e, this.clock.now()),
                },
              }
            : {}),
          actuator: {
            write: (rec) => {
              o.onDecision?.(rec.frame, rec.kind, this.clock.now());
              if (this.measuring) this.tally.add(rec.kind);
            },
          },
        }),
      );
    }
  }

  start(): Promise<void> {
    return Promise.all(this.boards.map((b) => b.start())).then(() => undefined);
  }

  /** Flies the warm-up and the measured frames; `measuring` is true from the first measured frame to the end. */
  fly(plan: FlightPlan): void {
    const t = this.topology;
    const front = this.boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
    const primaryBoard = t.replicas.find((r) => r.id === 0)!.board;
    const total = plan.warmupFrames + plan.frames;
    for (let k = 0; k < total; k++) {
      const frame = k - plan.warmupFrames;
      plan.beforeFrame?.(k);
      this.clock.runUntil(k * this.periodMs);
      if (k === plan.warmupFrames) this.measuring = true;
      plan.atFrame?.(k);
      if (plan.crashPrimaryAt !== undefined && frame === plan.crashPrimaryAt) {
        this.boards.find((b) => b.name === primaryBoard)!.crash();
        this.crashedAt = frame;
      }
      const samples = Array.from({ length: t.inputUnits }, () => ({
        stick: 0.2 * Math.sin(k / 20),
        pitch: 0.01,
      }));
      for (const b of front) b.startFrame(k, samples);
    }
    this.clock.runUntil((total + (plan.tailPeriods ?? 0)) * this.periodMs);
    this.measuring = false;
  }

  /** The view of every replica still running. */
  finalViews(): number[] {
    return this.boards.flatMap((b) => (b.replica?.running ? [b.replica.replica.status().view] : []));
  }

  close(): Promise<void> {
    return Promise.all(this.boards.map((b) => b.close())).then(() => undefined);
  }
}
