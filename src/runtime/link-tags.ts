/**
 * MAC tag length per link kind: the ordering protocol's tags (replica to replica, input unit to replica) may be
 * shorter on a link whose frame rate bounds how often an attacker can try a forged tag (a CAN bus, a serial
 * line), down to a floor per kind; everything else keeps `crypto.tagBytes` (a channel's OUTPUT to the voter, the
 * firmware voter's keys, heartbeats, and principals on one board). The security argument is docs/MAC-TAGS.md.
 *
 * A pair of principals on two boards uses the tag of the link that joins the boards (the longest, if several
 * do); both ends compute it from the same topology, so they agree.
 *
 * @example
 * // config: "crypto": { "tagBytes": 8, "linkTagBytes": { "can": 4 } }
 * new KeyRing({ self, keys, tagLength: t.crypto.tagBytes, peerTagLengths: peerTagLengths(t, self) });
 */
import { MIN_LINK_TAG_LENGTH, MIN_TAG_LENGTH } from '../core/crypto/mac.ts';
import type { Topology } from './config.ts';
import { INPUT_BASE } from './loop/principals.ts';

export type LinkType = Topology['links'][number]['type'];

/**
 * The shortest tag each link kind may be configured with, in bytes. CAN and serial: 32 bits (a classic CAN bus
 * carries at most about 4,000 tagged messages a second, CAN FD 1M/5M about 16,000, a 921600-baud line about
 * 6,000, so an attacker flooding the whole link expects a first forgery after days, and is seen at once as MAC
 * rejections and a full link); UDP and memory: 64 bits (no physical rate bound worth the name).
 */
export const LINK_TAG_FLOOR: Readonly<Record<LinkType, number>> = {
  can: MIN_LINK_TAG_LENGTH,
  serial: MIN_LINK_TAG_LENGTH,
  udp: MIN_TAG_LENGTH,
  memory: MIN_TAG_LENGTH,
};

/** The ordering tag bytes of link kind `type` in `t`: its configured linkTagBytes, else crypto.tagBytes. */
export function linkTagBytes(t: Pick<Topology, 'crypto'>, type: LinkType): number {
  return t.crypto.linkTagBytes?.[type] ?? t.crypto.tagBytes;
}

/** Board of every principal that takes part in ordering (replicas and input units), by principal id. */
function orderingBoards(t: Topology): Map<number, string> {
  const boards = new Map<number, string>();
  for (const r of t.replicas) boards.set(r.id, r.board);
  for (let u = 0; u < t.inputUnits; u++) boards.set(INPUT_BASE + u, t.inputs[u % t.inputs.length]!.board);
  return boards;
}

/** Tag bytes of the link joining boards `a` and `b` (the longest of several); undefined: no link joins them. */
function boardPairTag(t: Topology, a: string, b: string): number | undefined {
  let tag: number | undefined;
  for (const l of t.links) {
    const joins = l.type !== 'serial' || (l.between.includes(a) && l.between.includes(b));
    if (joins) tag = Math.max(tag ?? 0, linkTagBytes(t, l.type));
  }
  return tag;
}

/**
 * Per-peer tag lengths for principal `self`'s KeyRing: for each ordering principal on another board, the tag of
 * the link joining the two boards, where it differs from crypto.tagBytes. Empty for channels and voters.
 */
export function peerTagLengths(t: Topology, self: number): Map<number, number> {
  const out = new Map<number, number>();
  const boards = orderingBoards(t);
  const mine = boards.get(self);
  if (mine === undefined) return out;
  for (const [peer, board] of boards) {
    if (peer === self || board === mine) continue;
    const tag = boardPairTag(t, mine, board);
    if (tag !== undefined && tag !== t.crypto.tagBytes) out.set(peer, tag);
  }
  return out;
}

/** Every configured link tag below its kind's floor, as a config field and a sentence. */
export function linkTagIssues(t: Pick<Topology, 'crypto'>): { path: (string | number)[]; problem: string }[] {
  const out: { path: (string | number)[]; problem: string }[] = [];
  for (const [type, bytes] of Object.entries(t.crypto.linkTagBytes ?? {}) as [LinkType, number][]) {
    const floor = LINK_TAG_FLOOR[type];
    if (bytes < floor) {
      out.push({
        path: ['crypto', 'linkTagBytes', type],
        problem:
          `${bytes}-byte MAC tags on ${type} links are below the floor of ${floor} bytes (${8 * floor} bits) for ` +
          `that link kind: each forged tag an attacker tries succeeds with odds 2^-${8 * bytes}, and a ${type} ` +
          'link does not bound the attempts enough for less (docs/MAC-TAGS.md)',
      });
    }
  }
  return out;
}
