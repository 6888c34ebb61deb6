import { describe, expect, it } from 'vitest';
import {
  CAN_MAX_MESSAGE_LIMIT,
  CanSegmenter,
  canDlcForLength,
  canFdPad,
  canFrameCount,
  canLengthForDlc,
  segmentMessage,
} from '../../../../src/core/codec/framing/can-segment.ts';
import { crc32c, readU32LE } from '../../../../src/core/codec/framing/crc.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const bytes = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('CAN segmentation layout', () => {
  it('uses one frame up to frame size - 2, then a FIRST with CRC and full consecutive frames', () => {
    expect(canFrameCount(6, 8)).toBe(1);
    expect(canFrameCount(7, 8)).toBe(2); // 2 in FIRST + 5
    expect(canFrameCount(9, 8)).toBe(2);
    expect(canFrameCount(10, 8)).toBe(3);
    expect(canFrameCount(62, 64)).toBe(1);
    expect(canFrameCount(63, 64)).toBe(2);
    expect(canFrameCount(58 + 63 * 3, 64)).toBe(4);
    const single = segmentMessage(bytes(6), 5, 8);
    expect(single.map(hex)).toEqual([`d006${hex(bytes(6))}`]);
    const multi = segmentMessage(bytes(20), 3, 8);
    expect(multi.map((f) => f.length)).toEqual([8, 8, 8, 5]); // 2 + 7 + 7 + 4
    expect(multi.map((f) => f[0])).toEqual([0xb0, 0x31, 0x32, 0x33]);
    expect(multi[0]![1]).toBe(20);
    expect(() => segmentMessage(new Uint8Array(0), 0, 8)).toThrow(RangeError);
    expect(() => segmentMessage(new Uint8Array(CAN_MAX_MESSAGE_LIMIT + 1), 0, 64)).toThrow(RangeError);
  });

  it('uses the long form (19-bit length, 7-byte FIRST header) exactly from 2048 bytes on', () => {
    expect(canFrameCount(2047, 8)).toBe(1 + Math.ceil((2047 - 2) / 7));
    expect(canFrameCount(2048, 8)).toBe(1 + Math.ceil((2048 - 1) / 7));
    expect(canFrameCount(2048, 64)).toBe(1 + Math.ceil((2048 - 57) / 63));
    const short = segmentMessage(bytes(2047), 2, 64);
    expect(short[0]!.subarray(0, 2)).toEqual(Uint8Array.of(0x80 | 0x20 | 0x07, 0xff));
    expect(readU32LE(short[0]!, 2)).toBe(crc32c(bytes(2047)));
    const long = segmentMessage(bytes(40_000, 3), 5, 64);
    // 40000 = 0x009c40: flag 1, seq 5, long, top bits 000; then 0x9c, 0x40; then the CRC.
    expect(hex(long[0]!.subarray(0, 3))).toBe('d89c40');
    expect(readU32LE(long[0]!, 3)).toBe(crc32c(bytes(40_000, 3)));
    expect(long.length).toBe(canFrameCount(40_000, 64));
    const max = segmentMessage(new Uint8Array(CAN_MAX_MESSAGE_LIMIT), 0, 8);
    expect(hex(max[0]!.subarray(0, 3))).toBe('8fffff');
    expect(max.length).toBe(canFrameCount(CAN_MAX_MESSAGE_LIMIT, 8));
    expect(max.reduce((t, f) => t + f.length, 0)).toBe(CAN_MAX_MESSAGE_LIMIT + 7 + (max.length - 1));
  });

  it('pads CAN FD frames itself when asked, so the driver copies nothing', () => {
    const plain = new CanSegmenter(64).segment(bytes(100));
    const padded = new CanSegmenter(64).cursor(bytes(100), true);
    const got: Uint8Array[] = [];
    for (let f = padded.next(); f !== undefined; f = padded.next()) got.push(f);
    expect(got.map(hex)).toEqual(plain.map((f) => hex(canFdPad(f))));
    expect(got.map((f) => f.length)).toEqual([64, 48]); // 58 + 42 data bytes: 43 rounds up to 48
  });

  it('wraps the segment index mod 16 and the sequence mod 8', () => {
    const frames = segmentMessage(bytes(2 + 7 * 20), 9, 8);
    expect(frames.length).toBe(21);
    expect(frames[16]![0]).toBe(0x10 | 0);
    expect(frames[17]![0]).toBe(0x10 | 1);
    const seg = new CanSegmenter(8);
    const seqs = Array.from({ length: 10 }, () => (seg.segment(bytes(3))[0]![0]! >> 4) & 7);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1]);
  });

  it('maps DLC codes to CAN FD lengths', () => {
    expect(canDlcForLength(8)).toBe(8);
    expect(canDlcForLength(9)).toBe(9);
    expect(canDlcForLength(33)).toBe(14);
    expect(canLengthForDlc(15, true)).toBe(64);
    expect(canLengthForDlc(15, false)).toBe(8);
    expect(canFdPad(bytes(13)).length).toBe(16);
  });
});
