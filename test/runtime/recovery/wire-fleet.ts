/**
 * A fleet of board runtimes as process mode runs them (Board + WireKeys + BoardRecovery per board, the rig's
 * HELLO answerer on every board but the voter's), joined by an in-memory network under a virtual clock, so the
 * runtime's own message paths can be attacked deterministically: nothing here reads the real clock.
 *
 * The network models what a datagram socket and an event loop do to a flood. Each board has an inbox of bounded
 * depth (the kernel's receive buffer: past it, arrivals are dropped, counted by source) drained one message at a
 * time, each costing virtual CPU time: a message refused by the board's ingress budget (the DatagramBudget of
 * src/io/udp.ts, with the limits udp.ts derives from the frame rate) costs `refusedCostMs`, one passed up to the
 * board's router costs `admittedCostMs` (decode, MAC check, protocol). A flood the board must fully process then
 * backs its inbox up and the other boards' messages are lost at its door, exactly as on a real socket.
 *
 * A faulty board (wire-behaviours.ts) runs its roles correctly (so ordering and voting have every correct node
 * plus it) and attacks on the side: it taps every message on the network (as on a bus: the strongest
 * adversary), and injects messages from its own link or, where `forgeableSources` is set, under any source.
 *
 * Holds are a voter outcome: `decisions` has every DecisionRecord the actuator got; `holdsReport()` names
 * each non-write frame with its reason, what was reported and missing, and what the network dropped around it.
 *
 * @example
 * const fleet = await WireFleet.create({ seed: 1 });
 * await fleet.start();
 * fleet.runFrames(250);
 * expect(fleet.holds()).toEqual([]);
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BehaviorSubject, Subject } from 'rxjs';
import { answerRigHello } from '../../../hil/link/hello.ts';
import type { Command } from '../../../src/core/control/spec.ts';
import type { ReplicaEvent } from '../../../src/core/pbft/types.ts';
import { Prng } from '../../../src/core/prng.ts';
import type { DecisionRecord } from '../../../src/core/vote/voter.ts';
import { DatagramBudget } from '../../../src/io/ingress-budget.ts';
import {
  type LinkState,
  type LinkStats,
  type PeerId,
  type Received,
  StatsCounter,
  type Transport,
} from '../../../src/io/transport.ts';
import { udpIngressLimits } from '../../../src/io/udp.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { generateKeySet } from '../../../src/runtime/keyfiles.ts';
import { Board } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { BoardRecovery } from '../../../src/runtime/recovery/board-recovery.ts';
import { WireKeys } from '../../../src/runtime/recovery/wire-keys.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

export const serialMesh: Topology = loadTopology('config/serial-mesh.json');

export interface NetOptions {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Messages a board's inbox holds before arrivals are dropped (a socket's receive buffer). */
  readonly inboxLimit: number;
  /** Virtual CPU time of a message passed up to the board's router, ms. */
  readonly admittedCostMs: number;
  /** Virtual CPU time of a message the ingress budget refuses, ms. */
  readonly refusedCostMs: number;
  /** Each board's ingress budget per source (as udp.ts has); false: none (every message passed up). */
  readonly ingressBudget: boolean;
  /** Whether a faulty board can put any source on what it injects (UDP without source checks, a CAN bus). */
  readonly forgeableSources: boolean;
}

export const DEFAULT_NET: NetOptions = {
  minDelayMs: 0.1,
  maxDelayMs: 0.8,
  inboxLimit: 512,
  admittedCostMs: 0.05,
  refusedCostMs: 0.001,
  ingressBudget: true,
  forgeableSources: false,
};

type Tap = (from: string, to: string, bytes: Uint8Array) => void;

/** The in-memory network: per-message delay, bounded inboxes drained at a CPU cost, taps and injection. */
export class WireNet {
  private readonly ends = new Map<string, NetTransport>();
  private readonly taps: Tap[] = [];
  private readonly rng: Prng;
  /** Messages dropped at a full inbox, by `<to>.<from>`. */
  readonly dropped = new Counters();
  /** Deepest any inbox got. */
  maxInboxDepth = 0;

  constructor(
    readonly scheduler: VirtualScheduler,
    readonly o: NetOptions,
    seed: number,
    private readonly frameRateHz: number,
    /** Every board on the network. */
    readonly names: readonly string[],
  ) {
    this.rng = new Prng(seed);
  }

  join(name: string): NetTransport {
    const t = new NetTransport(this, name, this.budgetFor());
    this.ends.set(name, t);
    return t;
  }

  /** A restarted board's process: its old end is gone, a fresh one joins under the same name. */
  rejoin(name: string): NetTransport {
    this.ends.get(name)?.detach();
    return this.join(name);
  }

