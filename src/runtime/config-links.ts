/**
 * The config-time link check: a topology whose links cannot carry what its protocol sends is refused, naming the
 * link, the message and why. Three rules, each from the wire budget (src/core/wire-budget) over the real encoder
 * and framing:
 *
 * 1. Every message fits: the worst-case size of each message kind (VIEW-CHANGE and NEW-VIEW with full
 *    certificate sets, state replies, full batches) within the smallest of the link framing's limit, the
 *    transport's configured maximum (link-limits.ts) and the receivers' decoder limit.
 * 2. The frame rate fits: one frame's normal-case traffic (requests, PRE-PREPARE, PREPAREs, COMMITs, no REPLYs,
 *    OUTPUTs, amortised checkpoints), with the counters of a day of flight, takes less than one frame period of
 *    the link (a CAN bus as a whole; a serial link per direction). Beyond that the link is more than 100% loaded
 *    and the backlog grows without bound.
 * 3. A view change can finish: the worst-case view change's messages (a VIEW-CHANGE from every backup and the
 *    NEW-VIEW, on a bus; one of each per direction on a point-to-point link) take less than the ceiling of the
 *    doubling view-change timeout; otherwise no view change over this link ever completes.
 *
 * @example
 * for (const i of linkBudgetIssues(topology)) issues.add(i.path, i.problem);
 */
import { DEFAULT_LIMITS } from '../core/codec/limits.ts';
import type { MessageKind } from '../core/codec/messages.ts';
import { frameLoad, type Transmission } from '../core/wire-budget/frame-budget.ts';
import { messageCost } from '../core/wire-budget/link-cost.ts';
import { type LinkSpec, linkProblems, linkSpecs } from '../core/wire-budget/problems.ts';
import { type OrderingInput, worstCaseSizes } from '../core/wire-budget/worst-case.ts';
import type { Topology } from './config.ts';
import { CAN_LINK_MAX_MESSAGE, LINK_MAX_MESSAGE } from './link-limits.ts';
import type { LinkType } from './link-tags.ts';
import { topologyPbftConfig } from './loop/topology-pbft.ts';
import { frameTrafficOf, trafficOn, wireInput } from './wire-input.ts';

/** One refusal: the config field it is about and the sentence that says why. */
export interface LinkBudgetIssue {
  readonly path: readonly (string | number)[];
  readonly problem: string;
}

/** Seconds of flight whose frame counters the rate check assumes (a day: 4-byte varints at 50 Hz). */
export const RATE_CHECK_FLIGHT_SECONDS = 86_400;

/** Every reason the links of `t` cannot carry its protocol; empty when they can. */
export function linkBudgetIssues(t: Topology): LinkBudgetIssue[] {
  try {
    topologyPbftConfig(t);
  } catch (e) {
    if (e instanceof RangeError) return [{ path: ['timing'], problem: e.message }];
    throw e;
  }
  const counter = Math.ceil(t.frameRateHz * RATE_CHECK_FLIGHT_SECONDS);
  const specs = linkSpecs(t.links, t.boards.length, { serial: LINK_MAX_MESSAGE, can: CAN_LINK_MAX_MESSAGE });
  const out: LinkBudgetIssue[] = [];
  // Per link kind: its ordering tags (crypto.linkTagBytes) set its messages' sizes.
  const byType = new Map<LinkType, { input: OrderingInput; worst: Readonly<Record<MessageKind, number>> }>();
  const sized = (type: LinkType) => {
    let s = byType.get(type);
    if (s === undefined) {
      const input = wireInput(t, undefined, type);
      s = { input, worst: worstCaseSizes(input).bytes };
      byType.set(type, s);
    }
    return s;
  };
  for (const spec of specs) {
    const index = spec.index ?? 0;
    const config = t.links[index]!;
    const { input, worst } = sized(config.type);
    const traffic = frameTrafficOf(t, counter, config.type);
    for (const p of linkProblems(input, spec, DEFAULT_LIMITS, worst))
      out.push({ path: ['links', index], problem: p.text });
    const rate = rateProblem(t, spec, trafficOn(traffic, config, spec.link));
    if (rate !== undefined) out.push({ path: ['links', index], problem: rate });
    const viewChange = viewChangeProblem(t, input, worst, spec);
    if (viewChange !== undefined) out.push({ path: ['links', index], problem: viewChange });
  }
  return out;
}

function rateProblem(t: Topology, spec: LinkSpec, traffic: readonly Transmission[]): string | undefined {
  if (spec.link.kind !== 'can' && spec.link.kind !== 'serial') return undefined;
  const load = frameLoad(traffic, spec.link);
  const periodS = 1 / t.frameRateHz;
  if (load.wireSeconds <= periodS) return undefined;
  const where = spec.link.kind === 'can' ? 'bus' : `line (${load.busiest ?? 'busiest direction'})`;
  return (
    `${spec.name}: one frame's messages (${load.transmissions.toFixed(1)} messages, ${Math.round(load.bytes)} bytes, ` +
    `${load.linkFrames.toFixed(0)} link frames) take ${(load.wireSeconds * 1000).toFixed(2)} ms of the ${where}; ` +
    `at frameRateHz ${t.frameRateHz} the period is ${(periodS * 1000).toFixed(2)} ms, so the link would be ` +
    `${Math.round((100 * load.wireSeconds) / periodS)}% loaded (the most it carries is ` +
    `${Math.floor(1 / load.wireSeconds)} Hz at 100%, ${Math.floor(0.5 / load.wireSeconds)} Hz at 50%)`
  );
}

function viewChangeProblem(
  t: Topology,
  input: OrderingInput,
  sizes: Readonly<Record<MessageKind, number>>,
  spec: LinkSpec,
): string | undefined {
  if (spec.link.kind !== 'can' && spec.link.kind !== 'serial') return undefined;
  const vc = messageCost(spec.link, sizes['view-change']).seconds;
  const nv = messageCost(spec.link, sizes['new-view']).seconds;
  // A bus carries every backup's VIEW-CHANGE one after another; a serial link one VIEW-CHANGE each way.
  const seconds = spec.link.kind === 'can' ? (input.n - 1) * vc + nv : vc + nv;
  const ceilingS = topologyPbftConfig(t).maxViewChangeTimeoutTicks / 1000;
  if (seconds <= ceilingS) return undefined;
  return (
    `${spec.name}: the worst-case view change (VIEW-CHANGE ${sizes['view-change']} bytes, NEW-VIEW ` +
    `${sizes['new-view']} bytes, for window ${input.watermarkWindow}) takes ${seconds.toFixed(2)} s on the link, ` +
    `more than the longest view-change timeout (${ceilingS.toFixed(2)} s: 16 x timing.viewChangeTimeoutFrames ` +
    `${t.timing.viewChangeTimeoutFrames} at ${t.frameRateHz} Hz), so it could never complete; raise ` +
    'timing.viewChangeTimeoutFrames or lower timing.watermarkWindow'
  );
}
