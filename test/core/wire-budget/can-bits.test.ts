import { describe, expect, it } from 'vitest';
import { canFrameBits, canFrameTimeUs } from '../../../src/core/wire-budget/can-bits.ts';
import { canFd, classicCan, messageCost, serialLink } from '../../../src/core/wire-budget/link-cost.ts';

/**
 * Hand-computed worst-case frame lengths. Classic: stuffed region g + 8n (g = 34 standard, 54 extended),
 * floor((g + 8n - 1) / 4) stuff bits, 13 tail bits. FD: 17 (36 extended) arbitration bits through BRS with
 * floor((A - 1) / 4) stuff bits and the 13 tail bits at the nominal rate; ESI + DLC (5), data, stuff count (4),
 * CRC (17 up to 16 bytes, else 21), the rest of the dynamic stuff bits and ceil((4 + crc) / 4) fixed ones at
 * the data rate.
 */
describe('CAN frame bits, worst-case stuffing', () => {
  it.each([
    // classic, 11-bit
    [0, false, false, { nominal: 34 + 8 + 13, data: 0 }], // 55
    [1, false, false, { nominal: 42 + 10 + 13, data: 0 }], // 65
    [3, false, false, { nominal: 58 + 14 + 13, data: 0 }], // 85
    [8, false, false, { nominal: 98 + 24 + 13, data: 0 }], // 135
    // classic, 29-bit
    [0, true, false, { nominal: 54 + 13 + 13, data: 0 }], // 80
    [4, true, false, { nominal: 86 + 21 + 13, data: 0 }], // 120
    [8, true, false, { nominal: 118 + 29 + 13, data: 0 }], // 160
  ] as const)('classic CAN, %i data bytes, extended %s', (n, extended, fd, expected) => {
    expect(canFrameBits({ dataBytes: n, extended, fd, brs: fd })).toEqual(expected);
  });

  it.each([
    // n, extended, brs: { nominal: A + floor((A-1)/4) + 13, data: 5 + 8n + 4 + crc + (dyn - arbStuff) + fixed }
    [8, false, true, { nominal: 17 + 4 + 13, data: 5 + 64 + 4 + 17 + (21 - 4) + 6 }], // 34 / 113
    [16, false, true, { nominal: 34, data: 5 + 128 + 4 + 17 + (37 - 4) + 6 }], // 193
    [20, false, true, { nominal: 34, data: 5 + 160 + 4 + 21 + (45 - 4) + 7 }], // 238
    [64, false, true, { nominal: 34, data: 5 + 512 + 4 + 21 + (133 - 4) + 7 }], // 678
    [64, true, true, { nominal: 36 + 8 + 13, data: 5 + 512 + 4 + 21 + (138 - 8) + 7 }], // 57 / 679
    [8, false, false, { nominal: 34 + 113, data: 0 }], // no bit-rate switch: all at the nominal rate
  ] as const)('CAN FD, %i data bytes, extended %s, BRS %s', (n, extended, brs, expected) => {
    expect(canFrameBits({ dataBytes: n, extended, fd: true, brs })).toEqual(expected);
  });

  it('converts bits to time at the nominal and data rates', () => {
    const f = { dataBytes: 64, extended: false, fd: true, brs: true };
    expect(canFrameTimeUs(f, 1_000_000, 2_000_000)).toBeCloseTo(34 + 678 / 2, 6); // 373 us
    expect(canFrameTimeUs(f, 1_000_000, 5_000_000)).toBeCloseTo(34 + 678 / 5, 6); // 169.6 us
    expect(canFrameTimeUs({ dataBytes: 8, extended: false, fd: false, brs: false }, 500_000)).toBeCloseTo(
      270,
    );
  });

  it('refuses impossible frames', () => {
    expect(() => canFrameBits({ dataBytes: 9, extended: false, fd: false, brs: false })).toThrow(RangeError);
    expect(() => canFrameBits({ dataBytes: 65, extended: false, fd: true, brs: true })).toThrow(RangeError);
  });
});

describe('message cost on a link', () => {
  it('classic CAN: a 67-byte message is a FIRST, 9 full consecutive frames and a 3-byte tail', () => {
    // 2 data bytes in the FIRST (8 - 6 header), 9 x 7, then 2 in a frame of 3 bytes.
    const c = messageCost(classicCan(1_000_000), 67);
    expect(c.frames).toBe(11);
    expect(c.wireBytes).toBe(10 * 8 + 3);
    expect(c.bits).toEqual({ nominal: 10 * 135 + (58 + 14 + 13), data: 0 });
    expect(c.seconds).toBeCloseTo(1435e-6, 12);
  });

  it('CAN FD: frames padded to their DLC length, the data phase at the data rate', () => {
    // 100 bytes: FIRST 64 (58 data), then 42 data + 1 header = 43, padded to 48.
    const c = messageCost(canFd(1_000_000, 5_000_000), 100);
    expect(c.frames).toBe(2);
    expect(c.wireBytes).toBe(64 + 48);
    const d48 = 5 + 384 + 4 + 21 + (Math.floor((17 + 5 + 384 - 1) / 4) - 4) + 7;
    expect(c.bits).toEqual({ nominal: 34 * 2, data: 678 + d48 });
    expect(c.seconds).toBeCloseTo((68 + (678 + d48) / 5) * 1e-6, 12);
  });

  it('serial: COBS + CRC-32C + two delimiters, 10 bit times per byte', () => {
    const c = messageCost(serialLink(921_600), 67);
    expect(c.wireBytes).toBe(67 + 4 + 1 + 2);
    expect(c.seconds).toBeCloseTo(740 / 921_600, 12);
    // COBS adds one code byte per started block of 254
    expect(messageCost(serialLink(115_200), 600).wireBytes).toBe(604 + 1 + 2 + 2);
  });
});
