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
  readonly voter: Voter<Command>;
  private readonly channelIds: ReadonlySet<number>;

  constructor(private readonly o: VoterHostOptions) {
    this.voter = new Voter(o.config);
    this.channelIds = new Set(o.config.channels.map((c) => Number(c.slice(1))));
  }

  /** Arm the deadline of `frame` (the rig calls this as each frame starts). */
  armFrame(frame: number): void {
    this.o.scheduler.at(this.voter.deadlineOf(frame), () => {
      if (this.voter.frame === frame) this.decide(frame);
    });
  }

  /** An OUTPUT off the link: authenticated here, then offered to the voter. */
  output(message: Output): void {
    if (!this.channelIds.has(message.channel)) {
      this.o.counters.add('voter.rejected.unknown-channel');
      return;
    }
    if (!this.o.ring.verify(principalOf.channel(message.channel), authPayload(message), message.tag)) {
      this.o.counters.add('voter.rejected.bad-mac');
      return;
    }
    const command = commandFromFields(message.discrete, message.analog);
    if (command === undefined) {
      this.o.counters.add('voter.rejected.malformed');
      return;
    }
    const now = this.o.scheduler.now();
    const result = this.voter.offer(message.frame, channelName(message.channel), command, now);
    if (!result.accepted) {
      this.o.counters.add(`voter.rejected.${result.reason}`);
      return;
    }
    if (result.status === 'monitored') {
      this.report(result.events);
      return;
    }
    if (result.majorityReady && message.frame === this.voter.frame) this.decide(message.frame);
  }

  private decide(frame: number): void {
    const record = this.voter.decide(frame, this.o.scheduler.now());
    if (record.kind === 'declined') {
      // closeDue latched an early supporter: the frame is no longer ready, its deadline decides it.
      this.o.counters.add('voter.declined');
      this.report(record.events);
      return;
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
