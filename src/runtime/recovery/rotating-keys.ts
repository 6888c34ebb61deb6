/**
 * Session keys that rotate at every proactive restart (laptop mode: every principal in this process).
 *
 * Each principal has a long-term ed25519 identity key and, per key epoch, an X25519 key pair; the pairwise MAC
 * key of (a, b) is HKDF over X25519(a, b) at both ends' current epochs (src/core/recovery/session.ts). A
 * restarted principal draws a fresh pair, signs a NEW-KEY with its identity key (src/core/recovery/new-key.ts),
 * and every peer checks it (acceptNewKey: epoch rule, signature, public key) before it rekeys its rings for that
 * principal. The restarted role's own rings are built afresh under the new epoch; its old rings are forgotten,
 * so from then on a message tagged under the old keys fails its MAC everywhere ('bad-mac', counted).
 *
 * Laptop mode delivers the NEW-KEY in process (every ring lives here); the message is still created, encoded,
 * decoded and verified as on the wire, so a forged or replayed one is refused the same way.
 *
 * @example
 * const keys = new RotatingKeys(topology, seed);
 * const ring = keys.ring(principalOf.channel(0)); // epoch 0
 * keys.rotate(principalOf.channel(0), 120);       // NEW-KEY at recovery point 120: epoch 1, peers rekeyed
 */
import { sha256 } from '../../core/crypto/digest.ts';
import { KeyRing } from '../../core/crypto/keyring.ts';
import { SigningKey, x25519KeyPairFromSeed } from '../../core/crypto/sign.ts';
import { createNewKey, decodeNewKey, encodeNewKey, type NewKey } from '../../core/recovery/new-key.ts';
import { acceptNewKey, type LocalKeys, type PeerKeyState, sessionKeys } from '../../core/recovery/session.ts';
import type { Topology } from '../config.ts';
import { peerTagLengths } from '../link-tags.ts';
import type { BoardKeys } from '../loop/keys.ts';
import { topologyPrincipals } from '../loop/keys.ts';

export interface KeyRotation {
  readonly principal: number;
  readonly epoch: number;
  /** The encoded NEW-KEY as it would go on the wire. */
  readonly bytes: number;
  /** Peers that accepted it (every other principal, when all is well). */
  readonly acceptedBy: number;
  /** Peers that refused it, by reason. */
  readonly refused: Readonly<Record<string, number>>;
}

/**
 * Most rings one principal is tracked with. Rings are held weakly (a two-faced unit makes a twin ring per
 * sample, dropped at once); a restart clears the principal's list.
 */
const MAX_RINGS_PER_PRINCIPAL = 4096;

export class RotatingKeys implements BoardKeys {
  readonly replicaPublicKeys: ReadonlyMap<number, Uint8Array>;
  private readonly principals: number[];
  private readonly identity = new Map<number, SigningKey>();
  private readonly local = new Map<number, LocalKeys>();
  /** What each principal holds of each peer: peerState.get(self).get(peer). */
  private readonly peerState = new Map<number, Map<number, PeerKeyState>>();
  private readonly rings = new Map<number, WeakRef<KeyRing>[]>();
  /** onRekey listeners by principal (a firmware voter's: it holds its keys outside any ring). */
  private readonly rekeyListeners = new Map<number, ((peer: number) => void)[]>();
  private readonly text = new TextEncoder();

  constructor(
    private readonly t: Topology,
    private readonly seed: number,
  ) {
    this.principals = topologyPrincipals(t).map((p) => p.id);
    for (const p of this.principals) {
      this.identity.set(
        p,
        SigningKey.fromSeed(sha256(this.text.encode(`triplex/laptop-identity/${seed}/${p}`))),
      );
      this.local.set(p, this.pairFor(p, 0));
    }
    for (const self of this.principals) {
      const held = new Map<number, PeerKeyState>();
      for (const peer of this.principals) {
        const l = this.local.get(peer)!;
        held.set(peer, { epoch: 0, publicKey: l.publicKey, recoveryPoint: 0 });
      }
      this.peerState.set(self, held);
    }
    this.replicaPublicKeys = new Map(
      t.replicas.map((r) => [r.id, this.identity.get(r.id)!.publicKey] as const),
    );
  }

  /**
   * The raw pairwise key of `self` with `peer` under the current epochs (what a firmware voter is provisioned
   * with; it keeps it: a firmware voter does not follow a rotation).
   */
  rawKey(self: number, peer: number): Uint8Array {
    const l = this.local.get(self);
    const p = this.peerState.get(self)?.get(peer);
    if (l === undefined || p === undefined)
      throw new Error(`principal ${self} or ${peer} is not in ${this.t.file}`);
    const k = sessionKeys(l, { id: peer, epoch: p.epoch, publicKey: p.publicKey });
    if (!k.ok) throw new Error(`session key ${self}-${peer}: ${k.reason}`); // our own keys: a bug
    return k.keys.pair;
  }

  /** A firmware voter's heartbeat key (as seededKeys derives it). */
  heartbeatKey(voter: number): Uint8Array {
    return sha256(this.text.encode(`triplex/laptop-fw-heartbeat/${this.seed}/${voter}`));
  }

  /** `listener(peer)` after each NEW-KEY of `peer` that `self` accepted (BoardKeys.onRekey). */
  onRekey(self: number, listener: (peer: number) => void): void {
    const list = this.rekeyListeners.get(self) ?? [];
    list.push(listener);
    this.rekeyListeners.set(self, list);
  }

