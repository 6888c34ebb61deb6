/**
 * The whole loop under virtual time: input units -> PBFT (n = 4) -> three dissimilar channels -> voter ->
 * actuator -> plant -> sensors, with seeded link delays. Each run is replayable from its seed.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario, type Scenario } from '../../hil/scenario.ts';
import { stepMetrics, TUTORIAL_CRITERIA } from '../../src/core/control/metrics.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { CHANNEL_FAULT_KINDS, type ChannelFaultKind } from '../../src/runtime/loop/channel-fault.ts';
import { INPUT_FAULT_KINDS, type InputFaultKind } from '../../src/runtime/loop/input-fault.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const topology = loadTopology('config/laptop.json');
const silent = pino({ level: 'silent' });

async function fly(scenario: Scenario, seed: number): Promise<RigResult> {
  const scheduler = new VirtualScheduler();
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed,
    logger: silent,
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
  });
  const result = await rig.runVirtual((t) => scheduler.runUntil(t));
  if (!result.passed) {
    console.error(
      `loop run failed; replay: seed ${seed}, scenario ${scenario.name}`,
      result.assertions.filter((a) => !a.passed),
    );
  }
  return result;
}

const step: Scenario = {
  name: 'step',
  description: '0.2 rad step at 1 s',
  durationS: 16,
  pilot: [{ atS: 1, pitch: 0.2 }],
  events: [],
  maxConsecutiveMisses: 0,
};

describe('voted loop through PBFT (virtual time)', () => {
  it('meets the tutorial step criteria, with every frame written', async () => {
    const r = await fly(step, 11);
    expect(r.passed).toBe(true);
    const frames = r.trace.frames.filter((f) => f.t >= 1);
    expect(r.trace.frames.every((f) => f.outcome === 'write')).toBe(true);
    const m = stepMetrics(
      frames.map((f) => f.theta),
      1 / topology.frameRateHz,
      0.2,
    );
    expect(m.overshootPct).toBeLessThan(TUTORIAL_CRITERIA.maxOvershootPct);
    expect(m.riseTime).toBeLessThan(TUTORIAL_CRITERIA.maxRiseTime);
    expect(m.settlingTime).toBeLessThan(TUTORIAL_CRITERIA.maxSettlingTime);
    expect(m.steadyStateErrorPct).toBeLessThan(TUTORIAL_CRITERIA.maxSteadyStateErrorPct);
  });

  it('dissimilar channels agree within the voter tolerance on every frame', async () => {
    const r = await fly(step, 12);
    for (const f of r.trace.frames.slice(1)) {
      const outs = f.channels.filter((c): c is number => c !== null);
      expect(outs).toHaveLength(3);
      expect(Math.max(...outs) - Math.min(...outs)).toBeLessThan(topology.voter.tolerance);
    }
  });

  it('flies the default scenario (Byzantine channel, repair, primary crash) with every assertion held', async () => {
    const r = await fly(defaultScenario(20, 'primary'), 13);
    expect(r.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(r.trace.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['board-crashed', 'view-change']),
    );
  });

  it('flies the default scenario with a backup crash instead', async () => {
    const r = await fly(defaultScenario(20, 'backup'), 13);
    expect(r.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(r.trace.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining([
        'fault-injected',
        'channel-latched',
        'fault-cleared',
        'channel-reintegrated',
        'board-crashed',
      ]),
    );
  });
});

describe('one Byzantine channel of each kind', () => {
  const clean = fly({ ...step, name: 'clean', durationS: 10 }, 21);
  for (const kind of CHANNEL_FAULT_KINDS) {
    it(`${kind}: voted elevator stays within tolerance of the fault-free trace; value faults are latched`, async () => {
      const onsetS = 3;
      const scenario: Scenario = {
        ...step,
        name: `byzantine-${kind}`,
        durationS: 10,
        events: [{ atS: onsetS, kind: 'channel-fault', channel: 2, fault: kind as ChannelFaultKind }],
      };
      const [base, r] = [await clean, await fly(scenario, 21)];
      expect(r.trace.frames.every((f) => f.outcome === 'write')).toBe(true);
      const worst = Math.max(
        ...r.trace.frames.map((f, i) => Math.abs(f.voted - base.trace.frames[i]!.voted)),
      );
      expect(worst).toBeLessThanOrEqual(topology.voter.tolerance);
      const latch = r.trace.events.find((e) => e.kind === 'channel-latched');
      if (kind === 'silent' || kind === 'late') {
        // Silence and lateness are counted, not latched: they cannot corrupt the vote.
        expect(latch).toBeUndefined();
      } else {
        expect(latch).toBeDefined();
        // The persistence threshold counts from the first output outside tolerance (a stuck or drifting channel
        // is harmless, and indistinguishable from a correct one, while it still agrees).
        const firstWrong = r.trace.frames.findIndex(
          (f, i) =>
            f.frame >= onsetS * topology.frameRateHz &&
            f.channels[2] !== null &&
            Math.abs(f.channels[2]! - base.trace.frames[i]!.voted) > topology.voter.tolerance,
        );
        expect(firstWrong).toBeGreaterThanOrEqual(0);
        // Strikes decay on agreeing frames, so a fault that agrees now and then may need a few more frames.
        expect(latch!.frame - firstWrong).toBeLessThanOrEqual(topology.voter.persistence + 3);
      }
    });
  }
});

/**
 * One lying input unit of three, by kind (src/runtime/loop/input-fault.ts), injected into unit 2 from 2 s on.
 * Input voting (issue 9) is not in the channels yet. Until it is, a far-future unit drives the loop to failsafe
 * (`it.fails` marks that, so the test flips when it is fixed), and stuck, random, replay and off move the voted
 * elevator by up to about 3x the tolerance: each unit carries one of the three pitch sensors, so the law loses
 * or mis-reads one. What holds now is no failsafe and every frame written (and, for two-faced, the fault-free
 * trace itself: the batch carries one face, the same on every channel).
 */
describe('one Byzantine input unit of each kind', () => {
  const durationS = 8;
  const onsetFrame = 2 * topology.frameRateHz;
  const clean = fly({ ...step, name: 'clean-inputs', durationS }, 31);

  async function flyWith(kind: InputFaultKind): Promise<{ r: RigResult; worst: number }> {
    const scheduler = new VirtualScheduler();
    const rig = new Rig({
      topology,
      scheduler,
      scenario: { ...step, name: `input-${kind}`, durationS },
      seed: 31,
      logger: silent,
      virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
    });
    expect(rig.system.injectInputFault(2, { kind, fromFrame: onsetFrame })).toBe(true);
    const [base, r] = [await clean, await rig.runVirtual((t) => scheduler.runUntil(t))];
    const worst = Math.max(...r.trace.frames.map((f, i) => Math.abs(f.voted - base.trace.frames[i]!.voted)));
    return { r, worst };
  }

  for (const kind of INPUT_FAULT_KINDS) {
    const run = kind === 'far-future' ? it.fails : it;
    run(`${kind} (unit 2): no failsafe, every frame written`, async () => {
      const { r, worst } = await flyWith(kind);
      const outcomes = r.trace.frames.map((f) => f.outcome);
      if (outcomes.some((o) => o !== 'write')) {
        console.error(`input fault ${kind}: frames not written; replay: seed 31, worst difference ${worst}`);
      }
      expect(outcomes.every((o) => o === 'write')).toBe(true);
      if (kind === 'two-faced') expect(worst).toBeLessThanOrEqual(topology.voter.tolerance);
    });
  }
  it.todo(
    'every kind: no voted frame outside tolerance of the fault-free trace (needs input voting, issue 9)',
  );
});
