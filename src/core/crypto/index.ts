/**
 * Cryptography for triplex: digests, truncated HMAC-SHA-256 tags and PBFT authenticators,
 * ed25519 signatures, X25519 key agreement and the HKDF key schedule. Pure: no I/O and no
 * randomness (key pairs are derived from seed bytes the caller supplies).
 */
export { constantTimeEqual } from './ct.ts';
export { DIGEST_LENGTH, digestEquals, sha256 } from './digest.ts';
export {
  HKDF_MAX_LENGTH,
  hkdfSha256,
  MASTER_MAC_INFO,
  PAIRWISE_MAC_INFO,
  pairwiseKey,
  sessionKeysFromMaster,
} from './hkdf.ts';
export {
  assertPrincipalId,
  KeyRing,
  type KeyRingOptions,
  MAX_AUTHENTICATOR_RECEIVERS,
  type PrincipalId,
  SESSION_KEY_LENGTH,
} from './keyring.ts';
export {
  assertTagLength,
  DEFAULT_MAC_BACKEND,
  DEFAULT_TAG_LENGTH,
  type KeyedMac,
  keyedMac,
  MAX_TAG_LENGTH,
  type MacBackendName,
  MIN_LINK_TAG_LENGTH,
  MIN_TAG_LENGTH,
  macTag,
  macVerify,
} from './mac.ts';
export {
  type AgreementResult,
  ed25519KeyPairFromSeed,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  KEY_LENGTH,
  type RawKeyPair,
  SIGNATURE_LENGTH,
  SigningKey,
  x25519Agree,
  x25519KeyPairFromSeed,
  x25519PublicKey,
} from './sign.ts';
