import { sessionKeysFromMaster } from './hkdf.ts';
import {
  assertTagLength,
  DEFAULT_MAC_BACKEND,
  DEFAULT_TAG_LENGTH,
  type KeyedMac,
  keyedMac,
  type MacBackendName,
  MIN_LINK_TAG_LENGTH,
  macVerify,
} from './mac.ts';

/** A node's identity on the wire: an unsigned 16-bit integer. */
export type PrincipalId = number;

/** Length in bytes of a pairwise session key. */
export const SESSION_KEY_LENGTH = 32;

/** Most receivers one authenticator may address (bounds the work per message). */
export const MAX_AUTHENTICATOR_RECEIVERS = 256;

/** Throws unless `id` is a valid principal id (integer in 0..65535). */
export function assertPrincipalId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
    throw new RangeError(`principal id must be an integer from 0 to 65535, got ${id}`);
  }
}

/** Options for a KeyRing. */
export interface KeyRingOptions {
  /** The principal that owns this ring. */
  readonly self: PrincipalId;
  /** Pairwise session keys, 32 bytes each, by peer (may include `self` for loopback). */
  readonly keys: Iterable<readonly [PrincipalId, Uint8Array]>;
  /** Tag length in bytes (8..32). Default 16. */
  readonly tagLength?: number;
  /**
   * Tag lengths for some peers (4..32 bytes), in place of `tagLength`: the tag the link between the two carries
   * (runtime/link-tags.ts). Both ends of a pair must hold the same length; a tag of any other length fails.
   */
  readonly peerTagLengths?: Iterable<readonly [PrincipalId, number]>;
  /** HMAC implementation. Default node:crypto. */
  readonly backend?: MacBackendName;
}

/**
 * The MAC keys of one principal: a pairwise session key with each peer, used to tag messages
 * to them and to check their tags. PBFT authenticators are vectors of such tags, one per
 * receiver. Verification never throws: a missing key or a malformed tag is just `false`.
 * Tagging for a peer without a key is a programming error and throws.
 */
export class KeyRing {
  readonly self: PrincipalId;
  readonly tagLength: number;
  readonly backend: MacBackendName;
  private readonly macs = new Map<PrincipalId, KeyedMac>();
  private readonly peerLengths = new Map<PrincipalId, number>();

  constructor(options: KeyRingOptions) {
    assertPrincipalId(options.self);
    this.self = options.self;
    this.tagLength = options.tagLength ?? DEFAULT_TAG_LENGTH;
    assertTagLength(this.tagLength);
    for (const [peer, length] of options.peerTagLengths ?? []) {
      assertPrincipalId(peer);
      assertTagLength(length, MIN_LINK_TAG_LENGTH);
      this.peerLengths.set(peer, length);
    }
    this.backend = options.backend ?? DEFAULT_MAC_BACKEND;
    for (const [peer, key] of options.keys) this.rekey(peer, key);
  }

  /**
   * A ring whose keys all come from one shared master secret (tests, simulations, a bench
   * set-up). Real deployments derive keys by X25519 (see runtime/keyfiles.ts).
   */
  static fromMaster(
    masterSecret: Uint8Array,
    self: PrincipalId,
    principals: readonly PrincipalId[],
    options: {
      tagLength?: number;
      backend?: MacBackendName;
      peerTagLengths?: Iterable<readonly [PrincipalId, number]>;
    } = {},
  ): KeyRing {
    const keys = principals.map((p) => [p, sessionKeysFromMaster(masterSecret, self, p)] as const);
    return new KeyRing({ self, keys, ...options });
  }

  /** Install (or replace, at proactive recovery) the session key shared with `peer`. */
  rekey(peer: PrincipalId, key: Uint8Array): void {
    assertPrincipalId(peer);
    if (key.length !== SESSION_KEY_LENGTH) {
      throw new RangeError(
        `session key for principal ${peer} must be ${SESSION_KEY_LENGTH} bytes, got ${key.length}`,
      );
    }
    this.macs.set(peer, keyedMac(key, this.backend));
  }

  /** Discard the session key shared with `peer` (its tags no longer verify). */
  forget(peer: PrincipalId): void {
    this.macs.delete(peer);
  }

  /** Whether a session key with `peer` is installed. */
  hasKey(peer: PrincipalId): boolean {
    return this.macs.has(peer);
  }

  /** Peers with an installed key, ascending. */
  peers(): PrincipalId[] {
    return [...this.macs.keys()].sort((a, b) => a - b);
  }

  /** Bytes of the tags exchanged with `peer`. */
  tagLengthFor(peer: PrincipalId): number {
    return this.peerLengths.get(peer) ?? this.tagLength;
  }

  /** Tag `data` for `to`. Throws if no key with `to` is installed (a bug in the caller). */
  tag(to: PrincipalId, data: Uint8Array): Uint8Array {
    return this.macFor(to).mac(data, this.tagLengthFor(to));
  }

  /** True iff `tag` is `from`'s tag on `data` under our pairwise key. Never throws. */
  verify(from: PrincipalId, data: Uint8Array, tag: Uint8Array): boolean {
    const mac = this.macs.get(from);
    if (mac === undefined) return false;
    return macVerify(mac, data, tag, this.tagLengthFor(from), MIN_LINK_TAG_LENGTH);
  }

  /** One tag per receiver, in receiver order (a PBFT MAC authenticator). */
  authenticator(receivers: readonly PrincipalId[], data: Uint8Array): Uint8Array[] {
    if (receivers.length > MAX_AUTHENTICATOR_RECEIVERS) {
      throw new RangeError(
        `authenticator for ${receivers.length} receivers exceeds the limit of ${MAX_AUTHENTICATOR_RECEIVERS}`,
      );
    }
    return receivers.map((r) => this.tag(r, data));
  }

  /**
   * Check our own slot of an authenticator sent by `from` to `receivers`: the tag at the
   * index of `self` in `receivers`. Other slots are not ours to check. False (never a throw)
   * if we are not a receiver, the tag count differs from the receiver count, or the key is
   * missing.
   */
  verifyAuthenticator(
    from: PrincipalId,
    receivers: readonly PrincipalId[],
    data: Uint8Array,
    tags: readonly Uint8Array[],
  ): boolean {
    if (tags.length !== receivers.length || receivers.length > MAX_AUTHENTICATOR_RECEIVERS) return false;
    const index = receivers.indexOf(this.self);
    if (index < 0) return false;
    const tag = tags[index];
    return tag !== undefined && this.verify(from, data, tag);
  }

  private macFor(peer: PrincipalId): KeyedMac {
    const mac = this.macs.get(peer);
    if (mac === undefined) {
      throw new Error(`KeyRing of principal ${this.self} has no session key for principal ${peer}`);
    }
    return mac;
  }
}
