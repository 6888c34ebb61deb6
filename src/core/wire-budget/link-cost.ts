/**
 * What one message costs on each kind of link: serial frames (COBS + CRC-32C + delimiters, 10 bit times per
 * byte at 8N1) and CAN (segmented by can-segment.ts, each frame counted with worst-case bit stuffing at the
 * nominal and data bit rates). Costs use the real framing code, so they cannot drift from what is sent.
 *
 * @example
 * messageCost(canFd(1_000_000, 5_000_000), 300); // { frames: 5, wireBytes: ..., seconds: ... }
 */
import { CAN_MAX_MESSAGE_LIMIT, type CanFrameData, CanSegmenter } from '../codec/framing/can-segment.ts';
import { SERIAL_MAX_PAYLOAD_LIMIT, serialFrameLength } from '../codec/framing/serial-frame.ts';
import { canFrameBits } from './can-bits.ts';

/** The physical side of a link. */
export type LinkKind =
  | { readonly kind: 'serial'; readonly baud: number }
  | {
      readonly kind: 'can';
      readonly bitrate: number;
      /** CAN FD data-phase rate; absent: classic CAN. */
      readonly dataBitrate?: number;
      /** 29-bit identifiers (more than 15 nodes). */
      readonly extended?: boolean;
    }
  | { readonly kind: 'udp' }
  | { readonly kind: 'memory' };

/** UDP over IPv4 carries at most this payload. */
export const UDP_MAX_PAYLOAD = 65507;

export const classicCan = (bitrate: number, extended = false): LinkKind => ({
  kind: 'can',
  bitrate,
  extended,
});
export const canFd = (bitrate: number, dataBitrate: number, extended = false): LinkKind => ({
  kind: 'can',
  bitrate,
  dataBitrate,
  extended,
});
export const serialLink = (baud: number): LinkKind => ({ kind: 'serial', baud });

/** A short name: 'can-classic-11bit-1M', 'can-fd-1M-5M', 'serial-921600'. */
export function linkKindName(k: LinkKind): string {
  switch (k.kind) {
    case 'serial':
      return `serial-${k.baud}`;
    case 'can':
      return k.dataBitrate === undefined
        ? `can-classic-${k.extended ? 29 : 11}bit-${rate(k.bitrate)}`
        : `can-fd-${k.extended ? '29bit-' : ''}${rate(k.bitrate)}-${rate(k.dataBitrate)}`;
    default:
      return k.kind;
  }
}

function rate(bps: number): string {
  return bps % 1_000_000 === 0 ? `${bps / 1_000_000}M` : bps % 1000 === 0 ? `${bps / 1000}k` : String(bps);
}

/** Largest message the link's framing can carry at all (transports may be configured lower). */
export function framingLimit(k: LinkKind): number {
  switch (k.kind) {
    case 'serial':
      return SERIAL_MAX_PAYLOAD_LIMIT;
    case 'can':
      return CAN_MAX_MESSAGE_LIMIT;
    case 'udp':
      return UDP_MAX_PAYLOAD;
    case 'memory':
      return Number.MAX_SAFE_INTEGER;
  }
}

export interface MessageCost {
  /** Link frames: serial frames (1) or CAN frames. */
  readonly frames: number;
  /** Bytes on the wire (serial: after COBS, CRC and delimiters; CAN: data bytes of the frames, padding included). */
  readonly wireBytes: number;
  /** Bits on the wire at the nominal rate and at the CAN FD data rate. */
  readonly bits: { readonly nominal: number; readonly data: number };
  /** Time on the wire (serial: one direction of the link; CAN: the whole bus). */
  readonly seconds: number;
}

const ZERO: MessageCost = { frames: 1, wireBytes: 0, bits: { nominal: 0, data: 0 }, seconds: 0 };

/** Cost of one message of `length` bytes on a link of kind `k` (worst-case COBS and CAN stuffing). */
export function messageCost(k: LinkKind, length: number): MessageCost {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`messageCost: length ${length}`);
  switch (k.kind) {
    case 'serial': {
      const wireBytes = serialFrameLength(length);
      return {
        frames: 1,
        wireBytes,
        bits: { nominal: 10 * wireBytes, data: 0 },
        seconds: (10 * wireBytes) / k.baud,
      };
    }
    case 'can':
      return canCost(k, length);
    default:
      return { ...ZERO, wireBytes: length };
  }
}

/** Frames of one message cut by the real segmenter (FD frames padded to their DLC length), each costed. */
function canCost(k: Extract<LinkKind, { kind: 'can' }>, length: number): MessageCost {
  const fd = k.dataBitrate !== undefined;
  const frameData: CanFrameData = fd ? 64 : 8;
  const cursor = new CanSegmenter(frameData).cursor(new Uint8Array(length), true);
  let nominal = 0;
  let data = 0;
  let wireBytes = 0;
  for (let f = cursor.next(); f !== undefined; f = cursor.next()) {
    const bits = canFrameBits({ dataBytes: f.length, extended: k.extended ?? false, fd, brs: fd });
    nominal += bits.nominal;
    data += bits.data;
    wireBytes += f.length;
  }
  const seconds = nominal / k.bitrate + (fd ? data / k.dataBitrate! : 0);
  return { frames: cursor.count, wireBytes, bits: { nominal, data }, seconds };
}
