/**
 * A channel's abstract state (the BASE idea): the law's state in spec units and the input machine's carried
 * state, one form for every implementation of the law. Peers hand it to a rebuilding channel (CHANNEL-STATE,
 * src/runtime/recovery/wire-rebuild.ts) and the replicated service keeps a reference copy of it in every
 * checkpoint (service.ts), so state transfer brings it back certified by 2f+1 replicas.
 *
 * @example
 * const wire = toWire(seq, channel.exportState()); // CHANNEL-STATE entry, or the service's snapshot
 * const back = fromWire(wire, topology.inputUnits); // undefined when the shape is not this topology's
 */
import type { WireChannelState } from '../../core/codec/messages.ts';
import type { AbstractState, PitchLaw } from '../../core/control/spec.ts';
import type { FrameInputsState } from '../../core/frame/inputs.ts';

/** The state a rebuilt channel takes: the law's abstract state and the input machine's. */
export interface ChannelState {
  readonly frame: number;
  readonly state: AbstractState;
  readonly inputs: FrameInputsState;
}

/** The abstract state of an input machine and a law (a channel's, or the replicated service's reference). */
export function channelStateOf(inputs: { exportState(): FrameInputsState }, law: PitchLaw): ChannelState {
  const s = inputs.exportState();
  return { frame: s.lastFrame, state: law.exportState(), inputs: s };
}

/** The wire form of a channel's abstract state after batch `seq`. */
export function toWire(seq: number, s: ChannelState): WireChannelState {
  return {
    seq,
    framePlusOne: s.frame + 1,
    primed: s.state.primed,
    referenceFilter: s.state.referenceFilter,
    integrator: s.state.integrator,
    rateEstimate: s.state.rateEstimate,
    lastMeasurement: s.state.lastMeasurement,
    lastElevator: s.state.lastElevator,
    inputs: s.inputs.voter.fields.map((f) => f.map((m) => ({ ...m }))),
  };
}

/** Back from the wire; undefined when the input voter's shape (fields x units) is not this topology's. */
export function fromWire(w: WireChannelState, units: number): ChannelState | undefined {
  if (w.inputs.some((f) => f.length !== units)) return undefined;
  const frame = w.framePlusOne - 1;
  return {
    frame,
    state: {
      primed: w.primed,
      referenceFilter: w.referenceFilter,
      integrator: w.integrator,
      rateEstimate: w.rateEstimate,
      lastMeasurement: w.lastMeasurement,
      lastElevator: w.lastElevator,
    },
    inputs: { lastFrame: frame, voter: { fields: w.inputs.map((f) => f.map((m) => ({ ...m }))) } },
  };
}
