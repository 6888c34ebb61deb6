/**
 * The control channel between `triplex sim --processes` and its board processes (Node's IPC channel, present
 * only when a parent spawned the board with one). It carries rig commands the links would not (fault injection
 * is a test-bench facility, not protocol) and status back. Messages are checked on receipt; anything else is
 * counted and ignored.
 */

import type { UnitHealth } from '../../core/frame/inputs.ts';
import type { LinkStats } from '../../io/transport.ts';
import { CHANNEL_FAULT_KINDS, type ChannelFault } from '../loop/channel-fault.ts';

export type ToBoard =
  | { readonly type: 'fault'; readonly fault: ChannelFault }
  | { readonly type: 'repair' }
  /** Stop cleanly (close links) and send a final status. */
  | { readonly type: 'stop' };

export interface BoardStatus {
  readonly board: string;
  readonly link: LinkStats;
  readonly linkState: string;
  readonly counters: Record<string, number>;
  /** The board's replica view, when it hosts one. */
  readonly view?: number;
  readonly lastExecuted?: number;
  /** Each input unit's health as this board's channel judges it, when it hosts one. */
  readonly inputs?: readonly UnitHealth[];
}

export type FromBoard =
  | { readonly type: 'ready'; readonly board: string }
  | { readonly type: 'status'; readonly status: BoardStatus }
  | { readonly type: 'final'; readonly status: BoardStatus };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A parent's command, or undefined when `x` is not one. */
export function parseToBoard(x: unknown): ToBoard | undefined {
  if (!isObject(x)) return undefined;
  if (x['type'] === 'repair' || x['type'] === 'stop') return { type: x['type'] };
  if (x['type'] !== 'fault' || !isObject(x['fault'])) return undefined;
  const { kind, fromFrame } = x['fault'];
  if (!(CHANNEL_FAULT_KINDS as readonly unknown[]).includes(kind)) return undefined;
  if (typeof fromFrame !== 'number' || !Number.isInteger(fromFrame) || fromFrame < 0) return undefined;
  return { type: 'fault', fault: { kind: kind as ChannelFault['kind'], fromFrame } };
}

/** A board's message, or undefined when `x` is not one. */
export function parseFromBoard(x: unknown): FromBoard | undefined {
  if (!isObject(x) || typeof x['type'] !== 'string') return undefined;
  if (x['type'] === 'ready')
    return typeof x['board'] === 'string' ? { type: 'ready', board: x['board'] } : undefined;
  if ((x['type'] === 'status' || x['type'] === 'final') && isObject(x['status'])) {
    const s = x['status'];
    if (typeof s['board'] !== 'string' || !isObject(s['link']) || !isObject(s['counters'])) return undefined;
    return { type: x['type'], status: s as unknown as BoardStatus };
  }
  return undefined;
}
