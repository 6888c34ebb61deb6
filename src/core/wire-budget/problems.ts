/**
 * Does every message the protocol can produce fit every link it must cross? For each link of a topology: the
 * worst-case size of each message kind (worst-case.ts) against the largest message the link carries (its
 * framing's limit, the transport's configured maximum and the receivers' decoder limit, whichever is least).
 * A problem names the link and the message, so a config can be refused with a sentence a user can act on.
 *
 * @example
 * for (const spec of linkSpecs(topology.links, topology.boards.length)) {
 *   const problems = linkProblems(input, spec);
 *   if (problems.length > 0) throw new Error(problems[0].text);
 * }
 */
import { DEFAULT_LIMITS, type DecodeLimits } from '../codec/limits.ts';
import { MESSAGE_KINDS, type MessageKind } from '../codec/messages.ts';
import { framingLimit, type LinkKind, linkKindName, messageCost } from './link-cost.ts';
import { type OrderingInput, worstCaseSizes } from './worst-case.ts';

/** One link of a topology as the budget sees it. */
export interface LinkSpec {
  /** How problems name the link, e.g. 'links.0 (can-fd-1M-2M)'. */
  readonly name: string;
  /** The config field of the link, e.g. 'links.0' (for a ConfigError); default: the name. */
  readonly field?: string;
  /** Index of the link in the topology's `links`. */
  readonly index?: number;
  readonly link: LinkKind;
  /** Largest message the transport is configured to carry (default: the framing's limit). */
  readonly maxMessage?: number;
}

export interface LinkProblem {
  readonly link: string;
  /** The config field of the link ('links.0'), and its index in `links` when known. */
  readonly field: string;
  readonly index?: number;
  readonly kind: MessageKind;
  readonly bytes: number;
  readonly limit: number;
  /** Which limit binds: the link framing, the transport's configuration, or the receivers' decoder. */
  readonly by: 'framing' | 'transport' | 'decoder';
  readonly text: string;
}

/**
 * Every message kind whose worst case does not fit `spec`, largest first; empty when all fit.
 *
 * @example
 * linkProblems(input, { name: 'links.0 (can)', link: classicCan(1_000_000), maxMessage: 4095 });
 * // [{ kind: 'new-view', bytes: 52100, limit: 4095, by: 'transport', text: 'links.0 (can): the largest ...' }]
 */
export function linkProblems(
  o: OrderingInput,
  spec: LinkSpec,
  limits: DecodeLimits = DEFAULT_LIMITS,
  /** `worstCaseSizes(o).bytes`, when the caller checks several links of one group (it costs milliseconds). */
  worst: Readonly<Record<MessageKind, number>> = worstCaseSizes(o).bytes,
): LinkProblem[] {
  const caps: [LinkProblem['by'], number][] = [
    ['framing', framingLimit(spec.link)],
    ['transport', spec.maxMessage ?? Number.POSITIVE_INFINITY],
    ['decoder', limits.maxMessageBytes],
  ];
  const [by, limit] = caps.reduce((a, b) => (b[1] < a[1] ? b : a));
  const sizes = worst;
  return MESSAGE_KINDS.filter((kind) => sizes[kind] > limit)
    .sort((a, b) => sizes[b] - sizes[a])
    .map((kind) => ({
      link: spec.name,
      field: spec.field ?? spec.name,
      ...(spec.index !== undefined ? { index: spec.index } : {}),
      kind,
      bytes: sizes[kind],
      limit,
      by,
      text:
        `${spec.name}: the largest ${kind} (${sizes[kind]} bytes, for n=${o.n}, window ${o.watermarkWindow}, ` +
        `batch ${o.maxBatchRequests}, ${o.tagBytes}-byte tags) does not fit the ${limit}-byte limit of the ` +
        `${by === 'framing' ? 'link framing' : by === 'transport' ? "link's transport" : "receivers' decoder"}`,
    }));
}

/** Time each kind's worst case holds the link (CAN: the bus; serial: one direction), in seconds. */
export function worstCaseWireTimes(o: OrderingInput, link: LinkKind): Record<MessageKind, number> {
  const sizes = worstCaseSizes(o).bytes;
  const out = {} as Record<MessageKind, number>;
  for (const kind of MESSAGE_KINDS) out[kind] = messageCost(link, sizes[kind]).seconds;
  return out;
}

/** The links of a topology file as the budget needs them (structurally a subset of the runtime's LinkConfig). */
export type TopologyLink =
  | { readonly type: 'memory' }
  | { readonly type: 'udp' }
  | { readonly type: 'serial'; readonly baud: number; readonly between?: readonly string[] }
  | { readonly type: 'can'; readonly bitrate: number; readonly dataBitrate?: number | undefined };

/**
 * LinkSpecs for a topology's links (`boards`: how many boards share a CAN bus; more than 15 take 29-bit ids).
 * `maxMessage` gives the transports' configured limits by link type where they are below the framing's.
 */
export function linkSpecs(
  links: readonly TopologyLink[],
  boards: number,
  maxMessage: Partial<Record<TopologyLink['type'], number>> = {},
): LinkSpec[] {
  return links.map((l, i) => {
    const link = linkKindOf(l, boards > 15);
    const between = l.type === 'serial' && l.between !== undefined ? ` ${l.between.join('-')}` : '';
    const max = maxMessage[l.type];
    return {
      name: `links.${i} (${linkKindName(link)}${between})`,
      field: `links.${i}`,
      index: i,
      link,
      ...(max !== undefined ? { maxMessage: max } : {}),
    };
  });
}

function linkKindOf(l: TopologyLink, extended: boolean): LinkKind {
  switch (l.type) {
    case 'serial':
      return { kind: 'serial', baud: l.baud };
    case 'can':
      return l.dataBitrate === undefined
        ? { kind: 'can', bitrate: l.bitrate, extended }
        : { kind: 'can', bitrate: l.bitrate, dataBitrate: l.dataBitrate, extended };
    default:
      return { kind: l.type };
  }
}
