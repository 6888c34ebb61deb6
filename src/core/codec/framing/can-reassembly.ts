/**
 * Reassembly of CAN-segmented messages (format in can-segment.ts), per sender (a CAN id), with every buffer
 * bounded: partial messages per sender, senders tracked, bytes reserved per sender and in total.
 *
 * Reassembly is strictly in order per (sender, sequence): a frame whose index is not the next expected one
 * drops the partial message ('out-of-order'; a lost frame shows up this way too). Reassembly by index was
 * rejected because a 4-bit index is ambiguous beyond 16 frames and because frames from one CAN id are not
 * reordered on a bus. Whatever is lost, duplicated or reordered, a spliced message cannot pass the
 * whole-message CRC, so no wrong message is passed up ('crc' counts the ones caught there).
 *
 * Duplicates: a frame identical to the one just received from the same sender is skipped, and so is a late
 * repeat of a held FIRST or of the segment just taken. A single-frame message repeated later, after other
 * frames, is passed up again: the layers above (PBFT, voter) are idempotent per message.
 *
 * Memory. A multi-frame FIRST reserves its announced length against two budgets: the sender's
 * (`maxBytesPerSender`) and the whole reassembler's (`maxBytesTotal`). The reservation is accounting only: the
 * partial's buffer starts small and doubles as its segments arrive, so a forged 8-byte FIRST that announces
 * 512 KiB costs a few hundred bytes, not a 512 KiB allocation (at bus rate, that allocation per frame was enough
 * to keep a correct node's CPU busy; `allocatedBytes()` shows the cost). Over its own budget, a sender's oldest
 * partials make room ('overflow'). Over the total, the sender holding the most bytes gives way: if that is the
 * sender of the new FIRST, the new message is refused ('over-budget'); otherwise the other sender's oldest
 * partial is evicted ('overflow'). So a sender that floods the bus with long FIRSTs (a faulty node can put any
 * id on a CAN bus) only ever displaces its own partials, or those of a sender holding even more than it.
 *
 * Pure: time is the `now` number the caller passes (any monotonic tick unit, the same as `timeout`).
 */

import { assert } from '../../assert.ts';
import {
  CAN_MAX_MESSAGE_LIMIT,
  CAN_SHORT_LENGTH_LIMIT,
  type CanFrameData,
  CONSECUTIVE_HEADER,
  checkFrameData,
  checkMaxMessage,
  FIRST_FLAG,
  INDEX_MOD,
  LONG_FLAG,
  multiHeaderBytes,
  SEQ_MOD,
  SINGLE_HEADER,
} from './can-segment.ts';
import { crc32c, readU32LE } from './crc.ts';

/** Why a frame or a partial message was dropped. */
export type CanRejection =
  | 'timeout' // partial message not completed in time
  | 'crc' // reassembled message fails the whole-message CRC (frames lost in a multiple of 16, or corrupt)
  | 'duplicate' // a frame identical in role to the one just taken (repeated FIRST or consecutive, or tail)
  | 'out-of-order' // consecutive frame that is not the next expected (gap, reorder, or no FIRST seen)
  | 'too-long' // FIRST announces more than the configured maximum
  | 'overflow' // a partial evicted to make room (partials per sender, senders, or bytes)
  | 'over-budget' // a new message refused: its sender already holds the most bytes and the total is full
  | 'bad-header'; // malformed frame (too short, too long for its kind, inconsistent or non-canonical length)

export const CAN_REJECTIONS: readonly CanRejection[] = [
  'timeout',
  'crc',
  'duplicate',
  'out-of-order',
  'too-long',
  'overflow',
  'over-budget',
  'bad-header',
];

export interface CanReassemblerOptions {
  frameData: CanFrameData;
  /** Largest message accepted (at most CAN_MAX_MESSAGE_LIMIT). */
  maxMessage: number;
  /** Partial messages held per sender at once; a new one beyond this evicts the oldest ('overflow'). */
  maxPartialsPerSender: number;
  /** Senders tracked at once; a new sender beyond this evicts the least recently heard ('overflow'). */
  maxSenders: number;
  /** A partial message with no progress for longer than this (in the caller's ticks) is dropped. */
  timeout: number;
  /** Bytes of partial messages one sender may hold (at least maxMessage; default maxMessage). */
  maxBytesPerSender?: number;
  /** Bytes of partial messages all senders together may hold (at least maxMessage; default 4 x maxMessage). */
  maxBytesTotal?: number;
}

