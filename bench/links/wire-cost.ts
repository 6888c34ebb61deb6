/**
 * What a recorded run's traffic costs on a link kind: every message through the real framing (serial frames
 * with COBS and CRC; CAN segmentation with worst-case stuffing), per control frame. A bus (CAN) carries all
 * transmissions; a point-to-point mesh is bounded by its busiest direction. Also the worst stretch of
 * `windowFrames` frames, where a view change shows up.
 */
import type { MessageKind } from '../../src/core/codec/messages.ts';
import {
  type LinkKind,
  linkKindName,
  type MessageCost,
  messageCost,
} from '../../src/core/wire-budget/link-cost.ts';
import { round } from './args.ts';
import type { Recording } from './traffic.ts';

export interface Achieved {
  readonly link: string;
  readonly messagesPerFrame: number;
  readonly bytesPerFrame: number;
  readonly linkFramesPerFrame: number;
  /** Bus time (CAN) or busiest-direction time (serial) per control frame, over the whole window. */
  readonly wireUsPerFrame: number;
  readonly busiestDirection?: string;
  readonly maxHzAtLoad: number;
  /** The worst run of `windowFrames` consecutive frames (a view change), per frame. */
  readonly peak: {
    readonly windowFrames: number;
    readonly fromFrame: number;
    readonly wireUsPerFrame: number;
    readonly maxHzAtLoad: number;
  };
  readonly shareByKindPercent: Record<string, number>;
}

/** Cost of every recorded message on `link`, per frame, within `load`. */
export function achievedOn(rec: Recording, link: LinkKind, load = 0.5, windowFrames = 10): Achieved {
  const shared = link.kind === 'can';
  const cache = new Map<number, MessageCost>();
  const cost = (length: number): MessageCost => {
    let c = cache.get(length);
    if (c === undefined) {
      c = messageCost(link, length);
      cache.set(length, c);
    }
    return c;
  };
  const directions = new Map<
    string,
    { seconds: number; perFrame: Float64Array; byKind: Map<MessageKind, number> }
  >();
  let bytes = 0;
  let linkFrames = 0;
  for (const s of rec.sent) {
    const c = cost(s.length);
    bytes += s.length;
    linkFrames += c.frames;
    const key = shared ? 'bus' : `${s.from}->${s.to}`;
    let d = directions.get(key);
    if (d === undefined) {
      d = { seconds: 0, perFrame: new Float64Array(rec.frames + 1), byKind: new Map() };
      directions.set(key, d);
    }
    d.seconds += c.seconds;
    d.perFrame[Math.min(rec.frames, Math.max(0, s.frame))]! += c.seconds;
    d.byKind.set(s.kind, (d.byKind.get(s.kind) ?? 0) + c.seconds);
  }
  let busiest:
    | [string, { seconds: number; perFrame: Float64Array; byKind: Map<MessageKind, number> }]
    | undefined;
  for (const e of directions) if (busiest === undefined || e[1].seconds > busiest[1].seconds) busiest = e;
  const perFrame = (busiest?.[1].seconds ?? 0) / rec.frames;
  const peak = worstWindow(directions, Math.min(windowFrames, rec.frames));
  const share: Record<string, number> = {};
  if (busiest !== undefined) {
    for (const [k, s] of [...busiest[1].byKind].sort((a, b) => b[1] - a[1])) {
      share[k] = round((100 * s) / busiest[1].seconds);
    }
  }
  return {
    link: linkKindName(link),
    messagesPerFrame: round(rec.sent.length / rec.frames, 2),
    bytesPerFrame: round(bytes / rec.frames),
    linkFramesPerFrame: round(linkFrames / rec.frames, 1),
    wireUsPerFrame: round(perFrame * 1e6),
    ...(!shared && busiest !== undefined ? { busiestDirection: busiest[0] } : {}),
    maxHzAtLoad: round(load / perFrame),
    peak: {
      windowFrames: peak.window,
      fromFrame: peak.from,
      wireUsPerFrame: round(peak.perFrame * 1e6),
      maxHzAtLoad: round(load / peak.perFrame),
    },
    shareByKindPercent: share,
  };
}

/** The window of `window` frames with the most wire time on any one direction (or the bus). */
function worstWindow(
  directions: Map<string, { perFrame: Float64Array }>,
  window: number,
): { window: number; from: number; perFrame: number } {
  let best = { window, from: 0, perFrame: 0 };
  for (const { perFrame } of directions.values()) {
    let sum = 0;
    for (let i = 0; i < perFrame.length; i++) {
      sum += perFrame[i]!;
      if (i >= window) sum -= perFrame[i - window]!;
      if (i >= window - 1 && sum / window > best.perFrame)
        best = { window, from: i - window + 1, perFrame: sum / window };
    }
  }
  return best;
}
