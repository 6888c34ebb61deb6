/**
 * CAN frames as the drivers see them, node addressing in the CAN id, and frame timing on the bus.
 */

import { canDlcForLength, canLengthForDlc } from '../core/codec/framing/can-segment.ts';
import {
  type CanFrameBits,
  type CanFrameShape,
  canFrameBits as coreFrameBits,
  canFrameTimeUs as coreFrameTimeUs,
} from '../core/wire-budget/can-bits.ts';
import type { PeerId } from './transport.ts';

export interface CanFrame {
  /** 11-bit (standard) or 29-bit (extended) identifier. */
  id: number;
  extended: boolean;
  /** Remote transmission request (classic CAN only): no data, `dlc` says what is requested. */
  remote: boolean;
  /** CAN FD frame (up to 64 data bytes). */
  fd: boolean;
  /** CAN FD bit-rate switch for the data phase. */
  brs: boolean;
  data: Uint8Array;
  /** Requested length of a remote frame (0..8); equal to data.length otherwise. */
  dlc: number;
}

/** A data frame with defaults filled in. */
export function canDataFrame(id: number, data: Uint8Array, opts: Partial<CanFrame> = {}): CanFrame {
  return { id, extended: false, remote: false, fd: false, brs: false, data, dlc: data.length, ...opts };
}

/** Why a frame cannot go on the bus, or undefined when it can. */
export function canFrameProblem(f: CanFrame): string | undefined {
  const idMax = f.extended ? 0x1fffffff : 0x7ff;
  if (!Number.isInteger(f.id) || f.id < 0 || f.id > idMax) return `id ${f.id} out of range`;
  if (f.fd && f.remote) return 'CAN FD has no remote frames';
  if (f.data.length > (f.fd ? 64 : 8))
    return `${f.data.length} data bytes on ${f.fd ? 'CAN FD' : 'classic CAN'}`;
  if (f.remote && (f.dlc < 0 || f.dlc > 8 || f.data.length !== 0)) return 'bad remote frame';
  return undefined;
}

/**
 * Bits a frame occupies on the bus (worst-case stuffing, interframe space included), split into the part at
 * the nominal rate and the part at the data rate (CAN FD with BRS). The arithmetic lives in
 * src/core/wire-budget/can-bits.ts; FD data is counted at its padded (DLC) length, as the bus carries it.
 */
export function canFrameBits(f: CanFrame): CanFrameBits {
  return coreFrameBits(shapeOf(f));
}

/** Time on the bus in microseconds. */
export function canFrameTimeUs(f: CanFrame, bitrate: number, dataBitrate = bitrate): number {
  return coreFrameTimeUs(shapeOf(f), bitrate, dataBitrate);
}

function shapeOf(f: CanFrame): CanFrameShape {
  const dataBytes = f.remote
    ? 0
    : f.fd
      ? canLengthForDlc(canDlcForLength(f.data.length), true)
      : f.data.length;
  return { dataBytes, extended: f.extended, fd: f.fd, brs: f.brs, remote: f.remote };
}

/**
 * Node addressing in the CAN id. Standard ids: priority (3 bits) | destination (4) | source (4), nodes
 * 0..14, destination 15 = everyone. Extended ids: priority (5) | 0 (8) | destination (8) | source (8),
 * nodes 0..254, 255 = everyone. Lower priority values win arbitration.
 */
export class CanAddressing {
  readonly broadcastNode: number;
  private readonly byName = new Map<PeerId, number>();
  private readonly byNode = new Map<number, PeerId>();

  constructor(
    nodes: Record<PeerId, number>,
    readonly extended = false,
  ) {
    this.broadcastNode = extended ? 0xff : 0x0f;
    for (const [name, node] of Object.entries(nodes)) {
      if (!Number.isInteger(node) || node < 0 || node >= this.broadcastNode) {
        throw new RangeError(`CAN node ${name}: number ${node} outside 0..${this.broadcastNode - 1}`);
      }
      if (this.byNode.has(node)) throw new RangeError(`CAN node number ${node} used twice`);
      this.byName.set(name, node);
      this.byNode.set(node, name);
    }
  }

  node(name: PeerId): number | undefined {
    return this.byName.get(name);
  }

  name(node: number): PeerId | undefined {
    return this.byNode.get(node);
  }

  names(): PeerId[] {
    return [...this.byName.keys()];
  }

  id(priority: number, dst: number, src: number): number {
    if (this.extended) return ((priority & 0x1f) << 24) | ((dst & 0xff) << 8) | (src & 0xff);
    return ((priority & 0x7) << 8) | ((dst & 0xf) << 4) | (src & 0xf);
  }

  /** Whether `id` is one this addressing produces: extended ids keep their 8 reserved bits zero. */
  canonical(id: number): boolean {
    return this.extended ? (id & 0x00ff0000) === 0 && id >= 0 && id <= 0x1fffffff : id >= 0 && id <= 0x7ff;
  }

  parse(id: number): { priority: number; dst: number; src: number } {
    if (this.extended) return { priority: (id >>> 24) & 0x1f, dst: (id >>> 8) & 0xff, src: id & 0xff };
    return { priority: (id >>> 8) & 0x7, dst: (id >>> 4) & 0xf, src: id & 0xf };
  }
}
