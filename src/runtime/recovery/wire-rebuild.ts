/**
 * BASE rebuild of a restarted channel over the wire (process mode): the channel asks every other channel for
 * its recent abstract states (CHANNEL-STATE-REQUEST, MAC'd, with a fresh nonce), takes a state f+1 of them agree
 * on (abstract-match.ts: at least one is correct, so a faulty channel cannot plant its state), converts it into
 * its own implementation's concrete state and replays the committed batches it buffered since
 * (ChannelHost.rebuildFrom). Until then it sends nothing to the voter. Every other channel answers requests with
 * its history (CHANNEL-STATE-REPLY, MAC'd for the asker, echoing the nonce).
 *
 * Refused and counted (`rebuild.refused.<reason>`), before anything is decoded where the bytes alone tell: bytes
 * over the kind's budget ('too-long': a request is a few dozen bytes, a reply under 16 KiB); a reply when this
 * channel asked for nothing ('not-asked': not rebuilding, or no request out yet). Then: malformed messages; a
 * request or reply naming a channel not in the topology or this channel itself; one that arrived from a board
 * other than the named channel's ('wrong-source': a faulty board relaying or forging another's messages); a bad
 * MAC; a reply for another channel; a reply to a nonce not asked in the last few requests, or not newer than the
 * last reply taken from that channel ('stale-nonce': an old reply replayed over a newer offer); a request whose
 * nonce was answered already ('replayed-nonce': a replay would otherwise spend the asker's answers); a state
 * whose shape is not this topology's input voter's. Requests from one channel are answered at most once per
 * frame period and within a budget (ANSWER_BURST, then ANSWERS_PER_SECOND): a faulty channel asking every frame
 * would otherwise have each correct one send it its whole state history every frame, enough to fill a CAN bus
 * ('rate-limited').
 *
 * @example
 * const rebuild = new ChannelRebuild({ topology, board, keys, scheduler, counters, logger });
 * router.roles.recovery = { receive: (kind, _from, bytes) => rebuild.receive(kind, bytes) };
 * rebuild.start(); // asks every few frames while the channel rebuilds
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { authPayload, decodeMessage, encodeMessage } from '../../core/codec/encode.ts';
import type {
  ChannelStateReply,
  ChannelStateRequest,
  MessageKind,
  WireChannelState,
} from '../../core/codec/messages.ts';
import { type AbstractOffer, matchAbstractStates } from '../../core/recovery/abstract-match.ts';
import type { Topology } from '../config.ts';
import type { Board } from '../loop/board.ts';
import { type ChannelHost, STATE_HISTORY } from '../loop/channel-host.ts';
import { type ChannelState, fromWire, toWire } from '../loop/channel-state.ts';
import type { Counters } from '../loop/counters.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { principalOf } from '../loop/principals.ts';
import type { Scheduler } from '../scheduler.ts';
import { sameChannelState } from './laptop.ts';

/** Largest CHANNEL-STATE message accepted (a full history of STATE_HISTORY states is under 4 KB). */
export const MAX_CHANNEL_STATE_BYTES = 16 * 1024;
/** Largest CHANNEL-STATE-REQUEST: version and kind, two varints (at most 5 bytes each) and a tag of 32 or less. */
export const MAX_CHANNEL_STATE_REQUEST_BYTES = 2 + 5 + 5 + 1 + 32;
/** Nonces of the latest requests whose replies are still taken. */
const LIVE_NONCES = 4;
/**
 * Request nonces remembered per asking channel (a replay of one of them is refused). A rebuild asks every
 * askEveryFrames until it has f+1 matching states, a handful of times; requests from before the asker's last
 * restart fail their MAC anyway (its keys rotated).
 */
const REMEMBERED_REQUEST_NONCES = 64;
/** Answers to one asking channel at once, then ANSWERS_PER_SECOND (a rebuild needs one or two). */
export const ANSWER_BURST = 6;
export const ANSWERS_PER_SECOND = 2;

export interface ChannelRebuildOptions {
  readonly topology: Topology;
  readonly board: Board;
  readonly keys: BoardKeys;
  readonly scheduler: Scheduler;
  readonly counters: Counters;
  readonly logger: Logger;
  /** Ask again this often while rebuilding, in frame periods (default 2). */
  readonly askEveryFrames?: number;
  /**
   * The newest states a reply carries (default: the whole history, or CLASSIC_CAN_REPLY_STATES when the
   * topology has a classic CAN link).
   */
  readonly replyStates?: number;
}

