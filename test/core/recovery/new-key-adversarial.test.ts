/**
 * What a FAULTY peer can do with NEW-KEY and key epochs at the core (src/core/recovery/new-key.ts, session.ts):
 * a faulty principal holds its own identity key, so it can sign any NEW-KEY in its own name; it cannot sign one
 * in another's. Every case: the receiver refuses with a reason (never a throw), and its held state moves only on
 * an accepted NEW-KEY. The runtime handler's own checks (source board, rate bound, counters, grace ring) are in
 * test/runtime/recovery/wire-keys-adversarial.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../../src/core/crypto/keyring.ts';
import { SigningKey, x25519Agree, x25519KeyPairFromSeed } from '../../../src/core/crypto/sign.ts';
import { Prng } from '../../../src/core/prng.ts';
import {
  createNewKey,
  decodeNewKey,
  encodeNewKey,
  MAX_KEY_EPOCH,
  type NewKey,
  newKeySigningBytes,
} from '../../../src/core/recovery/new-key.ts';
import {
  acceptNewKey,
  DEFAULT_MAX_EPOCH_AHEAD,
  type LocalKeys,
  type NewKeyVerdict,
  nextEpoch,
  type PeerKeyState,
  senderEpochVerdict,
  sessionKeys,
} from '../../../src/core/recovery/session.ts';

const SEED = 0x6b657972; // 'keyr'
const rng = new Prng(SEED);
const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function bytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
  return out;
}

/** Principals 0..3; the receiver is 0, the faulty peer is 1, 2 and 3 are correct. */
const identities = new Map([0, 1, 2, 3].map((id) => [id, SigningKey.fromSeed(bytes(32))]));
const identityOf = (id: number) => identities.get(id)?.publicKey;
const receiverPair = x25519KeyPairFromSeed(bytes(32));
const receiver: LocalKeys = { id: 0, epoch: 4, ...receiverPair };
const FAULTY = 1;

/** What the receiver holds of a peer before any NEW-KEY: the key file's epoch-0 key. */
function bootState(): PeerKeyState {
  return { epoch: 0, publicKey: x25519KeyPairFromSeed(bytes(32)).publicKey, recoveryPoint: 0 };
}

function signed(node: number, epoch: number, recoveryPoint = 0, by = node) {
  return createNewKey({ node, epoch, recoveryPoint, x25519Seed: bytes(32), identity: identities.get(by)! });
}

/** A NEW-KEY `by` signs over an arbitrary public key (a faulty node announcing a key it chose). */
function withPublicKey(node: number, epoch: number, publicKey: Uint8Array, by = node): NewKey {
  const body = { node, epoch, recoveryPoint: 0, publicKey };
  return { ...body, signature: identities.get(by)!.sign(newKeySigningBytes(body)) };
}

/** The receiver's view of one peer: held state, moved only by an accepted NEW-KEY (as the runtime does). */
class Held {
  state: PeerKeyState;
  readonly verdicts: NewKeyVerdict[] = [];
  constructor(
    readonly node: number,
    readonly maxEpochAhead = DEFAULT_MAX_EPOCH_AHEAD,
  ) {
    this.state = bootState();
  }
  offer(message: NewKey, self: LocalKeys = receiver): NewKeyVerdict {
    const v = acceptNewKey({
      self,
      current: this.state,
      message,
      identityPublicKey: identityOf(message.node),
      maxEpochAhead: this.maxEpochAhead,
    });
    this.verdicts.push(v);
    if (v.ok) this.state = v.state;
    return v;
  }
}

const refused = (reason: string) => ({ ok: false, reason });

