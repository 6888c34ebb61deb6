/**
 * The frame clock, table-driven: each case is a config, a sequence of inputs, and what the clock must answer to
 * each (only the fields given are checked), plus the frame it must be in at the end. A seeded property test
 * then checks that one unit, whatever frames it claims, never moves the clock past what the correct units sent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/core/assert.ts';
import {
  FrameClock,
  type FrameClockConfig,
  type FrameClockInput,
  type FrameClockOutput,
  majorityQuorum,
} from '../../../src/core/frame/clock.ts';

const base: FrameClockConfig = { periodMs: 20, units: 3, cutFraction: 0.3, startQuorum: 2, maxAhead: 4 };

const wake = (now: number): FrameClockInput => ({ kind: 'wake', now });
const sample = (now: number, unit: number, frame: number): FrameClockInput => ({
  kind: 'sample',
  now,
  unit,
  frame,
});

interface Case {
  readonly name: string;
  readonly config?: Partial<FrameClockConfig>;
  readonly steps: readonly (readonly [FrameClockInput, Partial<FrameClockOutput>])[];
  readonly endFrame: number;
}

/** Clock started at 0 and woken once at 0 (the first tick, an empty periodic cut) before each case's steps. */
const cases: Case[] = [
  {
    name: 'a majority of units starts a frame; the last unit in cuts it at once',
    steps: [
      [sample(1, 0, 0), { verdict: 'ahead', cut: undefined }],
      [sample(1.2, 1, 0), { verdict: 'started', cut: undefined, wakeAt: 1.2 + 6 }],
      [sample(1.3, 2, 0), { verdict: 'current', cut: 'complete', wakeAt: 20 }],
    ],
    endFrame: 0,
  },
  {
    name: 'one unit alone does not start a frame',
    steps: [
      [sample(1, 2, 0), { verdict: 'ahead', cut: undefined, wakeAt: 20 }],
      [sample(21, 2, 1), { verdict: 'ahead', cut: undefined }],
    ],
    endFrame: -1,
  },
  {
    name: 'with a quorum of one (every sample trusted) the first sample starts the frame',
    config: { startQuorum: 1 },
    steps: [
      [sample(1, 0, 0), { verdict: 'started', cut: undefined }],
      [sample(1.1, 1, 0), { verdict: 'current', cut: undefined }],
      [sample(1.2, 2, 0), { verdict: 'current', cut: 'complete' }],
    ],
    endFrame: 0,
  },
  {
    name: 'a missing unit: the batch is cut at cutFraction of a period after the frame started',
    steps: [
      [sample(1, 0, 0), { cut: undefined }],
      [sample(2, 1, 0), { verdict: 'started', wakeAt: 8 }],
      [wake(8), { cut: 'timed', tick: false, wakeAt: 20 }],
      [wake(20), { cut: undefined, tick: true, wakeAt: 40 }],
    ],
    endFrame: 0,
  },
  {
    name: 'a late sample of the current frame after the timed cut does not cut again',
    steps: [
      [sample(1, 0, 0), {}],
      [sample(1, 1, 0), { verdict: 'started' }],
      [wake(7), { cut: 'timed' }],
      [sample(9, 2, 0), { verdict: 'current', cut: undefined }],
    ],
    endFrame: 0,
  },
  {
    name: 'a period with no cut ends in a periodic cut; a period with one does not',
    steps: [
      [wake(20), { tick: true, cut: 'periodic', wakeAt: 40 }],
      [sample(21, 0, 1), {}],
      [sample(21, 1, 1), { verdict: 'started' }],
      [sample(21, 2, 1), { cut: 'complete' }],
      [wake(40), { tick: true, cut: undefined, wakeAt: 60 }],
      [wake(60), { tick: true, cut: 'periodic' }],
    ],
    endFrame: 1,
  },
  {
    name: 'a far-future sample is refused and does not move the clock',
    steps: [
      [sample(1, 0, 0), {}],
      [sample(1, 1, 0), { verdict: 'started' }],
      [sample(2, 2, 1_000_000), { verdict: 'too-far-ahead', cut: undefined }],
      // Not remembered: the liar is not counted in when the next frame starts.
      [sample(21, 0, 1), { verdict: 'ahead' }],
      [sample(21, 1, 1), { verdict: 'started', cut: undefined }],
    ],
    endFrame: 1,
  },
  {
    name: 'a unit ahead within the window cannot start a frame alone, and is counted in (no waiting for it)',
    steps: [
      [sample(1, 0, 0), {}],
      [sample(1, 1, 0), { verdict: 'started' }],
      [sample(1, 2, 4), { verdict: 'ahead', cut: 'complete' }],
      [sample(21, 2, 4), { verdict: 'ahead', cut: undefined }],
      // One correct unit has reached frame 1: with the liar's claim that is a quorum, and frame 1 is real.
      [sample(21, 0, 1), { verdict: 'started', cut: undefined }],
      [sample(21, 1, 1), { verdict: 'current', cut: 'complete' }],
    ],
    endFrame: 1,
  },
  {
    name: 'the window widens with the periods elapsed since the frame started',
    steps: [
      [sample(1, 0, 0), {}],
      [sample(1, 1, 0), { verdict: 'started' }],
      [sample(201, 2, 15), { verdict: 'too-far-ahead' }],
      [sample(201, 2, 14), { verdict: 'ahead' }],
    ],
    endFrame: 0,
  },
  {
    name: 'older samples are late; a retransmitted old sample does not take its unit out of the frame',
    steps: [
      [sample(1, 0, 5), {}],
      [sample(1, 1, 5), { verdict: 'started' }],
      [sample(2, 2, 5), { cut: 'complete' }],
      [sample(3, 0, 3), { verdict: 'late' }],
      [sample(21, 1, 6), {}],
      [sample(21, 2, 6), { verdict: 'started', cut: undefined }],
      [sample(22, 0, 6), { verdict: 'current', cut: 'complete' }],
    ],
    endFrame: 6,
  },
  {
    name: 'before the first frame there is no window: a restarted replica joins the running frame numbers',
    steps: [
      [sample(1, 0, 50_000), {}],
      [sample(1, 2, 50_000), { verdict: 'started' }],
    ],
    endFrame: 50_000,
  },
  {
    name: 'unknown units and impossible frame numbers are refused',
    steps: [
      [sample(1, 3, 0), { verdict: 'unknown-unit' }],
      [sample(1, -1, 0), { verdict: 'unknown-unit' }],
      [sample(1, 0.5, 0), { verdict: 'unknown-unit' }],
      [sample(1, 0, -1), { verdict: 'bad-frame' }],
      [sample(1, 0, 1.5), { verdict: 'bad-frame' }],
      [sample(1, 0, 2 ** 53), { verdict: 'bad-frame' }],
      [sample(1, 0, Number.NaN), { verdict: 'bad-frame' }],
    ],
    endFrame: -1,
  },
  {
    name: 'a wake more than a period late ticks once and skips the boundaries it missed',
    steps: [[wake(105), { tick: true, cut: 'periodic', missedTicks: 4, wakeAt: 120 }]],
    endFrame: -1,
  },
  {
    name: 'an early wake does nothing',
    steps: [[wake(5), { tick: false, cut: undefined, missedTicks: 0, wakeAt: 20 }]],
    endFrame: -1,
  },
];