  /** A fresh MAC ring for `self` under the current epochs of everyone; rekeyed when a peer rotates. */
  ring(self: number): KeyRing {
    const l = this.local.get(self);
    if (l === undefined) throw new Error(`principal ${self} is not in ${this.t.file}`);
    const held = this.peerState.get(self)!;
    const keys = this.principals.map((peer) => {
      const p = held.get(peer)!;
      const k = sessionKeys(l, { id: peer, epoch: p.epoch, publicKey: p.publicKey });
      if (!k.ok) throw new Error(`session key ${self}-${peer}: ${k.reason}`); // our own keys: a bug
      return [peer, k.keys.pair] as const;
    });
    const ring = new KeyRing({
      self,
      keys,
      tagLength: this.t.crypto.tagBytes,
      backend: this.t.crypto.macBackend,
      peerTagLengths: peerTagLengths(this.t, self),
    });
    const live = (this.rings.get(self) ?? []).filter((r) => r.deref() !== undefined);
    live.push(new WeakRef(ring));
    if (live.length > MAX_RINGS_PER_PRINCIPAL) live.shift();
    this.rings.set(self, live);
    return ring;
  }

  /** The replica's long-term signing key (also its NEW-KEY identity). */
  signer(replica: number): SigningKey {
    const k = this.identity.get(replica);
    if (k === undefined) throw new Error(`replica ${replica} is not in ${this.t.file}`);
    return k;
  }

  /** The key epoch `principal` is in now. */
  epoch(principal: number): number {
    return this.local.get(principal)?.epoch ?? 0;
  }

  /** Every principal of the topology. */
  get allPrincipals(): readonly number[] {
    return this.principals;
  }

  /** The lowest epoch any peer holds for `principal` (equal to `epoch` once every peer accepted its NEW-KEY). */
  oldestHeldEpoch(principal: number): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const [self, held] of this.peerState) {
      if (self === principal) continue;
      oldest = Math.min(oldest, held.get(principal)?.epoch ?? 0);
    }
    return Number.isFinite(oldest) ? oldest : this.epoch(principal);
  }

  /**
   * `principal` restarted: discard its rings, move it to the next epoch with a fresh key pair, announce the
   * pair by a signed NEW-KEY (recovery point `recoveryPoint`), and rekey every peer that accepts it.
   */
  rotate(principal: number, recoveryPoint: number): KeyRotation {
    const before = this.local.get(principal);
    if (before === undefined) throw new Error(`principal ${principal} is not in ${this.t.file}`);
    const epoch = before.epoch + 1;
    const { message } = createNewKey({
      node: principal,
      epoch,
      recoveryPoint: Math.max(0, Math.min(0xffff_ffff, Math.floor(recoveryPoint))),
      x25519Seed: this.seedFor(principal, epoch),
      identity: this.identity.get(principal)!,
    });
    this.rings.delete(principal);
    const fresh = this.pairFor(principal, epoch);
    this.local.set(principal, fresh);
    // The restarted node's own view of its peers is unchanged (their current public keys).
    const bytes = encodeNewKey(message);
    return { principal, epoch, bytes: bytes.length, ...this.deliver(principal, bytes) };
  }

  /** Every peer decodes and checks the NEW-KEY as it would off the wire, then rekeys its live rings. */
  private deliver(
    principal: number,
    bytes: Uint8Array,
  ): { acceptedBy: number; refused: Record<string, number> } {
    const refused: Record<string, number> = {};
    let acceptedBy = 0;
    const decoded = decodeNewKey(bytes);
    if (!decoded.ok) return { acceptedBy, refused: { [decoded.reason]: this.principals.length - 1 } };
    const m: NewKey = decoded.message;
    for (const self of this.principals) {
      if (self === principal) continue;
      const held = this.peerState.get(self)!;
      const verdict = acceptNewKey({
        self: this.local.get(self)!,
        current: held.get(principal),
        message: m,
        identityPublicKey: this.identity.get(m.node)?.publicKey,
      });
      if (!verdict.ok) {
        refused[verdict.reason] = (refused[verdict.reason] ?? 0) + 1;
        continue;
      }
      held.set(principal, verdict.state);
      for (const ref of this.rings.get(self) ?? []) ref.deref()?.rekey(principal, verdict.keys.pair);
      for (const listener of this.rekeyListeners.get(self) ?? []) listener(principal);
      acceptedBy++;
    }
    // The restarted node's loopback key, for its own new rings (built from `local` on demand).
    this.peerState
      .get(principal)!
      .set(principal, { epoch: m.epoch, publicKey: m.publicKey, recoveryPoint: 0 });
    return { acceptedBy, refused };
  }

  private pairFor(principal: number, epoch: number): LocalKeys {
    const pair = x25519KeyPairFromSeed(this.seedFor(principal, epoch));
    return { id: principal, epoch, privateKey: pair.privateKey, publicKey: pair.publicKey };
  }

  /** Deterministic per run (the laptop mode replays by seed); a board deployment draws these from the OS. */
  private seedFor(principal: number, epoch: number): Uint8Array {
    return sha256(this.text.encode(`triplex/laptop-x25519/${this.seed}/${principal}/${epoch}`));
  }
}
