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
import type { AbstractState, Command, PitchLaw } from '../../core/control/spec.ts';
import type { KeyRing } from '../../core/crypto/keyring.ts';
import {
  type FrameInputsConfig,
  FrameInputsMachine,
  type FrameInputsState,
  type UnitHealth,
} from '../../core/frame/inputs.ts';
import type { Prng } from '../../core/prng.ts';
import type { InputEvent } from '../../core/vote/input-voter.ts';
import type { Scheduler } from '../scheduler.ts';
import { applyChannelFault, type ChannelFault, type FaultState } from './channel-fault.ts';
import { commandFields } from './command-codec.ts';
import type { Counters } from './counters.ts';
import type { ChannelCommandTap, ExecutedBatch, ExecutedBatchSink, OutputSink } from './ports.ts';

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
}

/** The state a rebuilt channel takes from a peer (BASE): the law's abstract state and the input machine's. */
export interface ChannelState {
  readonly frame: number;
  readonly state: AbstractState;
  readonly inputs: FrameInputsState;
}

export class ChannelHost implements ExecutedBatchSink {
  private inputs: FrameInputsMachine;
  private fault: ChannelFault | undefined;
  private readonly faultState: FaultState = { stuckValue: undefined };
  private stopped = false;

  constructor(private readonly o: ChannelHostOptions) {
    this.inputs = new FrameInputsMachine(o.inputs);
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
    const inputs = this.inputs.exportState();
    return { frame: inputs.lastFrame, state: this.o.law.exportState(), inputs };
  }

  importState(s: ChannelState): void {
    const machine = new FrameInputsMachine(this.o.inputs, s.inputs);
    this.o.law.importState(s.state);
    this.inputs = machine;
  }

  /** A committed batch, in sequence order, from the co-located replica. */
  executed(batch: ExecutedBatch): void {
    if (this.stopped) return;
    const out = this.inputs.step(batch.requests);
    this.reportInputs(out.events);
    // A batch that votes no frame (only stale or late samples, or no quorum of units) changes nothing.
    if (out.kind === 'none') {
      this.o.counters.add(`channel.no-frame.${out.reason}`);
      return;
    }
    if (out.skipped > 0) this.o.counters.add('channel.skipped-frames', out.skipped);
    if (out.how === 'resync') this.o.counters.add('channel.resync');
    const command = this.o.law.step(out.inputs);
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
    const tag = this.o.ring.tag(this.o.voterPrincipal, authPayload(unsigned));
    return encodeMessage({ ...unsigned, tag });
  }
}
