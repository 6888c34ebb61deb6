import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authPayload, decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS, type DecodeLimits } from '../../../src/core/codec/limits.ts';
import { MESSAGE_KINDS, type Message, messageSchema } from '../../../src/core/codec/messages.ts';
import { sampleShape } from '../../../src/core/codec/sample.ts';
import { Prng } from '../../../src/core/prng.ts';

const SEED = Number(process.env.TRIPLEX_SEED ?? 20261121);
const RUNS = 300;
const limits: DecodeLimits = { ...DEFAULT_LIMITS, maxMessageBytes: 64 * 1024 };

function sampleMessage(seed: number, kind?: string): Message {
  const rng = new Prng(seed);
  const shape = messageSchema.shape;
  if (shape.t !== 'union') throw new Error('message schema must be a union');
  const name = kind ?? MESSAGE_KINDS[rng.int(MESSAGE_KINDS.length)]!;
  const body = sampleShape(shape.variants[name]!, rng, limits, { maxLength: 6 }) as object;
  return { kind: name, ...body } as Message;
}

const anyMessage = fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((s) => sampleMessage(s));

describe('codec round trip', () => {
  for (const kind of MESSAGE_KINDS) {
    it(`${kind}: decode(encode(m)) equals m and re-encodes to the same bytes`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (s) => {
          const m = sampleMessage(s, kind);
          const bytes = encodeMessage(m);
          const r = decodeMessage(bytes, limits);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          expect(r.message).toEqual(m);
          expect(encodeMessage(r.message)).toEqual(bytes);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }

  it('encoding ignores object key order (canonical)', () => {
    const m = sampleMessage(7, 'prepare');
    const reordered = Object.fromEntries(Object.entries(m).reverse()) as Message;
    expect(encodeMessage(reordered)).toEqual(encodeMessage(m));
  });

  it('the auth payload excludes the authentication field and binds the kind', () => {
    const p = sampleMessage(11, 'prepare') as Extract<Message, { kind: 'prepare' }>;
    const c = { ...p, kind: 'commit' } as Message;
    expect(authPayload({ ...p, auth: [] })).toEqual(authPayload(p));
    expect(authPayload(c)).not.toEqual(authPayload(p));
  });
});

function mutate(bytes: Uint8Array, rng: Prng): Uint8Array {
  const b = bytes.slice();
  switch (rng.int(4)) {
    case 0: // bit flip
      if (b.length > 0) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    case 1: // truncation
      return b.subarray(0, rng.int(b.length + 1));
    case 2: {
      // length or count inflation: overwrite a byte with a large varint start
      if (b.length > 2) b[2 + rng.int(b.length - 2)] = 0xff;
      return b;
    }
    default: // random bytes
      return rng.bytes(rng.int(64));
  }
}

describe('decode is total', () => {
  it('random, truncated, bit-flipped and length-inflated inputs never throw and always carry a reason', () => {
    fc.assert(
      fc.property(anyMessage, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (m, s) => {
        const rng = new Prng(s);
        const input = mutate(encodeMessage(m), rng);
        const r = decodeMessage(input, limits);
        if (!r.ok) {
          expect(typeof r.reason).toBe('string');
          expect(r.detail.length).toBeGreaterThan(0);
        } else {
          // A mutation may still yield a well-formed message; then it must be canonical.
          expect(encodeMessage(r.message)).toEqual(input);
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('rejects each malformation with its own reason', () => {
    const bytes = encodeMessage(sampleMessage(3, 'prepare'));
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'empty'],
      [new Uint8Array([9, 2]), 'bad-version'],
      [new Uint8Array([1, 200]), 'unknown-kind'],
      [bytes.subarray(0, bytes.length - 1), 'truncated'],
      [new Uint8Array([...bytes, 0]), 'trailing-bytes'],
      [new Uint8Array([1, 2, 0x80, 0x00]), 'non-minimal-varint'],
      [new Uint8Array([1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'integer-out-of-range'],
      [new Uint8Array(limits.maxMessageBytes + 1), 'too-long'],
    ];
    for (const [input, reason] of cases) {
      const r = decodeMessage(input, limits);
      expect(r.ok ? 'ok' : r.reason, `input ${Array.from(input.subarray(0, 12))}`).toBe(reason);
    }
  });

  it('caps counts and lengths by the configured limits before allocating', () => {
    const m = sampleMessage(5, 'request') as Extract<Message, { kind: 'request' }>;
    const big = encodeMessage({ ...m, op: new Uint8Array(100) });
    const r = decodeMessage(big, { ...limits, maxOpBytes: 99 });
    expect(r.ok ? 'ok' : r.reason).toBe('length-over-limit');
    const auth = encodeMessage({
      ...m,
      op: new Uint8Array(0),
      auth: Array.from({ length: 5 }, () => new Uint8Array(8)),
    });
    const r2 = decodeMessage(auth, { ...limits, maxReceivers: 4 });
    expect(r2.ok ? 'ok' : r2.reason).toBe('count-over-limit');
  });

  it('names the failing field by its full path (nested structs and array indexes)', () => {
    const request = (client: number) => ({
      client,
      timestamp: 7,
      op: new Uint8Array(3),
      auth: [new Uint8Array(16), new Uint8Array(16)],
    });
    const pp: Message = {
      kind: 'pre-prepare',
      view: 1,
      seq: 2,
      batchDigest: new Uint8Array(32),
      replica: 1,
      batch: { kind: 'full', requests: [request(5), request(6)] },
      auth: [new Uint8Array(16)],
    };
    const bytes = encodeMessage(pp);
    const detail = (input: Uint8Array, l: DecodeLimits = limits): string => {
      const r = decodeMessage(input, l);
      return r.ok ? 'ok' : `${r.reason}: ${r.detail}`;
    };
    expect(detail(bytes.subarray(0, bytes.length - 1))).toBe(
      'truncated: message.auth[0]: need 16 bytes, have 15',
    );
    // The second request's last tag ends 1 (auth count) + 1 + 16 (the PRE-PREPARE's tag) bytes before the end.
    expect(detail(bytes.subarray(0, bytes.length - 19))).toBe(
      'truncated: message.batch.requests[1].auth[1]: need 16 bytes, have 15',
    );
    expect(detail(bytes, { ...limits, maxOpBytes: 2 })).toBe(
      'length-over-limit: message.batch.requests[0].op: 3 > maxOpBytes 2',
    );
    const badKind = Uint8Array.from(bytes);
    badKind[2 + 1 + 1 + 32 + 1] = 9; // the batch's variant tag, after view, seq, digest and replica
    expect(detail(badKind)).toBe('unknown-variant: message.batch: tag 9');
  });

  it("decoded byte fields are views of the input's bytes (no copy per field)", () => {
    const bytes = encodeMessage(sampleMessage(5, 'request'));
    const r = decodeMessage(bytes, limits);
    if (!r.ok || r.message.kind !== 'request') throw new Error('expected a request');
    expect(r.message.op.buffer).toBe(bytes.buffer);
    for (const t of r.message.auth) expect(t.buffer).toBe(bytes.buffer);
  });

  it('rejects non-finite floats in an output', () => {
    const out = encodeMessage({
      kind: 'output',
      frame: 1,
      channel: 0,
      discrete: [],
      analog: [1.5],
      tag: new Uint8Array(0),
    });
    const i = out.indexOf(0x3f); // 1.5 = 3f f8 00 .. big-endian
    out.set([0x7f, 0xf8, 0, 0, 0, 0, 0, 0], i);
    const r = decodeMessage(out, limits);
    expect(r.ok ? 'ok' : r.reason).toBe('non-finite-float');
  });
});
