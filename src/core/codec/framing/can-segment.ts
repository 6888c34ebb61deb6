/**
 * Segmentation and reassembly of messages larger than one CAN frame, for classic CAN (8 data bytes) and
 * CAN FD (64 data bytes).
 *
 * Wire format (first data byte of every frame is a header):
 *
 *   FIRST        1 sss LLLL | LLLLLLLL | [CRC-32C of the whole message, 4 bytes LE, multi-frame only] | data
 *   CONSECUTIVE  0 sss iiii | data
 *
 *   sss   message sequence number mod 8, per sender (ties consecutive frames to their FIRST)
 *   L     total message length, 12 bits (1..4095)
 *   iiii  segment index mod 16: the FIRST is segment 0, consecutive frames count 1, 2, ... 15, 0, 1, ...
 *
 * A message of at most (frame size - 2) bytes is a single FIRST frame without CRC: it cannot be spliced
 * from other frames, and CAN's own frame CRC covers its bytes. A longer message is a FIRST with the CRC, then
 * consecutive frames, each full except the last (CAN FD frames may carry padding after the last byte).
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
 * Pure: time is the `now` number the caller passes (any monotonic tick unit, the same as `timeout`).
 */

import { crc32c, readU32LE, writeU32LE } from './crc.ts';

/** Data bytes per frame: 8 for classic CAN, 64 for CAN FD. */
export type CanFrameData = 8 | 64;

/** Largest message length the 12-bit length field can carry. */
export const CAN_MAX_MESSAGE_LIMIT = 4095;

const FIRST_FLAG = 0x80;
const SEQ_MOD = 8;
const INDEX_MOD = 16;
const SINGLE_HEADER = 2;
const MULTI_HEADER = 6;
const CONSECUTIVE_HEADER = 1;

/** Why a frame or a partial message was dropped. */
export type CanRejection =
  | 'timeout' // partial message not completed in time
  | 'crc' // reassembled message fails the whole-message CRC (frames lost in a multiple of 16, or corrupt)
  | 'duplicate' // a frame identical in role to the one just taken (repeated FIRST or consecutive, or tail)
  | 'out-of-order' // consecutive frame that is not the next expected (gap, reorder, or no FIRST seen)
  | 'too-long' // FIRST announces more than the configured maximum
  | 'overflow' // too many partial messages for a sender, or too many senders: the oldest is evicted
  | 'bad-header'; // malformed frame (too short, too long for its kind, inconsistent length)

export const CAN_REJECTIONS: readonly CanRejection[] = [
  'timeout',
  'crc',
  'duplicate',
  'out-of-order',
  'too-long',
  'overflow',
  'bad-header',
];

/** Number of frames a message of `length` bytes takes (for bus-load budgets). */
export function canFrameCount(length: number, frameData: CanFrameData): number {
  checkFrameData(frameData);
  if (!Number.isInteger(length) || length < 1 || length > CAN_MAX_MESSAGE_LIMIT) {
    throw new RangeError(`canFrameCount: length must be 1..${CAN_MAX_MESSAGE_LIMIT}, got ${length}`);
  }
  if (length <= frameData - SINGLE_HEADER) return 1;
  const rest = length - (frameData - MULTI_HEADER);
  return 1 + Math.ceil(rest / (frameData - CONSECUTIVE_HEADER));
}

/**
 * Split `message` into CAN frame payloads, sequence number `seq` (taken mod 8). Frames are exactly as long as
 * their content; for CAN FD the driver rounds the last frame up to a valid DLC with padding, which the
 * reassembler ignores.
 */
export function segmentMessage(message: Uint8Array, seq: number, frameData: CanFrameData): Uint8Array[] {
  const count = canFrameCount(message.length, frameData);
  const s = (seq & (SEQ_MOD - 1)) << 4;
  const len = message.length;
  if (count === 1) {
    const frame = new Uint8Array(SINGLE_HEADER + len);
    frame[0] = FIRST_FLAG | s | (len >>> 8);
    frame[1] = len & 0xff;
    frame.set(message, SINGLE_HEADER);
    return [frame];
  }
  const frames: Uint8Array[] = [];
  const firstData = frameData - MULTI_HEADER;
  const first = new Uint8Array(frameData);
  first[0] = FIRST_FLAG | s | (len >>> 8);
  first[1] = len & 0xff;
  writeU32LE(first, 2, crc32c(message));
  first.set(message.subarray(0, firstData), MULTI_HEADER);
  frames.push(first);
  const step = frameData - CONSECUTIVE_HEADER;
  for (let offset = firstData, index = 1; offset < len; offset += step, index++) {
    const chunk = message.subarray(offset, Math.min(len, offset + step));
    const frame = new Uint8Array(CONSECUTIVE_HEADER + chunk.length);
    frame[0] = s | (index % INDEX_MOD);
    frame.set(chunk, CONSECUTIVE_HEADER);
    frames.push(frame);
  }
  if (frames.length !== count)
    throw new Error(`segmentMessage: made ${frames.length} frames, expected ${count}`);
  return frames;
}

