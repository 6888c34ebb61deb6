/** peekRequest reads what the full decoder reads (client and op) and never throws on any bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { peekRequest } from '../../../src/runtime/loop/request-peek.ts';
import { topologyPbftConfig } from '../../../src/runtime/loop/topology-pbft.ts';
import { keys, sampleOp, topology } from './fixtures.ts';

const SEED = 13;

function requestBytes(unit: number, frame: number): Uint8Array {
  const client = new Client({
    id: principalOf.input(unit),
    config: topologyPbftConfig(topology),
    crypto: keyRingCrypto(keys.ring(principalOf.input(unit)), undefined, keys.replicaPublicKeys),
    retransmitTicks: 1000,
  });
  const r = client.submit(sampleOp(unit, frame, 0.3, -0.1), 0);
  if (!r.ok) throw new Error(r.reason);
  return r.actions.find((a) => a.kind === 'multicast')!.bytes;
}

describe('peekRequest', () => {
  it('reads the client and op the full decoder reads', () => {
    for (const [unit, frame] of [
      [0, 0],
      [2, 1_000_000],
    ] as const) {
      const bytes = requestBytes(unit, frame);
      const full = decodeMessage(bytes, DEFAULT_LIMITS);
      if (!full.ok || full.message.kind !== 'request') throw new Error('not a request');
      const peek = peekRequest(bytes, DEFAULT_LIMITS);
      expect(peek?.client).toBe(full.message.client);
      expect(peek?.op).toEqual(full.message.op);
    }
  });

  it(`never throws: truncations and random bytes give undefined or a prefix (seed ${SEED})`, () => {
    const good = requestBytes(1, 7);
    for (let n = 0; n < 6; n++) expect(peekRequest(good.subarray(0, n), DEFAULT_LIMITS)).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = peekRequest(bytes, DEFAULT_LIMITS);
        return r === undefined || r.op.length <= DEFAULT_LIMITS.maxOpBytes;
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
