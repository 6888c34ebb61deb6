import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authPayload,
  decodeMessage,
  encodeBatch,
  encodeMessage,
  encodeWithAuthenticator,
  encodeWithTag,
} from '../../../src/core/codec/encode.ts';
import type { PrePrepare } from '../../../src/core/codec/messages.ts';
import {
  payloadOf,
  prePrepareBatchBytes,
  prePreparePayload,
  withAuthenticator,
  withTag,
} from '../../../src/core/pbft/wire-views.ts';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const request = fc.record({
  client: fc.nat(),
  timestamp: fc.maxSafeNat(),
  op: bytes(64),
  auth: fc.array(fc.uint8Array({ minLength: 8, maxLength: 32 }), { maxLength: 7 }),
});
const prePrepare: fc.Arbitrary<PrePrepare> = fc.record({
  kind: fc.constant('pre-prepare' as const),
  view: fc.maxSafeNat(),
  seq: fc.maxSafeNat(),
  batchDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  replica: fc.nat(),
  batch: fc.record({ kind: fc.constant('full' as const), requests: fc.array(request, { maxLength: 5 }) }),
  auth: fc.array(fc.uint8Array({ minLength: 8, maxLength: 32 }), { maxLength: 31 }),
});

describe('pre-prepare wire views', () => {
  it('match authPayload, encodeBatch and encodeMessage exactly', () => {
    fc.assert(
      fc.property(prePrepare, (pp) => {
        const encoded = encodeMessage(pp);
        const decoded = decodeMessage(encoded);
        expect(decoded.ok && encodeMessage(decoded.message)).toEqual(encoded); // canonical round trip
        expect(prePreparePayload(encoded, pp)).toEqual(authPayload(pp));
        expect(prePrepareBatchBytes(encoded, pp)).toEqual(encodeBatch(pp.batch));
        expect(withAuthenticator(encodeMessage({ ...pp, auth: [] }), pp.auth)).toEqual(encoded);
      }),
      { seed: 20261121, numRuns: 300 },
    );
  });
});

describe('payloadOf and withTag', () => {
  const tags = fc.array(fc.uint8Array({ minLength: 8, maxLength: 32 }), { maxLength: 31 });
  const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const message = fc.oneof(
    fc.record({
      kind: fc.constant('request' as const),
      client: fc.nat(),
      timestamp: fc.maxSafeNat(),
      op: bytes(64),
      auth: tags,
    }),
    fc.record({
      kind: fc.constantFrom('prepare' as const, 'commit' as const),
      view: fc.maxSafeNat(),
      seq: fc.maxSafeNat(),
      batchDigest: digest,
      replica: fc.nat(),
      auth: tags,
    }),
    fc.record({
      kind: fc.constant('reply' as const),
      view: fc.nat(),
      client: fc.nat(),
      timestamp: fc.maxSafeNat(),
      replica: fc.nat(),
      result: bytes(64),
      tag: fc.uint8Array({ maxLength: 32 }),
    }),
    fc.record({
      kind: fc.constant('checkpoint' as const),
      seq: fc.maxSafeNat(),
      stateDigest: digest,
      replica: fc.nat(),
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    }),
  );
  it('payloadOf is authPayload as a view; withTag seals a reply like encodeMessage', () => {
    fc.assert(
      fc.property(message, (m) => {
        const encoded = encodeMessage(m);
        expect(payloadOf(encoded, m)).toEqual(authPayload(m));
        if (m.kind === 'reply')
          expect(withTag(encodeMessage({ ...m, tag: new Uint8Array(0) }), m.tag)).toEqual(encoded);
      }),
      { seed: 20261122, numRuns: 400 },
    );
  });

  it('encodeWithAuthenticator and encodeWithTag give encodeMessage of the sealed message, over authPayload', () => {
    fc.assert(
      fc.property(message, fc.boolean(), (m, nested) => {
        // `nested`: the sealing callback encodes something itself (it must get a writer of its own).
        const nestedMessage = {
          kind: 'prepare' as const,
          view: 1,
          seq: 2,
          batchDigest: new Uint8Array(32),
          replica: 3,
          auth: [new Uint8Array(8)],
        };
        const other = () => nested && expect(decodeMessage(encodeMessage(nestedMessage)).ok).toBe(true);
        if (m.kind === 'reply') {
          const r = encodeWithTag({ ...m, tag: new Uint8Array(0) }, (payload) => {
            expect(payload).toEqual(authPayload(m));
            other();
            return m.tag;
          });
          expect(r.bytes).toEqual(encodeMessage(m));
          expect(r.tag).toBe(m.tag);
        } else if (m.kind === 'request' || m.kind === 'prepare' || m.kind === 'commit') {
          const r = encodeWithAuthenticator({ ...m, auth: [] }, (payload) => {
            expect(payload).toEqual(authPayload(m));
            other();
            return [...m.auth];
          });
          expect(r.bytes).toEqual(encodeMessage(m));
          expect(r.auth).toEqual(m.auth);
        }
      }),
      { seed: 20261203, numRuns: 400 },
    );
  });
});
