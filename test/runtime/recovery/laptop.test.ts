/**
 * Proactive recovery in the laptop mode under virtual time: every board restarts on the schedule (the
 * primary's after a planned view change), with fresh keys and fresh objects, and the actuator misses no frame.
 */
import { describe, expect, it } from 'vitest';
import { defaultScenario, type Scenario } from '../../../hil/scenario.ts';
import { flyWithRecovery, laptop as topology } from './fixtures.ts';

const quiet = (durationS: number): Scenario => ({
  name: 'recovery',
  description: 'pitch steps while every board restarts on the schedule',
  durationS,
  pilot: [
    { atS: 1, pitch: 0.2 },
    { atS: 9, pitch: -0.1 },
    { atS: 17, pitch: 0.1 },
  ],
  events: [],
  maxConsecutiveMisses: 0,
});

describe('proactive recovery, laptop mode (virtual time)', () => {
  it('every board recovers 3 times, the primary after handing over, and no frame is missed', async () => {
    const { result, system } = await flyWithRecovery(quiet(22), 21, { periodSeconds: 6 });
    const report = system.recovery!.report();
    const misses = result.trace.frames.filter((f) => f.outcome !== 'write').map((f) => f.frame);
    if (misses.length > 0) console.error('missed frames', misses.slice(0, 20), system.counters.toJSON());
    expect(misses).toEqual([]);
    for (const b of topology.boards) expect(report.perBoard[b.name] ?? 0).toBeGreaterThanOrEqual(3);
    const handovers = report.records.filter((r) => r.handover !== undefined);
    expect(handovers.length).toBeGreaterThan(0);
    expect(handovers.every((r) => !r.handover!.timedOut)).toBe(true);
    // No key older than its rotation is in use at the end: every peer holds each principal's newest epoch.
    for (const [p, k] of Object.entries(report.keys)) {
      expect(k.oldestHeld, `principal ${p}`).toBe(k.epoch);
      expect(k.epoch, `principal ${p}`).toBeGreaterThanOrEqual(3);
    }
    const channels = report.records.flatMap((r) => r.roles.filter((x) => x.kind === 'channel'));
    // Each restarted channel took the abstract state in the checkpoint its fresh replica restored (certified by
    // 2f+1 replicas), or else f+1 matching peer states.
    const how = channels.map((c) =>
      c.rebuilt === undefined
        ? 'never'
        : c.rebuilt.from === 'peers'
          ? `peers:${c.rebuilt.supporters.length}`
          : 'checkpoint',
    );
    expect(
      how.every((h) => h === 'checkpoint' || h === 'peers:2' || h === 'peers:3'),
      how.join(' '),
    ).toBe(true);
    expect(how).toContain('checkpoint');
  });

  it('the default scenario (Byzantine channel, repair, primary crash) holds every assertion with recovery on', async () => {
    const { result, system } = await flyWithRecovery(defaultScenario(20, 'primary'), 13, {});
    expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
    const report = system.recovery!.report();
    // The latched channel is restarted at once, the crashed board after the stated bound (500 ms).
    expect(report.records.some((r) => r.cause === 'latched')).toBe(true);
    const crash = report.records.find((r) => r.cause === 'crash');
    expect(crash?.rejoinedAtMs).toBeDefined();
    // Frames not written all belong to the primary's crash (its view change), none to a scheduled restart.
    const crashFrame = result.trace.events.find((e) => e.kind === 'board-crashed')!.frame;
    const misses = result.trace.frames.filter((f) => f.outcome !== 'write').map((f) => f.frame);
    expect(misses.every((f) => f >= crashFrame && f <= crashFrame + 10)).toBe(true);
  });
});
