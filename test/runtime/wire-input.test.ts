/** The ordering group the wire budget is computed for follows the loaded config (src/runtime/wire-input.ts). */
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/runtime/config.ts';
import { wireInput } from '../../src/runtime/wire-input.ts';
import { shipped } from '../core/wire-budget/shipped.ts';

describe('wireInput', () => {
  it('gives the laptop config a group no larger than the one the wire-budget tests use as shipped', () => {
    const real = wireInput(loadTopology('config/laptop.json'));
    for (const k of ['n', 'f', 'watermarkWindow', 'maxBatchRequests', 'clients', 'tagBytes'] as const) {
      expect(real[k], k).toBe(shipped[k]);
    }
    for (const k of [
      'maxOpBytes',
      'maxResultBytes',
      'appSnapshotBytes',
      'outputDiscrete',
      'outputAnalog',
    ] as const) {
      expect(real[k], k).toBeLessThanOrEqual(shipped[k]);
    }
  });

  it('follows the config: a wider window and more input units grow the group', () => {
    const t = loadTopology('config/laptop.json');
    const wider = wireInput({ ...t, inputUnits: 5, timing: { ...t.timing, watermarkWindow: 256 } });
    expect(wider.clients).toBe(5);
    expect(wider.watermarkWindow).toBe(256);
  });
});
