/**
 * The PBFT parameters of a topology: what every replica of it must share (quorums, watermarks, checkpoints) and
 * its timeouts, in the runtime's ticks (milliseconds), scaled with the frame period. A leaf module (the config
 * check and the wire budget import it without the board's roles).
 *
 * Why scaled: the loop's tolerance for a stalled primary is counted in frames (the voter fails safe after
 * `failsafeAfterMisses` frames), so timeouts fixed in milliseconds are too long at high frame rates (a view
 * change would start after the actuator already failed safe) and too short at low ones.
 *
 * @example
 * const pbft = topologyPbftConfig(loadTopology('config/can-bus.json'));
 * pbft.viewChangeTimeoutTicks; // timing.viewChangeTimeoutFrames frame periods, in ms
 */
import { type PbftConfig, pbftConfig } from '../../core/pbft/config.ts';
import type { Topology } from '../config.ts';
import { topologyGroup, viewChangeWireMs } from '../wire-input.ts';
import { INPUT_BASE } from './principals.ts';

/**
 * Frames a backup waits for a request it holds (or a slot whose agreement started) to execute before it votes
 * to leave the view. One more than the frame-mode primary monitoring (`maxMissedFrames`, 3) plus one frame of
 * slack: a primary that stops proposing is caught by the monitor first, a primary whose batches do not commit by
 * this timer.
 */
export const REQUEST_TIMEOUT_FRAMES = 5;
/**
 * Floor of the request timeout (ms): at high frame rates five periods are shorter than a host stall on a loaded
 * machine (tens of ms), and a spurious view change costs more frames than the stall itself.
 */
export const MIN_REQUEST_TIMEOUT_MS = 25;
/** The stall period is at least this many times a typical view change's time on the slowest link. */
export const STALL_LINK_FACTOR = 1.25;
/** The ceiling of the doubling view-change timeout, as a multiple of the first. */
export const VIEW_CHANGE_TIMEOUT_CEILING = 16;

/**
 * The timeouts of a topology's replicas, in ticks (ms).
 *
 * The stall period (how often a replica that waits asks its peers to retransmit, and how often a peer answers
 * one replica's view-change fetch) is at least the time a typical view change holds the slowest link: on a
 * slow bus, asking again before the first answer has crossed it only queues more copies of the same large
 * messages behind it (measured on the virtual CAN bus, bench/links/virtual-can.ts: classic CAN at 20 Hz with
 * 4-period stalls turned a primary crash into a retransmission storm at 80% bus load and a permanent failsafe;
 * with the floor, 3 VIEW-CHANGEs, one NEW-VIEW and 8 missed frames). The request timeout and the first
 * view-change timeout get the same floor: a new view whose first batches commit only after its NEW-VIEW has
 * crossed a busy bus is not slow, and leaving it (CAN FD at 100 Hz with a 50 ms request timeout) repeats the
 * view change until the bus is full of them.
 */
export function topologyTimeouts(
  t: Topology,
): Pick<
  PbftConfig,
  'stallTicks' | 'requestTimeoutTicks' | 'viewChangeTimeoutTicks' | 'maxViewChangeTimeoutTicks'
> {
  const periodMs = 1000 / t.frameRateHz;
  const linkFloor = Math.ceil(STALL_LINK_FACTOR * viewChangeWireMs(t));
  const viewChange = Math.max(1, linkFloor, Math.round(t.timing.viewChangeTimeoutFrames * periodMs));
  return {
    stallTicks: Math.max(1, linkFloor, Math.round(4 * periodMs)),
    requestTimeoutTicks: Math.max(
      MIN_REQUEST_TIMEOUT_MS,
      linkFloor,
      Math.round(REQUEST_TIMEOUT_FRAMES * periodMs),
    ),
    viewChangeTimeoutTicks: viewChange,
    maxViewChangeTimeoutTicks: viewChange * VIEW_CHANGE_TIMEOUT_CEILING,
  };
}

/** The PBFT parameters every replica of a topology must share. Throws RangeError on an invalid group. */
export function topologyPbftConfig(t: Topology): PbftConfig {
  const { n, checkpointInterval, watermarkWindow, maxBatchRequests } = topologyGroup(t);
  return pbftConfig(t.f, {
    n,
    checkpointInterval,
    watermarkWindow,
    batching: { mode: 'frame' },
    maxBatchRequests,
    ...topologyTimeouts(t),
    // Nothing reads a REPLY to an input unit: the frame's result is the channels' OUTPUT at the voter.
    noReplyClients: new Set(Array.from({ length: t.inputUnits }, (_, u) => INPUT_BASE + u)),
  });
}
