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
import type { Placement } from '../core/wire-budget/frame-budget.ts';
import { DEFAULT_MAX_COUNTER, type OrderingInput } from '../core/wire-budget/worst-case.ts';
import type { Topology } from './config.ts';
import { commandFields } from './loop/command-codec.ts';
import { encodeInputSample } from './loop/input-sample.ts';
import { FrameLogService } from './loop/service.ts';
import { topologyPbftConfig } from './loop/topology-pbft.ts';

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
