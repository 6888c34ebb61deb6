/**
 * One compute channel: takes the batches its co-located replica executes (an `ExecutedBatchSink`), turns each
 * into a frame's law inputs by voting the input units' samples (src/core/frame/inputs.ts: the frame number by
 * a quorum of units inside the window, then stick and pitch by mid-value select with per-unit strikes and
 * latching), runs one step of its control-law implementation, and sends a MAC'd OUTPUT to the voter (through
 * its `OutputSink`). Every channel runs the same machine on the same batches, so all derive the same inputs
 * and the same unit health.
 *
 * @example
 * const channel = new ChannelHost({ id: 0, law, ring, output: { toVoter: (b) => board.send('aiu', b) }, ... });
 * replicaHost = new ReplicaHost({ ..., batches: channel });
 */
import type { Logger } from 'pino';
import { authPayload, encodeMessage } from '../../core/codec/encode.ts';
import type { Output } from '../../core/codec/messages.ts';
import type { Command, PitchLaw } from '../../core/control/spec.ts';
import type { KeyRing } from '../../core/crypto/keyring.ts';
import { type FrameInputsConfig, FrameInputsMachine, type UnitHealth } from '../../core/frame/inputs.ts';
import type { Prng } from '../../core/prng.ts';
import type { InputEvent } from '../../core/vote/input-voter.ts';
import type { Scheduler } from '../scheduler.ts';
import { applyChannelFault, type ChannelFault, type FaultState } from './channel-fault.ts';
import { type ChannelState, channelStateOf } from './channel-state.ts';
import { commandFields } from './command-codec.ts';
import type { Counters } from './counters.ts';
import type {
  CertifiedStateSink,
  ChannelCommandTap,
  ExecutedBatch,
  ExecutedBatchSink,
  OutputSink,
} from './ports.ts';

export interface ChannelHostOptions {
  readonly id: number;
  readonly law: PitchLaw;
  readonly ring: KeyRing;
  readonly voterPrincipal: number;
  /** How batches become law inputs: the input units, the frame window, the input voter. */
  readonly inputs: FrameInputsConfig;
  readonly periodMs: number;
  readonly scheduler: Scheduler;
  readonly rng: Prng;
  readonly counters: Counters;
  readonly log: Logger;
  /** Where the encoded OUTPUT goes: the voter's board. */
  readonly output: OutputSink;
  /** Sees every command sent to the voter (after any injected fault), when it is sent. */
  readonly commands?: ChannelCommandTap;
  /** Keep the abstract state after each batch for rebuilding peers (proactive recovery on). Default false. */
  readonly stateHistory?: boolean;
}

export type { ChannelState } from './channel-state.ts';

/** Abstract states kept for peers that rebuild (one per executed batch, newest last). */
export const STATE_HISTORY = 16;
/** Committed batches a rebuilding channel holds until its abstract state arrives (about 10 s at 50 Hz). */
export const MAX_REBUILD_BUFFER = 512;

export class ChannelHost implements ExecutedBatchSink, CertifiedStateSink {
  private inputs: FrameInputsMachine;
  private law: PitchLaw;
  private ring: KeyRing;
  private fault: ChannelFault | undefined;
  private faultState: FaultState = { stuckValue: undefined };
  private stopped = false;
  /** The abstract state after each of the last executed batches (what a rebuilding peer asks for). */
  private history: { seq: number; state: ChannelState }[] = [];
  /** Restarted and not yet rebuilt: committed batches wait here (bounded), nothing goes to the voter. */
  private rebuild: { buffer: ExecutedBatch[]; skipThrough: number } | undefined;
  /** The certified state that ended the last rebuild (undefined: none since the restart). */
  private certifiedRebuild: { seq: number; replayed: number } | undefined;
  /** The seq of the last batch this channel's state includes (undefined before the first). */
  private lastSeq: number | undefined;
  /** After a gap: the batches executed since (the last STATE_HISTORY), until a resync (undefined: none). */
  private resync: ExecutedBatch[] | undefined;

  constructor(private readonly o: ChannelHostOptions) {
    this.inputs = new FrameInputsMachine(o.inputs);
    this.law = o.law;
    this.ring = o.ring;
  }

  /** Restarted from the installed code: a fresh law object and input machine, no fault, waiting to rebuild. */
  reinstall(law: PitchLaw, ring: KeyRing): void {
    this.law = law;
    this.ring = ring;
    this.inputs = new FrameInputsMachine(this.o.inputs);
    this.fault = undefined;
    this.faultState = { stuckValue: undefined };
    this.history = [];
    this.rebuild = { buffer: [], skipThrough: 0 };
    this.lastSeq = undefined;
    this.resync = undefined;
    this.certifiedRebuild = undefined;
    this.stopped = false;
  }

  /** The checkpoint state that rebuilt this channel since its restart, if that is how it was rebuilt. */
  get rebuiltByCheckpoint(): { seq: number; replayed: number } | undefined {
    return this.certifiedRebuild;
  }

