/**
 * What the wire budget (src/core/wire-budget) needs from a topology: the ordering group's parameters and the
 * sizes of what the control loop orders (input samples, the frame log's results and snapshot, channel outputs),
 * each measured by encoding it with the loop's own encoders; and where each role runs. Used by the config
 * check (config-links.ts) and the link benchmarks (bench/links).
 *
 * @example
 * const input = wireInput(topology);
 * worstCaseSizes(input).largest; // { kind: 'new-view', bytes: ... }
 */
import {
  frameLoad,
  frameTraffic,
  type Placement,
  type Transmission,
} from '../core/wire-budget/frame-budget.ts';
import { type LinkKind, messageCost } from '../core/wire-budget/link-cost.ts';
import { linkSpecs, type TopologyLink } from '../core/wire-budget/problems.ts';
import { DEFAULT_MAX_COUNTER, type OrderingInput, worstCaseSizes } from '../core/wire-budget/worst-case.ts';
import type { Topology } from './config.ts';
import { type LinkType, linkTagBytes } from './link-tags.ts';
import { commandFields } from './loop/command-codec.ts';
import { encodeInputSample } from './loop/input-sample.ts';
import { FrameLogService, loopChannelConfig, maxSnapshotBytes } from './loop/service.ts';

/** The ordering group of a topology: what every replica shares (topology-pbft.ts builds its PBFT config). */
export function topologyGroup(t: Pick<Topology, 'f' | 'replicas' | 'timing' | 'inputUnits'>): {
  n: number;
  f: number;
  checkpointInterval: number;
  watermarkWindow: number;
  maxBatchRequests: number;
} {
  return {
    n: t.replicas.length,
    f: t.f,
    checkpointInterval: t.timing.checkpointInterval,
    watermarkWindow: t.timing.watermarkWindow,
    maxBatchRequests: Math.max(4, t.inputUnits * 4),
  };
}

/** Sizes of the loop's application payloads when frame numbers reach `counter`. */
export function loopPayloadSizes(
  t: Topology,
  counter: number,
): { op: number; result: number; snapshot: number } {
  const channel = loopChannelConfig(t);
  const service = new FrameLogService(channel);
  let op = 0;
  let result = 0;
  for (let unit = 0; unit < t.inputUnits; unit++) {
    const sample = encodeInputSample({ frame: counter, unit, stick: -1.5, pitchValid: true, pitch: 0.25 });
    op = Math.max(op, sample.length);
    result = Math.max(result, service.execute(t.replicas.length + unit, sample, 1).length);
  }
  const snapshot = maxSnapshotBytes(t.inputUnits, channel.inputs.voter.fields.length, counter);
  return { op, result, snapshot };
}

/**
 * The ordering group of `t` and the sizes of what it orders, at the largest counter the budget assumes, with the
 * ordering tags of link kind `link` (link-tags.ts; default crypto.tagBytes) and OUTPUTs tagged with tagBytes.
 */
export function wireInput(t: Topology, counter = DEFAULT_MAX_COUNTER, link?: LinkType): OrderingInput {
  const pbft = topologyGroup(t);
  const sizes = loopPayloadSizes(t, counter);
  const fields = commandFields({ elevator: 0, mode: 'triplex', commandLimited: false });
  return {
    n: pbft.n,
    f: pbft.f,
    watermarkWindow: pbft.watermarkWindow,
    maxBatchRequests: pbft.maxBatchRequests,
    maxOpBytes: sizes.op,
    tagBytes: link === undefined ? t.crypto.tagBytes : linkTagBytes(t, link),
    outputTagBytes: t.crypto.tagBytes,
    clients: t.inputUnits,
    maxResultBytes: sizes.result,
    appSnapshotBytes: sizes.snapshot,
    outputDiscrete: fields.discrete.length,
    outputAnalog: fields.analog.length,
    maxCounter: counter,
  };
}

/** Which board hosts input unit u (units are spread over the input boards in order). */
export function inputUnitBoard(t: Topology, unit: number): string {
  return t.inputs[unit % t.inputs.length]!.board;
}