  tap(fn: Tap): void {
    this.taps.push(fn);
  }

  /** A faulty board puts `bytes` on the link to `to` as `from` (its own name unless sources are forgeable). */
  inject(attacker: string, to: string, bytes: Uint8Array, from = attacker): void {
    if (from !== attacker && !this.o.forgeableSources)
      throw new Error(`network: sources are not forgeable (${attacker} as ${from})`);
    this.carry(from, to, bytes, false);
  }

  /** @internal */
  carry(from: string, to: string, bytes: Uint8Array, tapped = true): boolean {
    const target = this.ends.get(to);
    if (target === undefined) return false;
    const copy = bytes.slice();
    if (tapped) for (const t of this.taps) t(from, to, copy);
    const delay = this.o.minDelayMs + this.rng.float() * (this.o.maxDelayMs - this.o.minDelayMs);
    this.scheduler.at(this.scheduler.now() + delay, () => target.arrive(from, copy));
    return true;
  }

  private budgetFor(): DatagramBudget | undefined {
    if (!this.o.ingressBudget) return undefined;
    return new DatagramBudget({ ...udpIngressLimits(this.frameRateHz), now: () => this.scheduler.now() });
  }
}

/** One board's end of the network: a Transport whose received messages cost CPU time in a bounded inbox. */
export class NetTransport implements Transport {
  private readonly rx = new Subject<Received>();
  private readonly state = new BehaviorSubject<LinkState>('connecting');
  private readonly counters = new StatsCounter();
  private readonly inbox: Received[] = [];
  private head = 0;
  private draining = false;
  /** The board's CPU is busy with the last message until then (virtual ms). */
  private busyUntil = 0;
  private gone = false;
  readonly received$ = this.rx.asObservable();
  readonly state$ = this.state.asObservable();

  constructor(
    private readonly net: WireNet,
    readonly self: string,
    readonly budget: DatagramBudget | undefined,
  ) {}

  get peers(): readonly PeerId[] {
    return this.net.names.filter((n) => n !== this.self);
  }

  async start(): Promise<void> {
    if (!this.gone) this.state.next('up');
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    if (this.gone || this.state.value !== 'up') return this.counters.drop('link-down');
    if (!this.net.carry(this.self, peer, bytes)) return this.counters.drop('unknown-peer');
    this.counters.sent(bytes.length);
    return true;
  }

  broadcast(bytes: Uint8Array): boolean {
    let all = true;
    for (const p of this.peers) all = this.send(p, bytes) && all;
    return all;
  }

  stats(): LinkStats {
    return this.counters.snapshot();
  }

  async close(): Promise<void> {
    this.detach();
  }

  /** @internal The process is gone: deaf and silent, its inbox discarded. */
  detach(): void {
    if (this.gone) return;
    this.gone = true;
    this.inbox.length = 0;
    this.head = 0;
    this.state.next('down');
    this.state.complete();
    this.rx.complete();
  }

  /** Messages waiting in the inbox now. */
  get depth(): number {
    return this.inbox.length - this.head;
  }

  /** @internal A message reaches the board's socket. */
  arrive(from: string, bytes: Uint8Array): void {
    if (this.gone) return;
    if (this.depth >= this.net.o.inboxLimit) {
      this.net.dropped.add(`${this.self}.${from}`);
      this.counters.error('inbox-full');
      return;
    }
    this.inbox.push({ from, bytes });
    this.net.maxInboxDepth = Math.max(this.net.maxInboxDepth, this.depth);
    if (!this.draining) {
      this.draining = true;
      this.net.scheduler.at(Math.max(this.net.scheduler.now(), this.busyUntil), () => this.drainOne());
    }
  }

  private drainOne(): void {
    if (this.gone) return;
    const m = this.inbox[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.inbox.length) {
      this.inbox.splice(0, this.head);
      this.head = 0;
    }
    const refused = this.budget?.take(m.from, m.bytes.length);
    let cost = this.net.o.refusedCostMs;
    if (refused !== undefined) this.counters.error(`over-rate:${refused}`);
    else {
      cost = this.net.o.admittedCostMs;
      this.counters.received(m.bytes.length);
      this.rx.next(m);
    }
    this.busyUntil = this.net.scheduler.now() + cost;
    if (this.depth === 0) {
      this.draining = false;
      return;
    }
    this.net.scheduler.at(this.busyUntil, () => this.drainOne());
  }
}

export interface FleetBoard {
  readonly name: string;
  readonly board: Board;
  readonly recovery: BoardRecovery;
  readonly keys: WireKeys;
  readonly counters: Counters;
  readonly transport: NetTransport;
  /** Starts of this board's process so far (1: never restarted). */
  readonly life: number;
}

