/**
 * What the wire budget needs from a topology, for the link benchmarks: the runtime's own mapping
 * (src/runtime/wire-input.ts, which the config check uses too), and every message that does not fit a link.
 */
import { type LinkProblem, linkProblems, linkSpecs } from '../../src/core/wire-budget/problems.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { CAN_LINK_MAX_MESSAGE, LINK_MAX_MESSAGE } from '../../src/runtime/link-limits.ts';
import { wireInput } from '../../src/runtime/wire-input.ts';

export { loopPayloadSizes, placement, wireInput } from '../../src/runtime/wire-input.ts';

/**
 * Every message that does not fit a link of `t`, with the transports' configured limits (link-limits.ts). The
 * config check (src/runtime/config-links.ts) refuses such a topology at load.
 */
export function linkProblemsOf(t: Topology): LinkProblem[] {
  const input = wireInput(t);
  return linkSpecs(t.links, t.boards.length, { serial: LINK_MAX_MESSAGE, can: CAN_LINK_MAX_MESSAGE }).flatMap(
    (spec) => linkProblems(input, spec),
  );
}
