import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyRing, type PrincipalId } from '../../../src/core/crypto/keyring.ts';
import type { MacBackendName } from '../../../src/core/crypto/mac.ts';
import { Prng } from '../../../src/core/prng.ts';

const SEED = 0x6b6579; // 'key'
const N = 4;
const receivers: readonly PrincipalId[] = [0, 1, 2, 3];

function masterFrom(seed: number): Uint8Array {
  const rng = new Prng(seed);
  return Uint8Array.from({ length: 32 }, () => rng.u32() & 0xff);
}

/** Rings for principals 0..N-1 plus a client (id 100), all from one master secret. */
function topology(seed: number, tagLength = 16, backend: MacBackendName = 'node'): Map<PrincipalId, KeyRing> {
  const master = masterFrom(seed);
  const all = [...receivers, 100];
  return new Map(all.map((p) => [p, KeyRing.fromMaster(master, p, all, { tagLength, backend })]));
}

const ring = (rings: Map<PrincipalId, KeyRing>, p: PrincipalId): KeyRing => {
  const r = rings.get(p);
  if (r === undefined) throw new Error(`no ring ${p}`);
  return r;
};

describe('KeyRing', () => {
  it('pairwise tags verify at the peer and nowhere else', () => {
    const rings = topology(1);
    const data = new TextEncoder().encode('PREPARE v=0 n=1');
    const tag = ring(rings, 0).tag(1, data);
    expect(ring(rings, 1).verify(0, data, tag)).toBe(true);
    expect(ring(rings, 2).verify(0, data, tag)).toBe(false); // other pair, other key
    expect(ring(rings, 1).verify(2, data, tag)).toBe(false); // claimed wrong sender
  });

  it('authenticator for n=4: each receiver accepts its own slot and rejects the others', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 8, max: 32 }),
        fc.constantFrom<MacBackendName>('node', 'noble'),
        (seed, data, tagLength, backend) => {
          const rings = topology(seed, tagLength, backend);
          const tags = ring(rings, 100).authenticator(receivers, data);
          expect(tags).toHaveLength(N);
          for (const r of receivers) {
            const me = ring(rings, r);
            expect(me.verifyAuthenticator(100, receivers, data, tags)).toBe(true);
            for (const other of receivers) {
              if (other === r) continue;
              // Put another receiver's tag into my slot: I must reject it.
              const swapped = tags.map((t, i) => (i === r ? tags[other]! : t));
              expect(me.verifyAuthenticator(100, receivers, data, swapped)).toBe(false);
            }
          }
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it('authenticator over a changed byte is rejected by every receiver', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (data, at) => {
        const rings = topology(7);
        const tags = ring(rings, 100).authenticator(receivers, data);
        const bit = at % (data.length * 8);
        const changed = Uint8Array.from(data);
        changed[bit >> 3]! ^= 1 << (bit & 7);
        for (const r of receivers)
          expect(ring(rings, r).verifyAuthenticator(100, receivers, changed, tags)).toBe(false);
      }),
      { seed: SEED + 1, numRuns: 200 },
    );
  });

  it('a ring keyed from a different master (wrong keys) rejects every slot', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.uint8Array({ maxLength: 100 }), (seed, data) => {
        const tags = ring(topology(seed), 100).authenticator(receivers, data);
        const impostors = topology(seed + 5000);
        for (const r of receivers) {
          expect(ring(impostors, r).verifyAuthenticator(100, receivers, data, tags)).toBe(false);
        }
      }),
      { seed: SEED + 2, numRuns: 50 },
    );
  });

  it('malformed authenticators are false, never a throw', () => {
    const rings = topology(3);
    const data = new Uint8Array([1, 2, 3]);
    const tags = ring(rings, 100).authenticator(receivers, data);
    const me = ring(rings, 2);
    expect(me.verifyAuthenticator(100, receivers, data, tags.slice(0, 3))).toBe(false); // wrong count
    expect(me.verifyAuthenticator(100, receivers, data, [...tags, tags[0]!])).toBe(false);
    expect(me.verifyAuthenticator(100, [0, 1, 3, 5], data, tags)).toBe(false); // I am not a receiver
    const short = tags.map((t) => t.subarray(0, 15));
    expect(me.verifyAuthenticator(100, receivers, data, short)).toBe(false); // short tags
    expect(me.verifyAuthenticator(999, receivers, data, tags)).toBe(false); // unknown sender
    expect(
      me.verifyAuthenticator(
        100,
        receivers,
        data,
        tags.map(() => new Uint8Array(0)),
      ),
    ).toBe(false);
  });

  it('rekey replaces a key (old tags stop verifying), forget removes it', () => {
    const rings = topology(4);
    const data = new Uint8Array([9]);
    const a = ring(rings, 0);
    const b = ring(rings, 1);
    const before = a.tag(1, data);
    const fresh = new Uint8Array(32).fill(0x42);
    a.rekey(1, fresh);
    b.rekey(0, fresh);
    expect(b.verify(0, data, before)).toBe(false);
    expect(b.verify(0, data, a.tag(1, data))).toBe(true);
    b.forget(0);
    expect(b.hasKey(0)).toBe(false);
    expect(b.verify(0, data, a.tag(1, data))).toBe(false);
  });

  it('programming errors throw with a clear message', () => {
    const r = new KeyRing({ self: 0, keys: [[1, new Uint8Array(32)]] });
    expect(() => r.tag(2, new Uint8Array(1))).toThrow(
      'KeyRing of principal 0 has no session key for principal 2',
    );
    expect(() => r.authenticator([1, 2], new Uint8Array(1))).toThrow(/no session key for principal 2/);
    expect(() => r.rekey(1, new Uint8Array(31))).toThrow(/must be 32 bytes, got 31/);
    expect(() => r.rekey(70000, new Uint8Array(32))).toThrow(/principal id/);
    expect(() => new KeyRing({ self: 0, keys: [], tagLength: 4 })).toThrow(/tag length/);
    expect(r.peers()).toEqual([1]);
  });
});
