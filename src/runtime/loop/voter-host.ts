/**
 * The actuator interface unit: authenticates channel OUTPUTs (its `VoterInbox`), feeds the voter, and decides
 * each frame as soon as a majority agrees or at the frame's deadline, whichever comes first. The decision goes
 * to the `ActuatorPort`; strikes, latches and reintegrations to the `ChannelHealthSink`.
 *
 * `VoterRole` is what a voter board's runtime holds: this TypeScript host, or the C firmware's
 * (src/runtime/firmware/voter-board.ts), with the same ports and the same decisions.
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
import {
  type ChannelEvent,
  type ChannelHealth,
  type DecisionRecord,
  Voter,
  type VoterConfig,
} from '../../core/vote/voter.ts';
import { RejoinFloor } from '../firmware/rejoin-floor.ts';
import type { Scheduler } from '../scheduler.ts';
import { commandFromFields } from './command-codec.ts';
import type { Counters } from './counters.ts';
import type { ActuatorPort, ChannelHealthSink, VoterEventTap, VoterInbox } from './ports.ts';
import { principalOf } from './principals.ts';

export const channelName = (id: number): string => `c${id}`;

/** Whether a voter could be made to hang (a scenario fault), and what was done. */
export type VoterHangResult =
  | { readonly applied: true; readonly detail: string }
  | { readonly applied: false; readonly reason: string };

