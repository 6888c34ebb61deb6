/**
 * The firmware unit in the role of VoterHost (src/runtime/loop/voter-host.ts): the same VoterInbox (the
 * channels' OUTPUT messages) and frame deadlines in, every decision to the same ActuatorPort and every channel
 * event to the same ChannelHealthSink, with the same counters. The voting itself happens in the C firmware (host build or Cortex-M3
 * under QEMU); this side only forwards bytes with the time they arrived and converts the answers.
 *
 * In 'sync' mode (a FIFO link) each call blocks until the unit answers, so under a VirtualScheduler the
 * decisions arrive at exactly the point the TypeScript voter would make them. In 'async' mode (real time)
 * they arrive when the unit's answer does.
 *
 * @example
 * const host = new FirmwareVoterHost({ config, unit, scheduler, counters, log, actuator });
 * board.roles.voter = host;          // VoterInbox: OUTPUT messages
 * host.armFrame(frame);              // at each frame start, as VoterHost.armFrame
 */
import type { Logger } from 'pino';
import { encodeMessage } from '../../core/codec/encode.ts';
import type { Output } from '../../core/codec/messages.ts';
import type { Command } from '../../core/control/spec.ts';
import type { ChannelEvent, ChannelHealth, VoterConfig } from '../../core/vote/voter.ts';
import type { Counters } from '../loop/counters.ts';
import type { ActuatorPort, ChannelHealthSink, VoterInbox } from '../loop/ports.ts';
import type { Scheduler } from '../scheduler.ts';
import { offerCode } from './protocol.ts';
import { channelEventOf, channelHealthOf, decisionRecordOf } from './record.ts';
import type { Answer, BootRecord, FirmwareUnit, Reply, Request } from './unit.ts';

export interface FirmwareVoterHostOptions {
  /** The configuration the unit was provisioned from (provision.ts firmwareConfigForCommand). */
  readonly config: VoterConfig<Command>;
  readonly unit: FirmwareUnit;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly log: Logger;
  /** Where each frame's decision goes (absent: decided and counted, written nowhere). */
  readonly actuator?: ActuatorPort;
  /** Strikes, latches and reintegrations, including those found when an output is compared after a decision. */
  readonly health?: ChannelHealthSink;
  /**
   * Frames a hung unit stays down before its watchdog has reset it, in the rig's time (sync mode: virtual
   * time cannot see the real reset take time). Default: the watchdog timeout of the Cortex-M3 build, 2 s.
   */
  readonly hangFrames?: number;
  /** Prefix of the voter counters (default none: the names VoterHost uses; 'firmware.' beside a shadow). */
  readonly counterPrefix?: string;
}

export class FirmwareVoterHost implements VoterInbox {
  private readonly channels: readonly string[];
  /** While set, the unit is hung: nothing reaches it (a UART overruns) until this frame. */
  private downUntilFrame = -1;
  private currentFrame = 0;
  private lastHealth: ChannelHealth[] = [];
  private readonly prefix: string;

  constructor(private readonly o: FirmwareVoterHostOptions) {
    this.channels = o.config.channels;
    this.prefix = o.counterPrefix ?? '';
  }

  /** Deadline of a frame, in scheduler time (voter.ts deadlineOf). */
  deadlineOf(frame: number): number {
    const t = this.o.config.timing;
    return t.origin + frame * t.period + t.deadline;
  }

  /** Arm the deadline of `frame` (the rig calls this as each frame starts). */
  armFrame(frame: number): void {
    this.currentFrame = frame;
    this.o.scheduler.at(this.deadlineOf(frame), () => {
      if (this.isDown(frame)) return;
      this.ask({ type: 'tick', time: this.o.scheduler.now(), frame });
    });
  }

  /** A decoded OUTPUT (the board decoded it): re-encoded, byte-identical as the codec is canonical. */
  output(message: Output): void {
    this.onBytes(encodeMessage(message));
  }

