/**
 * The actuator interface unit: authenticates channel OUTPUTs (its `VoterInbox`), feeds the voter, and decides
 * each frame as soon as a majority agrees or at the frame's deadline, whichever comes first. The decision goes
 * to the `ActuatorPort`; strikes, latches and reintegrations to the `ChannelHealthSink`.
 *
 * @example
 * const voter = new VoterHost({ config, ring, scheduler, counters, log, actuator: { write: (d) => apply(d) } });
 * voter.armFrame(7);      // frame 7 starts: its deadline is armed
 * voter.output(message);  // an OUTPUT off the link
 */
import type { Logger } from 'pino';
import { authPayload } from '../../core/codec/encode.ts';
import type { Output } from '../../core/codec/messages.ts';
import type { Command } from '../../core/control/spec.ts';
import type { KeyRing } from '../../core/crypto/keyring.ts';
import { type ChannelEvent, Voter, type VoterConfig } from '../../core/vote/voter.ts';
import type { Scheduler } from '../scheduler.ts';
import { commandFromFields } from './command-codec.ts';
import type { Counters } from './counters.ts';
import type { ActuatorPort, ChannelHealthSink, VoterInbox } from './ports.ts';
import { principalOf } from './principals.ts';

export const channelName = (id: number): string => `c${id}`;

export interface VoterHostOptions {
  readonly config: VoterConfig<Command>;
  readonly ring: KeyRing;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly log: Logger;
  /** Where each frame's decision goes (absent: decided and counted, written nowhere). */
  readonly actuator?: ActuatorPort;
  /** Strikes, latches and reintegrations, including those found when an output is compared after a decision. */
  readonly health?: ChannelHealthSink;
}

export class VoterHost implements VoterInbox {
  private current: Voter<Command>;
  private ring: KeyRing;
  /** During a make-before-break restart: the old voter and ring, deciding the frames before `until`. */
  private leaving: { voter: Voter<Command>; ring: KeyRing; until: number } | undefined;
  private readonly channelIds: ReadonlySet<number>;

  constructor(private readonly o: VoterHostOptions) {
    this.current = new Voter(o.config);
    this.ring = o.ring;
    this.channelIds = new Set(o.config.channels.map((c) => Number(c.slice(1))));
  }

  /** The voter deciding now (the old one until a restart's switch frame, then the new one). */
  get voter(): Voter<Command> {
    return this.leaving?.voter ?? this.current;
  }

  /**
   * Make-before-break restart: a fresh voter (installed code, fresh keys) is built now and decides from the
   * frame after the one now open; the old voter, with its old keys, decides the open frame and then goes. The
   * new one starts holding what the old one holds. Returns the frame the new voter decides first.
   */
  reinstall(ring: KeyRing): number {
    const old = this.voter;
    const from = old.frame + 1;
    this.leaving = { voter: old, ring: this.leaving?.ring ?? this.ring, until: from };
    this.current = new Voter({ ...this.o.config, firstFrame: from, initial: old.current });
    this.ring = ring;
    return from;
  }

  private voterFor(frame: number): Voter<Command> {
    const l = this.leaving;
    return l !== undefined && frame < l.until ? l.voter : this.current;
  }

  /** Arm the deadline of `frame` (the rig calls this as each frame starts). */
  armFrame(frame: number): void {
    this.o.scheduler.at(this.voterFor(frame).deadlineOf(frame), () => {
      if (this.voterFor(frame).frame === frame) this.decide(frame);
    });
  }

  /** An OUTPUT off the link: authenticated here, then offered to the voter. */
  output(message: Output): void {
    if (!this.channelIds.has(message.channel)) {
      this.o.counters.add('voter.rejected.unknown-channel');
      return;
    }
    const voter = this.voterFor(message.frame);
    const from = principalOf.channel(message.channel);
    const payload = authPayload(message);
    // The old keys only for the old voter's last frame (tags made before the channel was rekeyed).
    const authentic =
      this.ring.verify(from, payload, message.tag) ||
      (voter !== this.current && this.leaving!.ring.verify(from, payload, message.tag));
    if (!authentic) {
      this.o.counters.add('voter.rejected.bad-mac');
      return;
    }
    const command = commandFromFields(message.discrete, message.analog);
    if (command === undefined) {
      this.o.counters.add('voter.rejected.malformed');
      return;
    }
    const now = this.o.scheduler.now();
    const result = voter.offer(message.frame, channelName(message.channel), command, now);
    if (!result.accepted) {
      this.o.counters.add(`voter.rejected.${result.reason}`);
      return;
    }
    if (result.status === 'monitored') {
      this.report(result.events);
      return;
    }
    if (result.majorityReady && message.frame === voter.frame) this.decide(message.frame);
  }

  private decide(frame: number): void {
    const voter = this.voterFor(frame);
    const record = voter.decide(frame, this.o.scheduler.now());
    if (this.leaving !== undefined && voter === this.leaving.voter && frame + 1 >= this.leaving.until) {
      this.leaving = undefined; // the old voter's last frame is decided: it lets go of the actuator
      this.o.counters.add('voter.handed-over');
    }
    this.o.counters.add(`voter.${record.kind}`);
    this.report(record.events);
    this.o.actuator?.write(record);
  }

  private report(events: readonly ChannelEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) {
      if (e.kind !== 'strike') this.o.log.warn({ channel: e.channel, frame: e.frame }, `channel ${e.kind}`);
    }
    this.o.health?.channelEvents(events);
  }
}
