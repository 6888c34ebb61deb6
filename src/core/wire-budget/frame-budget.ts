/**
 * The wire budget of one control frame and its physical bound: the fewest messages and bytes the normal case
 * of PBFT needs per frame (each input unit's REQUEST, one PRE-PREPARE, the PREPAREs, the COMMITs, optionally a
 * REPLY to each unit, each channel's OUTPUT to each voter, and CHECKPOINTs amortised over the checkpoint
 * interval), placed on boards as the topology places the roles (messages between roles on one board cost no
 * wire), and from that the highest frame rate a link carries at a given load.
 *
 * Two media: point-to-point links (a serial mesh: a multicast is one copy per receiving board, each carrying
 * the whole authenticator, as the runtime sends them today; the busiest direction of the busiest link sets the
 * rate) and a shared medium (a CAN bus: one broadcast per multicast, one authenticator for all receivers; all
 * transmissions share the bus).
 *
 * Message sizes come from encoding the messages with the real encoder (maximal.ts) at the counter magnitude of
 * the run being compared (sequence numbers, frames and timestamps of a run of a few thousand frames take two
 * varint bytes); CAN frames are costed with worst-case stuffing, serial frames with worst-case COBS overhead.
 *
 * @example
 * const t = frameTraffic(input, placement, { medium: 'shared', replies: false, checkpointInterval: 32 });
 * frameRateBound(t, canFd(1_000_000, 5_000_000), 0.5); // Hz within 50% bus load
 */
import type { MessageKind } from '../codec/messages.ts';
import { type LinkKind, messageCost } from './link-cost.ts';
import { type FieldBounds, maximalSize } from './maximal.ts';
import { type OrderingInput, worstCaseBounds } from './worst-case.ts';

/** Which board hosts each role instance (index = the instance's id in its role). */
export interface Placement {
  readonly replicas: readonly string[];
  readonly channels: readonly string[];
  readonly voters: readonly string[];
  /** Input units (PBFT clients). */
  readonly clients: readonly string[];
}

export interface FrameTrafficOptions {
  readonly medium: 'point-to-point' | 'shared';
  /** Replicas answer every request with a REPLY to its unit. */
  readonly replies: boolean;
  /** K: a checkpoint every K batches (one batch per frame). */
  readonly checkpointInterval: number;
  /** Replica id of the primary (default 0, the primary of view 0). */
  readonly primary?: number;
  /** Value of sequence numbers, frames and timestamps (default 16383: a two-byte varint). */
  readonly counter?: number;
  /** PRE-PREPAREs carry the requests ('full', today) or only their digests. */
  readonly batch?: 'full' | 'digests';
  /** Bytes of one request's operation at this counter (default: the input's maxOpBytes). */
  readonly opBytes?: number;
  /** Bytes of one REPLY's result at this counter (default: the input's maxResultBytes). */
  readonly resultBytes?: number;
}

/** One transmission per frame on the wire: from a board to one board, or to every board ('*', a broadcast). */
export interface Transmission {
  readonly kind: MessageKind;
  readonly from: string;
  /** Receiving boards (one for a unicast; several for a broadcast on a shared medium). */
  readonly to: readonly string[];
  readonly bytes: number;
  /** Transmissions of this kind per frame (1/K for checkpoints). */
  readonly perFrame: number;
}

export const DEFAULT_FRAME_COUNTER = 2 ** 14 - 1;

/** Encoded size of each per-frame message kind, at the frame's real counts (one request per unit). */
export function frameMessageSizes(
  o: OrderingInput,
  opt: Pick<FrameTrafficOptions, 'counter' | 'batch' | 'opBytes' | 'resultBytes'> = {},
): Record<'request' | 'pre-prepare' | 'prepare' | 'commit' | 'reply' | 'output' | 'checkpoint', number> {
  const base = worstCaseBounds(o, opt.counter ?? DEFAULT_FRAME_COUNTER);
  const bounds: FieldBounds = {
    ...base,
    counts: {
      ...base.counts,
      maxBatchRequests: o.clients,
      maxOpBytes: opt.opBytes ?? o.maxOpBytes,
      maxResultBytes: opt.resultBytes ?? o.maxResultBytes,
    },
    variants: { 'pre-prepare.batch': opt.batch ?? 'full' },
  };
  return {
    request: maximalSize('request', bounds),
    'pre-prepare': maximalSize('pre-prepare', bounds),
    prepare: maximalSize('prepare', bounds),
    commit: maximalSize('commit', bounds),
    reply: maximalSize('reply', bounds),
    output: maximalSize('output', bounds),
    checkpoint: maximalSize('checkpoint', bounds),
  };
}

