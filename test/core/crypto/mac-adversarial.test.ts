/**
 * Adversarial review of the MAC path: the hand-written midstate HMAC-SHA-256 against node:crypto at every SHA-256
 * block and padding boundary, odd keys and views with a byteOffset; its shared scratch across keys and calls; and
 * the verification of malformed tags and authenticators (wrong length, empty, over the decoder's cap, wrong
 * count), from the constant-time compare up to a replica receiving the bytes. A correct node never throws on
 * network input: each malformed case must be false or a counted rejection.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  encodeWithAuthenticator,
  encodeWithTag,
} from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import type { Message } from '../../../src/core/codec/messages.ts';
import { constantTimeEqual, prefixEquals } from '../../../src/core/crypto/ct.ts';
import { MidstateHmac } from '../../../src/core/crypto/hmac-midstate.ts';
import { KeyRing, MAX_AUTHENTICATOR_RECEIVERS } from '../../../src/core/crypto/keyring.ts';
import {
  keyedMac,
  MAX_TAG_LENGTH,
  type MacBackendName,
  MIN_LINK_TAG_LENGTH,
  macVerify,
} from '../../../src/core/crypto/mac.ts';
import { othersOf } from '../../../src/core/pbft/config.ts';
import { Group } from '../pbft/harness.ts';

const SEED = 0x616476; // 'adv'
const backends: readonly MacBackendName[] = ['midstate', 'node', 'noble'];
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
const reference = (k: Uint8Array, d: Uint8Array) => createHmac('sha256', k).update(d).digest('hex');
/** Deterministic filler bytes from the position and a salt (period 256: no two blocks within one 256-byte run repeat). */
const bytes = (n: number, salt: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 167 + salt * 31 + 11) & 0xff);
/** `src` copied into a larger junk-filled buffer at `offset`: a view with a nonzero byteOffset and neighbours. */
function embedded(src: Uint8Array, offset: number): Uint8Array {
  const big = new Uint8Array(offset + src.length + 13).fill(0xa5);
  big.set(src, offset);
  return big.subarray(offset, offset + src.length);
}
function midstateDigest(k: Uint8Array, d: Uint8Array): string {
  const out = new Uint8Array(32);
  new MidstateHmac(k).digestInto(d, out);
  return hex(out);
}

const KEY_LENGTHS = [0, 1, 32, 63, 64, 65, 200] as const;
/** Lengths where SHA-256's block count changes (55/56: the 9 padding bytes; 64: a whole block; 183/184: the JS limit). */
const BOUNDARIES = [
  0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 183, 184, 185, 191, 192,
] as const;

