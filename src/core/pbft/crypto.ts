/**
 * The cryptography a replica or client needs, as one small interface, so the state machines do not care how
 * keys are held (and the simulator can give a Byzantine node a tampering implementation).
 */
import { sha256 } from '../crypto/digest.ts';
import type { KeyRing } from '../crypto/keyring.ts';
import { ed25519Verify, type SigningKey } from '../crypto/sign.ts';

export interface NodeCrypto {
  readonly self: number;
  digest(data: Uint8Array): Uint8Array;
  /** One MAC tag per receiver, in receiver order. */
  authenticator(receivers: readonly number[], data: Uint8Array): Uint8Array[];
  /** Our own slot of `from`'s authenticator to `receivers`. */
  verifyAuthenticator(
    from: number,
    receivers: readonly number[],
    data: Uint8Array,
    tags: readonly Uint8Array[],
  ): boolean;
  tag(to: number, data: Uint8Array): Uint8Array;
  verifyTag(from: number, data: Uint8Array, tag: Uint8Array): boolean;
  /** ed25519 signature by this node (replicas only). */
  sign(data: Uint8Array): Uint8Array;
  /** Whether `signer` (a replica) signed `data`. */
  verifySignature(signer: number, data: Uint8Array, signature: Uint8Array): boolean;
}

/** Node crypto over the shared crypto module: pairwise MACs from a KeyRing, ed25519 for signatures. */
export function keyRingCrypto(
  ring: KeyRing,
  signer: SigningKey | undefined,
  publicKeys: ReadonlyMap<number, Uint8Array>,
): NodeCrypto {
  return {
    self: ring.self,
    digest: sha256,
    authenticator: (receivers, data) => ring.authenticator(receivers, data),
    verifyAuthenticator: (from, receivers, data, tags) =>
      ring.verifyAuthenticator(from, receivers, data, tags),
    tag: (to, data) => ring.tag(to, data),
    verifyTag: (from, data, tag) => ring.verify(from, data, tag),
    sign: (data) => {
      if (signer === undefined) throw new Error(`node ${ring.self} has no signing key`);
      return signer.sign(data);
    },
    verifySignature: (who, data, signature) => {
      const key = publicKeys.get(who);
      return key !== undefined && ed25519Verify(key, data, signature);
    },
  };
}
