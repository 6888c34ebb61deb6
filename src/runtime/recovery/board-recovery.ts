/**
 * Proactive recovery inside one board process: the board's recovery role on its Router. Every start of a board
 * process is a recovery when its key epochs are persisted (wire-keys.ts): the process was started from the
 * installed code, its session keys are fresh, and this role
 *  1. puts the roles into their rejoining state before the links open: the replica quiet until it executed
 *     past `recoveryPoint` (state transfer from the stable checkpoint, src/core/pbft/recovering.ts), the channel
 *     waiting for its abstract state (ChannelHost.reinstall);
 *  2. broadcasts the board's NEW-KEYs a few times once the links are up (peers answer with theirs);
 *  3. rebuilds the channel from f+1 matching abstract states of the other channels (wire-rebuild.ts).
 * It also answers other boards' NEW-KEYs and abstract-state requests, restarted or not.
 *
 * @example
 * const recovery = new BoardRecovery({ topology, board, keys, scheduler, counters, logger, restart });
 * recovery.prepare();          // before board.start()
 * await board.start();
 * recovery.linksUp();          // NEW-KEYs out, the channel starts asking for its state
 */
import type { Logger } from 'pino';
import type { MessageKind } from '../../core/codec/messages.ts';
import type { Topology } from '../config.ts';
import type { Board } from '../loop/board.ts';
import type { Counters } from '../loop/counters.ts';
import type { Scheduler } from '../scheduler.ts';
import type { WireKeys } from './wire-keys.ts';
import { ChannelRebuild } from './wire-rebuild.ts';

export interface BoardRecoveryOptions {
  readonly topology: Topology;
  readonly board: Board;
  readonly keys: WireKeys;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly logger: Logger;
  /** This start is a restart: where the replica counts again (undefined: a first start, nothing to rejoin). */
  readonly restart?: { readonly recoveryPoint: number };
}

/** When the NEW-KEYs go out after the links are up, ms (repeats: a lost one is sent again). */
const ANNOUNCE_AT_MS = [0, 150, 500, 1200, 2500];
/**
 * How long EPOCH-REPORTs about one principal are gathered before it decides whether to jump: the boards answer
 * the same announcement within a link latency of each other, and f+1 of them must be heard to move far.
 */
const REPORT_GATHER_MS = 300;
/** The jump's NEW-KEY goes out these many ms after the decision (a lost one is sent again). */
const JUMP_ANNOUNCE_AT_MS = [0, 150, 500];

export class BoardRecovery {
  readonly rebuild: ChannelRebuild;
  private readonly cancels: (() => void)[] = [];
  private point: number;
  /** prepare() has run: until then a restarted board's roles are not in their rejoining state yet. */
  private prepared = false;
  /** Per subject, the cancels of its last jump's announcements (replaced at each jump: bounded). */
  private readonly jumps = new Map<number, (() => void)[]>();
  /** Per subject with a decision on EPOCH-REPORTs scheduled, its cancel. */
  private readonly gathering = new Map<number, () => void>();

  constructor(private readonly o: BoardRecoveryOptions) {
    this.rebuild = new ChannelRebuild({ ...o, board: o.board });
    this.point = o.restart?.recoveryPoint ?? 0;
    o.board.board.roles.recovery = {
      receive: (kind, _from, bytes, fromBoard) => this.receive(kind, bytes, fromBoard),
    };
  }

  /** Whether this start is a restart (the roles rejoin). */
  get restarted(): boolean {
    return this.o.restart !== undefined;
  }

  /**
   * A restarted board whose roles are not in their rejoining state yet (before prepare(): the process loads and
   * already reports status). Its replica and channel are the config's fresh objects then, which look caught up
   * and rebuilt: they must be reported as rejoining, or the coordinator counts the board back before it started
   * (a soak under load restarted the next board while this one's channel still waited for its state, until no
   * channel had a state to give).
   */
  get unprepared(): boolean {
    return this.o.restart !== undefined && !this.prepared;
  }

  /** Whether the board's channel waits for its abstract state (false on a board without a channel). */
  get channelRebuilding(): boolean {
    const c = this.o.board.channel;
    return c !== undefined && (this.unprepared || c.rebuilding);
  }

  /** Before the links open: a restarted board's roles start in their rejoining state. */
  prepare(): void {
    const r = this.o.restart;
    if (r === undefined) return;
    this.prepared = true;
    const b = this.o.board;
    if (b.replica !== undefined)
      b.startRole('replica', b.replica.replica.id, { recoveryPoint: r.recoveryPoint });
    if (b.channel !== undefined) b.startRole('channel', b.channel.id);
    this.o.counters.add('recovery.restarted');
  }

