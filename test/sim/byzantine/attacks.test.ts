/**
 * The catalog's message generators never throw and stay bounded, whatever the attacker believes (views and
 * sequence numbers up to 2^53 - 1 included): a faulty node's own code must not be what ends a simulation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../../src/core/codec/encode.ts';
import { pbftConfig } from '../../../src/core/pbft/config.ts';
import { Prng } from '../../../src/core/prng.ts';
import {
  earlyBufferFlood,
  invalidNewView,
  type Knowledge,
  oldViewBatches,
  ReplayMemory,
  retransmitRequests,
  strayVotes,
} from '../../../src/sim/byzantine/attacks.ts';
import { KeyedFloodMix } from '../../../src/sim/byzantine/floods.ts';
import { bigVarint, type Forger, withFirstField } from '../../../src/sim/byzantine/forge.ts';
import { keylessBurst } from '../../../src/sim/intruders/keyless.ts';
import { groupKeys } from '../../../src/sim/keys.ts';

const MAX = Number.MAX_SAFE_INTEGER;
const edge = fc.oneof(fc.constantFrom(0, 1, 2 ** 31, 2 ** 32, 2 ** 52, MAX - 1, MAX), fc.nat());
const knowledge = fc.record({ view: edge, low: edge, lastExecuted: edge });
const SEED = 20261;

describe('attack generators', () => {
  const config = pbftConfig(1, { checkpointInterval: 4, watermarkWindow: 16 });
  const keys = groupKeys(1, 4, [4]);

  it('never throw and send a bounded number of messages, with or without keys', () => {
    fc.assert(
      fc.property(knowledge, fc.boolean(), fc.integer(), (k: Knowledge, keyed, seed) => {
        const forger: Forger = { id: 3, crypto: keyed ? keys.cryptoFor(3) : undefined, rng: new Prng(seed) };
        const sized = { count: 3, maxBytes: 4096 };
        const out = [
          invalidNewView(forger, config, k),
          ...oldViewBatches(forger, config, k, sized),
          ...strayVotes(forger, config, k),
          ...earlyBufferFlood(forger, config, k, sized),
          ...retransmitRequests(forger, config, k, 7),
          ...keylessBurst(forger, config, k, new ReplayMemory<Uint8Array>(4, forger.rng), { maxBytes: 4096 }),
          ...new KeyedFloodMix(forger, config, 4096).next(k),
        ];
        expect(out.length).toBeLessThan(200);
        for (const m of out) expect(m.bytes.length).toBeLessThanOrEqual(config.limits.maxMessageBytes);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('can write a view beyond the codec range, which the decoder refuses', () => {
    expect(bigVarint(2n ** 53n)).toHaveLength(8);
    const forger: Forger = { id: 1, crypto: keys.cryptoFor(1), rng: new Prng(3) };
    const k = { view: 0, low: 0, lastExecuted: 0 };
    let beyond = 0;
    for (let i = 0; i < 200; i++) {
      const d = decodeMessage(invalidNewView(forger, config, k).bytes);
      if (!d.ok) {
        expect(d.reason).toBe('integer-out-of-range');
        beyond++;
      }
    }
    expect(beyond).toBeGreaterThan(0);
    const plain = withFirstField(Uint8Array.of(1, 7, 0x05, 0xaa), 300n);
    expect([...plain]).toEqual([1, 7, 0xac, 0x02, 0xaa]);
  });
});