/**
 * States a reply carries on a classic CAN bus: a reply of the whole history (STATE_HISTORY states, some 1.4 KB
 * with three input units) is about 200 frames, 26 ms of a 1 Mbit/s bus, and every other channel sends one per
 * ask. The newest four (about 360 bytes) still overlap between the answering channels, which execute the same
 * batches within a frame or two of each other; if they do not, the next ask's replies do.
 */
export const CLASSIC_CAN_REPLY_STATES = 4;

/** Whether `t` carries messages on a classic CAN bus (8-byte frames: no CAN FD data phase). */
function onClassicCan(t: Topology): boolean {
  return t.links.some((l) => l.type === 'can' && l.dataBitrate === undefined);
}

export class ChannelRebuild {
  private readonly channel: ChannelHost | undefined;
  private readonly periodMs: number;
  private readonly replyStates: number;
  private readonly nonces: number[] = [];
  /** The latest states each peer offered (to the live nonces), newest reply only. */
  private readonly offers = new Map<number, { seq: number; state: ChannelState }[]>();
  private readonly answeredAt = new Map<number, number>();
  /** Per asking channel: its answer tokens (refilled at ANSWERS_PER_SECOND) and the nonces answered. */
  private readonly askers = new Map<number, { tokens: number; at: number; nonces: number[] }>();
  /** Per answering channel: the number of the ask whose reply was taken last (replies only move forward). */
  private readonly lastReplyAsk = new Map<number, number>();
  /** Asks so far (the last entry of `nonces` is ask number asks - 1). */
  private asks = 0;
  private cancel: (() => void) | undefined;
  private stopped = false;
  /** The last rebuild: seq taken, supporters, batches replayed. */
  rebuilt: { seq: number; supporters: readonly number[]; replayed: number } | undefined;

  constructor(private readonly o: ChannelRebuildOptions) {
    this.channel = o.board.channel;
    this.periodMs = 1000 / o.topology.frameRateHz;
    this.replyStates = Math.max(
      1,
      Math.min(
        STATE_HISTORY,
        o.replyStates ?? (onClassicCan(o.topology) ? CLASSIC_CAN_REPLY_STATES : STATE_HISTORY),
      ),
    );
  }

  /** Asks every `askEveryFrames` while the channel rebuilds (a no-op on a board without a channel). */
  start(): void {
    if (this.channel === undefined || this.stopped) return;
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** A recovery message off the wire; `fromBoard`: the board the link says it came from (absent: unknown). */
  receive(kind: MessageKind, bytes: Uint8Array, fromBoard?: string): void {
    const channel = this.channel;
    if (channel === undefined) return this.refuse('no-channel');
    const max = kind === 'channel-state-request' ? MAX_CHANNEL_STATE_REQUEST_BYTES : MAX_CHANNEL_STATE_BYTES;
    if (bytes.length > max) return this.refuse('too-long');
    if (
      kind === 'channel-state-reply' &&
      (!(channel.rebuilding || channel.unverified) || this.nonces.length === 0)
    )
      return this.refuse('not-asked');
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) return this.refuse(`malformed.${decoded.reason}`);
    const m = decoded.message;
    if (m.kind !== kind || (m.kind !== 'channel-state-request' && m.kind !== 'channel-state-reply'))
      return this.refuse('wrong-kind');
    if (!this.known(m.channel, channel)) return this.refuse('unknown-channel');
    if (fromBoard !== undefined && fromBoard !== this.boardOf(m.channel)) return this.refuse('wrong-source');
    if (m.kind === 'channel-state-request') this.onRequest(channel, m);
    else this.onReply(channel, m);
  }

  private boardOf(channel: number): string | undefined {
    return this.o.topology.channels.find((c) => c.id === channel)?.board;
  }

  private refuse(reason: string): void {
    this.o.counters.add(`rebuild.refused.${reason}`);
  }