  /**
   * The coordinator's recovery point, sent once this restarted board is up: the replica is installed afresh
   * with it (it has caught up on nothing yet: its keys are being exchanged), so it stays quiet until it executed
   * past where the group is now, not where it was when this process was stopped. Only ever raised.
   */
  recoveryPoint(seq: number): void {
    const b = this.o.board;
    const r = this.o.restart;
    if (r === undefined || b.replica === undefined || seq <= this.point) return;
    this.point = seq;
    b.startRole('replica', b.replica.replica.id, { recoveryPoint: seq });
    // The fresh replica catches up by state transfer again and never executes the batches before it: a channel
    // already rebuilt from the first replica's batches would miss them (a gap: it then flies on a state that
    // lacks them and must resync). It rebuilds again from here instead, while the board is still rejoining.
    if (b.channel !== undefined && !b.channel.rebuilding) b.startRole('channel', b.channel.id);
    this.o.counters.add('recovery.point-raised');
  }

  /** The links are up: NEW-KEYs out (a few times), the channel asks for its abstract state. */
  linksUp(): void {
    const now = this.o.scheduler.now();
    if (this.o.keys.announcements().length > 0) {
      for (const at of ANNOUNCE_AT_MS)
        this.cancels.push(this.o.scheduler.at(now + at, () => this.announce()));
    }
    this.rebuild.start();
  }

  /** Broadcast this board's NEW-KEYs (also after an in-process rotation of one of its roles). */
  announce(only?: Uint8Array): void {
    const others = this.o.topology.boards.map((b) => b.name).filter((n) => n !== this.o.board.name);
    for (const bytes of only !== undefined ? [only] : this.o.keys.announcements()) {
      this.o.board.board.multicast(others, bytes);
      this.o.counters.add('keys.new-key.sent');
    }
  }

  /** Whether the rejoining roles count again: the replica past its point, the channel rebuilt. */
  rejoined(): { replica: boolean; channel: boolean } {
    const b = this.o.board;
    const s = b.replica?.replica.status();
    return {
      replica: s === undefined || (!this.unprepared && !s.recovering && s.active),
      channel: !this.channelRebuilding,
    };
  }

  stop(): void {
    for (const c of this.cancels.splice(0)) c();
    for (const list of this.jumps.values()) for (const c of list) c();
    this.jumps.clear();
    for (const c of this.gathering.values()) c();
    this.gathering.clear();
    this.rebuild.stop();
  }

  private receive(kind: MessageKind, bytes: Uint8Array, fromBoard: string): void {
    if (kind === 'epoch-report') {
      this.report(bytes, fromBoard);
      return;
    }
    if (kind !== 'new-key') {
      this.rebuild.receive(kind, bytes, fromBoard);
      return;
    }
    const outcome = this.o.keys.receive(bytes, fromBoard);
    if (outcome.reports !== undefined)
      for (const m of outcome.reports.messages) this.o.board.board.send(outcome.reports.to, m);
    if (outcome.answer === undefined) return;
    for (const m of this.o.keys.announcements()) {
      this.o.board.board.send(outcome.answer, m);
      this.o.counters.add('keys.new-key.answered');
    }
  }

  /** An EPOCH-REPORT: recorded, and a decision on jumping scheduled once the other boards' had time to come. */
  private report(bytes: Uint8Array, fromBoard: string): void {
    const outcome = this.o.keys.receiveReport(bytes, fromBoard);
    if (!outcome.accepted || this.gathering.has(outcome.subject)) return;
    const subject = outcome.subject;
    // One decision pending per subject, one list of announcements: a reporter that keeps reporting costs no memory.
    const at = this.o.scheduler.now() + REPORT_GATHER_MS;
    const decide = this.o.scheduler.at(at, () => {
      this.gathering.delete(subject);
      const newKey = this.o.keys.jumpForReports(subject);
      if (newKey === undefined) return;
      this.o.logger.warn(
        { principal: subject, epoch: this.o.keys.epoch(subject) },
        'key epoch moved above what peers hold (EPOCH-REPORTs)',
      );
      const now = this.o.scheduler.now();
      for (const c of this.jumps.get(subject) ?? []) c();
      this.jumps.set(
        subject,
        JUMP_ANNOUNCE_AT_MS.map((after) => this.o.scheduler.at(now + after, () => this.announce(newKey))),
      );
    });
    this.gathering.set(subject, decide);
  }
}
