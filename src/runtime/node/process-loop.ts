/**
 * The control loop seen from the one board that hosts the voter and the input units, with every other board in
 * its own process (`triplex node`) on real links. The rig runs here, next to the actuator:
 *
 * - channel outputs for the trace are the authentic OUTPUTs the voter receives (an actuator readback, not what a
 *   channel claims it sent);
 * - the view and primary are the highest view that f+1 replicas are in, as far as this board learns it: from the
 *   replica boards' statuses when they are this process's children (`RemoteBoards.replicaViews`; the input
 *   units read no REPLYs and get none, config.noReplyClients), and from authentic REPLYs if a group sends any;
 * - fault injection and crashes go through `RemoteBoards` when there is one (the parent of `triplex sim
 *   --processes` controls its children); a bench board has none and says so (`canInjectFaults` false).
 */
import type { Logger } from 'pino';
import { authPayload } from '../../core/codec/encode.ts';
import type { Message, Output, Reply } from '../../core/codec/messages.ts';
import type { UnitHealth } from '../../core/frame/inputs.ts';
import { Prng } from '../../core/prng.ts';
import type { ChannelHealth } from '../../core/vote/voter.ts';
import type { Transport } from '../../io/transport.ts';
import { ConfigError, type Topology } from '../config.ts';
import type { FirmwareVoterBoardOptions } from '../firmware/voter-board.ts';
import { Board, inputUnitBoard } from '../loop/board.ts';
import type { ChannelFault } from '../loop/channel-fault.ts';
import { commandFromFields } from '../loop/command-codec.ts';
import { Counters } from '../loop/counters.ts';
import type { InputFault } from '../loop/input-fault.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { type PlantPorts, plantPortsOf } from '../loop/ports.ts';
import { principalOf } from '../loop/principals.ts';
import { BoardRecovery } from '../recovery/board-recovery.ts';
import type { WireKeys } from '../recovery/wire-keys.ts';
import type { Scheduler } from '../scheduler.ts';
import type { ControlLoop, FrameSamples } from './control-loop.ts';

/** Control of the boards in other processes (fault injection, crashes, liveness). */
export interface RemoteBoards {
  injectChannelFault(board: string, fault: ChannelFault): boolean;
  clearChannelFault(board: string): boolean;
  crashBoard(board: string): boolean;
  alive(board: string): boolean;
  /** The input units' health, as the latest status of a channel board reports it. */
  inputHealth?(): readonly UnitHealth[];
  /** The view of each live replica board, as its latest status reports it, by board. */
  replicaViews?(): ReadonlyMap<string, number>;
}

export interface ProcessLoopOptions extends PlantPorts {
  readonly topology: Topology;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  readonly keys: BoardKeys;
  readonly logger: Logger;
  readonly seed: number;
  readonly remote?: RemoteBoards;
  /** How the rig board runs a firmware voter (voterImpl firmware-*; BoardOptions.firmware). */
  readonly firmware?: FirmwareVoterBoardOptions;
  /** Proactive recovery on the wire: `keys` are the rig board's rotating keys (answers the boards' NEW-KEYs). */
  readonly recovery?: { readonly keys: WireKeys };
}

/** The board that must host the rig: the voter's, which must also host every input unit. */
export function rigBoard(t: Topology): string {
  const board = t.voters[0]!.board;
  for (let u = 0; u < t.inputUnits; u++) {
    if (inputUnitBoard(t, u) !== board) {
      throw new ConfigError(
        t.file,
        'boards',
        `the rig runs on the voter's board '${board}', which must host every input unit (unit ${u} is on '${inputUnitBoard(t, u)}')`,
      );
    }
  }
  return board;
}

/** Frames whose output arrivals are kept at once (a channel sending far-future frames cannot fill memory). */
const MAX_ARRIVAL_FRAMES = 64;

export class ProcessLoop implements ControlLoop {
  readonly runtime: Board;
  readonly counters = new Counters();
  readonly periodMs: number;
  /** Latest authentic view each replica replied in. */
  private readonly replyViews: number[];
  private currentView = 0;
  /** Arrival of each frame's outputs, ms after its start (the frames in flight only). */
  private readonly arrivals = new Map<number, number[]>();
  private currentFrame = -1;
  readonly recovery: BoardRecovery | undefined;

