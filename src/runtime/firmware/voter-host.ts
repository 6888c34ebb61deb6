/**
 * The firmware unit in the role of VoterHost (src/runtime/loop/voter-host.ts): the same VoterInbox (the
 * channels' OUTPUT messages) and frame deadlines in, every decision to the same ActuatorPort and every channel
 * event to the same ChannelHealthSink, with the same counters. The voting itself happens in the C firmware (host
 * build or Cortex-M3 under QEMU); this side only forwards bytes with the time they arrived and converts the
 * answers.
 *
 * In 'sync' mode (a FIFO link) each call blocks until the unit answers, so under a VirtualScheduler the
 * decisions arrive at exactly the point the TypeScript voter would make them. In 'async' mode (real time)
 * they arrive when the unit's answer does.
 *
 * What the unit says is not trusted: an answer that does not convert is counted ('firmware.bad-response'), a
 * unit that stops answering is counted and left alone ('firmware.unit-failed'); nothing here throws on it.
 *
 * @example
 * const host = new FirmwareVoterHost({ config, unit, scheduler, counters, log, actuator });
 * board.roles.voter = host;          // VoterInbox: OUTPUT messages
 * host.armFrame(frame);              // at each frame start, as VoterHost.armFrame
 */
import { encodeMessage } from '../../core/codec/encode.ts';
import type { Output } from '../../core/codec/messages.ts';
import { type ChannelEvent, type ChannelHealth, frameDeadline } from '../../core/vote/voter.ts';
import type { VoterInbox } from '../loop/ports.ts';
import {
  reportChannelEvents,
  type VoterHangResult,
  VoterOutage,
  type VoterPorts,
} from '../loop/voter-host.ts';
import { offerCode } from './protocol.ts';
import { watchdogFrames } from './provision.ts';
import { channelEventOf, channelHealthOf, decisionRecordOf } from './record.ts';
import type { Answer, BootRecord, FirmwareUnit, Reply, Request } from './unit.ts';

/** `config` is the configuration the unit was provisioned from (provision.ts firmwareConfigForCommand). */
export interface FirmwareVoterHostOptions extends VoterPorts {
  readonly unit: FirmwareUnit;
  /**
   * Frames a hung unit stays down before its watchdog has reset it, in the rig's time, when `hang` is called
   * without a count. Default: the unit's watchdog in frames (provision.ts watchdogFrames: 5 at 50 Hz).
   */
  readonly hangFrames?: number;
  /** Prefix of the voter counters (default none: the names VoterHost uses; 'firmware.' beside a shadow). */
  readonly counterPrefix?: string;
  /** Real time a sync-mode hang waits for the unit's watchdog reset (default 30 s). */
  readonly resetTimeoutMs?: number;
}

export class FirmwareVoterHost implements VoterInbox {
  private readonly channels: readonly string[];
  private currentFrame = 0;
  private lastHealth: ChannelHealth[] = [];
  private readonly prefix: string;
  private readonly outage: VoterOutage;
  /** Boots seen when the current hang began (a later one is its reset). */
  private bootsAtHang = 0;
  private failed = false;

  constructor(private readonly o: FirmwareVoterHostOptions) {
    this.channels = o.config.channels;
    this.prefix = o.counterPrefix ?? '';
    this.outage = new VoterOutage(o.counters, o.events);
  }

  /** Deadline of a frame, in scheduler time (as Voter.deadlineOf). */
  deadlineOf(frame: number): number {
    return frameDeadline(this.o.config.timing, frame);
  }

  /** Whether the unit is down (hung, resetting) or has stopped answering. */
  get down(): boolean {
    return this.failed || this.outage.down;
  }

  /** Arm the deadline of `frame` (the rig calls this as each frame starts). */
  armFrame(frame: number): void {
    this.currentFrame = frame;
    if (this.outage.frameStarted(frame, () => this.resetSeen())) return;
    this.o.scheduler.at(this.deadlineOf(frame), () => {
      if (this.down) return;
      this.ask({ type: 'tick', time: this.o.scheduler.now(), frame });
    });
  }

  /** A decoded OUTPUT (the board decoded it): re-encoded, byte-identical as the codec is canonical. */
  output(message: Output): void {
    this.onBytes(encodeMessage(message));
  }

  /** The bytes of a network message as received (a rig that forwards without decoding). */
  onBytes(bytes: Uint8Array): void {
    if (this.down) {
      this.o.counters.add(`${this.prefix}voter.dropped-while-down`);
      return;
    }
    this.ask({ type: 'deliver', time: this.o.scheduler.now(), message: bytes });
  }