/** Which board runs each role of `t`. */
export function placement(t: Topology): Placement {
  const byId = (slots: readonly { board: string; id: number }[]): string[] =>
    [...slots].sort((a, b) => a.id - b.id).map((s) => s.board);
  return {
    replicas: byId(t.replicas),
    channels: byId(t.channels),
    voters: byId(t.voters),
    clients: Array.from({ length: t.inputUnits }, (_, u) => inputUnitBoard(t, u)),
  };
}

/**
 * One frame's normal-case transmissions, as on a bus (one per multicast) and as on point-to-point links, with the
 * ordering tags of link kind `link` (default crypto.tagBytes).
 */
export function frameTrafficOf(
  t: Topology,
  counter: number,
  link?: LinkType,
): Record<'shared' | 'point-to-point', Transmission[]> {
  const sizes = loopPayloadSizes(t, counter);
  const input = wireInput(t, counter, link);
  const of = (medium: 'shared' | 'point-to-point'): Transmission[] =>
    frameTraffic(input, placement(t), {
      medium,
      // The loop's input units read no REPLYs and get none (topology-pbft.ts: config.noReplyClients).
      replies: false,
      checkpointInterval: t.timing.checkpointInterval,
      counter,
      opBytes: sizes.op,
      resultBytes: sizes.result,
    });
  return { shared: of('shared'), 'point-to-point': of('point-to-point') };
}

/** The transmissions of one frame that cross the link `config` (a bus: all; a serial link: its two boards). */
export function trafficOn(
  traffic: Record<'shared' | 'point-to-point', Transmission[]>,
  config: TopologyLink,
  link: LinkKind,
): Transmission[] {
  if (link.kind === 'can') return traffic.shared;
  if (config.type !== 'serial' || config.between === undefined) return traffic['point-to-point'];
  const [a, b] = config.between;
  return traffic['point-to-point'].filter(
    (x) => (x.from === a && x.to[0] === b) || (x.from === b && x.to[0] === a),
  );
}

/**
 * Milliseconds a typical view change holds the slowest link of `t`: a VIEW-CHANGE from each backup and the
 * NEW-VIEW (a bus carries them one after another; a serial link one of each per direction), with certificates
 * for one checkpoint interval of sequence numbers (what the log holds above a stable checkpoint at a steady
 * rate; the worst case, a full window, is the config check's business). 0 without a serial or CAN link.
 */
export function viewChangeWireMs(t: Topology): number {
  const cached = viewChangeMsCache.get(t);
  if (cached !== undefined) return cached;
  const ms = computeViewChangeWireMs(t);
  viewChangeMsCache.set(t, ms);
  return ms;
}

/** Per topology object (a board builds several PBFT configs from one; encoding maximal messages costs ms). */
const viewChangeMsCache = new WeakMap<Topology, number>();

function computeViewChangeWireMs(t: Topology): number {
  const group = topologyGroup(t);
  const entries = Math.min(group.watermarkWindow, group.checkpointInterval);
  const counter = Math.ceil(t.frameRateHz * 86_400);
  let worst = 0;
  for (const [i, spec] of linkSpecs(t.links, t.boards.length).entries()) {
    const link: LinkKind = spec.link;
    if (link.kind !== 'can' && link.kind !== 'serial') continue;
    const type = t.links[i]!.type;
    const sizes = worstCaseSizes({ ...wireInput(t, counter, type), watermarkWindow: entries }).bytes;
    const traffic = frameTrafficOf(t, counter, type);
    const vc = messageCost(link, sizes['view-change']).seconds;
    const nv = messageCost(link, sizes['new-view']).seconds;
    const burst = link.kind === 'can' ? (group.n - 1) * vc + nv : vc + nv;
    // The frames keep coming during a view change: it gets what the normal case leaves of the link.
    const load = frameLoad(trafficOn(traffic, t.links[i]!, link), link).wireSeconds * t.frameRateHz;
    worst = Math.max(worst, (1000 * burst) / Math.max(MIN_SPARE, 1 - load));
  }
  return worst;
}

/** The least share of a link a view change is assumed to get (a link loaded past 90% is refused anyway). */
const MIN_SPARE = 0.1;