  private tick(): void {
    this.cancel = undefined;
    const channel = this.channel!;
    if (this.stopped) return;
    if (channel.rebuilding) {
      this.tryRebuild(channel);
      if (channel.rebuilding && channel.rebuildFloor() !== undefined) this.ask(channel);
    } else if (channel.unverified) {
      this.tryResync(channel);
      if (channel.unverified) this.ask(channel);
    }
    const every = (this.o.askEveryFrames ?? 2) * this.periodMs;
    this.cancel = this.o.scheduler.at(this.o.scheduler.now() + every, () => this.tick());
  }

  private ask(channel: ChannelHost): void {
    const nonce = randomInt(0, 2 ** 31);
    this.nonces.push(nonce);
    this.asks++;
    if (this.nonces.length > LIVE_NONCES) this.nonces.shift();
    const ring = this.o.keys.ring(principalOf.channel(channel.id));
    for (const peer of this.o.topology.channels) {
      if (peer.id === channel.id) continue;
      const unsigned: ChannelStateRequest = {
        kind: 'channel-state-request',
        channel: channel.id,
        nonce,
        tag: new Uint8Array(0),
      };
      const tag = ring.tag(principalOf.channel(peer.id), authPayload(unsigned));
      this.o.board.board.send(peer.board, encodeMessage({ ...unsigned, tag }));
    }
    this.o.counters.add('rebuild.asked');
  }

  private known(id: number, self: ChannelHost): boolean {
    return id !== self.id && this.o.topology.channels.some((c) => c.id === id);
  }

  private onRequest(self: ChannelHost, m: ChannelStateRequest): void {
    const ring = this.o.keys.ring(principalOf.channel(self.id));
    if (!ring.verify(principalOf.channel(m.channel), authPayload(m), m.tag)) return this.refuse('bad-mac');
    const now = this.o.scheduler.now();
    const asker = this.askers.get(m.channel) ?? { tokens: ANSWER_BURST, at: now, nonces: [] };
    this.askers.set(m.channel, asker);
    if (asker.nonces.includes(m.nonce)) return this.refuse('replayed-nonce');
    asker.tokens = Math.min(
      ANSWER_BURST,
      asker.tokens + (Math.max(0, now - asker.at) * ANSWERS_PER_SECOND) / 1000,
    );
    asker.at = Math.max(asker.at, now);
    const last = this.answeredAt.get(m.channel);
    if ((last !== undefined && now - last < this.periodMs) || asker.tokens < 1)
      return this.refuse('rate-limited');
    asker.tokens -= 1;
    asker.nonces.push(m.nonce);
    if (asker.nonces.length > REMEMBERED_REQUEST_NONCES) asker.nonces.shift();
    this.answeredAt.set(m.channel, now);
    const states = self
      .stateHistory()
      .slice(-this.replyStates)
      .map((h) => toWire(h.seq, h.state));
    const unsigned: ChannelStateReply = {
      kind: 'channel-state-reply',
      channel: self.id,
      to: m.channel,
      nonce: m.nonce,
      states,
      tag: new Uint8Array(0),
    };
    const tag = ring.tag(principalOf.channel(m.channel), authPayload(unsigned));
    const board = this.o.topology.channels.find((c) => c.id === m.channel)!.board;
    this.o.board.board.send(board, encodeMessage({ ...unsigned, tag }));
    this.o.counters.add('rebuild.answered');
  }

  private onReply(self: ChannelHost, m: ChannelStateReply): void {
    if (m.to !== self.id) return this.refuse('not-for-us');
    const at = this.nonces.lastIndexOf(m.nonce);
    if (at < 0) return this.refuse('stale-nonce');
    // The ask this nonce belongs to, counted from the first request: a reply only ever replaces an older one.
    const ask = this.asks - this.nonces.length + at;
    if (ask <= (this.lastReplyAsk.get(m.channel) ?? -1)) return this.refuse('stale-nonce');
    const ring = this.o.keys.ring(principalOf.channel(self.id));
    if (!ring.verify(principalOf.channel(m.channel), authPayload(m), m.tag)) return this.refuse('bad-mac');
    this.lastReplyAsk.set(m.channel, ask);
    const states: { seq: number; state: ChannelState }[] = [];
    for (const w of m.states.slice(-STATE_HISTORY)) {
      const s = fromWire(w, this.o.topology.inputUnits);
      if (s === undefined) return this.refuse('bad-shape');
      states.push({ seq: w.seq, state: s });
    }
    this.offers.set(m.channel, states);
    this.o.counters.add('rebuild.replies');
    if (self.rebuilding) this.tryRebuild(self);
    else if (self.unverified) this.tryResync(self);
  }

