/**
 * The catalog's intruders: faulty nodes that are not replicas. A peer with no keys at all (on a shared medium
 * it can overhear traffic), or a client with its own valid keys that misuses them. The simulator gives each
 * one a node index after the correct clients; replicas know intruder clients as principals (they have keys)
 * and know nothing of keyless ones.
 */
import type { PbftConfig } from '../../core/pbft/config.ts';
import type { NodeCrypto } from '../../core/pbft/crypto.ts';
import type { Prng } from '../../core/prng.ts';
import type { Aimed } from '../byzantine/attacks.ts';

export interface IntruderContext {
  /** Its node index on the network. */
  readonly id: number;
  readonly config: PbftConfig;
  /** Its keys as a client principal; undefined for a keyless intruder. */
  readonly crypto: NodeCrypto | undefined;
  readonly rng: Prng;
  readonly nodes: number;
  readonly gst: number;
}

/** A request the intruder authenticated as a client: executing it is valid (the checker must know it). */
export interface IssuedRequest {
  readonly timestamp: number;
  readonly op: Uint8Array;
}

export interface IntruderOutput {
  /** What it sends (`to` undefined: every replica). */
  readonly sends: readonly Aimed[];
  readonly issued: readonly IssuedRequest[];
}

export interface Intruder {
  /** Virtual time advanced to `now` (ms): the intruder's chance to send. */
  tick(now: number): IntruderOutput;
  /** Bytes addressed to it (replies to a client). */
  receive(from: number, bytes: Uint8Array): void;
  /** Traffic between other nodes, overheard on a shared medium; only sniffing intruders define it. */
  overhear?(from: number, to: number, bytes: Uint8Array): void;
}

export interface IntruderEntry {
  readonly name: string;
  /** One line: what the node does, as a test engineer would read it in a report. */
  readonly summary: string;
  /** Whether it holds client keys (a principal the replicas know). */
  readonly keyed: boolean;
  /**
   * View changes of correct primaries it can force after GST, by the core's stated bound (replica.ts): 'f per
   * vouch-first period' for a client whose tags verify at the primary and at fewer than f backups (a batch holding
   * its request cannot prepare, and a PRE-PREPARE cannot be withdrawn: each unmarked primary that authenticated it
   * loses its view once, at most f of them before every correct replica has marked the client). Absent: none.
   */
  readonly forcedViewChanges?: 'f-per-vouch-first-period';
  create(ctx: IntruderContext): Intruder;
}

const registry = new Map<string, IntruderEntry>();

export function registerIntruder(entry: IntruderEntry): void {
  if (registry.has(entry.name)) throw new Error(`intruder ${entry.name} already registered`);
  registry.set(entry.name, entry);
}

/** The intruder called `name` (throws, listing the known names, for an unknown one). */
export function intruder(name: string): IntruderEntry {
  const entry = registry.get(name);
  if (entry === undefined)
    throw new Error(`unknown intruder ${name}; known: ${[...registry.keys()].join(', ')}`);
  return entry;
}

/** Every registered intruder, in registration order. */
export function intruders(): readonly IntruderEntry[] {
  return [...registry.values()];
}