  /** The bytes of a network message as received (a rig that forwards without decoding). */
  onBytes(bytes: Uint8Array): void {
    if (this.isDown(this.currentFrame)) {
      this.o.counters.add('firmware.dropped-while-down');
      return;
    }
    this.ask({ type: 'deliver', time: this.o.scheduler.now(), message: bytes });
  }

  /**
   * Make the unit hang in its frame loop now (test builds: a scenario fault). Its watchdog resets it; it hears
   * nothing for the rest of the current frame and the next `hangFrames` frames (a UART overruns), and is back
   * when frame current + hangFrames + 1 starts. In sync mode this waits (real time) for the reset here.
   */
  hang(): void {
    const frames = this.o.hangFrames ?? Math.ceil(2 / (this.o.config.timing.period / 1000));
    this.downUntilFrame = this.currentFrame + frames + 1;
    this.o.counters.add('firmware.hang-injected');
    this.o.unit.send({ type: 'hang' });
    if (this.o.unit.mode === 'sync') void this.o.unit.waitBootSync(30_000);
  }

  /** Channel health as the unit last reported it (sync: asked now). */
  health(): readonly ChannelHealth[] {
    if (this.o.unit.mode === 'sync') {
      const r = this.o.unit.requestSync({ type: 'status' });
      if (r !== 'lost' && r.type === 'status')
        this.lastHealth = channelHealthOf(r.status.channels, this.channels);
    } else {
      void this.o.unit.request({ type: 'status' }).then((r) => {
        if (r !== 'lost' && r.type === 'status')
          this.lastHealth = channelHealthOf(r.status.channels, this.channels);
      });
    }
    return this.lastHealth;
  }

  /** Called by the unit's onBoot (wire it when starting the unit): a restart is logged and counted. */
  onBoot(boot: BootRecord): void {
    if (boot.resetCause === 'watchdog') {
      this.o.counters.add('firmware.watchdog-reset');
      this.o.log.warn({ bootCount: boot.bootCount }, 'firmware voter reset by its watchdog');
    }
    if (boot.provision !== 'ok')
      this.o.log.error({ provision: boot.provision }, 'firmware voter not provisioned');
  }

  private isDown(frame: number): boolean {
    if (frame < this.downUntilFrame) return true;
    this.downUntilFrame = -1;
    return false;
  }

  private ask(r: Request): void {
    if (this.o.unit.mode === 'sync') this.answer(this.o.unit.requestSync(r));
    else void this.o.unit.request(r).then((a) => this.answer(a));
  }

  private answer(a: Answer): void {
    if (a === 'lost') {
      this.o.counters.add('firmware.request-lost');
      return;
    }
    this.handle(a);
  }

  private handle(r: Reply): void {
    if (r.type === 'error') {
      this.o.counters.add(`firmware.error.${r.error}`);
      return;
    }
    if (r.type === 'offer') {
      const code = offerCode(r.code);
      if (code.kind === 'voter-rejected') this.o.counters.add(`${this.prefix}voter.rejected.${code.reason}`);
      else if (code.kind === 'decode-rejected')
        this.o.counters.add(`${this.prefix}board.rejected.${code.reason}`);
      if (r.events.length > 0) this.report(r.events.map((e) => channelEventOf(e, this.channels)));
    }
    if ((r.type === 'offer' || r.type === 'tick') && r.decision !== null) {
      // An offer's judgments belong to the decision when it made one (a buffered output never fixes a frame).
      const record = decisionRecordOf(r.decision, r.judgmentFrames, this.channels);
      this.o.counters.add(`${this.prefix}voter.${record.kind}`);
      this.report(record.events);
      this.o.actuator?.write(record);
    }
  }

  private report(events: readonly ChannelEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) {
      if (e.kind !== 'strike') this.o.log.warn({ channel: e.channel, frame: e.frame }, `channel ${e.kind}`);
    }
    this.o.health?.channelEvents(events);
  }
}
