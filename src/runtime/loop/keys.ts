/**
 * Where a board's keys come from. The laptop derives every key from the run's seed (one process, nothing to
 * distribute); boards on a bench load key files (`triplex keys gen --config`), with pairwise MAC keys agreed by
 * X25519 (see ../keyfiles.ts). Either way the roles see the same three things.
 */
import { sha256 } from '../../core/crypto/digest.ts';
import { sessionKeysFromMaster } from '../../core/crypto/hkdf.ts';
import { KeyRing } from '../../core/crypto/keyring.ts';
import type { MacBackendName } from '../../core/crypto/mac.ts';
import { SigningKey } from '../../core/crypto/sign.ts';
import type { Topology } from '../config.ts';
import { peerTagLengths } from '../link-tags.ts';
import { principalOf } from './principals.ts';

export interface BoardKeys {
  /** The MAC key ring of a principal hosted on this board. */
  ring(principal: number): KeyRing;
  /**
   * The raw pairwise MAC key of `self` (hosted on this board) with `peer`: what the firmware voter is
   * provisioned with, since a microcontroller holds its keys in flash rather than in a KeyRing.
   */
  rawKey(self: number, peer: number): Uint8Array;
  /**
   * The key a firmware voter (voter id `voter`, hosted here) tags its heartbeats with; undefined when the key set
   * has none (key files written before heartbeat keys: `triplex keys gen` again).
   */
  heartbeatKey(voter: number): Uint8Array | undefined;
  /**
   * Keys that rotate (proactive recovery: recovery/rotating-keys.ts) call `listener(peer)` each time `self`'s
   * pairwise key with `peer` changes (a peer's NEW-KEY accepted), after `rawKey(self, peer)` gives the new one: a
   * firmware voter passes it on to its unit (REKEY). Fixed key sets have no such calls.
   */
  onRekey?(self: number, listener: (peer: number) => void): void;
  /** The ed25519 signing key of a replica hosted on this board. */
  signer(replica: number): SigningKey;
  /** Every replica's ed25519 public key (to check VIEW-CHANGE, NEW-VIEW and checkpoint signatures). */
  readonly replicaPublicKeys: ReadonlyMap<number, Uint8Array>;
}

/**
 * Every principal of a topology, with the name its key file carries; `heartbeat`: its key file also holds a
 * heartbeat key (the voters: a firmware voter tags its heartbeats with it).
 */
export function topologyPrincipals(t: Topology): { id: number; name: string; heartbeat?: true }[] {
  return [
    ...t.replicas.map((r) => ({ id: principalOf.replica(r.id), name: `replica-${r.id}` })),
    ...t.channels.map((c) => ({ id: principalOf.channel(c.id), name: `channel-${c.id}` })),
    ...Array.from({ length: t.inputUnits }, (_, u) => ({ id: principalOf.input(u), name: `input-${u}` })),
    ...t.voters.map((v) => ({
      id: principalOf.voter(v.id),
      name: `voter-${v.id}`,
      heartbeat: true as const,
    })),
  ];
}

/** Keys derived from a seed: for the single-process laptop mode and tests only. */
export function seededKeys(t: Topology, seed: number): BoardKeys {
  const text = new TextEncoder();
  const master = sha256(text.encode(`triplex/laptop-keys/${seed}`));
  const principals = topologyPrincipals(t).map((p) => p.id);
  const signer = (id: number): SigningKey =>
    SigningKey.fromSeed(sha256(text.encode(`triplex/laptop-sign/${seed}/${id}`)));
  const options: { tagLength: number; backend: MacBackendName } = {
    tagLength: t.crypto.tagBytes,
    backend: t.crypto.macBackend,
  };
  return {
    ring: (self) =>
      KeyRing.fromMaster(master, self, principals, { ...options, peerTagLengths: peerTagLengths(t, self) }),
    rawKey: (self, peer) => sessionKeysFromMaster(master, self, peer),
    heartbeatKey: (voter) => sha256(text.encode(`triplex/laptop-fw-heartbeat/${seed}/${voter}`)),
    signer,
    replicaPublicKeys: new Map(t.replicas.map((r) => [r.id, signer(r.id).publicKey] as const)),
  };
}