export interface WireFleetOptions {
  readonly seed: number;
  readonly net?: Partial<NetOptions>;
  readonly topology?: Topology;
  /** Channels take their replica's checkpoint state (default true; false: only their peers' states). */
  readonly channelFromCheckpoint?: boolean;
  /** Every replica event on every board (diagnosis: which batch committed where and when). */
  readonly onReplicaEvent?: (board: string, replica: number, event: ReplicaEvent, at: number) => void;
}

const silent = pino({ level: 'silent' });

/** The fleet: boards over a WireNet on one VirtualScheduler, the voter's decisions recorded. */
export class WireFleet {
  readonly scheduler = new VirtualScheduler();
  readonly net: WireNet;
  readonly boards = new Map<string, FleetBoard>();
  readonly decisions: DecisionRecord<Command>[] = [];
  readonly topology: Topology;
  readonly periodMs: number;
  /** Exceptions thrown out of a correct board's message handling (must stay empty). */
  readonly thrown: { board: string; at: number; error: string }[] = [];
  private frame = 0;
  private readonly rng: Prng;
  private readonly rig: string;
  private readonly onReplicaEvent: WireFleetOptions['onReplicaEvent'];
  private readonly channelFromCheckpoint: boolean | undefined;

  private constructor(
    o: WireFleetOptions,
    private readonly dir: string,
  ) {
    this.topology = o.topology ?? serialMesh;
    this.channelFromCheckpoint = o.channelFromCheckpoint;
    this.periodMs = 1000 / this.topology.frameRateHz;
    this.rng = new Prng(o.seed);
    this.net = new WireNet(
      this.scheduler,
      { ...DEFAULT_NET, ...o.net },
      o.seed + 1,
      this.topology.frameRateHz,
      this.topology.boards.map((b) => b.name),
    );
    this.rig = this.topology.voters[0]!.board;
    this.onReplicaEvent = o.onReplicaEvent;
  }

  /** The fleet's key files (what a faulty board's own principals can sign and tag with). */
  get keysDir(): string {
    return join(this.dir, 'keys');
  }

  static async create(o: WireFleetOptions): Promise<WireFleet> {
    const dir = mkdtempSync(join(tmpdir(), 'triplex-wire-fleet-'));
    const fleet = new WireFleet(o, dir);
    await generateKeySet(join(dir, 'keys'), topologyPrincipals(fleet.topology));
    for (const b of fleet.topology.boards) await fleet.boot(b.name, undefined);
    return fleet;
  }

  /** Opens every board's links: NEW-KEYs out where a board restarted, channels ask for their state. */
  async start(): Promise<void> {
    for (const b of this.boards.values()) await this.open(b);
  }

  /** The board's process is killed and started again from its key files and state directory (epoch + 1). */
  async restart(name: string): Promise<FleetBoard> {
    const { board, open } = await this.restartLoaded(name);
    await open();
    return board;
  }

  /**
   * The first half of restart(): the old board is gone and the new one built (its process loaded and reporting
   * status), but not yet prepared nor started; `open` does that.
   */
  async restartLoaded(name: string): Promise<{ board: FleetBoard; open: () => Promise<void> }> {
    const old = this.boards.get(name);
    if (old === undefined) throw new Error(`no board '${name}'`);
    old.recovery.stop();
    old.board.crash();
    await old.board.close();
    const point = Math.max(
      0,
      ...[...this.boards.values()]
        .filter((b) => b.name !== name)
        .map((b) => b.board.replica?.replica.status().lastExecuted ?? 0),
    );
    const fresh = await this.boot(name, { recoveryPoint: point }, old.life + 1);
    return { board: fresh, open: () => this.open(fresh) };
  }

  /** Flies `frames` more frames (virtual time), the input units sampling a slow sine. */
  runFrames(frames: number): void {
    const end = this.frame + frames;
    for (; this.frame < end; this.frame++) {
      const k = this.frame;
      this.scheduler.at(k * this.periodMs, () => {
        const stick = 0.1 * Math.sin(k / 40);
        const samples = Array.from({ length: this.topology.inputUnits }, () => ({ stick, pitch: 0.02 }));
        this.guard(this.rig, () => this.boards.get(this.rig)!.board.startFrame(k, samples));
      });
    }
    this.scheduler.runUntil(end * this.periodMs);
  }

  /** Frames the voter did not write from `fromFrame` on (holds and failsafes), with why. */
  holds(fromFrame = 0): DecisionRecord<Command>[] {
    return this.decisions.filter((d) => d.frame >= fromFrame && d.kind !== 'write');
  }

