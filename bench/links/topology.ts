/**
 * What the wire budget needs from a topology: the ordering group's parameters and the sizes of what the
 * control loop orders (input samples, the frame log's results and snapshot, channel outputs), each measured by
 * encoding it with the loop's own encoders; and where each role runs.
 *
 * This is also the mapping a config-time check needs (`wireInput` + `linkSpecs` + `linkProblems`): see
 * linkProblemsOf below.
 */

import type { Placement } from '../../src/core/wire-budget/frame-budget.ts';
import { type LinkProblem, linkProblems, linkSpecs } from '../../src/core/wire-budget/problems.ts';
import { DEFAULT_MAX_COUNTER, type OrderingInput } from '../../src/core/wire-budget/worst-case.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { inputUnitBoard, topologyPbftConfig } from '../../src/runtime/loop/board-runtime.ts';
import { commandFields } from '../../src/runtime/loop/command-codec.ts';
import { encodeInputSample } from '../../src/runtime/loop/input-sample.ts';
import { FrameLogService } from '../../src/runtime/loop/service.ts';
import { LINK_MAX_MESSAGE } from '../../src/runtime/node/transports.ts';

/** Sizes of the loop's application payloads when frame numbers reach `counter`. */
export function loopPayloadSizes(
  t: Topology,
  counter: number,
): { op: number; result: number; snapshot: number } {
  const service = new FrameLogService();
  let op = 0;
  let result = 0;
  for (let unit = 0; unit < t.inputUnits; unit++) {
    const sample = encodeInputSample({ frame: counter, unit, stick: -1.5, pitchValid: true, pitch: 0.25 });
    op = Math.max(op, sample.length);
    result = Math.max(result, service.execute(t.replicas.length + unit, sample).length);
  }
  return { op, result, snapshot: service.snapshot().length };
}

/** The ordering group of `t` and the sizes of what it orders, at the largest counter the budget assumes. */
export function wireInput(t: Topology, counter = DEFAULT_MAX_COUNTER): OrderingInput {
  const pbft = topologyPbftConfig(t);
  const sizes = loopPayloadSizes(t, counter);
  const fields = commandFields({ elevator: 0, mode: 'triplex', commandLimited: false });
  return {
    n: pbft.n,
    f: pbft.f,
    watermarkWindow: pbft.watermarkWindow,
    maxBatchRequests: pbft.maxBatchRequests,
    maxOpBytes: sizes.op,
    tagBytes: t.crypto.tagBytes,
    clients: t.inputUnits,
    maxResultBytes: sizes.result,
    appSnapshotBytes: sizes.snapshot,
    outputDiscrete: fields.discrete.length,
    outputAnalog: fields.analog.length,
    maxCounter: counter,
  };
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
 * Every message that does not fit a link of `t`, with the transports' configured limits (serial and UDP as
 * src/runtime/node/transports.ts builds them; CAN up to its segmentation limit). What config.ts should refuse.
 */
export function linkProblemsOf(t: Topology): LinkProblem[] {
  const input = wireInput(t);
  return linkSpecs(t.links, t.boards.length, { serial: LINK_MAX_MESSAGE }).flatMap((spec) =>
    linkProblems(input, spec),
  );
}