  /** Whether the channel waits for its abstract state (after `reinstall`). */
  get rebuilding(): boolean {
    return this.rebuild !== undefined;
  }

  /** The abstract states this channel offers to a rebuilding peer, oldest first (none while rebuilding). */
  stateHistory(): readonly { seq: number; state: ChannelState }[] {
    return this.rebuilding || this.stopped ? [] : this.history;
  }

  /**
   * The seq range a rebuild can start from: the state after batch s is usable when the batches after s are
   * all buffered here or still to come (s >= first buffered - 1). Undefined until a batch arrived.
   */
  rebuildFloor(): number | undefined {
    const first = this.rebuild?.buffer[0];
    return first === undefined ? undefined : first.seq - 1;
  }

  /**
   * BASE rebuild: take the abstract state chosen after batch `seq` (f+1 peers matched it), then replay the
   * buffered committed batches after `seq` (law steps only: their frames are past, nothing is sent). Returns
   * the batches replayed.
   */
  rebuildFrom(seq: number, state: ChannelState): number {
    const r = this.rebuild;
    if (r === undefined) return 0;
    this.importState(state);
    this.rebuild = undefined;
    let replayed = 0;
    for (const b of r.buffer) {
      if (b.seq <= seq) continue;
      this.run(b, false);
      replayed++;
    }
    this.skipThrough = seq;
    this.lastSeq = Math.max(seq, r.buffer.at(-1)?.seq ?? seq);
    this.o.log.info({ seq, replayed }, 'channel rebuilt from abstract state');
    return replayed;
  }

  private skipThrough = 0;

  /**
   * The co-located replica restored a checkpoint by state transfer: `state` is the reference abstract state
   * after batch `seq`, certified by the checkpoint's 2f+1 signatures (service.ts keeps it in every checkpoint).
   * The replica never executes the batches up to `seq`, so without this the channel would see a gap; with it the
   * channel takes the state (converted into its own implementation's) and goes on from `seq + 1` with nothing
   * missing: a restarted channel is rebuilt without asking any peer, and one whose replica fell behind stays
   * verified. Called during the replica's step, before it hands over the batches after `seq`; batches at or
   * below `seq` handed over after it are already in the state and ignored.
   */
  certified(seq: number, state: ChannelState): void {
    if (this.stopped) return;
    // The replica restores only forward, so a running channel is always behind `seq` here; a state for a batch
    // it has already run would take it back.
    if (this.rebuild === undefined && this.lastSeq !== undefined && this.lastSeq >= seq) return;
    const wasRebuilding = this.rebuild !== undefined;
    const buffered = this.rebuild?.buffer ?? [];
    this.importState(state);
    this.rebuild = undefined;
    this.resync = undefined;
    this.skipThrough = seq;
    this.lastSeq = seq;
    this.history = [];
    this.remember(seq);
    let replayed = 0;
    for (const b of buffered) {
      if (b.seq !== this.lastSeq + 1) continue;
      this.run(b, false);
      this.lastSeq = b.seq;
      replayed++;
    }
    if (wasRebuilding) this.certifiedRebuild = { seq, replayed };
    this.o.counters.add('channel.certified-state');
    this.o.log.info({ seq, replayed }, "channel took the certified state of its replica's checkpoint");
  }

