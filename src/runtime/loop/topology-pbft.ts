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
/** The ceiling of the doubling view-change timeout, as a multiple of the first. */
export const VIEW_CHANGE_TIMEOUT_CEILING = 16;

/** The timeouts of a topology's replicas, in ticks (ms). */
export function topologyTimeouts(
  t: Pick<Topology, 'frameRateHz' | 'timing'>,
): Pick<
  PbftConfig,
  'stallTicks' | 'requestTimeoutTicks' | 'viewChangeTimeoutTicks' | 'maxViewChangeTimeoutTicks'
> {
  const periodMs = 1000 / t.frameRateHz;
  const viewChange = Math.max(1, Math.round(t.timing.viewChangeTimeoutFrames * periodMs));
  return {
    stallTicks: Math.max(1, Math.round(4 * periodMs)),
    requestTimeoutTicks: Math.max(MIN_REQUEST_TIMEOUT_MS, Math.round(REQUEST_TIMEOUT_FRAMES * periodMs)),
    viewChangeTimeoutTicks: viewChange,
    maxViewChangeTimeoutTicks: viewChange * VIEW_CHANGE_TIMEOUT_CEILING,
  };
}

/** The PBFT parameters every replica of a topology must share. Throws RangeError on an invalid group. */
export function topologyPbftConfig(t: Topology): PbftConfig {
  return pbftConfig(t.f, {
    n: t.replicas.length,
    checkpointInterval: t.timing.checkpointInterval,
    watermarkWindow: t.timing.watermarkWindow,
    batching: { mode: 'frame' },
    maxBatchRequests: Math.max(4, t.inputUnits * 4),
    ...topologyTimeouts(t),
  });
}
