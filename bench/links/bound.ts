/**
 * The physical bound of one control frame on each link kind, from the wire budget (src/core/wire-budget): the
 * fewest messages and bytes the normal case needs for the topology, with and without REPLYs, and the highest
 * frame rate within the given bus or line load. Pure arithmetic over the real encoder and framing.
 *
 *   npx tsx bench/links/bound.ts [config/laptop.json]      # prints the table as JSON
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_FRAME_COUNTER,
  type FrameTrafficOptions,
  frameLoad,
  frameTraffic,
} from '../../src/core/wire-budget/frame-budget.ts';
import {
  canFd,
  classicCan,
  type LinkKind,
  linkKindName,
  serialLink,
} from '../../src/core/wire-budget/link-cost.ts';
import { loadTopology, type Topology } from '../../src/runtime/config.ts';
import { round } from './args.ts';
import { loopPayloadSizes, placement, wireInput } from './topology.ts';

/** The link kinds every table covers. */
export const LINK_KINDS: readonly LinkKind[] = [
  classicCan(1_000_000),
  classicCan(1_000_000, true),
  canFd(1_000_000, 2_000_000),
  canFd(1_000_000, 5_000_000),
  serialLink(115_200),
  serialLink(921_600),
];

export interface BoundRow {
  readonly link: string;
  /** How multicasts cross the link: one broadcast (bus) or one copy per board (point-to-point). */
  readonly medium: FrameTrafficOptions['medium'];
  readonly replies: boolean;
  /** Bytes of the ordering traffic's MAC tags on this link kind. */
  readonly tagBytes: number;
  readonly messagesPerFrame: number;
  readonly bytesPerFrame: number;
  readonly linkFramesPerFrame: number;
  /** Bus time (shared) or busiest-direction time (point-to-point) per control frame. */
  readonly wireUsPerFrame: number;
  readonly busiestDirection?: string;
  readonly maxHzAtLoad: number;
  readonly shareByKindPercent: Record<string, number>;
}

/** Bound rows for `t` on every link kind: its natural medium (bus for CAN), and point-to-point on CAN too. */
export function boundTable(t: Topology, load = 0.5, counter = DEFAULT_FRAME_COUNTER): BoundRow[] {
  const sizes = loopPayloadSizes(t, counter);
  const where = placement(t);
  const rows: BoundRow[] = [];
  for (const link of LINK_KINDS) {
    // The topology's ordering tags on this link kind (crypto.linkTagBytes, else tagBytes).
    const input = wireInput(t, undefined, link.kind === 'can' ? 'can' : 'serial');
    const media: FrameTrafficOptions['medium'][] =
      link.kind === 'can' ? ['shared', 'point-to-point'] : ['point-to-point'];
    for (const medium of media) {
      for (const replies of [true, false]) {
        const traffic = frameTraffic(input, where, {
          medium,
          replies,
          checkpointInterval: t.timing.checkpointInterval,
          counter,
          opBytes: sizes.op,
          resultBytes: sizes.result,
        });
        const l = frameLoad(traffic, link);
        const share: Record<string, number> = {};
        for (const [k, s] of Object.entries(l.byKind).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))) {
          share[k] = round((100 * (s ?? 0)) / l.wireSeconds);
        }
        rows.push({
          link: linkKindName(link),
          medium,
          replies,
          tagBytes: input.tagBytes,
          messagesPerFrame: round(l.transmissions, 2),
          bytesPerFrame: round(l.bytes),
          linkFramesPerFrame: round(l.linkFrames, 1),
          wireUsPerFrame: round(l.wireSeconds * 1e6),
          ...(l.busiest !== undefined ? { busiestDirection: l.busiest } : {}),
          maxHzAtLoad: round(load / l.wireSeconds),
          shareByKindPercent: share,
        });
      }
    }
  }
  return rows;
}

/**
 * One cut after another, each on top of the previous, in the order they were made: the frame rate within `load`
 * per link kind (tags: crypto.tagBytes, then the 4-byte floor of CAN and serial links).
 */
export function cutsTable(t: Topology, load = 0.5, counter = DEFAULT_FRAME_COUNTER) {
  const sizes = loopPayloadSizes(t, counter);
  const where = placement(t);
  const tag = t.crypto.tagBytes;
  const steps: { name: string; replies: boolean; batch: 'full' | 'digests'; tagBytes: number }[] = [
    { name: `REPLYs, full batches, ${tag}-byte tags`, replies: true, batch: 'full', tagBytes: tag },
    { name: '- REPLYs to input units (done)', replies: false, batch: 'full', tagBytes: tag },
    { name: '- ordering tags to 4 bytes (linkTagBytes)', replies: false, batch: 'full', tagBytes: 4 },
    { name: '- requests in PRE-PREPAREs (digests)', replies: false, batch: 'digests', tagBytes: 4 },
  ];
  return LINK_KINDS.map((link) => {
    const medium: FrameTrafficOptions['medium'] = link.kind === 'can' ? 'shared' : 'point-to-point';
    return {
      link: linkKindName(link),
      medium,
      steps: steps.map((st) => {
        const input = { ...wireInput(t), tagBytes: st.tagBytes, outputTagBytes: tag };
        const traffic = frameTraffic(input, where, {
          medium,
          replies: st.replies,
          batch: st.batch,
          checkpointInterval: t.timing.checkpointInterval,
          counter,
          opBytes: sizes.op,
          resultBytes: sizes.result,
        });
        const l = frameLoad(traffic, link);
        return { cut: st.name, bytesPerFrame: round(l.bytes), maxHzAtLoad: round(load / l.wireSeconds) };
      }),
    };
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '../../..');
  const file = process.argv[2] ?? join(root, 'config/laptop.json');
  const rows = boundTable(loadTopology(file));
  process.stdout.write(
    `${JSON.stringify({ bench: 'links-bound', config: file, load: 0.5, rows }, null, 2)}\n`,
  );
}
