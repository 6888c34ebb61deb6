import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../../src/core/crypto/keyring.ts';
import { SigningKey, x25519Agree, x25519PublicKey } from '../../../src/core/crypto/sign.ts';
import { Prng } from '../../../src/core/prng.ts';
import {
  createNewKey,
  decodeNewKey,
  encodeNewKey,
  type NewKey,
  newKeySigningBytes,
  verifyNewKey,
} from '../../../src/core/recovery/new-key.ts';
import {
  acceptNewKey,
  credibleEpoch,
  type LocalKeys,
  nextEpoch,
  type PeerKeyState,
  senderEpochVerdict,
  sessionKeys,
} from '../../../src/core/recovery/session.ts';

const SEED = 0x6e65776b; // 'newk'
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function bytes(rng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
  return out;
}

// RFC 7748 section 6.1 (X25519 Diffie-Hellman).
const ALICE_PRIVATE = h('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUBLIC = h('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const BOB_PRIVATE = h('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUBLIC = h('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');

const rng = new Prng(SEED);
const identities = new Map([0, 1, 2, 3].map((id) => [id, SigningKey.fromSeed(bytes(rng, 32))]));
const identityOf = (id: number) => identities.get(id)?.publicKey;

describe('session keys from X25519 (RFC 7748 vectors)', () => {
  it('the vector key pairs derive the vector public keys', () => {
    expect(hex(x25519PublicKey(ALICE_PRIVATE))).toBe(hex(ALICE_PUBLIC));
    expect(hex(x25519PublicKey(BOB_PRIVATE))).toBe(hex(BOB_PUBLIC));
    const shared = x25519Agree(ALICE_PRIVATE, BOB_PUBLIC);
    expect(shared.ok && hex(shared.sharedSecret)).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('both ends derive the same keys: my send is your receive, one pair key, one fingerprint', () => {
    const alice: LocalKeys = { id: 1, epoch: 3, privateKey: ALICE_PRIVATE, publicKey: ALICE_PUBLIC };
    const bob: LocalKeys = { id: 2, epoch: 8, privateKey: BOB_PRIVATE, publicKey: BOB_PUBLIC };
    const a = sessionKeys(alice, bob);
    const b = sessionKeys(bob, alice);
    if (!a.ok || !b.ok) throw new Error('agreement failed on the RFC 7748 keys');
    expect(hex(a.keys.send)).toBe(hex(b.keys.receive));
    expect(hex(a.keys.receive)).toBe(hex(b.keys.send));
    expect(hex(a.keys.send)).not.toBe(hex(a.keys.receive));
    expect(hex(a.keys.pair)).toBe(hex(b.keys.pair));
    expect(hex(a.keys.fingerprint)).toBe(hex(b.keys.fingerprint));
    expect(a.keys.keyId).toBe('1.3-2.8');
    expect(b.keys.keyId).toBe('1.3-2.8');
    // Another epoch on either side gives other keys, from the same shared secret.
    const later = sessionKeys({ ...alice, epoch: 4 }, bob);
    expect(later.ok && hex(later.keys.pair)).not.toBe(hex(a.keys.pair));
    expect(later.ok && later.keys.keyId).toBe('1.4-2.8');
  });

  it('a low-order public key is refused, not turned into a predictable key', () => {
    const alice: LocalKeys = { id: 1, epoch: 1, privateKey: ALICE_PRIVATE, publicKey: ALICE_PUBLIC };
    for (const bad of [new Uint8Array(32), h(`01${'00'.repeat(31)}`)]) {
      const r = sessionKeys(alice, { id: 2, epoch: 1, publicKey: bad });
      expect(r).toEqual({ ok: false, reason: 'low-order-point' });
    }
    expect(sessionKeys(alice, { id: 2, epoch: 1, publicKey: new Uint8Array(31) })).toEqual({
      ok: false,
      reason: 'bad-public-key',
    });
  });

  it('the pair key works in a KeyRing: tags made by one end verify at the other', () => {
    const alice: LocalKeys = { id: 1, epoch: 2, privateKey: ALICE_PRIVATE, publicKey: ALICE_PUBLIC };
    const bob: LocalKeys = { id: 2, epoch: 5, privateKey: BOB_PRIVATE, publicKey: BOB_PUBLIC };
    const a = sessionKeys(alice, bob);
    const b = sessionKeys(bob, alice);
    if (!a.ok || !b.ok) throw new Error('agreement failed');
    const ringA = new KeyRing({ self: 1, keys: [[2, a.keys.pair]] });
    const ringB = new KeyRing({ self: 2, keys: [[1, b.keys.pair]] });
    const data = new TextEncoder().encode('prepare v=0 n=7');
    expect(ringB.verify(1, data, ringA.tag(2, data))).toBe(true);
  });
});

function newKey(node: number, epoch: number, recoveryPoint = 0) {
  return createNewKey({
    node,
    epoch,
    recoveryPoint,
    x25519Seed: bytes(rng, 32),
    identity: identities.get(node)!,
  });
}

describe('NEW-KEY', () => {
  it('round-trips through its canonical encoding and verifies', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 0xffff_ffff }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (node, epoch, recoveryPoint) => {
          const { message } = newKey(node, epoch, recoveryPoint);
          const wire = encodeNewKey(message);
          const back = decodeNewKey(wire);
          expect(back.ok).toBe(true);
          if (!back.ok) return;
          expect(back.message).toEqual(message);
          expect(hex(encodeNewKey(back.message))).toBe(hex(wire));
          expect(verifyNewKey(back.message, identityOf(node)!)).toBe(true);
        },
      ),
      { seed: SEED, numRuns: 50 },
    );
  });

  it('a forgery is refused: any changed field, another signer, a flipped signature bit', () => {
    const { message } = newKey(1, 5, 640);
    const variants: NewKey[] = [
      { ...message, node: 2 },
      { ...message, epoch: 6 },
      { ...message, recoveryPoint: 641 },
      { ...message, publicKey: x25519PublicKey(bytes(rng, 32)) },
    ];
    for (const forged of variants) expect(verifyNewKey(forged, identityOf(1)!)).toBe(false);
    expect(verifyNewKey(message, identityOf(2)!)).toBe(false);
    for (let bit = 0; bit < 512; bit += 37) {
      const sig = Uint8Array.from(message.signature);
      sig[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifyNewKey({ ...message, signature: sig }, identityOf(1)!)).toBe(false);
    }
    // A signature over the same fields by the right key, but not over the NEW-KEY domain, does not verify.
    const raw = identities
      .get(1)!
      .sign(newKeySigningBytes(message).subarray('triplex/new-key/v1'.length + 1));
    expect(verifyNewKey({ ...message, signature: raw }, identityOf(1)!)).toBe(false);
  });

  it('decoding is total: truncations, trailing bytes, a bad version, out-of-range fields are typed rejections', () => {
    const wire = encodeNewKey(newKey(3, 9).message);
    for (let n = 0; n < wire.length; n++) {
      const r = decodeNewKey(wire.subarray(0, n));
      expect(r.ok).toBe(false);
    }
    expect(decodeNewKey(Uint8Array.of(...wire, 0))).toMatchObject({ ok: false, reason: 'trailing-bytes' });
    expect(decodeNewKey(Uint8Array.of(2, ...wire.subarray(1)))).toMatchObject({
      ok: false,
      reason: 'bad-version',
    });
    // node = 70000 (above u16), written by hand as a minimal varint.
    const big = Uint8Array.of(wire[0]!, 0xf0, 0xa2, 0x04, ...wire.subarray(2));
    expect(decodeNewKey(big)).toMatchObject({ ok: false, reason: 'field-out-of-range' });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        const r = decodeNewKey(junk);
        expect(typeof r.ok).toBe('boolean');
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('key epochs', () => {
  const self: LocalKeys = { id: 0, epoch: 2, privateKey: ALICE_PRIVATE, publicKey: ALICE_PUBLIC };
  const bootState = (): PeerKeyState => ({ epoch: 0, publicKey: BOB_PUBLIC, recoveryPoint: 0 });

  it('accepts a fresh NEW-KEY and derives the keys the sender derives', () => {
    const { message, keyPair } = newKey(1, 1, 128);
    const v = acceptNewKey({ self, current: bootState(), message, identityPublicKey: identityOf(1) });
    if (!v.ok) throw new Error(v.reason);
    expect(v.state).toEqual({ epoch: 1, publicKey: message.publicKey, recoveryPoint: 128 });
    const theirs = sessionKeys({ id: 1, epoch: 1, ...keyPair }, { id: 0, epoch: 2, publicKey: ALICE_PUBLIC });
    expect(theirs.ok && hex(theirs.keys.send)).toBe(hex(v.keys.receive));
  });

  it('refuses a replayed old NEW-KEY, the same one again, a forged one, an unknown node and a huge jump', () => {
    const first = newKey(1, 1).message;
    const second = newKey(1, 2).message;
    let state = bootState();
    for (const m of [first, second]) {
      const v = acceptNewKey({ self, current: state, message: m, identityPublicKey: identityOf(1) });
      if (!v.ok) throw new Error(v.reason);
      state = v.state;
    }
    const accept = (message: NewKey, current: PeerKeyState | undefined = state) =>
      acceptNewKey({ self, current, message, identityPublicKey: identityOf(message.node) });
    expect(accept(first)).toEqual({ ok: false, reason: 'stale-epoch' });
    expect(accept(second)).toEqual({ ok: false, reason: 'duplicate' });
    expect(accept({ ...newKey(1, 3).message, recoveryPoint: 99 })).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    // Signed by replica 2's key but claiming to be replica 1.
    const impostor = createNewKey({
      node: 1,
      epoch: 3,
      recoveryPoint: 0,
      x25519Seed: bytes(rng, 32),
      identity: identities.get(2)!,
    }).message;
    expect(accept(impostor)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(
      acceptNewKey({ self, current: undefined, message: newKey(1, 3).message, identityPublicKey: undefined }),
    ).toEqual({ ok: false, reason: 'unknown-node' });
    expect(accept(newKey(1, 2 + 1025).message)).toEqual({ ok: false, reason: 'epoch-too-far' });
    expect(accept(newKey(1, 2 + 1024).message).ok).toBe(true);
  });

  it('a message under the old keys is refused once the new ones are installed', () => {
    expect(senderEpochVerdict(3, 3)).toBe('current');
    expect(senderEpochVerdict(3, 2)).toBe('stale');
    expect(senderEpochVerdict(3, 0)).toBe('stale');
    expect(senderEpochVerdict(3, 4)).toBe('ahead');
    expect(senderEpochVerdict(undefined, 0)).toBe('no-key');
  });

  it.each([
    // persisted, reports, f, next
    [4, [], 1, 5],
    [0, [7, 7, 6], 1, 8], // counter lost: the peers remember
    [0, [7, 1_000_000, 6], 1, 8], // one faulty peer cannot make us burn a million epochs
    [0, [2000, 2000, 6], 1, 2001], // f+1 peers vouch for 2000
    [9, [3, 3, 3], 1, 10],
    [0, [1023], 1, 1024], // one faulty peer alone: the announced epoch stays within the jump bound of 0
    [0, [1024], 1, 1], // one more would be refused by every correct peer holding 0: ignored
  ])('next epoch after %i with reports %j (f=%i) is %i', (persisted, reports, f, next) => {
    expect(nextEpoch(persisted, reports, f)).toEqual({ ok: true, epoch: next });
  });

  it.each([
    // reports, f, floor, credible: one above it is within 1024 of max((f+1)-th highest, floor)
    [[1024], 1, 0, undefined], // one board's word at a first start: 1025 would be refused by boards holding 0
    [[1023], 1, 0, 1023],
    [[1024], 1, 1, 1024], // the node is at 1 (the boards accepted it): 1025 is within their bound
    [[2048, 2048, 1], 1, 1, 2048], // f+1 boards vouch: all the way
    [[5000, 2048, 2048], 1, 1, 2048], // the faulty board's 5000 is past what the others would accept
  ] as const)('credible epoch of %j (f=%i, floor %i) is %s', (reports, f, floor, credible) => {
    expect(credibleEpoch(reports, f, 1024, floor)).toBe(credible);
  });

  it('the epoch space ends with a refusal, not a reused epoch', () => {
    expect(nextEpoch(0xffff_ffff, [], 1)).toEqual({ ok: false, reason: 'epoch-space-exhausted' });
  });
});