interface Partial {
  seq: number;
  length: number;
  crc: number;
  /** Bytes received so far, in a buffer that grows (doubling, capped at `length`) as segments arrive. */
  buffer: Uint8Array;
  received: number;
  /** Index (mod 16) of the last segment taken. */
  lastIndex: number;
  lastProgress: number;
}

interface SenderState {
  readonly id: number;
  partials: Partial[];
  /** Bytes reserved by this sender's partials (their announced lengths). */
  held: number;
  /** Last frame received from this sender (first lastFrameLength bytes), to recognise an immediate repeat. */
  readonly lastFrame: Uint8Array;
  lastFrameLength: number;
  lastHeard: number;
}

/** A parsed FIRST header. */
interface FirstHeader {
  seq: number;
  length: number;
  /** Header bytes before the data (2 single, 6 short multi, 7 long multi). */
  header: number;
  /** Whole-message CRC (multi-frame only), else -1. */
  crc: number;
}

/**
 * Receiver side. Never throws on frame bytes; every dropped frame or partial message is counted by reason.
 *
 * @example
 * const r = new CanReassembler({ frameData: 8, maxMessage: 65536, maxPartialsPerSender: 2, maxSenders: 16,
 *   timeout: 2000 });
 * const message = r.push(canId, frame.data, nowMs); // a Uint8Array when this frame completes a message
 */
export class CanReassembler {
  private readonly senders = new Map<number, SenderState>();
  private readonly rejections: Record<CanRejection, number> = {
    timeout: 0,
    crc: 0,
    duplicate: 0,
    'out-of-order': 0,
    'too-long': 0,
    overflow: 0,
    'over-budget': 0,
    'bad-header': 0,
  };
  private completed = 0;
  private totalHeld = 0;
  /** Bytes of partial-message buffers allocated so far (cumulative): what the frames received cost in memory. */
  private allocated = 0;
  private readonly maxBytesPerSender: number;
  private readonly maxBytesTotal: number;

  constructor(private readonly options: CanReassemblerOptions) {
    checkFrameData(options.frameData);
    checkMaxMessage(options.maxMessage);
    for (const key of ['maxPartialsPerSender', 'maxSenders'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < 1 || v > 1024)
        throw new RangeError(`CanReassembler: ${key} must be 1..1024`);
    }
    if (!(options.timeout > 0)) throw new RangeError('CanReassembler: timeout must be positive');
    this.maxBytesPerSender = options.maxBytesPerSender ?? options.maxMessage;
    this.maxBytesTotal = options.maxBytesTotal ?? 4 * options.maxMessage;
    for (const [key, v] of [
      ['maxBytesPerSender', this.maxBytesPerSender],
      ['maxBytesTotal', this.maxBytesTotal],
    ] as const) {
      if (!Number.isInteger(v) || v < options.maxMessage || v > 64 * CAN_MAX_MESSAGE_LIMIT)
        throw new RangeError(`CanReassembler: ${key} must be an integer from maxMessage to 64 x 512 KiB`);
    }
  }

  /**
   * Take one received frame's data from `sender` at time `now`. Returns the message it completes, if any.
   * Expired partials of this sender are dropped first.
   */
  push(sender: number, data: Uint8Array, now: number): Uint8Array | undefined {
    const state = this.senderState(sender, now);
    this.expireSender(state, now);
    if (data.length < 1 || data.length > this.options.frameData) {
      state.lastFrameLength = 0;
      this.reject('bad-header');
      return undefined;
    }
    // Adjacent identical frames from one sender never occur in a correct stream (the header byte changes
    // from frame to frame), except after eight whole messages were lost: treat them as a repeat.
    if (this.isRepeat(state, data)) {
      this.reject('duplicate');
      return undefined;
    }
    state.lastFrame.set(data, 0);
    state.lastFrameLength = data.length;
    return (data[0]! & FIRST_FLAG) !== 0 ? this.takeFirst(state, data, now) : this.takeNext(state, data, now);
  }

  /** Drop every partial with no progress for longer than the timeout. Call it from the caller's timer. */
  expire(now: number): void {
    for (const state of this.senders.values()) this.expireSender(state, now);
  }

  /** Dropped frames and partial messages so far, by reason. */
  stats(): Record<CanRejection, number> {
    return { ...this.rejections };
  }

  /** Messages completed so far. */
  messages(): number {
    return this.completed;
  }

  /** Partial messages currently held (all senders). */
  pendingPartials(): number {
    let n = 0;
    for (const state of this.senders.values()) n += state.partials.length;
    return n;
  }

  /**
   * Bytes allocated for partial-message buffers since construction (cumulative, growth included): bounded by a
   * small multiple of the data bytes received, whatever lengths the FIRSTs announce.
   */
  allocatedBytes(): number {
    return this.allocated;
  }

