/**
 * A Byzantine primary in the whole loop (virtual time): each behaviour of the PBFT catalog is injected into the
 * current primary mid-flight. The loop must keep flying: no failsafe, at most MISS_BOUND consecutive frames
 * without a write (the view change), tracking held. Replay: the seed and behaviour are in the test name.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Rig } from '../../hil/rig.ts';
import type { Scenario } from '../../hil/scenario.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { behaviours } from '../../src/sim/byzantine.ts';

const topology = loadTopology('config/laptop.json');
/** The stated bound: frames a primary fault may cost the actuator (one view change), below the failsafe threshold. */
const MISS_BOUND = 10;

describe('Byzantine primary in the loop', () => {
  it('the failsafe threshold of the shipped config is above the stated miss bound', () => {
    expect(topology.voter.failsafeAfterMisses).toBeGreaterThanOrEqual(MISS_BOUND);
  });

  for (const entry of behaviours()) {
    for (const seed of [5, 6]) {
      it(`${entry.name} (seed ${seed}): keeps flying, at most ${MISS_BOUND} frames missed`, async () => {
        const scenario: Scenario = {
          name: `primary-${entry.name}`,
          description: entry.summary,
          durationS: 12,
          pilot: [
            { atS: 1, pitch: 0.2 },
            { atS: 6, pitch: -0.1 },
          ],
          events: [{ atS: 3, kind: 'replica-byzantine', replica: 'primary', behaviour: entry.name }],
          maxConsecutiveMisses: MISS_BOUND,
        };
        const scheduler = new VirtualScheduler();
        const rig = new Rig({
          topology,
          scheduler,
          scenario,
          seed,
          logger: pino({ level: 'silent' }),
          virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
        });
        const r = await rig.runVirtual((t) => scheduler.runUntil(t));
        expect(r.trace.events.some((e) => e.kind === 'replica-byzantine')).toBe(true);
        expect(r.assertions.filter((a) => !a.passed)).toEqual([]);
      });
    }
  }
});
