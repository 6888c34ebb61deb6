/**
 * The whole loop under virtual time: input units -> PBFT (n = 4) -> three dissimilar channels -> voter ->
 * actuator -> plant -> sensors, with seeded link delays. Each run is replayable from its seed.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LoopBench } from '../../hil/bench/legacy.ts';
import { Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario, type Scenario } from '../../hil/scenario.ts';
import { stepMetrics, TUTORIAL_CRITERIA } from '../../src/core/control/metrics.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { CHANNEL_FAULT_KINDS, type ChannelFaultKind } from '../../src/runtime/loop/channel-fault.ts';
import { INPUT_FAULT_KINDS, type InputFaultKind } from '../../src/runtime/loop/input-fault.ts';
import type { ControlLoop } from '../../src/runtime/node/control-loop.ts';
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
 * Every channel votes the inputs of each committed batch (src/core/frame/inputs.ts), so the liar is outvoted:
 * every frame written, no failsafe, and the liar shown in the input health.
 *
 * The reference is the run in which unit 2 falls silent at the same frame, not the fault-free run: losing one
 * of three pitch sensors (any fault, silence included) turns the voted pitch from the median of three into the
 * mean of two, which differs by sensor noise, and the law's derivative path amplifies that to about 0.02 rad of
 * elevator, twice the voter tolerance, whatever the voter does (test/core/frame/input-loop.test.ts measures the
 * same in the pure loop). A liar must cost no more than that loss.
 */
describe('one Byzantine input unit of each kind', () => {
  const durationS = 8;
  const onsetFrame = 2 * topology.frameRateHz;
  const frames = durationS * topology.frameRateHz;
  const tolerance = topology.voter.tolerance;

  async function flyWith(kind: InputFaultKind | undefined): Promise<{ r: RigResult; loop: ControlLoop }> {
    const scheduler = new VirtualScheduler();
    const rig = new Rig({
      topology,
      scheduler,
      scenario: { ...step, name: `input-${kind ?? 'clean'}`, durationS },
      seed: 31,
      logger: silent,
      virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
    });
    // The in-process bench wraps the Fleet's ControlLoop: input-unit faults of the runtime are injected there.
    if (!(rig.system instanceof LoopBench)) throw new Error('expected the in-process loop bench');
    const loop = rig.system.loop;
    if (kind !== undefined) expect(loop.injectInputFault(2, { kind, fromFrame: onsetFrame })).toBe(true);
    return { r: await rig.runVirtual((t) => scheduler.runUntil(t)), loop };
  }
  const worst = (a: RigResult, b: RigResult, from = 0): number =>
    Math.max(
      ...a.trace.frames.slice(from).map((f, i) => Math.abs(f.voted - b.trace.frames[from + i]!.voted)),
    );
  const clean = flyWith(undefined);
  const off = flyWith('off');

  for (const kind of INPUT_FAULT_KINDS) {
    it(`${kind} (unit 2): every frame written, no worse than the unit falling silent, shown in the health`, async () => {
      const [{ r, loop }, base, reference] = [await flyWith(kind), (await clean).r, (await off).r];
      const vsClean = worst(r, base);
      const vsOff = worst(r, reference);
      const health = loop.inputHealth();
      const shown = JSON.stringify(health.map(({ fields: _f, ...h }) => h));
      if (r.trace.frames.some((f) => f.outcome !== 'write') || vsOff > 2.5 * tolerance)
        console.error(
          `input fault ${kind}: replay: seed 31; vs fault-free ${vsClean}, vs silent ${vsOff}; ${shown}`,
        );
      expect(r.trace.frames.map((f) => f.outcome).filter((o) => o !== 'write')).toEqual([]);
      expect(health.filter((h) => h.unit !== 2 && h.latched)).toEqual([]);
      const u2 = health[2]!;
      switch (kind) {
        case 'far-future':
        case 'replay':
        case 'off':
          // Never used after onset: as if silent (far-future past the window, replayed frames stale).
          expect(vsOff).toBeLessThan(tolerance / 10);
          expect(u2.used).toBeLessThanOrEqual(onsetFrame + 1);
          expect(
            kind === 'far-future' ? u2.ahead : kind === 'replay' ? u2.stale : u2.missing,
          ).toBeGreaterThan(frames - onsetFrame - 5);
          break;
        case 'stuck':
        case 'random':
          // A value liar: outvoted at once (mid-value select), latched within a few frames.
          expect(u2.latched).toBe(true);
          expect(vsOff).toBeLessThan(2.5 * tolerance);
          expect(worst(r, reference, onsetFrame + 100)).toBeLessThan(tolerance / 5);
          break;
        case 'two-faced':
          // Every channel sees the one face the batch carries (here the true one): the fault-free trace.
          expect(vsClean).toBeLessThanOrEqual(tolerance);
          break;
      }
    });
  }

  it('losing one of three units costs about twice the voter tolerance (the law, not the voter; for the report)', async () => {
    const lost = worst((await off).r, (await clean).r);
    console.log(
      `input unit 2 silent from frame ${onsetFrame}: voted elevator moves by up to ${lost.toExponential(2)} rad`,
    );
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(3 * tolerance);
  });
});
