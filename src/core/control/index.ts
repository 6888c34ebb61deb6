/**
 * Pitch-attitude control law: one specification (spec.ts) and three dissimilar implementations that
 * share the abstract state, so that any channel can be rebuilt from another's exported state.
 *
 * @example
 * const spec = defaultPitchLawSpec(50);
 * const laws = [new Float64PitchLaw(spec), new FixedQ24PitchLaw(spec), new ModalPitchLaw(spec)];
 * const cmd = laws[0].step({ pitchCommand: 0.2, pitch: 0.0105, sensorMode: 'duplex' });
 * laws[1].importState(laws[0].exportState()); // rebuild channel 1 from channel 0
 */
export { FixedQ24PitchLaw } from './fixed.ts';
export { Float64PitchLaw } from './float64.ts';
export { meetsTutorialCriteria, type StepMetrics, stepMetrics, TUTORIAL_CRITERIA } from './metrics.ts';
export { ModalPitchLaw } from './modal.ts';
export {
  type AbstractState,
  type AnyLawInputs,
  type Command,
  type ControlImplKind,
  DEFAULT_GAINS,
  defaultPitchLawSpec,
  type FrameInputs,
  INITIAL_STATE,
  isCommandLimited,
  isPlausiblePitch,
  type LawInputs,
  lawInputsOf,
  type PitchLaw,
  type PitchLawSpec,
  type SensorMode,
  SUPPORTED_FRAME_RATE_HZ,
  sensorModeOf,
  validateSpec,
  validateState,
} from './spec.ts';

import { FixedQ24PitchLaw } from './fixed.ts';
import { Float64PitchLaw } from './float64.ts';
import { ModalPitchLaw } from './modal.ts';
import type { AbstractState, ControlImplKind, PitchLaw, PitchLawSpec } from './spec.ts';

/** All implementation kinds, in channel order for the default triplex. */
export const CONTROL_IMPL_KINDS: readonly ControlImplKind[] = ['float64', 'fixed-q24', 'modal'];

/** Build an implementation of the law by kind, optionally from an abstract state. */
export function createPitchLaw(kind: ControlImplKind, spec: PitchLawSpec, state?: AbstractState): PitchLaw {
  switch (kind) {
    case 'float64':
      return new Float64PitchLaw(spec, state);
    case 'fixed-q24':
      return new FixedQ24PitchLaw(spec, state);
    case 'modal':
      return new ModalPitchLaw(spec, state);
  }
}