describe('midstate HMAC-SHA-256 equals createHmac', () => {
  it('every data length 0..400 under keys of 0, 1, 32, 63, 64, 65 and 200 bytes (MidstateHmac and the keyed backend)', () => {
    for (const kl of KEY_LENGTHS) {
      const k = bytes(kl, kl + 1);
      const direct = new MidstateHmac(k);
      const keyed = keyedMac(k, 'midstate');
      const out = new Uint8Array(32);
      for (let n = 0; n <= 400; n++) {
        const d = bytes(n, n);
        const want = reference(k, d);
        direct.digestInto(d, out);
        expect(hex(out), `key ${kl} B, data ${n} B (MidstateHmac)`).toBe(want);
        expect(hex(keyed.mac(d, 32)), `key ${kl} B, data ${n} B (keyedMac)`).toBe(want);
        expect(keyed.matches(d, Buffer.from(want, 'hex')), `key ${kl} B, data ${n} B (matches)`).toBe(true);
      }
    }
  });

  it('all-zero and all-0xff data and keys at the padding boundaries (no sign or carry slip in the 32-bit words)', () => {
    for (const fill of [0x00, 0xff, 0x80, 0x7f]) {
      for (const kl of KEY_LENGTHS) {
        const k = new Uint8Array(kl).fill(fill);
        for (const n of BOUNDARIES) {
          const d = new Uint8Array(n).fill(fill);
          expect(midstateDigest(k, d), `fill ${fill}, key ${kl}, data ${n}`).toBe(reference(k, d));
        }
      }
    }
  });

  it('data and keys that are views into larger buffers at a nonzero byteOffset (also pooled Buffers)', () => {
    for (const kl of KEY_LENGTHS) {
      const k = bytes(kl, 3);
      for (const n of BOUNDARIES) {
        const d = bytes(n, 5);
        const want = reference(k, d);
        for (const offset of [1, 3, 7, 64, 65]) {
          const kv = embedded(k, offset + 2);
          const dv = embedded(d, offset);
          expect(dv.byteOffset).toBe(offset);
          expect(midstateDigest(kv, dv), `key ${kl} @${offset + 2}, data ${n} @${offset}`).toBe(want);
          for (const backend of backends) {
            expect(
              hex(keyedMac(kv, backend).mac(dv, 32)),
              `${backend}: key ${kl}, data ${n} @${offset}`,
            ).toBe(want);
          }
        }
        // A small Buffer.from is a slice of node's shared 8 KiB pool: its byteOffset is usually not 0.
        const pooled = Buffer.from(d);
        expect(hex(keyedMac(Buffer.from(k), 'midstate').mac(pooled, 32))).toBe(want);
      }
    }
  });

  it('property: any key of 0..200 bytes, any data of 0..400 bytes at any offset, every backend, every tag length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.uint8Array({ minLength: 0, maxLength: 400 }),
        fc.nat({ max: 70 }),
        fc.integer({ min: 1, max: MAX_TAG_LENGTH }),
        (k, d, offset, len) => {
          const want = reference(k, d);
          const dv = embedded(d, offset);
          expect(midstateDigest(k, dv)).toBe(want);
          for (const backend of backends) {
            const mac = keyedMac(k, backend);
            const tag = mac.mac(dv, len);
            expect(tag.length).toBe(len);
            expect(hex(tag)).toBe(want.slice(0, 2 * len));
            expect(mac.matches(dv, tag)).toBe(true);
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('truncated tags of 4 and 8 bytes (link tags) are the prefix of the full MAC and verify through a KeyRing', () => {
    const master = bytes(32, 9);
    const peers = [0, 1, 2, 7];
    const lengths: [number, number][] = [
      [1, 4],
      [2, 8],
    ];
    for (const backend of backends) {
      const a = KeyRing.fromMaster(master, 0, peers, { backend, peerTagLengths: lengths });
      const ring1 = KeyRing.fromMaster(master, 1, peers, { backend, peerTagLengths: [[0, 4]] });
      const ring2 = KeyRing.fromMaster(master, 2, peers, { backend, peerTagLengths: [[0, 8]] });
      for (const n of BOUNDARIES) {
        const d = bytes(n, 1);
        const t1 = a.tag(1, d);
        const t2 = a.tag(2, d);
        const t7 = a.tag(7, d);
        expect([t1.length, t2.length, t7.length]).toEqual([4, 8, 16]);
        expect(ring1.verify(0, d, t1)).toBe(true);
        expect(ring2.verify(0, d, t2)).toBe(true);
        // The 8-byte tag's first 4 bytes are not ring1's tag (another pairwise key), and lengths are never mixed.
        expect(ring1.verify(0, d, t2)).toBe(false);
        expect(ring1.verify(0, d, t1.subarray(0, 3))).toBe(false);
        expect(ring2.verify(0, d, t2.subarray(0, 4))).toBe(false);
      }
    }
  });
});

describe('midstate scratch state does not leak between calls, keys or callers', () => {
  it('property: interleaved MACs and checks under many keys, both sides of the 183-byte JS limit, all backends', () => {
    const keys = KEY_LENGTHS.map((kl, i) => bytes(kl, 40 + i));
    const macs = backends.flatMap((backend) => keys.map((k) => ({ k, mac: keyedMac(k, backend) })));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            which: fc.nat({ max: macs.length - 1 }),
            data: fc.uint8Array({ minLength: 0, maxLength: 260 }),
            check: fc.boolean(),
            len: fc.integer({ min: 1, max: 32 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (ops) => {
          const kept: { tag: Uint8Array; hex: string }[] = [];
          for (const op of ops) {
            const { k, mac } = macs[op.which]!;
            const want = reference(k, op.data);
            if (op.check) {
              const good = Buffer.from(want, 'hex').subarray(0, op.len);
              expect(mac.matches(op.data, good)).toBe(true);
              const bad = Uint8Array.from(good);
              bad[bad.length - 1]! ^= 1;
              expect(mac.matches(op.data, bad)).toBe(false);
            } else {
              const tag = mac.mac(op.data, op.len);
              expect(hex(tag)).toBe(want.slice(0, 2 * op.len));
              kept.push({ tag, hex: hex(tag) });
            }
          }
          // Every tag a caller kept is still what it was: no later call wrote into it.
          for (const t of kept) expect(hex(t.tag)).toBe(t.hex);
        },
      ),
      { seed: SEED + 1, numRuns: 200 },
    );
  });

  it('one MidstateHmac gives the same digest when called again after other keys and lengths ran', () => {
    const a = new MidstateHmac(bytes(32, 1));
    const b = new MidstateHmac(bytes(65, 2));
    const d = bytes(120, 3);
    const out = new Uint8Array(32);
    a.digestInto(d, out);
    const first = hex(out);
    for (let n = 0; n <= 300; n += 7) b.digestInto(bytes(n, n), out);
    a.digestInto(d, out);
    expect(hex(out)).toBe(first);
    expect(first).toBe(reference(bytes(32, 1), d));
  });

  it('returned tags own their memory: distinct buffers, unchanged by later mac() or matches() calls', () => {
    for (const backend of backends) {
      const mac = keyedMac(bytes(32, 5), backend);
      const d1 = bytes(40, 1);
      const t1 = mac.mac(d1, 8);
      const t1full = mac.mac(d1, 32);
      const before = hex(t1);
      const t2 = mac.mac(bytes(40, 2), 8);
      for (let n = 0; n < 200; n += 9) {
        mac.matches(bytes(n, n), t2);
        mac.mac(bytes(n, n + 1), 32);
      }
      expect(hex(t1), backend).toBe(before);
      expect(hex(t1full).startsWith(before), backend).toBe(true);
      expect(t1.buffer === t2.buffer, `${backend}: two tags share one buffer`).toBe(false);
      // Writing into a tag the caller holds changes nothing the MAC computes next.
      t1.fill(0);
      expect(hex(mac.mac(d1, 8)), backend).toBe(before);
    }
  });

  it('digestInto writes exactly 32 bytes at the start of a view and nothing around it; data may share the buffer', () => {
    const k = bytes(32, 8);
    const d = bytes(100, 4);
    const big = new Uint8Array(80).fill(0xee);
    new MidstateHmac(k).digestInto(d, big.subarray(16, 48));
    expect(hex(big.subarray(16, 48))).toBe(reference(k, d));
    expect([...big.subarray(0, 16), ...big.subarray(48)].every((x) => x === 0xee)).toBe(true);
    // In place: the data is absorbed before the digest is written over it.
    const inPlace = Uint8Array.from(d);
    new MidstateHmac(k).digestInto(inPlace, inPlace);
    expect(hex(inPlace.subarray(0, 32))).toBe(reference(k, d));
  });

  it('the key is copied: changing the caller’s key array afterwards changes no tag', () => {
    for (const backend of backends) {
      const k = bytes(32, 6);
      const saved = Uint8Array.from(k);
      const mac = keyedMac(k, backend);
      k.fill(0);
      for (const n of [10, 183, 184, 600]) {
        expect(hex(mac.mac(bytes(n, 1), 32)), `${backend} at ${n} B`).toBe(reference(saved, bytes(n, 1)));
      }
    }
  });
});

describe('tags of the wrong length, empty or oversized are false, never a throw', () => {
  it('constantTimeEqual equals Buffer.equals for any two byte strings, lengths differing or not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        (a, b, same) => {
          const y = same ? Uint8Array.from(a) : b;
          expect(constantTimeEqual(a, y)).toBe(Buffer.from(a).equals(Buffer.from(y)));
        },
      ),
      { seed: SEED + 2, numRuns: 500 },
    );
    const t = bytes(16, 1);
    expect(constantTimeEqual(t, t.subarray(0, 15))).toBe(false);
    expect(constantTimeEqual(t.subarray(0, 15), t)).toBe(false);
    expect(constantTimeEqual(t, new Uint8Array(0))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), t)).toBe(false);
    expect(constantTimeEqual(t, Uint8Array.from([...t, 0]))).toBe(false);
    expect(prefixEquals(t, Uint8Array.from([...t, t[0]!]))).toBe(false);
    expect(prefixEquals(t, Uint8Array.from([...t, 0]))).toBe(false); // a zero past the end must not XOR as 0
    expect(prefixEquals(t, t.subarray(0, 4))).toBe(true);
  });

  it.each(backends)('%s: macVerify refuses tags shorter, longer, empty, truncated or padded', (backend) => {
    const mac = keyedMac(bytes(32, 2), backend);
    for (const n of BOUNDARIES) {
      const d = bytes(n, 2);
      const full = mac.mac(d, 32);
      for (const len of [4, 8, 16, 32]) {
        const floor = len < 8 ? MIN_LINK_TAG_LENGTH : 8;
        const tag = full.subarray(0, len);
        expect(macVerify(mac, d, tag, len, floor)).toBe(true);
        const candidates = [
          new Uint8Array(0),
          tag.subarray(0, len - 1),
          tag.subarray(0, 1),
          Uint8Array.from([...tag, 0]),
          Uint8Array.from([...tag, full[len] ?? 0]), // the true next byte of the MAC: still the wrong length
          Uint8Array.from([...full, ...full]),
          new Uint8Array(MAX_TAG_LENGTH + 1),
        ];
        for (const bad of candidates) {
          expect(() => macVerify(mac, d, bad, len, floor)).not.toThrow();
          expect(macVerify(mac, d, bad, len, floor), `${bad.length}-byte tag for ${len}`).toBe(false);
        }
      }
    }
  });

  it('KeyRing.verify: empty, short, long, 33-byte and unknown-sender tags are false and never throw', () => {
    const master = bytes(32, 3);
    for (const backend of backends) {
      const sender = KeyRing.fromMaster(master, 1, [0, 1, 2], { backend, peerTagLengths: [[0, 4]] });
      const ring = KeyRing.fromMaster(master, 0, [0, 1, 2], { backend, peerTagLengths: [[1, 4]] });
      const d = bytes(60, 3);
      const good = sender.tag(0, d);
      expect(good.length).toBe(4);
      expect(ring.verify(1, d, good)).toBe(true);
      const full = keyedMac(new Uint8Array(32), backend).mac(d, 32); // any 32 bytes
      for (const bad of [
        new Uint8Array(0),
        good.subarray(0, 3),
        Uint8Array.from([...good, 0]),
        full,
        new Uint8Array(33),
      ]) {
        expect(ring.verify(1, d, bad), `${backend}: ${bad.length}-byte tag`).toBe(false);
      }
      // Senders with no key, or ids no principal can have.
      for (const from of [3, -1, 0x10000, 1.5, Number.NaN]) expect(ring.verify(from, d, good)).toBe(false);
      ring.forget(1);
      expect(ring.verify(1, d, good)).toBe(false);
    }
  });

  it('KeyRing.verifyAuthenticator: fewer or more tags than receivers, holes, empty or oversized own slot: false', () => {
    const master = bytes(32, 4);
    const all = [0, 1, 2, 3];
    for (const backend of backends) {
      const sender = KeyRing.fromMaster(master, 3, all, { backend });
      const ring = KeyRing.fromMaster(master, 1, all, { backend });
      const receivers = [0, 1, 2];
      const d = bytes(90, 4);
      const auth = sender.authenticator(receivers, d);
      expect(ring.verifyAuthenticator(3, receivers, d, auth)).toBe(true);
      const own = auth[1]!;
      const holed: Uint8Array[] = [auth[0]!];
      holed[2] = auth[2]!;
      const cases: (readonly Uint8Array[])[] = [
        [],
        auth.slice(0, 2), // our slot present, one tag short
        auth.slice(0, 1),
        [...auth, own], // one tag too many
        [...auth, new Uint8Array(0)],
        [auth[0]!, new Uint8Array(0), auth[2]!],
        [auth[0]!, own.subarray(0, 15), auth[2]!],
        [auth[0]!, Uint8Array.from([...own, 0]), auth[2]!],
        [auth[0]!, new Uint8Array(MAX_TAG_LENGTH + 1), auth[2]!],
        [own, auth[0]!, auth[2]!], // our tag in another receiver's slot
        holed, // a hole where our tag should be
      ];
      for (const tags of cases) {
        expect(() => ring.verifyAuthenticator(3, receivers, d, tags)).not.toThrow();
        expect(ring.verifyAuthenticator(3, receivers, d, tags), `${backend}: ${tags.length} tags`).toBe(
          false,
        );
      }
      // Not a receiver, or more receivers than one authenticator may address.
      expect(ring.verifyAuthenticator(3, [0, 2, 3], d, auth)).toBe(false);
      const many = Array.from({ length: MAX_AUTHENTICATOR_RECEIVERS + 1 }, (_, i) => (i === 0 ? 1 : i + 10));
      const manyTags = many.map(() => own);
      expect(() => ring.verifyAuthenticator(3, many, d, manyTags)).not.toThrow();
      expect(ring.verifyAuthenticator(3, many, d, manyTags)).toBe(false);
    }
  });

  it('the decoder refuses a tag of maxTagBytes + 1 and an authenticator over maxReceivers, as a result, not a throw', () => {
    const digest = new Uint8Array(32);
    const over = new Uint8Array(DEFAULT_LIMITS.maxTagBytes + 1);
    const prepare = (auth: Uint8Array[]): Message => ({
      kind: 'prepare',
      view: 0,
      seq: 1,
      batchDigest: digest,
      replica: 2,
      auth,
    });
    const cases: [Message, string][] = [
      [prepare([new Uint8Array(16), over, new Uint8Array(16)]), 'length-over-limit'],
      [
        prepare(Array.from({ length: DEFAULT_LIMITS.maxReceivers + 1 }, () => new Uint8Array(8))),
        'count-over-limit',
      ],
      [{ kind: 'state-request', replica: 2, fromSeq: 0, nonce: 1, tag: over }, 'length-over-limit'],
    ];
    for (const [m, reason] of cases) {
      const r = decodeMessage(encodeMessage(m));
      expect(r.ok ? 'accepted' : r.reason).toBe(reason);
    }
    // At the cap itself the decoder accepts (the MAC check then refuses a wrong length).
    const atCap = decodeMessage(
      encodeMessage(prepare([new Uint8Array(16), new Uint8Array(32), new Uint8Array(16)])),
    );
    expect(atCap.ok).toBe(true);
  });
});