  constructor(private readonly o: ProcessLoopOptions) {
    const t = o.topology;
    this.periodMs = 1000 / t.frameRateHz;
    this.replyViews = t.replicas.map(() => 0);
    this.runtime = new Board({
      topology: t,
      board: rigBoard(t),
      transport: o.transport,
      scheduler: o.scheduler,
      keys: o.keys,
      logger: o.logger,
      counters: this.counters,
      rng: new Prng(o.seed),
      ...(o.firmware ? { firmware: o.firmware } : {}),
      // The trace's channel commands come from the voter's inbox (tapRoles), not from a channel here.
      ...plantPortsOf({ ...o, channelCommands: undefined }),
    });
    this.tapRoles();
    this.recovery =
      o.recovery === undefined
        ? undefined
        : new BoardRecovery({
            topology: t,
            board: this.runtime,
            keys: o.recovery.keys,
            scheduler: o.scheduler,
            counters: this.counters,
            logger: o.logger,
          });
  }

  /**
   * Restart one of this board's roles in this process (an input unit, the voter), as the recovery coordinator
   * asks: its objects built afresh from the config, a fresh key epoch announced by NEW-KEY on the links. An input
   * unit stops first (break-before-make: its client continues above a timestamp floor); the voter is replaced
   * make-before-break. False when this board does not host it or its keys do not rotate.
   */
  restartLocalRole(kind: 'input' | 'voter', id: number): boolean {
    const keys = this.o.recovery?.keys;
    if (keys === undefined || this.recovery === undefined) return false;
    const principal = kind === 'input' ? principalOf.input(id) : principalOf.voter(id);
    if (kind === 'input' && !this.runtime.stopRole('input', id)) return false;
    // The voter takes tags under its old keys for a few frames (make-before-break: its peers switch when its
    // NEW-KEY reaches them); an input unit is one of several, its first sample under new keys may be lost.
    const newKey = keys.rotate(principal, 0, kind === 'voter' ? 4 * this.periodMs : 0);
    if (newKey === undefined) return false;
    const timestampFloor = Math.ceil(this.o.scheduler.now() / this.periodMs) + 2;
    const started = this.runtime.startRole(kind, id, { timestampFloor });
    this.recovery.announce(newKey);
    this.counters.add(`recovery.local-restart.${kind}`);
    return started;
  }

  get canInjectFaults(): boolean {
    return this.o.remote !== undefined;
  }

  async start(): Promise<void> {
    await this.runtime.start();
    this.recovery?.linksUp();
  }

  frameTime(frame: number): number {
    return frame * this.periodMs;
  }

  startFrame(frame: number, samples: FrameSamples): void {
    this.currentFrame = frame;
    this.runtime.startFrame(frame, samples);
  }

  view(): { view: number; primary: number } {
    this.learnViewsFromStatus();
    return { view: this.currentView, primary: this.currentView % this.o.topology.replicas.length };
  }

  injectChannelFault(channel: number, fault: ChannelFault): boolean {
    const board = this.o.topology.channels[channel]?.board;
    return board !== undefined && (this.o.remote?.injectChannelFault(board, fault) ?? false);
  }

  clearChannelFault(channel: number): boolean {
    const board = this.o.topology.channels[channel]?.board;
    return board !== undefined && (this.o.remote?.clearChannelFault(board) ?? false);
  }

  /** The input units run on this board: their faults are injected here, no control path needed. */
  injectInputFault(unit: number, fault: InputFault): boolean {
    return this.runtime.injectInputFault(unit, fault);
  }

  clearInputFault(unit: number): boolean {
    return this.runtime.clearInputFault(unit);
  }

  /** Replicas run in other processes: a behaviour cannot be injected from here (the event is recorded as not applied). */
  makeReplicaByzantine(): boolean {
    return false;
  }

  crashBoard(board: string): boolean {
    return this.o.remote?.crashBoard(board) ?? false;
  }