  /** A channel that flies on after a gap (ChannelHost.onGap): a state f+1 peers agree on for one of its batches. */
  private tryResync(channel: ChannelHost): void {
    const range = channel.resyncRange();
    if (range === undefined) return;
    const offers: AbstractOffer<ChannelState>[] = [];
    for (const [source, list] of this.offers)
      for (const h of list) offers.push({ source, seq: h.seq, state: h.state });
    const pick = matchAbstractStates(
      offers,
      this.o.topology.f,
      sameChannelState,
      (seq) => seq >= range.floor && seq <= range.last,
    );
    if (!pick.ok) {
      this.o.counters.add(`rebuild.resync-wait.${pick.reason}`);
      return;
    }
    try {
      const replayed = channel.resyncFrom(pick.seq, pick.state);
      if (replayed === undefined) return;
      this.offers.clear();
      this.o.counters.add('rebuild.resynced');
      this.o.logger.info(
        { seq: pick.seq, supporters: pick.supporters, replayed },
        'channel resynced over the wire',
      );
    } catch (e) {
      this.o.counters.add('rebuild.import-failed');
      this.o.logger.error({ err: (e as Error).message }, 'abstract state import failed');
    }
  }

  private tryRebuild(channel: ChannelHost): void {
    const floor = channel.rebuildFloor();
    if (floor === undefined) return;
    // While the co-located replica still catches up it may jump again by state transfer, past batches this
    // channel would then never see (a soak had a channel rebuilt early, then a 124-batch gap, then no f+1
    // states to repair it from). The channel waits until the replica executed past its recovery point; its
    // buffer keeps the batches since the last jump.
    if (this.o.board.replica?.replica.status().recovering === true) {
      this.o.counters.add('rebuild.wait.replica-recovering');
      return;
    }
    const offers: AbstractOffer<ChannelState>[] = [];
    for (const [source, list] of this.offers)
      for (const h of list) offers.push({ source, seq: h.seq, state: h.state });
    const pick = matchAbstractStates(offers, this.o.topology.f, sameChannelState, (seq) => seq >= floor);
    if (!pick.ok) {
      this.o.counters.add(
        `rebuild.wait.${pick.reason}${pick.reason === 'no-quorum' ? `.${mismatch(offers, floor)}` : ''}`,
      );
      return;
    }
    try {
      const replayed = channel.rebuildFrom(pick.seq, pick.state);
      this.rebuilt = { seq: pick.seq, supporters: pick.supporters, replayed };
      this.offers.clear();
      this.o.counters.add('rebuild.done');
      this.o.logger.info({ ...this.rebuilt, channel: channel.id }, 'channel rebuilt over the wire');
    } catch (e) {
      // A state f+1 channels agree on that this implementation cannot take: a bug, counted, asked again.
      this.o.counters.add('rebuild.import-failed');
      this.o.logger.error({ err: (e as Error).message }, 'abstract state import failed');
    }
  }
}

/** Why the newest seq two peers both offer does not match: the first field that differs (a counter suffix). */
function mismatch(offers: readonly AbstractOffer<ChannelState>[], floor: number): string {
  const bySeq = new Map<number, AbstractOffer<ChannelState>[]>();
  for (const o of offers) if (o.seq >= floor) bySeq.set(o.seq, [...(bySeq.get(o.seq) ?? []), o]);
  const shared = [...bySeq.entries()].filter(([, l]) => l.length >= 2).sort((a, b) => b[0] - a[0])[0];
  if (shared === undefined) return 'no-common-seq';
  const [a, b] = shared[1] as [AbstractOffer<ChannelState>, AbstractOffer<ChannelState>];
  if (a.state.frame !== b.state.frame) return 'frame';
  if (a.state.state.primed !== b.state.state.primed) return 'primed';
  return JSON.stringify(a.state.inputs) === JSON.stringify(b.state.inputs) ? 'law' : 'inputs';
}
