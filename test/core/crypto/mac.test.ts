import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertTagLength,
  keyedMac,
  MAX_TAG_LENGTH,
  type MacBackendName,
  MIN_TAG_LENGTH,
  macTag,
  macVerify,
} from '../../../src/core/crypto/mac.ts';

const SEED = 0x6d6163; // 'mac'
const backends: readonly MacBackendName[] = ['midstate', 'node', 'noble'];
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const data = fc.uint8Array({ minLength: 0, maxLength: 300 });
const tagLength = fc.integer({ min: MIN_TAG_LENGTH, max: MAX_TAG_LENGTH });
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('HMAC-SHA-256 tags', () => {
  it.each(backends)('%s backend matches RFC 4231 test case 2', (backend) => {
    const mac = keyedMac(utf8('Jefe'), backend);
    expect(hex(mac.mac(utf8('what do ya want for nothing?'), 32))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('node and noble backends produce identical tags', () => {
    fc.assert(
      fc.property(key, data, tagLength, (k, d, len) => {
        expect(macTag(keyedMac(k, 'node'), d, len)).toEqual(macTag(keyedMac(k, 'noble'), d, len));
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('node backend equals createHmac for keys of 1 to 100 bytes and data past the one-shot limit (512 B)', () => {
    // Keys over the 64-byte block are hashed first (RFC 2104); data over 512 bytes takes the createHmac path.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.uint8Array({ minLength: 0, maxLength: 700 }),
        (k, d) => {
          const reference = createHmac('sha256', k).update(d).digest();
          expect(hex(keyedMac(k, 'node').mac(d, 32))).toBe(reference.toString('hex'));
        },
      ),
      { seed: SEED + 7, numRuns: 300 },
    );
    for (const n of [511, 512, 513]) {
      const d = new Uint8Array(n).fill(n & 0xff);
      const k = new Uint8Array(32).fill(3);
      expect(hex(keyedMac(k, 'node').mac(d, 32))).toBe(createHmac('sha256', k).update(d).digest('hex'));
    }
  });

  it('node backend: MACs under different keys, interleaved, do not disturb each other (shared scratch)', () => {
    const keys = [1, 2, 3].map((v) => new Uint8Array(32).fill(v));
    const macs = keys.map((k) => keyedMac(k, 'node'));
    for (let i = 0; i < 60; i++) {
      const d = new Uint8Array((i * 37) % 400).fill(i);
      const which = i % 3;
      const tag = macs[which]!.mac(d, 16);
      expect(hex(tag)).toBe(createHmac('sha256', keys[which]!).update(d).digest('hex').slice(0, 32));
      expect(macVerify(macs[which]!, d, tag, 16)).toBe(true);
      expect(macVerify(macs[(which + 1) % 3]!, d, tag, 16)).toBe(false);
    }
  });

  it('noble backend gives the same tag when reused many times (scratch state is reset)', () => {
    const noble = keyedMac(new Uint8Array(32).fill(7), 'noble');
    const node = keyedMac(new Uint8Array(32).fill(7), 'node');
    for (let i = 0; i < 50; i++) {
      const d = new Uint8Array(i * 7).fill(i);
      expect(noble.mac(d, 32)).toEqual(node.mac(d, 32));
    }
  });

  it.each(
    backends,
  )('%s: truncated tags verify at every allowed length and are prefixes of the full MAC', (backend) => {
    fc.assert(
      fc.property(key, data, (k, d) => {
        const mac = keyedMac(k, backend);
        const full = mac.mac(d, 32);
        for (let len = MIN_TAG_LENGTH; len <= MAX_TAG_LENGTH; len++) {
          const tag = macTag(mac, d, len);
          expect(tag.length).toBe(len);
          expect(tag).toEqual(full.subarray(0, len));
          expect(macVerify(mac, d, tag, len)).toBe(true);
        }
      }),
      { seed: SEED + 1, numRuns: 50 },
    );
  });

  it.each(backends)('%s: a tag made with the wrong key is rejected', (backend) => {
    fc.assert(
      fc.property(key, key, data, tagLength, (k1, k2, d, len) => {
        fc.pre(hex(k1) !== hex(k2));
        const tag = macTag(keyedMac(k1, backend), d, len);
        expect(macVerify(keyedMac(k2, backend), d, tag, len)).toBe(false);
      }),
      { seed: SEED + 2, numRuns: 300 },
    );
  });

  it.each(backends)('%s: a tag over data with any single bit flipped is rejected', (backend) => {
    fc.assert(
      fc.property(
        key,
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        tagLength,
        fc.nat(),
        (k, d, len, at) => {
          const mac = keyedMac(k, backend);
          const tag = macTag(mac, d, len);
          const bit = at % (d.length * 8);
          const changed = Uint8Array.from(d);
          changed[bit >> 3]! ^= 1 << (bit & 7);
          expect(macVerify(mac, changed, tag, len)).toBe(false);
        },
      ),
      { seed: SEED + 3, numRuns: 300 },
    );
  });

  it('a tag with a bit flipped, or of another length, is rejected', () => {
    fc.assert(
      fc.property(key, data, tagLength, fc.nat(), (k, d, len, at) => {
        const mac = keyedMac(k);
        const tag = macTag(mac, d, len);
        const bad = Uint8Array.from(tag);
        bad[at % len]! ^= 1 << (at % 8);
        expect(macVerify(mac, d, bad, len)).toBe(false);
        expect(macVerify(mac, d, tag.subarray(0, len - 1), len)).toBe(false);
        expect(macVerify(mac, d, mac.mac(d, 32), len === 32 ? 31 : len)).toBe(false);
      }),
      { seed: SEED + 4, numRuns: 200 },
    );
  });

  it('rejects tag lengths outside 8..32 with a clear message', () => {
    for (const bad of [0, 7, 33, 8.5, Number.NaN, -1]) {
      expect(() => assertTagLength(bad)).toThrow(/tag length must be an integer from 8 to 32/);
      expect(() => macTag(keyedMac(new Uint8Array(32)), new Uint8Array(1), bad)).toThrow(RangeError);
    }
  });
});

describe('midstate backend', () => {
  it('equals createHmac for keys of 1 to 100 bytes and data of 0 to 400 bytes (both sides of the JavaScript limit)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.uint8Array({ minLength: 0, maxLength: 400 }),
        (k, d) => {
          const reference = createHmac('sha256', k).update(d).digest('hex');
          const mac = keyedMac(k, 'midstate');
          expect(hex(mac.mac(d, 32))).toBe(reference);
          expect(mac.matches(d, Buffer.from(reference, 'hex').subarray(0, 16))).toBe(true);
        },
      ),
      { seed: SEED + 11, numRuns: 400 },
    );
  });

  it('every padding boundary: data of 0 to 200 bytes, one by one (55/56 and 119/120 change the block count)', () => {
    const k = new Uint8Array(32).fill(0x5a);
    const mac = keyedMac(k, 'midstate');
    for (let n = 0; n <= 200; n++) {
      const d = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(hex(mac.mac(d, 32))).toBe(createHmac('sha256', k).update(d).digest('hex'));
    }
  });

  it('a flipped bit in the tag or the data is refused; tags under different keys interleave without disturbance', () => {
    const a = keyedMac(new Uint8Array(32).fill(1), 'midstate');
    const b = keyedMac(new Uint8Array(32).fill(2), 'midstate');
    const d = new Uint8Array(60).fill(7);
    const ta = a.mac(d, 16);
    const tb = b.mac(d, 16);
    expect(hex(ta)).not.toBe(hex(tb));
    expect(a.matches(d, ta)).toBe(true);
    expect(b.matches(d, tb)).toBe(true);
    expect(a.matches(d, tb)).toBe(false);
    const flipped = Uint8Array.from(ta);
    flipped[5]! ^= 0x10;
    expect(a.matches(d, flipped)).toBe(false);
    const other = Uint8Array.from(d);
    other[59]! ^= 1;
    expect(a.matches(other, ta)).toBe(false);
  });
});