  /** Bytes reserved by partial messages (all senders, or one). */
  heldBytes(sender?: number): number {
    if (sender === undefined) return this.totalHeld;
    return this.senders.get(sender)?.held ?? 0;
  }

  private senderState(sender: number, now: number): SenderState {
    let state = this.senders.get(sender);
    if (state === undefined) {
      if (this.senders.size >= this.options.maxSenders) this.evictQuietestSender();
      state = {
        id: sender,
        partials: [],
        held: 0,
        lastFrame: new Uint8Array(this.options.frameData),
        lastFrameLength: 0,
        lastHeard: now,
      };
      this.senders.set(sender, state);
    }
    state.lastHeard = now;
    return state;
  }

  private evictQuietestSender(): void {
    let quietest: SenderState | undefined;
    for (const s of this.senders.values())
      if (quietest === undefined || s.lastHeard < quietest.lastHeard) quietest = s;
    if (quietest === undefined) return;
    this.rejections.overflow += quietest.partials.length;
    this.totalHeld -= quietest.held;
    this.senders.delete(quietest.id);
  }

  private expireSender(state: SenderState, now: number): void {
    if (state.partials.length === 0) return;
    for (let i = state.partials.length - 1; i >= 0; i--) {
      const p = state.partials[i]!;
      if (now - p.lastProgress > this.options.timeout) this.removeAt(state, i, 'timeout');
    }
  }

  /** Parse a FIRST; undefined when malformed or non-canonical. */
  private parseFirst(frame: Uint8Array): FirstHeader | undefined {
    const { frameData } = this.options;
    if (frame.length < SINGLE_HEADER) return undefined;
    const b0 = frame[0]!;
    const seq = (b0 >>> 4) & (SEQ_MOD - 1);
    if ((b0 & LONG_FLAG) === 0) {
      const length = ((b0 & 0x07) << 8) | frame[1]!;
      if (length === 0) return undefined;
      if (length <= frameData - SINGLE_HEADER) return { seq, length, header: SINGLE_HEADER, crc: -1 };
      const header = multiHeaderBytes(length);
      return frame.length < header ? undefined : { seq, length, header, crc: readU32LE(frame, header - 4) };
    }
    if (frame.length < 3) return undefined;
    const length = ((b0 & 0x07) << 16) | (frame[1]! << 8) | frame[2]!;
    // The long form only for lengths that need it: one encoding per message.
    if (length <= CAN_SHORT_LENGTH_LIMIT) return undefined;
    const header = multiHeaderBytes(length);
    return frame.length < header ? undefined : { seq, length, header, crc: readU32LE(frame, header - 4) };
  }

  private takeFirst(state: SenderState, frame: Uint8Array, now: number): Uint8Array | undefined {
    const { frameData } = this.options;
    const first = this.parseFirst(frame);
    if (first === undefined) return this.reject('bad-header');
    const { seq, length, header, crc } = first;
    if (length > this.options.maxMessage) return this.reject('too-long');
    const heldAt = indexOfSeq(state.partials, seq);
    const held = state.partials[heldAt];
    // The same FIRST again (a late repeat) must not throw away the progress made on its message.
    if (held !== undefined && held.length === length && held.crc === crc) return this.reject('duplicate');
    // A new FIRST with the sequence of a partial still held means that partial lost its tail.
    if (heldAt >= 0) this.removeAt(state, heldAt, 'out-of-order');
    if (crc === -1) {
      if (frame.length < SINGLE_HEADER + length) return this.reject('bad-header');
      return this.complete(frame.slice(SINGLE_HEADER, SINGLE_HEADER + length));
    }
    // A multi-frame FIRST is always full: shorter means truncated or forged.
    if (frame.length !== frameData) return this.reject('bad-header');
    if (!this.makeRoom(state, length)) return this.reject('over-budget');
    const firstData = frameData - header;
    const buffer = this.allocate(Math.min(length, Math.max(INITIAL_BUFFER, 2 * firstData)));
    buffer.set(frame.subarray(header, header + firstData), 0);
    state.partials.push({ seq, length, crc, buffer, received: firstData, lastIndex: 0, lastProgress: now });
    state.held += length;
    this.totalHeld += length;
    return undefined;
  }

