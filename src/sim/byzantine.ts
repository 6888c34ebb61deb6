/**
 * The Byzantine catalog: named, documented behaviours that replace a replica, injected by name by the simulator,
 * the loop and the HIL rig (scenario event 'replica-byzantine') through the core's one seam, `ReplicaStepper`.
 * Each entry wraps a real replica so a faulty node stays plausible while it misbehaves in one specific way.
 * Nodes that are not replicas (a flooding client, a client with bad MACs, a peer with no keys) are the
 * catalog's intruders: see intruders.ts.
 *
 * Files: registry.ts (the registry and its types), forge.ts (message forging), attacks.ts (the message
 * generators shared with bench/flood.ts), then one file per family of behaviours (stalls.ts: primaries that
 * stop the pipeline without stopping themselves). Import order fixes the registration order, which a seed's
 * draw of behaviours depends on.
 */
import './byzantine/classic.ts';
import './byzantine/views.ts';
import './byzantine/batches.ts';
import './byzantine/votes.ts';
import './byzantine/checkpoints.ts';
import './byzantine/floods.ts';
import './byzantine/stalls.ts';

export { corruptAuth } from './byzantine/forge.ts';
export {
  type Behaviour,
  type BehaviourEntry,
  type ByzantineContext,
  behaviour,
  behaviours,
  registerBehaviour,
} from './byzantine/registry.ts';

import type { StepOutput } from '../core/pbft/types.ts';
import type { Behaviour } from './byzantine/registry.ts';

/** @deprecated Use `StepOutput` from src/core/pbft/types.ts (kept while bench/ordering.ts still names it). */
export type SimAction = StepOutput;
/** @deprecated Use `ReplicaStepper` from src/core/pbft/types.ts (kept while bench/ordering.ts still names it). */
export type SimReplica = Behaviour;