  get id(): number {
    return this.o.id;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Make this channel Byzantine from `fault.fromFrame` on. */
  inject(fault: ChannelFault): void {
    this.fault = fault;
    this.faultState.stuckValue = undefined;
    this.o.log.info({ fault }, 'fault injected');
  }

  /** The channel is correct again (the board was repaired or restarted). */
  clearFault(): void {
    this.fault = undefined;
    this.o.log.info('fault cleared');
  }

  stop(): void {
    this.stopped = true;
  }

  /** The input units' health as this channel's input voter judges it (the same on every channel). */
  inputHealth(): UnitHealth[] {
    return this.inputs.health();
  }

  /** The BASE abstract state, to rebuild another channel (any implementation) from this one. */
  exportState(): ChannelState {
    return channelStateOf(this.inputs, this.law);
  }

  importState(s: ChannelState): void {
    const machine = new FrameInputsMachine(this.o.inputs, s.inputs);
    this.law.importState(s.state);
    this.inputs = machine;
  }

  /** A committed batch, in sequence order, from the co-located replica. */
  executed(batch: ExecutedBatch): void {
    if (this.stopped) return;
    const r = this.rebuild;
    if (r !== undefined) {
      // The co-located replica jumped ahead by state transfer: the batches it skipped never reach this buffer,
      // so a state from before the jump could not be replayed to now. Buffer afresh from here.
      const last = r.buffer.at(-1);
      if (last !== undefined && batch.seq !== last.seq + 1) {
        r.buffer = [];
        this.o.counters.add('channel.rebuild-buffer-gap');
      }
      if (r.buffer.length >= MAX_REBUILD_BUFFER) {
        r.buffer.shift();
        this.o.counters.add('channel.rebuild-buffer-dropped');
      }
      r.buffer.push(batch);
      return;
    }
    if (batch.seq <= this.skipThrough) return; // already in the abstract state this channel was rebuilt from
    if (this.o.stateHistory === true && this.lastSeq !== undefined && batch.seq > this.lastSeq + 1)
      this.onGap(batch);
    this.lastSeq = batch.seq;
    if (this.resync !== undefined) {
      this.resync.push(batch);
      if (this.resync.length > STATE_HISTORY) this.resync.shift();
    }
    this.run(batch, true);
  }

  /**
   * The co-located replica jumped ahead by state transfer (it fell behind: a loaded host, a stall, a partition):
   * the batches in between never reached this channel, so its state lacks them. It flies on (its outputs go to
   * the voter, which judges them as ever; the law's state converges with its peers' in the closed loop), but
   * its abstract state may no longer equal theirs, and a restarted channel could then never find f+1 matching
   * states (a soak under load had one channel waiting for ever, its two peers' input-voter states differing
   * after such a jump). So it resyncs: it asks its peers, as a rebuilding channel does, and takes a state f+1 of
   * them agree on for one of its last batches, replaying the batches since (resyncFrom). Going silent to
   * rebuild instead was tried: with another channel restarting at the time, two channels had no state and none
   * could be rebuilt. Only with proactive recovery on (stateHistory): the peers keep the states to give.
   */
  private onGap(batch: ExecutedBatch): void {
    this.o.counters.add('channel.gap');
    this.o.log.warn(
      { from: this.lastSeq, to: batch.seq },
      'replica skipped batches: channel resyncs its state from its peers',
    );
    this.resync = [];
  }

  /** Whether the channel flies on a state that may lack batches (after a gap) and asks its peers for theirs. */
  get unverified(): boolean {
    return this.resync !== undefined;
  }

  /** The seqs a resync can take a peer's state at: [floor, last executed] (undefined: not resyncing). */
  resyncRange(): { floor: number; last: number } | undefined {
    const r = this.resync;
    if (r === undefined || this.lastSeq === undefined) return undefined;
    return { floor: (r[0]?.seq ?? this.lastSeq + 1) - 1, last: this.lastSeq };
  }

  /**
   * Take the state f+1 peers agree on after batch `seq` (in resyncRange) and replay this channel's batches since
   * (law steps only: their outputs were sent already). Returns the batches replayed, or undefined when `seq` is
   * out of range.
   */
  resyncFrom(seq: number, state: ChannelState): number | undefined {
    const range = this.resyncRange();
    const r = this.resync;
    if (range === undefined || r === undefined || seq < range.floor || seq > range.last) return undefined;
    this.importState(state);
    this.resync = undefined;
    this.history = [{ seq, state }];
    let replayed = 0;
    for (const b of r) {
      if (b.seq <= seq) continue;
      this.run(b, false);
      replayed++;
    }
    this.o.log.info({ seq, replayed }, 'channel resynced from abstract state');
    return replayed;
  }

  private run(batch: ExecutedBatch, live: boolean): void {
    const out = this.inputs.step(batch.requests);
    this.reportInputs(out.events);
    // A batch that votes no frame (only stale or late samples, or no quorum of units) changes nothing.
    if (out.kind === 'none') {
      this.o.counters.add(`channel.no-frame.${out.reason}`);
      this.remember(batch.seq);
      return;
    }
    if (out.skipped > 0) this.o.counters.add('channel.skipped-frames', out.skipped);
    if (out.how === 'resync') this.o.counters.add('channel.resync');
    const command = this.law.step(out.inputs);
    this.remember(batch.seq);
    if (!live) return;
    const frame = out.frame;
    const faulty = applyChannelFault(
      this.fault,
      frame,
      command,
      this.faultState,
      this.o.rng,
      this.o.periodMs,
    );
    if (faulty === null) return;
    const bytes = this.encode(frame, faulty.command);
    const send = (): void => {
      if (this.stopped) return;
      this.o.commands?.channelCommand(this.o.id, frame, faulty.command);
      this.o.output.toVoter(bytes);
    };
    if (faulty.delayMs > 0) this.o.scheduler.at(this.o.scheduler.now() + faulty.delayMs, send);
    else send();
  }

  private remember(seq: number): void {
    if (this.o.stateHistory !== true) return;
    this.history.push({ seq, state: this.exportState() });
    if (this.history.length > STATE_HISTORY) this.history.shift();
  }

  private reportInputs(events: readonly InputEvent[]): void {
    for (const e of events) {
      if (e.kind === 'strike') continue;
      this.o.counters.add(`channel.input-${e.kind}`);
      this.o.log.warn({ unit: e.unit, field: e.field, frame: e.frame }, `input unit ${e.kind}`);
    }
  }

  private encode(frame: number, command: Command): Uint8Array {
    const fields = commandFields(command);
    const unsigned: Output = { kind: 'output', frame, channel: this.o.id, ...fields, tag: new Uint8Array(0) };
    const tag = this.ring.tag(this.o.voterPrincipal, authPayload(unsigned));
    return encodeMessage({ ...unsigned, tag });
  }
}