/** Sender side: keeps the per-sender sequence number. */
export class CanSegmenter {
  private seq = 0;

  constructor(
    private readonly frameData: CanFrameData,
    private readonly maxMessage: number = CAN_MAX_MESSAGE_LIMIT,
  ) {
    checkFrameData(frameData);
    checkMaxMessage(maxMessage);
  }

  /** Frames for the next message. Throws on an empty or oversize message: that is a caller bug. */
  segment(message: Uint8Array): Uint8Array[] {
    if (message.length < 1 || message.length > this.maxMessage) {
      throw new RangeError(`CanSegmenter: message length ${message.length} outside 1..${this.maxMessage}`);
    }
    const frames = segmentMessage(message, this.seq, this.frameData);
    this.seq = (this.seq + 1) % SEQ_MOD;
    return frames;
  }
}

export interface CanReassemblerOptions {
  frameData: CanFrameData;
  /** Largest message accepted (at most 4095). */
  maxMessage: number;
  /** Partial messages held per sender at once; a new one beyond this evicts the oldest ('overflow'). */
  maxPartialsPerSender: number;
  /** Senders tracked at once; a new sender beyond this evicts the least recently heard ('overflow'). */
  maxSenders: number;
  /** A partial message with no progress for longer than this (in the caller's ticks) is dropped. */
  timeout: number;
}

interface Partial {
  seq: number;
  length: number;
  crc: number;
  buffer: Uint8Array;
  received: number;
  /** Index (mod 16) of the last segment taken. */
  lastIndex: number;
  lastProgress: number;
}

interface SenderState {
  partials: Partial[];
  /** Last frame received from this sender (first lastFrameLength bytes), to recognise an immediate repeat. */
  lastFrame: Uint8Array;
  lastFrameLength: number;
  lastHeard: number;
}

/** The message completed by a frame. */
export interface CanMessage {
  sender: number;
  bytes: Uint8Array;
}