/** The voter role of a board, whichever implementation runs it. */
export interface VoterRole extends VoterInbox {
  readonly config: VoterConfig<Command>;
  /** Which implementation decides (`ts`, `firmware-host`, `firmware-qemu`). */
  readonly impl: string;
  /** Arm the deadline of `frame` (the board calls this as each frame starts). */
  armFrame(frame: number): void;
  /** Each channel's health as the voter judges it, in channel order. */
  health(): readonly ChannelHealth[];
  /**
   * The voter's frame loop hangs now, in frame `frame` (default: the frame armed last), a scenario fault: it
   * decides nothing in that frame and the next `frames` frames, by then its watchdog has reset it; it knows
   * nothing and rejoins at the frame the board is in (the frames it never decided count as misses, so after
   * `failsafeAfterMisses` of them its first decision is the failsafe command).
   */
  hang(frames: number, frame?: number): VoterHangResult;
  /** Whether it is down (hung, or resetting) now. */
  readonly down: boolean;
  /**
   * Make-before-break restart with fresh keys (proactive recovery), keeping the voting state: the old keys verify
   * the frames up to the one open now until it is decided. Returns the first frame only the new keys verify, or
   * undefined when this implementation cannot.
   */
  reinstall(ring: KeyRing): number | undefined;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** What every voter role is given, whichever implementation runs it (this host, the firmware's, its board). */
export interface VoterPorts {
  readonly config: VoterConfig<Command>;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly log: Logger;
  /** Where each frame's decision goes (absent: decided and counted, written nowhere). */
  readonly actuator?: ActuatorPort;
  /** Strikes, latches and reintegrations, including those found when an output is compared after a decision. */
  readonly health?: ChannelHealthSink;
  /** The voter's own hang, reset and rejoin. */
  readonly events?: VoterEventTap;
}

export interface VoterHostOptions extends VoterPorts {
  readonly ring: KeyRing;
}

/**
 * Channel events out of a voter role: every one but a strike logged, all of them to the health sink. Shared by
 * the TypeScript and the firmware hosts.
 */
export function reportChannelEvents(
  events: readonly ChannelEvent[],
  log: Logger,
  health: ChannelHealthSink | undefined,
): void {
  if (events.length === 0) return;
  for (const e of events) {
    if (e.kind !== 'strike') log.warn({ channel: e.channel, frame: e.frame }, `channel ${e.kind}`);
  }
  health?.channelEvents(events);
}

/**
 * A hung voter as its board sees it: down from the hang until the frame its watchdog has reset it by; then
 * back, and its first decision says how it rejoined. Shared by the TypeScript and the firmware hosts.
 */
export class VoterOutage {
  private hungAt = -1;
  private backAt = -1;
  /** The frame it came back at, until its first decision of that frame or a later one (-1: none pending). */
  private rejoinFrom = -1;

  constructor(
    private readonly counters: Counters,
    private readonly events: VoterEventTap | undefined,
  ) {}

  /** Hung in frame `frame`, back when frame `frame + frames + 1` starts. */
  begin(frame: number, frames: number, detail: string): void {
    this.hungAt = frame;
    this.backAt = frame + Math.max(1, Math.round(frames)) + 1;
    this.rejoinFrom = -1;
    this.counters.add('voter.hang');
    this.events?.voterEvent({ kind: 'hung', frame, detail });
  }

  get down(): boolean {
    return this.backAt >= 0;
  }

  /**
   * Frame `frame` starts: true while still down. On the frame it is back, `reset` (when given) is asked whether
   * the reset really happened (the firmware's BOOT): its answer is the reset event's detail; undefined keeps it
   * down (no reset seen yet).
   */
  frameStarted(frame: number, reset: () => string | undefined): boolean {
    if (this.backAt < 0 || frame < this.backAt) return this.backAt >= 0;
    const detail = reset();
    if (detail === undefined) return true;
    this.events?.voterEvent({
      kind: 'reset',
      frame,
      detail: `${detail}; down for frames ${this.hungAt}-${frame - 1}`,
    });
    this.counters.add('voter.watchdog-reset');
    this.backAt = -1;
    this.rejoinFrom = frame;
    return false;
  }

  /**
   * A decision was made: the first one after a reset, of a frame since it came back, is the rejoin (an async
   * unit's answers about earlier frames can arrive later).
   */
  decided(record: DecisionRecord<Command>): void {
    if (this.rejoinFrom < 0 || record.frame < this.rejoinFrom) return;
    this.rejoinFrom = -1;
    this.events?.voterEvent({
      kind: 'rejoined',
      frame: record.frame,
      detail: `votes again from frame ${record.frame}: first decision ${record.kind} (${record.consecutiveMisses} consecutive misses)`,
    });
  }
}

export class VoterHost implements VoterRole {
  readonly impl = 'ts';
  private current: Voter<Command>;
  private ring: KeyRing;
  /** During a make-before-break restart: the old ring, still verifying the frames before `until`. */
  private leaving: { ring: KeyRing; until: number } | undefined;
  private readonly channelIds: ReadonlySet<number>;
  private readonly outage: VoterOutage;
  private frameNow = 0;
  /** After a watchdog reset: OUTPUTs from before it are refused (rejoin-floor.ts, the firmware's rule too). */
  private readonly rejoin = new RejoinFloor();

  constructor(private readonly o: VoterHostOptions) {
    this.current = new Voter(o.config);
    this.ring = o.ring;
    this.channelIds = new Set(o.config.channels.map((c) => Number(c.slice(1))));
    this.outage = new VoterOutage(o.counters, o.events);
  }

  /** The voter deciding now (a new one after a watchdog reset; the same one through a proactive restart). */
  get voter(): Voter<Command> {
    return this.current;
  }

  get config(): VoterConfig<Command> {
    return this.o.config;
  }

  get down(): boolean {
    return this.outage.down;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {}

  health(): readonly ChannelHealth[] {
    return this.voter.health();
  }

  /**
   * Make-before-break restart with fresh keys (proactive recovery): the new keys verify from now on, the old
   * ones still verify the frames up to the one open now (tagged before the channels took the new keys) until
   * that frame is decided. The voting state (health: strikes, latches, probation; receipts; the frame) carries
   * over, as the firmware unit keeps it through a REKEY with handover (firmware-bridge/src/rekey.h): a restart
   * that forgot a latch would let a channel latched as wrong vote again at once. Returns the first frame only
   * the new keys verify.
   */
  reinstall(ring: KeyRing): number | undefined {
    const from = this.current.frame + 1;
    this.leaving = { ring: this.ring, until: from }; // the keys being replaced, as the unit keeps them
    this.ring = ring;
    return from;
  }

  /**
   * Arm the deadline of `frame` (the rig calls this as each frame starts). A deadline for a frame past the one
   * the voter expects (it was down) skips there first, as the firmware does on a later TICK.
   */
  armFrame(frame: number): void {
    this.frameNow = frame;
    if (this.outage.frameStarted(frame, () => this.reset())) return;
    this.o.scheduler.at(this.current.deadlineOf(frame), () => {
      const voter = this.current;
      if (this.outage.down || voter.frame > frame) return;
      voter.skipTo(frame);
      this.decide(frame);
      this.rejoin.deadlineDecided(frame);
    });
  }

  /** An OUTPUT off the link: authenticated here, then offered to the voter. */
  output(message: Output): void {
    if (this.outage.down) {
      this.o.counters.add('voter.dropped-while-down');
      return;
    }
    if (!this.channelIds.has(message.channel)) {
      this.o.counters.add('voter.rejected.unknown-channel');
      return;
    }
    if (this.rejoin.refuses(message.frame)) {
      this.o.counters.add('voter.rejected.before-reset');
      return;
    }
    const voter = this.current;
    const from = principalOf.channel(message.channel);
    const payload = authPayload(message);
    // The old keys only for the frames before the switch, until they are decided (tags made before the rekey).
    const l = this.leaving;
    const authentic =
      this.ring.verify(from, payload, message.tag) ||
      (l !== undefined &&
        message.frame < l.until &&
        voter.frame < l.until &&
        l.ring.verify(from, payload, message.tag));
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
    if (result.ready && message.frame === voter.frame) this.decide(message.frame);
  }

  /**
   * The hang fault: this host stands for a unit whose frame loop hung; a software watchdog resets it `frames`
   * frames later (a fresh voter, knowing nothing, as a reset board).
   */
  hang(frames: number, frame = this.frameNow): VoterHangResult {
    if (this.outage.down) return { applied: false, reason: 'the voter is already down' };
    const detail = `TypeScript voter hung at frame ${frame}; its watchdog resets it after ${frames} frames`;
    this.outage.begin(frame, frames, detail);
    return { applied: true, detail };
  }

  private reset(): string {
    this.current = new Voter(this.o.config);
    this.leaving = undefined;
    this.rejoin.rejoined(this.frameNow);
    return 'TypeScript voter reset by its watchdog (a fresh voter)';
  }

  private decide(frame: number): void {
    const voter = this.current;
    const record = voter.decide(frame, this.o.scheduler.now());
    if (record.kind === 'declined') {
      // closeDue latched an early supporter: the frame is no longer ready, its deadline decides it.
      this.o.counters.add('voter.declined');
      this.report(record.events);
      return;
    }
    if (this.leaving !== undefined && frame + 1 >= this.leaving.until) {
      this.leaving = undefined; // the last frame of the old keys is decided: they go
      this.o.counters.add('voter.handed-over');
    }
    this.o.counters.add(`voter.${record.kind}`);
    this.report(record.events);
    this.o.actuator?.write(record);
    this.outage.decided(record);
  }

  private report(events: readonly ChannelEvent[]): void {
    reportChannelEvents(events, this.o.log, this.o.health);
  }
}