describe('frame clock', () => {
  for (const c of cases) {
    it(c.name, () => {
      const clock = new FrameClock({ ...base, ...c.config }, 0);
      expect(clock.step(wake(0))).toMatchObject({ tick: true, cut: 'periodic', wakeAt: 20 });
      c.steps.forEach(([input, expected], i) => {
        const out = clock.step(input);
        expect({ step: i, ...out }).toMatchObject({ step: i, ...expected });
      });
      expect(clock.status().frame).toBe(c.endFrame);
    });
  }

  it("a frame that starts late does not pull the window back: the units' current samples are still admitted", () => {
    // Frame 10 starts on time at 200; the units' samples of frames 11..16 are held up (behind a view change's
    // messages on a bus), those of 11 arrive at 340, seven periods late, and the fresh ones of 17 right after.
    const clock = new FrameClock(base, 0);
    clock.step(wake(0));
    for (const unit of [0, 1, 2]) clock.step(sample(200, unit, 10));
    expect(clock.status().frame).toBe(10);
    for (const unit of [0, 1]) clock.step(sample(340, unit, 11));
    expect(clock.status().frame).toBe(11);
    // Expected at 341: frame 10 + 7 periods; the window reaches 17 + maxAhead, so frame 17 is in.
    expect(clock.step(sample(341, 0, 17)).verdict).toBe('ahead');
    expect(clock.step(sample(341, 1, 17)).verdict).toBe('started');
    expect(clock.status().frame).toBe(17);
    // And the expectation did not run ahead of time either: 17 + maxAhead + 1 is still refused.
    expect(clock.step(sample(342, 2, 22)).verdict).toBe('too-far-ahead');
  });

  it('a majority quorum is the smallest number of units a minority of liars cannot reach', () => {
    expect([1, 2, 3, 4, 5, 7].map(majorityQuorum)).toEqual([1, 1, 2, 2, 3, 4]);
  });

  it('refuses a config it cannot run', () => {
    for (const bad of [
      { periodMs: 0 },
      { units: 0 },
      { cutFraction: 0 },
      { cutFraction: 1.5 },
      { startQuorum: 0 },
      { startQuorum: 4 },
      { maxAhead: -1 },
    ]) {
      expect(() => new FrameClock({ ...base, ...bad }, 0)).toThrow(InvariantError);
    }
  });

  it('one unit claiming any frames never moves the clock past what the correct units sent (seeded)', () => {
    const seed = 20_251_201;
    const claim = fc.oneof(fc.nat(), fc.integer({ min: -5, max: 60 }), fc.constant(2 ** 52));
    const frames = 40;
    const property = fc.property(fc.array(claim, { minLength: frames, maxLength: frames }), (lies) => {
      const clock = new FrameClock(base, 0);
      let frame = -1;
      let now = 0;
      for (let k = 0; k < frames; k++) {
        now = k * base.periodMs + 1;
        clock.step({ kind: 'wake', now });
        clock.step({ kind: 'sample', now, unit: 2, frame: lies[k]! });
        const before = clock.status().frame;
        clock.step({ kind: 'sample', now: now + 0.1, unit: 0, frame: k });
        clock.step({ kind: 'sample', now: now + 0.2, unit: 1, frame: k });
        const after = clock.status().frame;
        expect(before).toBeLessThanOrEqual(Math.max(k - 1, frame));
        expect(after).toBe(k);
        expect(after).toBeGreaterThanOrEqual(frame);
        frame = after;
      }
    });
    fc.assert(property, {
      seed,
      numRuns: 200,
      reporter: (r) => {
        if (r.failed)
          throw new Error(
            `frame clock property failed (seed ${seed}; replay: npx vitest run test/core/frame/clock.test.ts): ${r.counterexample}`,
          );
      },
    });
  });
});
