/**
 * The whole control loop of a topology in one process: one Board per board, joined by an in-memory hub.
 * The same code runs under the virtual clock (tests: deterministic, every message a scheduler event) and under
 * real timers (`triplex sim`). The plant side (sensors, actuator, plant, scenario) drives it from outside
 * through `startFrame` and plugs into the voter board's `ActuatorPort` (ports.ts): see hil/rig.ts.
 */
import type { Logger } from 'pino';
import type { UnitHealth } from '../../core/frame/inputs.ts';
import type { ReplicaStepper } from '../../core/pbft/types.ts';
import { Prng } from '../../core/prng.ts';
import { MemoryHub } from '../../io/memory.ts';
import type { Transport } from '../../io/transport.ts';
import type { Topology } from '../config.ts';
import { LaptopRecovery, type LaptopRecoveryOptions } from '../recovery/laptop.ts';
import { RotatingKeys } from '../recovery/rotating-keys.ts';
import type { Scheduler } from '../scheduler.ts';
import { Board, type ReplicaInside } from './board.ts';
import type { ChannelHost } from './channel-host.ts';
import { Counters } from './counters.ts';
import type { InputFault } from './input-fault.ts';
import { seededKeys } from './keys.ts';
import { type PlantPorts, plantPortsOf } from './ports.ts';
import type { ReplicaHost } from './replica-host.ts';
import type { VoterRole } from './voter-host.ts';

export interface FleetOptions extends PlantPorts {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly seed: number;
  readonly logger: Logger;
  /** Virtual time: messages become scheduler events after a seeded link delay (ms). */
  readonly virtual?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** When the primary cuts the frame's batch at the latest, as a fraction of the frame period. */
  readonly cutFraction?: number;
  /**
   * Proactive recovery (src/runtime/recovery/laptop.ts), on the config's schedule: keys then rotate at every
   * restart. Absent: off (the library default, so tests of other parts see no restarts); `triplex sim` turns
   * it on from the config.
   */
  readonly recovery?: RecoveryTuning;
  /** Wraps each board's in-memory transport (instrumentation: bench/loop.ts times each board's messages). */
  readonly transportOf?: (board: string, transport: Transport) => Transport;
}

/** What a run may change of the recovery driver (tests compress time). */
export type RecoveryTuning = Omit<
  LaptopRecoveryOptions,
  'topology' | 'scheduler' | 'keys' | 'boards' | 'counters' | 'logger'
>;

export class Fleet {
  readonly boards = new Map<string, Board>();
  readonly replicas: ReplicaHost[] = [];
  readonly channels: ChannelHost[] = [];
  readonly voter: VoterRole;
  readonly counters = new Counters();
  readonly periodMs: number;
  /** The proactive-recovery driver, when recovery is on and the schedule has steps. */
  readonly recovery: LaptopRecovery | undefined;
  private readonly frontBoards: Board[];

  private readonly topology: Topology;

  constructor(o: FleetOptions) {
    const t = o.topology;
    this.topology = t;
    this.periodMs = 1000 / t.frameRateHz;
    const rng = new Prng(o.seed);
    const keySeed = rng.u32();
    const rotating = o.recovery !== undefined ? new RotatingKeys(t, keySeed) : undefined;
    const keys = rotating ?? seededKeys(t, keySeed);
    const hub = new MemoryHub({ delivery: o.virtual ? 'sync' : 'microtask' });
    const delayRng = rng.fork();
    const v = o.virtual;
    const linkDelayMs = v ? () => v.minDelayMs + delayRng.float() * (v.maxDelayMs - v.minDelayMs) : undefined;
    for (const b of t.boards) {
      const runtime = new Board({
        ...plantPortsOf(o),
        topology: t,
        scheduler: o.scheduler,
        logger: o.logger,
        ...(o.cutFraction !== undefined ? { cutFraction: o.cutFraction } : {}),
        board: b.name,
        transport: o.transportOf ? o.transportOf(b.name, hub.join(b.name)) : hub.join(b.name),
        keys,
        counters: this.counters,
        rng: rng.fork(),
        ...(rotating !== undefined ? { stateHistory: true } : {}),
        ...(linkDelayMs ? { linkDelayMs } : {}),
      });
      this.boards.set(b.name, runtime);
    }
    for (const r of t.replicas) this.replicas[r.id] = this.boards.get(r.board)!.replica!;
    for (const c of t.channels) this.channels[c.id] = this.boards.get(c.board)!.channel!;
    this.voter = this.boards.get(t.voters[0]!.board)!.voter!;
    this.frontBoards = [...this.boards.values()].filter((b) => b.inputs.length > 0 || b.voter !== undefined);
    this.recovery =
      rotating === undefined
        ? undefined
        : new LaptopRecovery({
            ...o.recovery,
            topology: t,
            scheduler: o.scheduler,
            keys: rotating,
            boards: this.boards,
            counters: this.counters,
            logger: o.logger.child({ role: 'supervisor' }),
          });
  }

  async start(): Promise<void> {
    await Promise.all([...this.boards.values()].map((b) => b.start()));
    this.recovery?.start();
  }

  /** Time at which frame k starts. */
  frameTime(frame: number): number {
    return frame * this.periodMs;
  }

  /** Frame k starts now: input units submit their samples and the voter arms the frame's deadline. */
  startFrame(frame: number, samples: readonly { stick: number; pitch: number | null }[]): void {
    for (const b of this.frontBoards) b.startFrame(frame, samples);
  }

  /** The current view and primary as the live replicas see it (the highest view among them). */
  view(): { view: number; primary: number } {
    let best = { view: 0, primary: 0 };
    for (const r of this.replicas) {
      if (!r.running) continue;
      const s = r.replica.status();
      if (s.view >= best.view) best = { view: s.view, primary: s.primary };
    }
    return best;
  }

  /** Replace replica `id`'s behaviour by a Byzantine one built around it. */
  makeReplicaByzantine(id: number, make: (inside: ReplicaInside) => ReplicaStepper): boolean {
    const slot = this.topology.replicas[id];
    return slot !== undefined && (this.boards.get(slot.board)?.makeReplicaByzantine(make) ?? false);
  }

  /**
   * The input units' health as the channels' input voters judge it (the same on every correct channel: they run
   * the same machine on the same batches); from the first running channel, empty when none runs.
   */
  inputHealth(): UnitHealth[] {
    return this.channels.find((c) => c.running)?.inputHealth() ?? [];
  }

  /** Make input unit `unit` Byzantine from `fault.fromFrame` on; false when there is no such unit. */
  injectInputFault(unit: number, fault: InputFault): boolean {
    return [...this.boards.values()].some((b) => b.injectInputFault(unit, fault));
  }

  clearInputFault(unit: number): boolean {
    return [...this.boards.values()].some((b) => b.clearInputFault(unit));
  }

  /** Kill a board as a process crash would: all its roles go silent. */
  crashBoard(name: string): void {
    const board = this.boards.get(name);
    if (board === undefined) throw new Error(`no board '${name}'`);
    board.crash();
  }

  async close(): Promise<void> {
    this.recovery?.stop();
    await Promise.all([...this.boards.values()].map((b) => b.close()));
  }
}