  /**
   * Make the unit hang in its frame loop now, in frame `frame` (default: the frame armed last), as a test build's
   * scenario fault. Its watchdog resets it; it hears nothing for the rest of that frame and the next `frames`
   * frames (a UART overruns), and is back when frame `frame + frames + 1` starts, once its BOOT after the reset
   * has been seen. In sync mode this waits
   * (real time) for that BOOT here, so that the reset has happened before virtual time moves on.
   */
  hang(
    frames = this.o.hangFrames ?? watchdogFrames(this.o.config),
    frame = this.currentFrame,
  ): VoterHangResult {
    if (!this.o.unit.testHooks)
      return { applied: false, reason: 'the firmware was built without test hooks (no HANG request)' };
    if (this.down) return { applied: false, reason: 'the firmware voter is already down' };
    this.bootsAtHang = this.o.unit.boots.length;
    this.o.unit.send({ type: 'hang' });
    let detail = `firmware ${this.o.unit.target} hung in its frame loop at frame ${frame} (HANG)`;
    if (this.o.unit.mode === 'sync') {
      const boot = this.o.unit.waitBootSync(this.o.resetTimeoutMs ?? 30_000);
      if (boot === undefined) {
        this.fail('no watchdog reset after HANG');
        return { applied: true, detail: `${detail}; its watchdog never reset it` };
      }
      detail += `; the watchdog reset it (boot ${boot.bootCount}, cause ${boot.resetCause}), back after ${frames} frames`;
    }
    this.outage.begin(frame, frames, detail);
    return { applied: true, detail };
  }

  /** Channel health as the unit last reported it (sync: asked now; async: the last answer, and asks again). */
  health(): readonly ChannelHealth[] {
    if (this.down) return this.lastHealth;
    const take = (r: Answer): void => {
      if (r !== 'lost' && r.type === 'status')
        this.lastHealth = channelHealthOf(r.status.channels, this.channels);
    };
    if (this.o.unit.mode === 'sync') {
      const r = this.requestSync({ type: 'status' });
      if (r !== undefined) this.guard(() => take(r));
    } else {
      void this.o.unit.request({ type: 'status' }).then((r) => this.guard(() => take(r)));
    }
    return this.lastHealth;
  }

  /** Called by the unit's onBoot (wire it when starting the unit): a restart is logged and counted. */
  onBoot(boot: BootRecord): void {
    if (boot.resetCause === 'watchdog') {
      this.o.counters.add('firmware.watchdog-boot');
      this.o.log.warn({ bootCount: boot.bootCount }, 'firmware voter reset by its watchdog');
    }
    if (boot.provision !== 'ok')
      this.o.log.error({ provision: boot.provision }, 'firmware voter not provisioned');
  }

  /**
   * The reset event's detail when the unit is back: its BOOT since the hang. In async mode a BOOT not heard yet
   * (virtual time ran ahead of the unit's real one) does not keep it down: what the link holds by then is
   * answered by the rebooted unit, as bytes waiting on a UART would be.
   */
  private resetSeen(): string | undefined {
    const boot = this.o.unit.boots[this.bootsAtHang];
    const target = `firmware ${this.o.unit.target}`;
    if (boot !== undefined)
      return `${target} reset by its watchdog (boot ${boot.bootCount}, cause ${boot.resetCause})`;
    return this.o.unit.mode === 'async'
      ? `${target}: watchdog reset under way (its BOOT not heard yet)`
      : undefined;
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    this.o.counters.add('firmware.unit-failed');
    this.o.log.error({ why, diagnostics: this.o.unit.diagnostics() }, 'firmware voter stopped answering');
  }

  private requestSync(r: Request): Answer | undefined {
    try {
      return this.o.unit.requestSync(r);
    } catch (e) {
      this.fail((e as Error).message);
      return undefined;
    }
  }

  private ask(r: Request): void {
    if (this.o.unit.mode === 'sync') {
      const a = this.requestSync(r);
      if (a !== undefined) this.answer(a);
    } else void this.o.unit.request(r).then((a) => this.answer(a));
  }

  private answer(a: Answer): void {
    if (a === 'lost') {
      this.o.counters.add('firmware.request-lost');
      return;
    }
    this.guard(() => this.handle(a));
  }

  /** A unit's answer that does not convert is a faulty unit's: counted, never thrown into the loop. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.o.counters.add('firmware.bad-response');
      this.o.log.error({ err: (e as Error).message }, 'firmware answer refused');
    }
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
      if (code.kind === 'buffered' && r.ready && r.decision === null) {
        // Declined (voter.ts: DeclinedDecision): closeDue judged earlier frames, sent as JUDGMENT frames.
        this.o.counters.add(`${this.prefix}voter.declined`);
        this.report(r.judgmentFrames.flatMap((j) => j.events.map((e) => channelEventOf(e, this.channels))));
      }
    }
    if ((r.type === 'offer' || r.type === 'tick') && r.decision !== null) {
      // An offer's judgments belong to the decision when it made one (a buffered output never fixes a frame).
      const record = decisionRecordOf(r.decision, r.judgmentFrames, this.channels);
      this.o.counters.add(`${this.prefix}voter.${record.kind}`);
      this.report(record.events);
      this.o.actuator?.write(record);
      this.outage.decided(record);
    }
  }

  private report(events: readonly ChannelEvent[]): void {
    reportChannelEvents(events, this.o.log, this.o.health);
  }
}
