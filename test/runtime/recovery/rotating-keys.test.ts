/**
 * Key rotation at a proactive restart: a signed NEW-KEY moves the principal to a fresh X25519 epoch, every peer
 * rekeys, and from then on tags under the old keys are refused; forged and replayed NEW-KEYs change nothing.
 */
import { describe, expect, it } from 'vitest';
import { SigningKey } from '../../../src/core/crypto/sign.ts';
import { createNewKey } from '../../../src/core/recovery/new-key.ts';
import { acceptNewKey, type PeerKeyState } from '../../../src/core/recovery/session.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { RotatingKeys } from '../../../src/runtime/recovery/rotating-keys.ts';
import { laptop } from './fixtures.ts';

const data = new TextEncoder().encode('OUTPUT frame 7');
const channel = principalOf.channel(1);
const voter = principalOf.voter(0);

describe('rotating session keys (NEW-KEY at every restart)', () => {
  it('after a rotation the old keys are refused and the new ones verify, at both ends', () => {
    const keys = new RotatingKeys(laptop, 9);
    const oldChannelRing = keys.ring(channel);
    const voterRing = keys.ring(voter);
    expect(voterRing.verify(channel, data, oldChannelRing.tag(voter, data))).toBe(true);
    const rotation = keys.rotate(channel, 120);
    expect(rotation).toMatchObject({ principal: channel, epoch: 1, refused: {} });
    expect(rotation.acceptedBy).toBe(10); // every other principal of the laptop topology
    // The restarted channel's old ring (its dead process's keys) is refused by the voter, which was rekeyed.
    expect(voterRing.verify(channel, data, oldChannelRing.tag(voter, data))).toBe(false);
    const fresh = keys.ring(channel);
    expect(voterRing.verify(channel, data, fresh.tag(voter, data))).toBe(true);
    expect(fresh.verify(voter, data, voterRing.tag(channel, data))).toBe(true);
    // No peer holds a key older than the rotation.
    expect(keys.oldestHeldEpoch(channel)).toBe(keys.epoch(channel));
  });

  it('when both ends rotated, the pair key depends on both new epochs', () => {
    const keys = new RotatingKeys(laptop, 9);
    keys.rotate(channel, 1);
    const c1 = keys.ring(channel);
    keys.rotate(voter, 2);
    const v = keys.ring(voter);
    expect(v.verify(channel, data, c1.tag(voter, data))).toBe(true); // c1 was rekeyed for the voter's epoch
    expect(keys.epoch(voter)).toBe(1);
  });

  it('a forged NEW-KEY (not signed by the identity key) and a replayed one are refused', () => {
    const keys = new RotatingKeys(laptop, 9);
    const identity = keys.signer(0);
    const genuine = createNewKey({
      node: 0,
      epoch: 1,
      recoveryPoint: 64,
      x25519Seed: new Uint8Array(32).fill(7),
      identity,
    }).message;
    const self = { id: 1, epoch: 0, privateKey: new Uint8Array(32).fill(1), publicKey: new Uint8Array(32) };
    const current: PeerKeyState = { epoch: 0, publicKey: new Uint8Array(32).fill(9), recoveryPoint: 0 };
    const forged = createNewKey({
      node: 0,
      epoch: 1,
      recoveryPoint: 64,
      x25519Seed: new Uint8Array(32).fill(8),
      identity: SigningKey.fromSeed(new Uint8Array(32).fill(3)),
    }).message;
    const check = (m: typeof genuine, held: PeerKeyState = current) =>
      acceptNewKey({ self, current: held, message: m, identityPublicKey: identity.publicKey });
    expect(check(forged)).toEqual({ ok: false, reason: 'bad-signature' });
    const accepted = check(genuine);
    expect(accepted.ok).toBe(true);
    if (!accepted.ok) return;
    expect(check(genuine, accepted.state)).toEqual({ ok: false, reason: 'duplicate' });
  });
});
