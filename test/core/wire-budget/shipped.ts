import type { OrderingInput } from '../../../src/core/wire-budget/worst-case.ts';

/**
 * The shipped configs' ordering group: n = 4, f = 1, window 128, 3 input units, batches of 12, 8-byte tags, with
 * the payload bounds rounded up (no smaller than what src/runtime/wire-input.ts's wireInput gives for
 * config/laptop.json: checked in test/runtime/wire-input.test.ts), so the sizes asserted on it bound the shipped ones.
 */
export const shipped: OrderingInput = {
  n: 4,
  f: 1,
  watermarkWindow: 128,
  maxBatchRequests: 12,
  maxOpBytes: 24,
  tagBytes: 8,
  clients: 3,
  maxResultBytes: 8,
  appSnapshotBytes: 240,
  outputDiscrete: 2,
  outputAnalog: 1,
};