describe('a replica receiving malformed authenticators and tags counts a rejection and does not throw', () => {
  const digest = bytes(32, 7);
  function prepareFrom(g: Group, from: number, auth?: (good: Uint8Array[]) => Uint8Array[]): Uint8Array {
    const unsigned: Message = {
      kind: 'prepare',
      view: 0,
      seq: 1,
      batchDigest: digest,
      replica: from,
      auth: [],
    };
    const crypto = g.keys.cryptoFor(from);
    const sealed = encodeWithAuthenticator(unsigned, (payload) =>
      crypto.authenticator(othersOf(g.config, from), payload),
    );
    if (auth === undefined) return sealed.bytes;
    return encodeMessage({ ...unsigned, auth: auth(sealed.auth) });
  }

  it('PREPARE: a valid authenticator passes the MAC check; wrong counts, empty, short, long or forged tags are bad-mac', () => {
    const g = new Group(1);
    g.inject(1, 2, prepareFrom(g, 2));
    expect(g.rejections(1)).not.toContain('bad-mac');
    // Replica 1 is the first of othersOf(2) = [0, 1, 3]: its slot is index 1.
    const variants: [string, (a: Uint8Array[]) => Uint8Array[], string][] = [
      ['no tags', () => [], 'bad-mac'],
      ['one tag short', (a) => a.slice(0, 2), 'bad-mac'],
      ['one tag too many', (a) => [...a, a[1]!], 'bad-mac'],
      ['empty own tag', (a) => [a[0]!, new Uint8Array(0), a[2]!], 'bad-mac'],
      ['own tag one byte short', (a) => [a[0]!, a[1]!.subarray(0, a[1]!.length - 1), a[2]!], 'bad-mac'],
      ['own tag one byte long', (a) => [a[0]!, Uint8Array.from([...a[1]!, 0]), a[2]!], 'bad-mac'],
      ['own tag a bit flipped', (a) => [a[0]!, a[1]!.map((x, i) => (i === 0 ? x ^ 1 : x)), a[2]!], 'bad-mac'],
      [
        'own tag at maxTagBytes + 1',
        (a) => [a[0]!, new Uint8Array(DEFAULT_LIMITS.maxTagBytes + 1), a[2]!],
        'length-over-limit',
      ],
      ['tags swapped', (a) => [a[1]!, a[0]!, a[2]!], 'bad-mac'],
    ];
    for (const [name, auth, reason] of variants) {
      const before = g.rejections(1).length;
      expect(() => g.inject(1, 2, prepareFrom(g, 2, auth)), name).not.toThrow();
      expect(g.rejections(1).slice(before), name).toEqual([reason]);
    }
  });

  it('STATE-REQUEST (a single tag, context.ts taggedFromPeer): empty, short, long, forged and oversized tags are refused', () => {
    const g = new Group(1);
    const unsigned: Message = {
      kind: 'state-request',
      replica: 2,
      fromSeq: 0,
      nonce: 5,
      tag: new Uint8Array(0),
    };
    const crypto = g.keys.cryptoFor(2);
    const good = encodeWithTag(unsigned, (payload) => crypto.tag(1, payload)).tag;
    const variants: [string, Uint8Array, string][] = [
      ['empty', new Uint8Array(0), 'bad-mac'],
      ['one byte short', good.subarray(0, good.length - 1), 'bad-mac'],
      ['one byte long', Uint8Array.from([...good, 0]), 'bad-mac'],
      ['tag for another replica', encodeWithTag(unsigned, (p) => crypto.tag(0, p)).tag, 'bad-mac'],
      ['maxTagBytes + 1', new Uint8Array(DEFAULT_LIMITS.maxTagBytes + 1), 'length-over-limit'],
    ];
    for (const [name, tag, reason] of variants) {
      const before = g.rejections(1).length;
      expect(() => g.inject(1, 2, { ...unsigned, tag }), name).not.toThrow();
      expect(g.rejections(1).slice(before), name).toEqual([reason]);
    }
    const before = g.rejections(1).length;
    g.inject(1, 2, { ...unsigned, tag: good });
    expect(g.rejections(1).slice(before)).not.toContain('bad-mac');
  });
});
