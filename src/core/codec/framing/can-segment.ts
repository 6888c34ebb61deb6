/**
 * Segmentation of messages larger than one CAN frame, for classic CAN (8 data bytes) and CAN FD (64 data
 * bytes). Reassembly is in can-reassembly.ts.
 *
 * Wire format (the first data byte of every frame is a header):
 *
 *   FIRST, short  1 sss 0 LLL | LLLLLLLL                       | [CRC-32C, 4 bytes LE, multi-frame only] | data
 *   FIRST, long   1 sss 1 LLL | LLLLLLLL | LLLLLLLL            | CRC-32C, 4 bytes LE                     | data
 *   CONSECUTIVE   0 sss iiii  | data
 *
 *   sss   message sequence number mod 8, per sender (ties consecutive frames to their FIRST)
 *   L     total message length: 11 bits (1..2047) in the short form, 19 bits (2048..524287) in the long one
 *   iiii  segment index mod 16: the FIRST is segment 0, consecutive frames count 1, 2, ... 15, 0, 1, ...
 *
 * A message of at most (frame size - 2) bytes is a single short FIRST without CRC: it cannot be spliced from
 * other frames, and CAN's own frame CRC covers its bytes. A longer message is a FIRST with the CRC, then
 * consecutive frames, each full except the last (CAN FD frames may carry padding after the last byte). The
 * long form is used exactly when the length needs it (2048 bytes or more), so each message has one encoding.
 *
 * Why 19 bits: the worst-case NEW-VIEW of a shipped topology is tens of KiB (see src/core/wire-budget), and the
 * largest message any board link carries is 256 KiB; the earlier 12-bit length (4,095 bytes) could not carry a
 * view change at all. Messages up to 2047 bytes, the whole per-frame traffic, keep the 2-byte header. Short
 * FIRSTs of the earlier format up to 2047 bytes read the same in this one.
 *
 * Pure: no clocks, no I/O.
 */

import { crc32c, writeU32LE } from './crc.ts';

/** Data bytes per frame: 8 for classic CAN, 64 for CAN FD. */
export type CanFrameData = 8 | 64;

/** Largest message length the 19-bit length field can carry. */
export const CAN_MAX_MESSAGE_LIMIT = (1 << 19) - 1;
/** Largest length of the short (11-bit) form. */
export const CAN_SHORT_LENGTH_LIMIT = (1 << 11) - 1;

export const FIRST_FLAG = 0x80;
export const LONG_FLAG = 0x08;
export const SEQ_MOD = 8;
export const INDEX_MOD = 16;
export const SINGLE_HEADER = 2;
export const CONSECUTIVE_HEADER = 1;
const CRC_BYTES = 4;

/** Header bytes of a multi-frame FIRST for a message of `length` bytes. */
export function multiHeaderBytes(length: number): number {
  return (length > CAN_SHORT_LENGTH_LIMIT ? 3 : 2) + CRC_BYTES;
}

/** Number of frames a message of `length` bytes takes (for bus-load budgets). */
export function canFrameCount(length: number, frameData: CanFrameData): number {
  checkFrameData(frameData);
  checkLength(length, CAN_MAX_MESSAGE_LIMIT, 'canFrameCount');
  if (length <= frameData - SINGLE_HEADER) return 1;
  const rest = length - (frameData - multiHeaderBytes(length));
  return 1 + Math.ceil(rest / (frameData - CONSECUTIVE_HEADER));
}

/**
 * Frames of one message, produced one at a time so that a large message (thousands of classic frames) is not
 * held as an array of frames while it waits for the bus. Each frame is a fresh buffer (drivers may keep it);
 * with `padFd` the last CAN FD frame is already padded to a valid DLC length, so no further copy is needed.
 */
export class CanFrameCursor {
  readonly count: number;
  private offset = 0;
  private index = 0;
  private readonly header: number;

  constructor(
    private message: Uint8Array,
    seq: number,
    private readonly frameData: CanFrameData,
    private readonly padFd = false,
  ) {
    this.count = canFrameCount(message.length, frameData);
    this.header = (seq & (SEQ_MOD - 1)) << 4;
  }

  /** Frames not yet produced. */
  get remaining(): number {
    return this.count - this.index;
  }

  /** Keep a private copy of the message (for a sender that queues it while the caller may reuse its buffer). */
  detach(): void {
    this.message = this.message.slice();
  }