  /** What a failing hold assertion prints: each non-write frame and what was going on. */
  holdsReport(fromFrame = 0): string {
    const lines = this.holds(fromFrame).map(
      (d) =>
        `frame ${d.frame} ${d.kind} (${d.reason}) reported=[${d.reported}] missing=[${d.missing}] latched=[${d.latched}] misses=${d.consecutiveMisses}`,
    );
    const dropped = this.net.dropped.toJSON();
    return [
      `${lines.length} frames not written from frame ${fromFrame}:`,
      ...lines.slice(0, 40),
      `network drops at full inboxes (to.from): ${JSON.stringify(dropped)}`,
      ...[...this.boards.values()].map(
        (b) => `${b.name}: ${JSON.stringify(interesting(b.counters.toJSON()))}`,
      ),
    ].join('\n');
  }

  /** Channels the voter latched at any time (name and frame). */
  latched(): { channel: string; frame: number }[] {
    return this.decisions.flatMap((d) =>
      d.events.filter((e) => e.kind === 'latched').map((e) => ({ channel: e.channel, frame: e.frame })),
    );
  }

  get(name: string): FleetBoard {
    const b = this.boards.get(name);
    if (b === undefined) throw new Error(`no board '${name}'`);
    return b;
  }

  async close(): Promise<void> {
    for (const b of this.boards.values()) {
      b.recovery.stop();
      await b.board.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `fn` for board `board`, recording (not propagating) anything it throws. */
  guard(board: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.thrown.push({ board, at: this.scheduler.now(), error: (e as Error).stack ?? String(e) });
    }
  }

  private async boot(
    name: string,
    restart: { recoveryPoint: number } | undefined,
    life = 1,
  ): Promise<FleetBoard> {
    const t = this.topology;
    const counters = new Counters();
    const keys = await WireKeys.load({
      topology: t,
      board: name,
      keysDir: this.keysDir,
      stateDir: join(this.dir, 'state', name),
      counters,
      now: () => this.scheduler.now(),
      ...(restart ? { recoveryPoint: restart.recoveryPoint } : {}),
    });
    const transport = life === 1 ? this.net.join(name) : this.net.rejoin(name);
    // Every message a board takes off its link is handled inside `guard`: a throw is recorded, not lost.
    const guarded = guardedTransport(transport, (fn) => this.guard(name, fn));
    const linked =
      name === this.rig
        ? guarded
        : answerRigHello(guarded, {
            topology: t,
            board: name,
            keys,
            counters,
            now: () => this.scheduler.now(),
          });
    const board = new Board({
      topology: t,
      board: name,
      transport: linked,
      scheduler: this.scheduler,
      keys,
      logger: silent,
      counters,
      rng: this.rng.fork(),
      stateHistory: true,
      ...(this.channelFromCheckpoint === false ? { channelFromCheckpoint: false } : {}),
      ...(this.onReplicaEvent
        ? {
            replicaEvents: {
              replicaEvent: (r: number, e: ReplicaEvent) =>
                this.onReplicaEvent?.(name, r, e, this.scheduler.now()),
            },
          }
        : {}),
      ...(name === this.rig
        ? { actuator: { write: (d: DecisionRecord<Command>) => this.decisions.push(d) } }
        : {}),
    });
    const recovery = new BoardRecovery({
      topology: t,
      board,
      keys,
      scheduler: this.scheduler,
      counters,
      logger: silent,
      ...(restart ? { restart } : {}),
    });
    const fb: FleetBoard = { name, board, recovery, keys, counters, transport, life };
    this.boards.set(name, fb);
    return fb;
  }

  private async open(b: FleetBoard): Promise<void> {
    b.recovery.prepare();
    await b.board.start();
    b.recovery.linksUp();
  }
}

/** `inner`, with each received message delivered inside `guard` (a throw in a handler is caught and recorded). */
function guardedTransport(inner: Transport, guard: (fn: () => void) => void): Transport {
  const rx = new Subject<Received>();
  inner.received$.subscribe({ next: (r) => guard(() => rx.next(r)), complete: () => rx.complete() });
  return {
    self: inner.self,
    peers: inner.peers,
    received$: rx.asObservable(),
    state$: inner.state$,
    start: () => inner.start(),
    send: (p, b) => inner.send(p, b),
    broadcast: (b) => inner.broadcast(b),
    stats: () => inner.stats(),
    close: () => inner.close(),
  };
}

/** The counters worth printing next to a hold: rejections, refusals, recovery, drops. */
function interesting(c: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c).filter(([k]) =>
      /refused|rejected|rate|rebuild\.done|recovery|new-key|dropped|wait/.test(k),
    ),
  );
}