/** Every transmission of one frame's normal case, for `placement`, on medium `opt.medium`. */
export function frameTraffic(o: OrderingInput, p: Placement, opt: FrameTrafficOptions): Transmission[] {
  if (p.replicas.length !== o.n)
    throw new RangeError(`frameTraffic: ${p.replicas.length} replica boards, n = ${o.n}`);
  if (!(opt.checkpointInterval >= 1)) throw new RangeError('frameTraffic: checkpointInterval must be >= 1');
  const size = frameMessageSizes(o, opt);
  const primary = opt.primary ?? 0;
  const out: Transmission[] = [];
  const send = (kind: MessageKind, from: string, to: readonly string[], perFrame = 1): void => {
    const remote = [...new Set(to)].filter((b) => b !== from);
    if (remote.length === 0) return;
    const bytes = size[kind as keyof typeof size];
    if (opt.medium === 'shared') out.push({ kind, from, to: remote, bytes, perFrame });
    else for (const b of remote) out.push({ kind, from, to: [b], bytes, perFrame });
  };
  const others = (id: number): string[] => p.replicas.filter((_, r) => r !== id);
  for (const c of p.clients) send('request', c, p.replicas);
  send('pre-prepare', p.replicas[primary]!, others(primary));
  p.replicas.forEach((board, r) => {
    if (r !== primary) send('prepare', board, others(r));
  });
  p.replicas.forEach((board, r) => {
    send('commit', board, others(r));
  });
  if (opt.replies) {
    // One REPLY per (replica, unit): each carries one tag, for its unit alone.
    for (const board of p.replicas) for (const c of p.clients) send('reply', board, [c]);
  }
  for (const ch of p.channels) for (const v of p.voters) send('output', ch, [v]);
  p.replicas.forEach((board, r) => {
    send('checkpoint', board, others(r), 1 / opt.checkpointInterval);
  });
  return out;
}

export interface FrameLoad {
  /** Transmissions and encoded bytes per frame. */
  readonly transmissions: number;
  readonly bytes: number;
  /** Link frames (CAN frames, serial frames) per control frame. */
  readonly linkFrames: number;
  /** Wire time per control frame: the whole bus (shared), or the busiest direction (point-to-point). */
  readonly wireSeconds: number;
  /** The busiest direction, for point-to-point links. */
  readonly busiest?: string;
  /** Wire time per control frame by message kind (same scope as wireSeconds). */
  readonly byKind: Readonly<Partial<Record<MessageKind, number>>>;
}

/** Wire time of one frame's traffic on `link`: shared media sum everything, point-to-point the busiest direction. */
export function frameLoad(traffic: readonly Transmission[], link: LinkKind): FrameLoad {
  const shared = link.kind === 'can';
  const perDirection = new Map<string, { seconds: number; byKind: Partial<Record<MessageKind, number>> }>();
  let transmissions = 0;
  let bytes = 0;
  let linkFrames = 0;
  for (const t of traffic) {
    const cost = messageCost(link, t.bytes);
    transmissions += t.perFrame;
    bytes += t.bytes * t.perFrame;
    linkFrames += cost.frames * t.perFrame;
    const key = shared ? 'bus' : `${t.from}->${t.to[0]}`;
    const d = perDirection.get(key) ?? { seconds: 0, byKind: {} };
    d.seconds += cost.seconds * t.perFrame;
    d.byKind[t.kind] = (d.byKind[t.kind] ?? 0) + cost.seconds * t.perFrame;
    perDirection.set(key, d);
  }
  let busiest: [string, { seconds: number; byKind: Partial<Record<MessageKind, number>> }] | undefined;
  for (const e of perDirection) if (busiest === undefined || e[1].seconds > busiest[1].seconds) busiest = e;
  return {
    transmissions,
    bytes,
    linkFrames,
    wireSeconds: busiest?.[1].seconds ?? 0,
    ...(shared || busiest === undefined ? {} : { busiest: busiest[0] }),
    byKind: busiest?.[1].byKind ?? {},
  };
}

/** Highest frame rate (Hz) whose traffic keeps the link within `load` (0.5: 50%). */
export function frameRateBound(traffic: readonly Transmission[], link: LinkKind, load = 0.5): number {
  const { wireSeconds } = frameLoad(traffic, link);
  return wireSeconds > 0 ? load / wireSeconds : Number.POSITIVE_INFINITY;
}
