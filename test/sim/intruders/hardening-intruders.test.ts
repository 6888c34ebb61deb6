/**
 * Intruders (a peer with no keys, clients with bad MACs in chosen slots), alone and next to faulty replicas of
 * the whole catalog, f = 1 and f = 2: safe, live after GST, no correct primary blamed.
 */
import { describe } from 'vitest';
import { intruders } from '../../../src/sim/intruders.ts';
import { runIt } from '../hardening.ts';

describe('hardening catalog: intruders', () => {
  for (const entry of intruders()) {
    describe(entry.name, () => {
      for (const f of [1, 2]) {
        runIt(`${entry.name} alone f=${f} seed ${9200 + f}`, {
          seed: 9200 + f,
          f,
          intruders: [entry.name],
          faultyBackups: 0,
        });
        runIt(`${entry.name} with faulty replicas f=${f} seed ${9210 + f}`, {
          seed: 9210 + f,
          f,
          intruders: [entry.name],
        });
      }
    });
  }
});