  /** The next frame, or undefined after the last. */
  next(): Uint8Array | undefined {
    if (this.index >= this.count) return undefined;
    const frame = this.index === 0 ? this.first() : this.consecutive();
    this.index++;
    return frame;
  }

  private first(): Uint8Array {
    const { message, frameData } = this;
    const len = message.length;
    if (this.count === 1) {
      const frame = new Uint8Array(this.padded(SINGLE_HEADER + len));
      frame[0] = FIRST_FLAG | this.header | (len >>> 8);
      frame[1] = len & 0xff;
      frame.set(message, SINGLE_HEADER);
      this.offset = len;
      return frame;
    }
    const frame = new Uint8Array(frameData);
    let at: number;
    if (len > CAN_SHORT_LENGTH_LIMIT) {
      frame[0] = FIRST_FLAG | this.header | LONG_FLAG | (len >>> 16);
      frame[1] = (len >>> 8) & 0xff;
      frame[2] = len & 0xff;
      at = 3;
    } else {
      frame[0] = FIRST_FLAG | this.header | (len >>> 8);
      frame[1] = len & 0xff;
      at = 2;
    }
    writeU32LE(frame, at, crc32c(message));
    const data = frameData - at - CRC_BYTES;
    frame.set(message.subarray(0, data), at + CRC_BYTES);
    this.offset = data;
    return frame;
  }

  private consecutive(): Uint8Array {
    const { message, frameData } = this;
    const take = Math.min(message.length - this.offset, frameData - CONSECUTIVE_HEADER);
    const frame = new Uint8Array(this.padded(CONSECUTIVE_HEADER + take));
    frame[0] = this.header | (this.index % INDEX_MOD);
    for (let i = 0, r = this.offset; i < take; i++, r++) frame[CONSECUTIVE_HEADER + i] = message[r]!;
    this.offset += take;
    return frame;
  }

  private padded(length: number): number {
    return this.padFd && this.frameData === 64 ? FD_LENGTHS[canDlcForLength(length)]! : length;
  }
}

/**
 * Split `message` into CAN frame payloads, sequence number `seq` (taken mod 8). Frames are exactly as long as
 * their content; for CAN FD the driver rounds the last frame up to a valid DLC with padding, which the
 * reassembler ignores.
 */
export function segmentMessage(message: Uint8Array, seq: number, frameData: CanFrameData): Uint8Array[] {
  const cursor = new CanFrameCursor(message, seq, frameData);
  const frames: Uint8Array[] = [];
  for (let f = cursor.next(); f !== undefined; f = cursor.next()) frames.push(f);
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
    const frames: Uint8Array[] = [];
    const cursor = this.cursor(message);
    for (let f = cursor.next(); f !== undefined; f = cursor.next()) frames.push(f);
    return frames;
  }

  /** A cursor over the frames of the next message (CAN FD frames padded when `padFd`). */
  cursor(message: Uint8Array, padFd = false): CanFrameCursor {
    checkLength(message.length, this.maxMessage, 'CanSegmenter');
    const cursor = new CanFrameCursor(message, this.seq, this.frameData, padFd);
    this.seq = (this.seq + 1) % SEQ_MOD;
    return cursor;
  }
}

export function checkFrameData(frameData: number): void {
  if (frameData !== 8 && frameData !== 64)
    throw new RangeError(`CAN frame data must be 8 or 64, got ${frameData}`);
}

export function checkMaxMessage(maxMessage: number): void {
  if (!Number.isInteger(maxMessage) || maxMessage < 1 || maxMessage > CAN_MAX_MESSAGE_LIMIT) {
    throw new RangeError(`CAN maxMessage must be 1..${CAN_MAX_MESSAGE_LIMIT}, got ${maxMessage}`);
  }
}

function checkLength(length: number, max: number, who: string): void {
  if (!Number.isInteger(length) || length < 1 || length > max) {
    throw new RangeError(`${who}: message length ${length} outside 1..${max}`);
  }
}

const FD_LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64] as const;

/** The DLC code (0..15) for a frame of `length` data bytes, rounding up to a valid CAN FD length. */
export function canDlcForLength(length: number): number {
  if (!Number.isInteger(length) || length < 0 || length > 64)
    throw new RangeError(`CAN data length ${length}`);
  if (length <= 8) return length;
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
