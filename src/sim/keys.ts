/**
 * Deterministic key material for a simulated (or benchmarked) group: pairwise MAC keys from one master secret,
 * ed25519 identities from per-node seeds. Everything derives from `seed`, so a run replays exactly.
 */
import { sha256 } from '../core/crypto/digest.ts';
import { KeyRing } from '../core/crypto/keyring.ts';
import { SigningKey } from '../core/crypto/sign.ts';
import { keyRingCrypto, type NodeCrypto } from '../core/pbft/crypto.ts';

export interface GroupKeys {
  /** Crypto of principal `id` (replicas 0..n-1 sign; clients only MAC). */
  cryptoFor(id: number): NodeCrypto;
  /** The key ring under `cryptoFor(id)` (a test rekeys a pair in place, as a NEW-KEY does). */
  ring(id: number): KeyRing;
}

export function groupKeys(seed: number, replicas: number, clients: readonly number[]): GroupKeys {
  const master = sha256(new TextEncoder().encode(`triplex-sim-master-${seed}`));
  const principals = [...Array.from({ length: replicas }, (_, i) => i), ...clients];
  const signers = new Map<number, SigningKey>();
  const publicKeys = new Map<number, Uint8Array>();
  for (let r = 0; r < replicas; r++) {
    const key = SigningKey.fromSeed(sha256(new TextEncoder().encode(`triplex-sim-id-${seed}-${r}`)));
    signers.set(r, key);
    publicKeys.set(r, key.publicKey);
  }
  const cache = new Map<number, NodeCrypto>();
  const rings = new Map<number, KeyRing>();
  const ring = (id: number): KeyRing => {
    let r = rings.get(id);
    if (r === undefined) {
      r = KeyRing.fromMaster(master, id, principals);
      rings.set(id, r);
    }
    return r;
  };
  return {
    cryptoFor(id) {
      let c = cache.get(id);
      if (c === undefined) {
        c = keyRingCrypto(ring(id), signers.get(id), publicKeys);
        cache.set(id, c);
      }
      return c;
    },
    ring,
  };
}
