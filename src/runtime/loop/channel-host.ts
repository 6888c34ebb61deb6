/**
 * One compute channel: takes the batches its co-located replica executes (an `ExecutedBatchSink`), turns each
 * into a frame's inputs, runs one step of its control-law implementation, and sends a MAC'd OUTPUT to the voter
 * (through its `OutputSink`).
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
import type { Prng } from '../../core/prng.ts';
import type { Scheduler } from '../scheduler.ts';
import { applyChannelFault, type ChannelFault, type FaultState } from './channel-fault.ts';
import { commandFields } from './command-codec.ts';
import type { Counters } from './counters.ts';
import { batchFrame } from './frame-inputs.ts';
import type { ChannelCommandTap, ExecutedBatch, ExecutedBatchSink, OutputSink } from './ports.ts';

export interface ChannelHostOptions {
  readonly id: number;
  readonly law: PitchLaw;
  readonly ring: KeyRing;
  readonly voterPrincipal: number;
  readonly unitCount: number;
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

export class ChannelHost implements ExecutedBatchSink {
  private lastFrame = -1;
  private fault: ChannelFault | undefined;
  private readonly faultState: FaultState = { stuckValue: undefined };
  private stopped = false;

  constructor(private readonly o: ChannelHostOptions) {}

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

  /** The BASE abstract state, to rebuild another channel (any implementation) from this one. */
  exportState(): { frame: number; state: AbstractState } {
    return { frame: this.lastFrame, state: this.o.law.exportState() };
  }

  importState(frame: number, state: AbstractState): void {
    this.o.law.importState(state);
    this.lastFrame = frame;
  }

  /** A committed batch, in sequence order, from the co-located replica. */
  executed(batch: ExecutedBatch): void {
    if (this.stopped) return;
    const bf = batchFrame(batch.requests, this.o.unitCount);
    if (bf === undefined) return;
    if (bf.malformed > 0) this.o.counters.add('channel.malformed-samples', bf.malformed);
    // A batch that only carries frames already computed (late samples) changes nothing.
    if (bf.frame <= this.lastFrame) {
      this.o.counters.add('channel.stale-batch');
      return;
    }
    if (bf.frame > this.lastFrame + 1 && this.lastFrame >= 0) {
      this.o.counters.add('channel.skipped-frames', bf.frame - this.lastFrame - 1);
    }
    this.lastFrame = bf.frame;
    const command = this.o.law.step(bf.inputs);
    const out = applyChannelFault(
      this.fault,
      bf.frame,
      command,
      this.faultState,
      this.o.rng,
      this.o.periodMs,
    );
    if (out === null) return;
    const frame = bf.frame;
    const bytes = this.encode(frame, out.command);
    const send = (): void => {
      if (this.stopped) return;
      this.o.commands?.channelCommand(this.o.id, frame, out.command);
      this.o.output.toVoter(bytes);
    };
    if (out.delayMs > 0) this.o.scheduler.at(this.o.scheduler.now() + out.delayMs, send);
    else send();
  }

  private encode(frame: number, command: Command): Uint8Array {
    const fields = commandFields(command);
    const unsigned: Output = { kind: 'output', frame, channel: this.o.id, ...fields, tag: new Uint8Array(0) };
    const tag = this.o.ring.tag(this.o.voterPrincipal, authPayload(unsigned));
    return encodeMessage({ ...unsigned, tag });
  }
}
