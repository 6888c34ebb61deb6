import { describe, expect, it } from 'vitest';
import {
  frameLoad,
  frameMessageSizes,
  frameRateBound,
  frameTraffic,
  type Placement,
} from '../../../src/core/wire-budget/frame-budget.ts';
import { canFd, classicCan, messageCost, serialLink } from '../../../src/core/wire-budget/link-cost.ts';
import type { OrderingInput } from '../../../src/core/wire-budget/worst-case.ts';

const input: OrderingInput = {
  n: 4,
  f: 1,
  watermarkWindow: 128,
  maxBatchRequests: 12,
  maxOpBytes: 21,
  tagBytes: 8,
  clients: 3,
  maxResultBytes: 2,
  appSnapshotBytes: 40,
  outputDiscrete: 2,
  outputAnalog: 1,
};
/** The shipped boards: replicas on b0 b1 b2 mon, channels on b0 b1 b2, voter and the three units on aiu. */
const shipped: Placement = {
  replicas: ['b0', 'b1', 'b2', 'mon'],
  channels: ['b0', 'b1', 'b2'],
  voters: ['aiu'],
  clients: ['aiu', 'aiu', 'aiu'],
};

describe('frame traffic', () => {
  it('counts the normal case per frame: point-to-point copies, or one broadcast per multicast', () => {
    const count = (medium: 'point-to-point' | 'shared', replies: boolean) =>
      frameTraffic(input, shipped, { medium, replies, checkpointInterval: 32 }).reduce(
        (t, x) => t + x.perFrame,
        0,
      );
    // requests 3 x 4, PRE-PREPARE 3, PREPAREs 3 x 3, COMMITs 4 x 3, REPLYs 4 x 3, OUTPUTs 3, CHECKPOINTs 12/32
    expect(count('point-to-point', true)).toBeCloseTo(12 + 3 + 9 + 12 + 12 + 3 + 12 / 32, 10);
    expect(count('point-to-point', false)).toBeCloseTo(12 + 3 + 9 + 12 + 3 + 12 / 32, 10);
    // on a bus: 3 + 1 + 3 + 4 (+ 12 REPLYs, one per replica and unit) + 3 + 4/32
    expect(count('shared', true)).toBeCloseTo(3 + 1 + 3 + 4 + 12 + 3 + 4 / 32, 10);
    expect(count('shared', false)).toBeCloseTo(3 + 1 + 3 + 4 + 3 + 4 / 32, 10);
  });

  it('costs nothing between roles on one board', () => {
    const together: Placement = { ...shipped, voters: ['b0'], clients: ['b0', 'b1', 'b2'] };
    const t = frameTraffic(input, together, {
      medium: 'point-to-point',
      replies: false,
      checkpointInterval: 32,
    });
    expect(t.filter((x) => x.kind === 'request').length).toBe(3 * 3); // each unit's own replica is local
    expect(t.filter((x) => x.kind === 'output').length).toBe(2);
  });

  it('encodes the frame’s messages at the run’s counter magnitude', () => {
    const s = frameMessageSizes(input, { counter: 100 });
    // version, kind, client, timestamp (1 byte at 100), op (1 + 21), auth (1 + 4 x 9)
    expect(s.request).toBe(1 + 1 + 1 + 1 + 22 + 1 + 36);
    // version, kind, view, seq, digest, replica, batch tag, 3 requests without version and kind, auth
    expect(s['pre-prepare']).toBe(1 + 1 + 1 + 1 + 32 + 1 + 1 + 1 + 3 * (s.request - 2) + 1 + 27);
    const digests = frameMessageSizes(input, { counter: 100, batch: 'digests' });
    expect(digests['pre-prepare']).toBe(1 + 1 + 1 + 1 + 32 + 1 + 1 + 1 + 3 * 32 + 1 + 27);
  });

  it('bounds the frame rate by the bus (shared) or the busiest direction (point-to-point)', () => {
    const one: Placement = { replicas: ['r0', 'r1', 'r2', 'r3'], channels: [], voters: [], clients: [] };
    const t = frameTraffic(input, one, { medium: 'shared', replies: false, checkpointInterval: 1e9 });
    // PRE-PREPARE of an empty batch, 3 PREPAREs, 4 COMMITs: sum of their bus times
    const sizes = frameMessageSizes(input);
    const link = classicCan(1_000_000);
    const bus =
      messageCost(link, t.find((x) => x.kind === 'pre-prepare')!.bytes).seconds +
      7 * messageCost(link, sizes.prepare).seconds +
      (4 / 1e9) * messageCost(link, sizes.checkpoint).seconds;
    expect(frameLoad(t, link).wireSeconds).toBeCloseTo(bus, 12);
    expect(frameRateBound(t, link, 0.5)).toBeCloseTo(0.5 / bus, 6);
    const p2p = frameTraffic(input, shipped, {
      medium: 'point-to-point',
      replies: false,
      checkpointInterval: 32,
    });
    const serial = frameLoad(p2p, serialLink(921_600));
    expect(serial.busiest).toBe('b0->b1'); // the primary's link to the first backup carries the PRE-PREPARE
    expect(frameRateBound(p2p, canFd(1e6, 5e6))).toBeGreaterThan(frameRateBound(p2p, canFd(1e6, 2e6)));
  });
});