/**
 * Receiver side: reassembles per sender (CAN id), with every buffer bounded by configuration. Never throws
 * on frame bytes; every dropped frame or partial message is counted by reason.
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
    'bad-header': 0,
  };
  private completed = 0;

  constructor(private readonly options: CanReassemblerOptions) {
    checkFrameData(options.frameData);
    checkMaxMessage(options.maxMessage);
    for (const key of ['maxPartialsPerSender', 'maxSenders'] as const) {
      const v = options[key];
      if (!Number.isInteger(v) || v < 1 || v > 1024)
        throw new RangeError(`CanReassembler: ${key} must be 1..1024`);
    }
    if (!(options.timeout > 0)) throw new RangeError('CanReassembler: timeout must be positive');
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
    const result =
      (data[0]! & FIRST_FLAG) !== 0 ? this.takeFirst(state, data, now) : this.takeNext(state, data, now);
    return result === 'rejected' || result === 'partial' ? undefined : result;
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

  private senderState(sender: number, now: number): SenderState {
    let state = this.senders.get(sender);
    if (state === undefined) {
      if (this.senders.size >= this.options.maxSenders) this.evictQuietestSender();
      state = {
        partials: [],
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
    let quietest: number | undefined;
    let quietestAt = Number.POSITIVE_INFINITY;
    for (const [id, s] of this.senders) {
      if (s.lastHeard < quietestAt) {
        quietest = id;
        quietestAt = s.lastHeard;
      }
    }
    if (quietest === undefined) return;
    const evicted = this.senders.get(quietest)!;
    this.rejections.overflow += evicted.partials.length;
    this.senders.delete(quietest);
  }

  private expireSender(state: SenderState, now: number): void {
    const kept = state.partials.filter((p) => now - p.lastProgress <= this.options.timeout);
    this.rejections.timeout += state.partials.length - kept.length;
    state.partials = kept;
  }

  private takeFirst(state: SenderState, frame: Uint8Array, now: number): Uint8Array | 'partial' | 'rejected' {
    const { frameData } = this.options;
    if (frame.length < SINGLE_HEADER) return this.reject('bad-header');
    const seq = (frame[0]! >>> 4) & (SEQ_MOD - 1);
    const length = ((frame[0]! & 0x0f) << 8) | frame[1]!;
    if (length === 0) return this.reject('bad-header');
    if (length > this.options.maxMessage) return this.reject('too-long');
    const crc = length <= frameData - SINGLE_HEADER || frame.length < MULTI_HEADER ? -1 : readU32LE(frame, 2);
    const held = state.partials.find((p) => p.seq === seq);
    // The same FIRST again (a late repeat) must not throw away the progress made on its message.
    if (held !== undefined && held.length === length && held.crc === crc) return this.reject('duplicate');
    // A new FIRST with the sequence of a partial still held means that partial lost its tail.
    this.dropPartial(state, seq, 'out-of-order');
    if (length <= frameData - SINGLE_HEADER) {
      if (frame.length < SINGLE_HEADER + length) return this.reject('bad-header');
      return this.complete(frame.slice(SINGLE_HEADER, SINGLE_HEADER + length));
    }
    // A multi-frame FIRST is always full: shorter means truncated or forged.
    if (frame.length !== frameData) return this.reject('bad-header');
    if (state.partials.length >= this.options.maxPartialsPerSender) {
      state.partials.shift();
      this.rejections.overflow++;
    }
    const buffer = new Uint8Array(length);
    const firstData = frameData - MULTI_HEADER;
    buffer.set(frame.subarray(MULTI_HEADER, MULTI_HEADER + firstData), 0);
    state.partials.push({
      seq,
      length,
      crc,
      buffer,
      received: firstData,
      lastIndex: 0,
      lastProgress: now,
    });
    return 'partial';
  }

  private takeNext(state: SenderState, frame: Uint8Array, now: number): Uint8Array | 'partial' | 'rejected' {
    const seq = (frame[0]! >>> 4) & (SEQ_MOD - 1);
    const index = frame[0]! & (INDEX_MOD - 1);
    if (frame.length < CONSECUTIVE_HEADER + 1) return this.reject('bad-header');
    const partial = state.partials.find((p) => p.seq === seq);
    if (partial === undefined) return this.reject('out-of-order');
    if (index === partial.lastIndex) return this.reject('duplicate');
    if (index !== (partial.lastIndex + 1) % INDEX_MOD) {
      this.dropPartial(state, seq, 'out-of-order');
      return 'rejected';
    }
    const remaining = partial.length - partial.received;
    const step = this.options.frameData - CONSECUTIVE_HEADER;
    const data = frame.subarray(CONSECUTIVE_HEADER);
    // Every consecutive frame but the last is full; the last may carry CAN FD padding after the message.
    const take = Math.min(remaining, step);
    if (data.length < take || (take < remaining && data.length !== step)) {
      this.dropPartial(state, seq, 'bad-header');
      return 'rejected';
    }
    partial.buffer.set(data.subarray(0, take), partial.received);
    partial.received += take;
    partial.lastIndex = index;
    partial.lastProgress = now;
    if (partial.received < partial.length) return 'partial';
    state.partials = state.partials.filter((p) => p !== partial);
    if (crc32c(partial.buffer) !== partial.crc) return this.reject('crc');
    return this.complete(partial.buffer);
  }

  private isRepeat(state: SenderState, frame: Uint8Array): boolean {
    if (state.lastFrameLength !== frame.length) return false;
    for (let i = 0; i < frame.length; i++) if (state.lastFrame[i] !== frame[i]) return false;
    return true;
  }

  private dropPartial(state: SenderState, seq: number, reason: CanRejection): void {
    const before = state.partials.length;
    state.partials = state.partials.filter((p) => p.seq !== seq);
    this.rejections[reason] += before - state.partials.length;
  }

  private complete(bytes: Uint8Array): Uint8Array {
    this.completed++;
    return bytes;
  }

  private reject(reason: CanRejection): 'rejected' {
    this.rejections[reason]++;
    return 'rejected';
  }
}

function checkFrameData(frameData: number): void {
  if (frameData !== 8 && frameData !== 64)
    throw new RangeError(`CAN frame data must be 8 or 64, got ${frameData}`);
}

function checkMaxMessage(maxMessage: number): void {
  if (!Number.isInteger(maxMessage) || maxMessage < 1 || maxMessage > CAN_MAX_MESSAGE_LIMIT) {
    throw new RangeError(`CAN maxMessage must be 1..${CAN_MAX_MESSAGE_LIMIT}, got ${maxMessage}`);
  }
}

const FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64] as const;

/** The DLC code (0..15) for a frame of `length` data bytes, rounding up to a valid CAN FD length. */
export function canDlcForLength(length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > 64)
    throw new RangeError(`CAN data length ${length}`);
  const dlc = FD_LENGTHS.findIndex((n) => n >= length);
  if (dlc < 0) throw new Error('unreachable: 64 is in the table');
  return dlc;
}

/** Data bytes for a DLC code (0..15) on CAN FD; classic CAN caps codes 9..15 at 8. */
export function canLengthForDlc(dlc: number, fd: boolean): number {
  if (!Number.isInteger(dlc) || dlc < 0 || dlc > 15) throw new RangeError(`CAN DLC ${dlc}`);
  return fd ? FD_LENGTHS[dlc]! : Math.min(dlc, 8);
}

/** Pad a frame payload with zeros up to the next valid CAN FD length (what a driver puts on the bus). */
export function canFdPad(data: Uint8Array): Uint8Array {
  const length = FD_LENGTHS[canDlcForLength(data.length)]!;
  if (length === data.length) return data;
  const out = new Uint8Array(length);
  out.set(data);
  return out;
}
