/**
 * Where a board's keys come from. The laptop derives every key from the run's seed (one process, nothing to
 * distribute); boards on a bench load key files (`triplex keys gen --config`), with pairwise MAC keys agreed by
 * X25519 (see ../keyfiles.ts). Either way the roles see the same three things.
 */
import { sha256 } from '../../core/crypto/digest.ts';
import { KeyRing } from '../../core/crypto/keyring.ts';
import type { MacBackendName } from '../../core/crypto/mac.ts';
import { SigningKey } from '../../core/crypto/sign.ts';
import type { Topology } from '../config.ts';
import { principalOf } from './principals.ts';

export interface BoardKeys {
  /** The MAC key ring of a principal hosted on this board. */
  ring(principal: number): KeyRing;
  /** The ed25519 signing key of a replica hosted on this board. */
  signer(replica: number): SigningKey;
  /** Every replica's ed25519 public key (to check VIEW-CHANGE, NEW-VIEW and checkpoint signatures). */
  readonly replicaPublicKeys: ReadonlyMap<number, Uint8Array>;
}

/** Every principal of a topology, with the name its key file carries. */
export function topologyPrincipals(t: Topology): { id: number; name: string }[] {
  return [
    ...t.replicas.map((r) => ({ id: principalOf.replica(r.id), name: `replica-${r.id}` })),
    ...t.channels.map((c) => ({ id: principalOf.channel(c.id), name: `channel-${c.id}` })),
    ...Array.from({ length: t.inputUnits }, (_, u) => ({ id: principalOf.input(u), name: `input-${u}` })),
    ...t.voters.map((v) => ({ id: principalOf.voter(v.id), name: `voter-${v.id}` })),
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
    ring: (self) => KeyRing.fromMaster(master, self, principals, options),
    signer,
    replicaPublicKeys: new Map(t.replicas.map((r) => [r.id, signer(r.id).publicKey] as const)),
  };
}