  /** Make room for a new partial of `length` bytes from `state`; false when it must be refused. */
  private makeRoom(state: SenderState, length: number): boolean {
    const { maxPartialsPerSender } = this.options;
    while (state.partials.length >= maxPartialsPerSender) this.removeAt(state, 0, 'overflow');
    while (state.held + length > this.maxBytesPerSender && state.partials.length > 0) {
      this.removeAt(state, 0, 'overflow');
    }
    // Bounded: each pass removes one partial, and there are at most maxSenders x maxPartialsPerSender.
    for (let guard = 0; this.totalHeld + length > this.maxBytesTotal && guard < 1024 * 1024; guard++) {
      let hog: SenderState | undefined;
      for (const s of this.senders.values()) {
        if (s !== state && s.partials.length > 0 && (hog === undefined || s.held > hog.held)) hog = s;
      }
      if (hog === undefined || state.held + length >= hog.held) return false;
      this.removeAt(hog, 0, 'overflow');
    }
    return this.totalHeld + length <= this.maxBytesTotal;
  }

  private takeNext(state: SenderState, frame: Uint8Array, now: number): Uint8Array | undefined {
    const seq = (frame[0]! >>> 4) & (SEQ_MOD - 1);
    const index = frame[0]! & (INDEX_MOD - 1);
    if (frame.length < CONSECUTIVE_HEADER + 1) return this.reject('bad-header');
    const at = indexOfSeq(state.partials, seq);
    const partial = state.partials[at];
    if (partial === undefined) return this.reject('out-of-order');
    if (index === partial.lastIndex) return this.reject('duplicate');
    if (index !== (partial.lastIndex + 1) % INDEX_MOD) {
      this.removeAt(state, at, 'out-of-order');
      return undefined;
    }
    const remaining = partial.length - partial.received;
    const step = this.options.frameData - CONSECUTIVE_HEADER;
    const dataLength = frame.length - CONSECUTIVE_HEADER;
    // Every consecutive frame but the last is full; the last may carry CAN FD padding after the message.
    const take = Math.min(remaining, step);
    if (dataLength < take || (take < remaining && dataLength !== step)) {
      this.removeAt(state, at, 'bad-header');
      return undefined;
    }
    if (partial.received + take > partial.buffer.length) this.grow(partial, partial.received + take);
    // A plain loop: for 7 or 63 bytes it beats making a subarray view per frame.
    const buffer = partial.buffer;
    for (let i = 0, w = partial.received; i < take; i++, w++) buffer[w] = frame[CONSECUTIVE_HEADER + i]!;
    partial.received += take;
    partial.lastIndex = index;
    partial.lastProgress = now;
    if (partial.received < partial.length) return undefined;
    this.removeAt(state, at, undefined);
    assert(partial.buffer.length === partial.length, 'a complete partial fills its buffer exactly', {
      buffer: partial.buffer.length,
      length: partial.length,
    });
    if (crc32c(partial.buffer) !== partial.crc) return this.reject('crc');
    return this.complete(partial.buffer);
  }

  private allocate(bytes: number): Uint8Array {
    this.allocated += bytes;
    return new Uint8Array(bytes);
  }

  /** Room for at least `needed` bytes: double the buffer (capped at the message length), keep what it holds. */
  private grow(partial: Partial, needed: number): void {
    const size = Math.min(partial.length, Math.max(needed, 2 * partial.buffer.length));
    const buffer = this.allocate(size);
    buffer.set(partial.buffer.subarray(0, partial.received), 0);
    partial.buffer = buffer;
  }

  private isRepeat(state: SenderState, frame: Uint8Array): boolean {
    if (state.lastFrameLength !== frame.length) return false;
    for (let i = 0; i < frame.length; i++) if (state.lastFrame[i] !== frame[i]) return false;
    return true;
  }

  /** Remove partial `i` of `state`, releasing its bytes; counted under `reason` unless it completed. */
  private removeAt(state: SenderState, i: number, reason: CanRejection | undefined): void {
    const p = state.partials[i];
    if (p === undefined) return;
    state.partials.splice(i, 1);
    state.held -= p.length;
    this.totalHeld -= p.length;
    if (reason !== undefined) this.rejections[reason]++;
  }

  private complete(bytes: Uint8Array): Uint8Array {
    this.completed++;
    return bytes;
  }

  private reject(reason: CanRejection): undefined {
    this.rejections[reason]++;
    return undefined;
  }
}

/** First buffer of a multi-frame partial (bytes): a few frames' worth, whatever length the FIRST announces. */
const INITIAL_BUFFER = 256;

/** Index of the partial with sequence `seq` (at most maxPartialsPerSender to look through), or -1. */
function indexOfSeq(partials: readonly Partial[], seq: number): number {
  for (let i = 0; i < partials.length; i++) if (partials[i]!.seq === seq) return i;
  return -1;
}
