/**
 * Bits one CAN frame occupies on the bus, worst-case bit stuffing included, for classic CAN (11- and 29-bit
 * identifiers) and CAN FD (with or without the bit-rate switch). The one place this arithmetic lives: the
 * emulated bus (src/io/can-bus-model.ts), the bus-load figures and the wire budget all use it.
 *
 * Classic CAN (ISO 11898-1, Davis et al. 2007): the stuffed region is SOF through the CRC, g + 8n bits with
 * g = 34 (standard id: SOF, 11 id, RTR, IDE, r0, 4 DLC, 15 CRC) or g = 54 (extended id: SOF, 11 id, SRR, IDE,
 * 18 id, RTR, r1, r0, 4 DLC, 15 CRC). Worst-case stuffing adds floor((g + 8n - 1) / 4) bits. The 13 bits
 * after it (CRC delimiter, ACK slot, ACK delimiter, 7 EOF, 3 interframe space) are not stuffed.
 * 8 bytes, standard id: 34 + 64 + 24 + 13 = 135 bits; extended: 54 + 64 + 29 + 13 = 160 bits.
 *
 * CAN FD (ISO 11898-1:2015): the arbitration field up to and including BRS is 17 bits (SOF, 11 id, RRS,
 * IDE, FDF, res, BRS) or 36 bits (SOF, 11 id, SRR, IDE, 18 id, RRS, FDF, res, BRS); then ESI, 4 DLC, the data,
 * the 4-bit stuff count and a 17-bit CRC (up to 16 data bytes) or 21-bit CRC. Dynamic stuffing covers SOF
 * through the data (worst case one bit per 4 after the first); the stuff count and CRC carry fixed stuff bits,
 * one per 4 bits: 6 with CRC-17, 7 with CRC-21. With BRS, the bits from ESI through the CRC (and the stuff
 * bits among them) go at the data bit rate; BRS itself and the CRC delimiter, which straddle the switch, are
 * counted at the slower nominal rate, so the estimate errs on the safe side.
 */

export interface CanFrameShape {
  /** Data bytes on the bus (for CAN FD: the padded length, one of 0..8, 12, 16, 20, 24, 32, 48, 64). */
  readonly dataBytes: number;
  /** 29-bit identifier. */
  readonly extended: boolean;
  /** CAN FD frame. */
  readonly fd: boolean;
  /** CAN FD bit-rate switch: the data phase runs at the data bit rate. */
  readonly brs: boolean;
  /** Classic remote frame (no data on the bus whatever the DLC says). */
  readonly remote?: boolean;
}

/** Bits at the nominal (arbitration) rate and at the data rate (non-zero only for CAN FD with BRS). */
export interface CanFrameBits {
  readonly nominal: number;
  readonly data: number;
}

/** Not stuffed, at the nominal rate: CRC delimiter, ACK slot, ACK delimiter, 7 EOF bits, 3 IFS bits. */
const CAN_TAIL_BITS = 13;
const CLASSIC_STUFFED_BASE = { standard: 34, extended: 54 } as const;
/** CAN FD: SOF through BRS. */
const FD_ARBITRATION = { standard: 17, extended: 36 } as const;

/**
 * Worst-case bits of one frame on the bus, interframe space included.
 *
 * @example
 * canFrameBits({ dataBytes: 8, extended: false, fd: false, brs: false }); // { nominal: 135, data: 0 }
 */
export function canFrameBits(f: CanFrameShape): CanFrameBits {
  const n = f.remote === true ? 0 : f.dataBytes;
  if (!Number.isInteger(n) || n < 0 || n > (f.fd ? 64 : 8)) {
    throw new RangeError(`canFrameBits: ${n} data bytes on ${f.fd ? 'CAN FD' : 'classic CAN'}`);
  }
  if (!f.fd) {
    const stuffed = (f.extended ? CLASSIC_STUFFED_BASE.extended : CLASSIC_STUFFED_BASE.standard) + 8 * n;
    return { nominal: stuffed + Math.floor((stuffed - 1) / 4) + CAN_TAIL_BITS, data: 0 };
  }
  const arbitration = f.extended ? FD_ARBITRATION.extended : FD_ARBITRATION.standard;
  const crcBits = n > 16 ? 21 : 17;
  const control = 1 + 4; // ESI, DLC
  const dynamicRegion = arbitration + control + 8 * n; // SOF through the last data bit
  const dynamicStuff = Math.floor((dynamicRegion - 1) / 4);
  const arbitrationStuff = Math.floor((arbitration - 1) / 4);
  const fixedStuff = Math.ceil((4 + crcBits) / 4);
  const dataPhase = control + 8 * n + 4 + crcBits + (dynamicStuff - arbitrationStuff) + fixedStuff;
  const nominal = arbitration + arbitrationStuff + CAN_TAIL_BITS;
  return f.brs ? { nominal, data: dataPhase } : { nominal: nominal + dataPhase, data: 0 };
}

/** Time on the bus in microseconds at `bitrate` (nominal) and `dataBitrate` (CAN FD data phase). */
export function canFrameTimeUs(f: CanFrameShape, bitrate: number, dataBitrate = bitrate): number {
  if (!(bitrate > 0) || !(dataBitrate > 0))
    throw new RangeError('canFrameTimeUs: bit rates must be positive');
  const bits = canFrameBits(f);
  return (bits.nominal * 1e6) / bitrate + (bits.data * 1e6) / dataBitrate;
}
