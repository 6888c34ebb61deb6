/**
 * The loop over a CAN bus on virtual time (bench/links/virtual-can.ts over src/io/can-virtual.ts): real
 * CanTransports, the emulated bus's arbitration and timing, deterministic. A primary crash on a classic 1 Mbit/s
 * bus near half load is a clean view change (one VIEW-CHANGE per live replica, one NEW-VIEW, no failsafe) now
 * that the replicas' stall and timeouts follow the link (topology-pbft.ts); with 4-period stalls it was a
 * retransmission storm at 80% bus load that never ended.
 */
import { describe, expect, it } from 'vitest';
import { virtualCanRun } from '../../bench/links/virtual-can.ts';
import { loadTopology } from '../../src/runtime/config.ts';

const can = loadTopology('config/can-bus.json');

describe('the loop on a virtual CAN bus', () => {
  it('classic CAN 1 Mbit/s at 20 Hz: every frame written, bus load as the wire budget says', async () => {
    const r = await virtualCanRun(can, { rateHz: 20, frames: 60, warmupFrames: 20, bitrate: 1_000_000 });
    expect(r.decisions).toEqual({ write: 60, hold: 0, failsafe: 0 });
    // The wire budget's bound: 28.7 Hz at 50% (no REPLYs to input units, 4-byte CAN tags) -> about 35% at 20 Hz.
    expect(r.busLoadPercent).toBeGreaterThan(28);
    expect(r.busLoadPercent).toBeLessThan(42);
  });

  it('classic CAN 1 Mbit/s at 20 Hz: a primary crash is one clean view change, no failsafe', async () => {
    // The actuator holds up to a second (20 frames) before it fails safe; detection takes 4 frames, the view
    // change's messages queue behind the frames' traffic on a half-loaded bus.
    const t = { ...can, voter: { ...can.voter, failsafeAfterMisses: 20 } };
    const r = await virtualCanRun(t, {
      rateHz: 20,
      frames: 100,
      warmupFrames: 20,
      crashPrimaryAt: 30,
      bitrate: 1_000_000,
    });
    const explain = JSON.stringify({ ...r, counters: undefined });
    expect(r.decisions.failsafe, explain).toBe(0);
    expect(r.longestMissRun, explain).toBeLessThan(16);
    expect(r.finalViews, explain).toEqual([1, 1, 1]);
    expect(r.sentByKind['view-change']?.messages, explain).toBe(3);
    expect(r.sentByKind['new-view']?.messages, explain).toBe(1);
    expect(r.busLoadPercent, explain).toBeLessThan(60);
  }, 30_000);
});
