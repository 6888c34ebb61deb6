/**
 * The registry of the Byzantine catalog: named, documented behaviours that replace a replica. Each entry wraps
 * a real replica, so a faulty node stays plausible (it speaks the protocol) while it misbehaves in one specific
 * way. The simulator, the loop and the HIL rig inject them by name through the core's one seam,
 * `ReplicaStepper` (src/core/pbft/types.ts).
 */
import type { PbftConfig, ReplicaId } from '../../core/pbft/config.ts';
import type { NodeCrypto } from '../../core/pbft/crypto.ts';
import type { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaInput, ReplicaStepper, StepOutput } from '../../core/pbft/types.ts';
import type { Prng } from '../../core/prng.ts';

/**
 * A catalog behaviour: the core's one Byzantine seam (`ReplicaStepper`), returning a fresh array the caller may
 * extend, so behaviours compose (one wraps another and appends its own sends).
 */
export interface Behaviour extends ReplicaStepper {
  step(input: ReplicaInput): StepOutput[];
}

export interface ByzantineContext {
  readonly id: ReplicaId;
  readonly config: PbftConfig;
  /** The faulty node's own keys (a faulty node can always authenticate as itself). */
  readonly crypto: NodeCrypto;
  readonly rng: Prng;
  /** Every node id on the network (replicas then clients). */
  readonly nodes: number;
  /** A correct replica to wrap. */
  readonly replica: Replica;
  /** Virtual time (ms) around which the scenario's faults happen (the GST). */
  readonly gst: number;
}

export interface BehaviourEntry {
  readonly name: string;
  /** One line: what the faulty node does, as a test engineer would read it in a report. */
  readonly summary: string;
  /** Which role it attacks from: any replica, or only the primary of view 0. */
  readonly role: 'any' | 'primary';
  create(ctx: ByzantineContext): Behaviour;
}

const registry = new Map<string, BehaviourEntry>();

/** Add a behaviour; names are unique. */
export function registerBehaviour(entry: BehaviourEntry): void {
  if (registry.has(entry.name)) throw new Error(`behaviour ${entry.name} already registered`);
  registry.set(entry.name, entry);
}

/** The behaviour called `name` (throws, listing the known names, for an unknown one). */
export function behaviour(name: string): BehaviourEntry {
  const entry = registry.get(name);
  if (entry === undefined)
    throw new Error(`unknown behaviour ${name}; known: ${[...registry.keys()].join(', ')}`);
  return entry;
}

/** Every registered behaviour, in registration order. */
export function behaviours(): readonly BehaviourEntry[] {
  return [...registry.values()];
}