  channelRunning(channel: number): boolean {
    const board = this.o.topology.channels[channel]?.board;
    if (board === undefined) return false;
    // Without a control path, a channel that still reaches the voter counts as running.
    if (this.o.remote === undefined) return !(this.voterHealth()[channel]?.consecutiveSilent ?? 0);
    return this.o.remote.alive(board);
  }

  /** Channels run in other processes: their input voters' judgement comes with their status, when reachable. */
  inputHealth(): readonly UnitHealth[] {
    return this.o.remote?.inputHealth?.() ?? [];
  }

  outputArrivalMs(frame: number): readonly number[] | undefined {
    const a = this.arrivals.get(frame);
    // Read once per frame, as the frame is recorded: older frames go.
    for (const k of this.arrivals.keys()) if (k <= frame) this.arrivals.delete(k);
    return a === undefined ? [] : a.sort((x, y) => x - y);
  }

  voterHealth(): readonly ChannelHealth[] {
    return this.runtime.voter?.health() ?? [];
  }

  close(): Promise<void> {
    this.recovery?.stop();
    return this.runtime.close();
  }

  /** Wrap the voter's and the input units' inboxes to observe authentic outputs and replies on their way in. */
  private tapRoles(): void {
    const roles = this.runtime.board.roles;
    const voter = roles.voter;
    if (voter === undefined) throw new Error(`board '${this.runtime.name}' has no voter`);
    roles.voter = {
      output: (m) => {
        voter.output(m);
        this.observeOutput(m);
      },
    };
    const input = roles.input;
    if (input === undefined) throw new Error(`board '${this.runtime.name}' has no input units`);
    roles.input = {
      reply: (from, m, bytes, now) => {
        input.reply(from, m, bytes, now);
        this.observeReply(m);
      },
    };
  }

  private observeOutput(m: Output): void {
    const ring = this.o.keys.ring(principalOf.voter(0));
    if (!this.o.topology.channels[m.channel]) return;
    if (!ring.verify(principalOf.channel(m.channel), authPayload(m as Message), m.tag)) return;
    this.noteArrival(m.frame);
    const command = commandFromFields(m.discrete, m.analog);
    if (command !== undefined) this.o.channelCommands?.channelCommand(m.channel, m.frame, command);
  }

  /** An authentic output of `frame` arrived now; kept for frames in a window around the current one. */
  private noteArrival(frame: number): void {
    // Only frames in flight: a channel cannot fill the table with frames far from the current one.
    if (frame > this.currentFrame || frame < this.currentFrame - 2) return;
    if (this.arrivals.size >= MAX_ARRIVAL_FRAMES) return;
    const at = this.o.scheduler.now() - this.frameTime(frame);
    const list = this.arrivals.get(frame);
    if (list === undefined) this.arrivals.set(frame, [Number(at.toFixed(3))]);
    else if (list.length < this.o.topology.channels.length) list.push(Number(at.toFixed(3)));
  }

  /** The replica boards' statuses: each replica's latest view counts as if it had replied in it. */
  private learnViewsFromStatus(): void {
    const views = this.o.remote?.replicaViews?.();
    if (views === undefined) return;
    for (const r of this.o.topology.replicas) {
      const view = views.get(r.board);
      if (view !== undefined && view > this.replyViews[r.id]!) this.replyViews[r.id] = view;
    }
    this.raiseView();
  }

  private raiseView(): void {
    // The highest view at least f+1 replicas (so at least one correct one) are in.
    const sorted = [...this.replyViews].sort((a, b) => b - a);
    const view = sorted[this.o.topology.f]!;
    if (view > this.currentView) this.currentView = view;
  }

  private observeReply(m: Reply): void {
    const t = this.o.topology;
    const unit = m.client - principalOf.input(0);
    if (unit < 0 || unit >= t.inputUnits || m.replica >= t.replicas.length) return;
    const ring = this.o.keys.ring(m.client);
    if (!ring.verify(principalOf.replica(m.replica), authPayload(m as Message), m.tag)) return;
    if (m.view <= this.replyViews[m.replica]!) return;
    this.replyViews[m.replica] = m.view;
    this.raiseView();
  }
}