describe('a faulty peer replays NEW-KEYs', () => {
  it('the same bytes again and an older epoch after a newer one move no key', () => {
    const held = new Held(FAULTY);
    const e1 = encodeNewKey(signed(FAULTY, 1).message);
    const e2 = encodeNewKey(signed(FAULTY, 2).message);
    const decode = (b: Uint8Array) => {
      const d = decodeNewKey(b);
      if (!d.ok) throw new Error(d.reason);
      return d.message;
    };
    expect(held.offer(decode(e1)).ok).toBe(true);
    expect(held.offer(decode(e1))).toEqual(refused('duplicate'));
    expect(held.offer(decode(e2)).ok).toBe(true);
    const after = { ...held.state };
    expect(held.offer(decode(e2))).toEqual(refused('duplicate'));
    expect(held.offer(decode(e1))).toEqual(refused('stale-epoch'));
    // Equivocation: a second, validly signed key for the epoch already accepted. The first one stays.
    expect(held.offer(signed(FAULTY, 2).message)).toEqual(refused('stale-epoch'));
    // The accepted epoch's key with another recovery point and a garbage signature: a duplicate, no key change.
    expect(held.offer({ ...decode(e2), recoveryPoint: 9, signature: new Uint8Array(64) })).toEqual(
      refused('duplicate'),
    );
    expect(held.state).toEqual(after);
  });

  it('any sequence of offers: accepted epochs strictly increase, each accepted NEW-KEY is validly signed', () => {
    // A pool a faulty peer and a network could mix: valid ones (epochs 1..12), equivocations, forgeries by
    // another principal, corrupted signatures; offered in any order, with repetitions.
    const pool: { m: NewKey; valid: boolean }[] = [];
    for (let e = 1; e <= 12; e++) {
      pool.push({ m: signed(FAULTY, e).message, valid: true });
      pool.push({ m: signed(FAULTY, e).message, valid: true }); // same epoch, another key
      pool.push({ m: signed(FAULTY, e, 0, 2).message, valid: false }); // signed by principal 2
      const bad = signed(FAULTY, e).message;
      const sig = Uint8Array.from(bad.signature);
      sig[e]! ^= 0x10;
      pool.push({ m: { ...bad, signature: sig }, valid: false });
    }
    fc.assert(
      fc.property(fc.array(fc.nat({ max: pool.length - 1 }), { maxLength: 60 }), (picks) => {
        const held = new Held(FAULTY);
        const accepted: NewKey[] = [];
        let validMax = 0;
        for (const i of picks) {
          const { m, valid } = pool[i]!;
          if (valid) validMax = Math.max(validMax, m.epoch);
          const v = held.offer(m);
          if (v.ok) {
            expect(valid).toBe(true);
            accepted.push(m);
          }
        }
        for (let i = 1; i < accepted.length; i++) {
          expect(accepted[i]!.epoch).toBeGreaterThan(accepted[i - 1]!.epoch);
        }
        // Every valid epoch is within the bound, so the receiver ends at the highest valid epoch it saw.
        expect(held.state.epoch).toBe(validMax);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

describe('a faulty peer signs NEW-KEYs in names that are not its own', () => {
  it('another principal’s signature, a node field other than the signer, an unknown node, the receiver itself', () => {
    const held = new Held(2);
    // Node 2's NEW-KEY signed by the faulty node 1.
    expect(held.offer(signed(2, 1, 0, FAULTY).message)).toEqual(refused('bad-signature'));
    // Node 1's own valid NEW-KEY with only the node field changed to 2 (the signature covers it).
    expect(held.offer({ ...signed(FAULTY, 1).message, node: 2 })).toEqual(refused('bad-signature'));
    expect(held.state.epoch).toBe(0);
    // An unknown node: no identity key, no held state.
    const unknown = signed(FAULTY, 1).message;
    const of = (m: NewKey, current: PeerKeyState | undefined, identity: Uint8Array | undefined) =>
      acceptNewKey({ self: receiver, current, message: m, identityPublicKey: identity });
    expect(of({ ...unknown, node: 77 }, undefined, undefined)).toEqual(refused('unknown-node'));
    expect(of({ ...unknown, node: 77 }, bootState(), undefined)).toEqual(refused('unknown-node'));
    expect(of({ ...unknown, node: 77 }, undefined, identityOf(FAULTY))).toEqual(refused('unknown-node'));
    // The receiver's own name: its own NEW-KEY reflected back (a replay of one it signed before a restart
    // that lost its counter, at an epoch above the one it now holds of itself). A principal never learns its
    // own keys from the network.
    const own = signed(0, receiver.epoch + 1).message;
    const loopback: PeerKeyState = { epoch: receiver.epoch, publicKey: receiver.publicKey, recoveryPoint: 0 };
    expect(of(own, loopback, identityOf(0))).toEqual(refused('own-node'));
  });

  it('absurd field values (possible only from a caller that skipped decoding) are refused, not thrown', () => {
    const base = signed(FAULTY, 1).message;
    const absurd: Partial<NewKey>[] = [
      { epoch: 2 ** 53 - 1 },
      { epoch: MAX_KEY_EPOCH + 1 },
      { epoch: 1.5 },
      { epoch: Number.NaN },
      { epoch: Number.POSITIVE_INFINITY },
      { node: 70_000 },
      { node: -1 },
      { recoveryPoint: 2 ** 53 },
      { recoveryPoint: -1 },
      { publicKey: new Uint8Array(31) },
      { signature: new Uint8Array(0) },
    ];
    for (const maxEpochAhead of [DEFAULT_MAX_EPOCH_AHEAD, MAX_KEY_EPOCH]) {
      for (const change of absurd) {
        const held = new Held(FAULTY, maxEpochAhead);
        const v = held.offer({ ...base, ...change });
        expect(v.ok, JSON.stringify(change)).toBe(false);
        expect(held.state.epoch).toBe(0);
      }
    }
  });
});

describe('a faulty peer jumps its epoch', () => {
  it('current+1 and current+maxEpochAhead are accepted; one further, or 2^53-1, is refused', () => {
    const held = new Held(FAULTY);
    expect(held.offer(signed(FAULTY, 1).message).ok).toBe(true);
    expect(held.offer(signed(FAULTY, 1 + DEFAULT_MAX_EPOCH_AHEAD + 1).message)).toEqual(
      refused('epoch-too-far'),
    );
    expect(held.offer(signed(FAULTY, 1 + DEFAULT_MAX_EPOCH_AHEAD).message).ok).toBe(true);
    expect(held.state.epoch).toBe(1 + DEFAULT_MAX_EPOCH_AHEAD);
    // 2^53-1 cannot be signed (createNewKey refuses it) nor decoded (field-out-of-range); given as an object
    // it is refused before any key work.
    expect(() => signed(FAULTY, 2 ** 53 - 1)).toThrow(RangeError);
    expect(held.offer({ ...signed(FAULTY, 2).message, epoch: 2 ** 53 - 1 })).toEqual(
      refused('epoch-too-far'),
    );
    const wire = encodeNewKey(signed(FAULTY, MAX_KEY_EPOCH).message); // epoch as a 5-byte varint at [2..6]
    const over = Uint8Array.of(...wire.subarray(0, 2), 0xff, 0xff, 0xff, 0xff, 0x1f, ...wire.subarray(7));
    expect(decodeNewKey(over)).toMatchObject({ ok: false, reason: 'field-out-of-range' });
  });

  it('with the jump bound, burning the epoch space takes MAX_KEY_EPOCH / maxEpochAhead accepted NEW-KEYs', () => {
    // Walk as fast as the bound allows from a high start: each step is one accepted (signed, verified) NEW-KEY.
    const held = new Held(FAULTY);
    held.state = { ...held.state, epoch: MAX_KEY_EPOCH - 3 * DEFAULT_MAX_EPOCH_AHEAD };
    let steps = 0;
    while (held.state.epoch < MAX_KEY_EPOCH) {
      const next = Math.min(MAX_KEY_EPOCH, held.state.epoch + DEFAULT_MAX_EPOCH_AHEAD);
      expect(held.offer(signed(FAULTY, next).message).ok).toBe(true);
      steps++;
    }
    expect(steps).toBe(3);
    // From epoch 0: 2^32 / 1024 = 4194304 accepted NEW-KEYs (the runtime lets 8 per second per principal
    // reach a signature check: about 6 days of a compromise that no restart ends).
    expect(Math.ceil(MAX_KEY_EPOCH / DEFAULT_MAX_EPOCH_AHEAD)).toBe(4_194_304);
  });

  it('without the bound (a key-file key), one NEW-KEY at the last epoch freezes the faulty node’s key there', () => {
    // What the runtime passes for a peer whose key it knows only from the key file (wire-keys.ts): any jump.
    const held = new Held(FAULTY, MAX_KEY_EPOCH);
    const frozen = signed(FAULTY, MAX_KEY_EPOCH);
    expect(held.offer(frozen.message).ok).toBe(true);
    // Its honest restart later (any epoch it can sign) is refused: nothing is above the last epoch.
    for (const e of [1, 2, 1000, MAX_KEY_EPOCH - 1]) {
      expect(held.offer(signed(FAULTY, e).message)).toEqual(refused('stale-epoch'));
    }
    expect(held.offer(signed(FAULTY, MAX_KEY_EPOCH).message)).toEqual(refused('stale-epoch'));
    expect(held.state.publicKey).toEqual(frozen.message.publicKey);
    // The frozen keys are usable (the HKDF info carries the u32 epoch): the attacker, who holds the private half,
    // still talks to this receiver in the node's name, until the receiver's own restart forgets what it held.
    const theirs = sessionKeys(
      { id: FAULTY, epoch: MAX_KEY_EPOCH, ...frozen.keyPair },
      { id: 0, epoch: receiver.epoch, publicKey: receiver.publicKey },
    );
    const mine = sessionKeys(receiver, {
      id: FAULTY,
      epoch: MAX_KEY_EPOCH,
      publicKey: frozen.message.publicKey,
    });
    expect(theirs.ok && mine.ok && hex(theirs.keys.pair) === hex(mine.keys.pair)).toBe(true);
    // And if the correct peers vouch for that epoch, the restarted node has no epoch left to announce.
    expect(nextEpoch(3, [MAX_KEY_EPOCH, MAX_KEY_EPOCH, 3], 1)).toEqual({
      ok: false,
      reason: 'epoch-space-exhausted',
    });
    // A lone faulty report of it is ignored.
    expect(nextEpoch(3, [MAX_KEY_EPOCH, 3, 3], 1)).toEqual({ ok: true, epoch: 4 });
  });
});

describe('a faulty peer announces a weak X25519 public key', () => {
  // Points of order 1, 2, 4 and 8 (and u = p, p + 1, which reduce to them), as 32 bytes little-endian, and the
  // same with bit 255 set: RFC 7748 masks that bit, so they are the same points. X25519 with any of them is all
  // zero; RFC 7748 section 6.1 says to check for it. Each is signed by the faulty node itself.
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  const withHighBit = lowOrder.map((k) => {
    const b = h(k);
    b[31]! |= 0x80;
    return hex(b);
  });

  it.each([...lowOrder, ...withHighBit])('%s is refused as low-order, no key installed', (key) => {
    expect(x25519Agree(receiver.privateKey, h(key))).toEqual({ ok: false, reason: 'low-order-point' });
    const held = new Held(FAULTY);
    const before = { ...held.state };
    expect(held.offer(withPublicKey(FAULTY, 1, h(key)))).toEqual(refused('low-order-point'));
    expect(held.state).toEqual(before);
    // A valid key at the same epoch afterwards is still accepted: the refusal burnt nothing.
    expect(held.offer(signed(FAULTY, 1).message).ok).toBe(true);
  });

  it('a non-canonical encoding of a usable point (bit 255 set, or u >= p) gives the same secret as the canonical one', () => {
    // RFC 7748: accept non-canonical values, mask bit 255 and reduce mod p. Only the faulty node itself is
    // affected by which encoding it announces (the salt binds the keys to the bytes announced).
    const peer = x25519KeyPairFromSeed(bytes(32));
    const high = Uint8Array.from(peer.publicKey);
    high[31]! |= 0x80;
    const canonical = x25519Agree(receiver.privateKey, peer.publicKey);
    const masked = x25519Agree(receiver.privateKey, high);
    expect(canonical.ok && masked.ok && hex(canonical.sharedSecret) === hex(masked.sharedSecret)).toBe(true);
    const nine = new Uint8Array(32);
    nine[0] = 9;
    const pPlus9 = h('f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    const a = x25519Agree(receiver.privateKey, nine);
    const b = x25519Agree(receiver.privateKey, pPlus9);
    expect(a.ok && b.ok && hex(a.sharedSecret) === hex(b.sharedSecret)).toBe(true);
    const held = new Held(FAULTY);
    expect(held.offer(withPublicKey(FAULTY, 1, high)).ok).toBe(true);
  });
});

describe('a faulty peer announces an absurd recovery point', () => {
  it('0, far past and 2^53-1 are carried as data, do not change the key rule, and round-trip on the wire', () => {
    const held = new Held(FAULTY);
    let epoch = 0;
    for (const point of [0, 1, 2 ** 53 - 1, 0, 5]) {
      epoch++;
      const wire = encodeNewKey(signed(FAULTY, epoch, point).message);
      const d = decodeNewKey(wire);
      if (!d.ok) throw new Error(d.reason);
      const v = held.offer(d.message);
      expect(v.ok).toBe(true);
      expect(held.state.recoveryPoint).toBe(point);
    }
    // 2^53 is not a safe integer: refused by the decoder (recoveryPoint is the 8-byte varint at [3..10]).
    const wire = encodeNewKey(signed(FAULTY, 1, 2 ** 53 - 1).message);
    expect(hex(wire.subarray(3, 11))).toBe('ffffffffffffff0f');
    const over = Uint8Array.of(...wire.subarray(0, 3), ...h('80808080808080' + '10'), ...wire.subarray(11));
    expect(decodeNewKey(over).ok).toBe(false);
  });
});

describe('after a peer rekeys', () => {
  it('a tag under its old pair key is refused, one under the new key verifies, and only the new key is held', () => {
    const peerBoot = x25519KeyPairFromSeed(bytes(32));
    const peerOld: LocalKeys = { id: FAULTY, epoch: 0, ...peerBoot };
    const me: LocalKeys = { ...receiver, epoch: 0 };
    const oldKeys = sessionKeys(me, peerOld);
    if (!oldKeys.ok) throw new Error(oldKeys.reason);
    const ring = new KeyRing({ self: 0, keys: [[FAULTY, oldKeys.keys.pair]] });
    const peerRingOld = new KeyRing({ self: FAULTY, keys: [[0, oldKeys.keys.pair]] });
    const data = new TextEncoder().encode('commit v=0 n=12');
    const oldTag = peerRingOld.tag(0, data);
    expect(ring.verify(FAULTY, data, oldTag)).toBe(true);

    const { message, keyPair } = signed(FAULTY, 1);
    const v = acceptNewKey({
      self: me,
      current: { epoch: 0, publicKey: peerBoot.publicKey, recoveryPoint: 0 },
      message,
      identityPublicKey: identityOf(FAULTY),
    });
    if (!v.ok) throw new Error(v.reason);
    ring.rekey(FAULTY, v.keys.pair);
    const theirs = sessionKeys(
      { id: FAULTY, epoch: 1, ...keyPair },
      { id: 0, epoch: 0, publicKey: me.publicKey },
    );
    if (!theirs.ok) throw new Error(theirs.reason);
    const peerRingNew = new KeyRing({ self: FAULTY, keys: [[0, theirs.keys.pair]] });
    expect(ring.verify(FAULTY, data, oldTag)).toBe(false);
    expect(ring.verify(FAULTY, data, peerRingNew.tag(0, data))).toBe(true);
    expect(ring.peers()).toEqual([FAULTY]); // one key per peer: the old one is gone, not kept beside it
    // Messages that carry the sender's epoch: under the held epoch checked, under an older one refused unchecked.
    expect(senderEpochVerdict(v.state.epoch, 0)).toBe('stale');
    expect(senderEpochVerdict(v.state.epoch, 1)).toBe('current');
  });
});
