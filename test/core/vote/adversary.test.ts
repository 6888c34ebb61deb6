/**
 * Class 6 of issue 9: up to f faulty channels, whatever value and timing they pick, adaptively (each sees the
 * correct channels' outputs of the frame before choosing), never get a correct channel a strike or latched,
 * and never cause a hold or failsafe while the other channels are correct.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChannelEvent, Voter, type VoterConfig } from '../../../src/core/vote/index.ts';
import { type Arrival, runFrame } from './host.ts';

interface Cmd {
  readonly u: number;
  readonly mode: string;
}

const T = 0.01;
const BAND = T / 2;
/** Largest disagreement between correct channels the guarantee assumes (S <= T - BAND). */
const S = T / 4;
const PERIOD = 10;
const DEADLINE = 8;

function config(channels: readonly string[], f: number): VoterConfig<Cmd> {
  return {
    channels,
    f,
    analog: [{ field: 'u', tolerance: T, earlyBand: BAND }],
    discrete: ['mode'],
    strikeThreshold: 2,
    strikeDecayFrames: 5,
    probationFrames: 10,
    failsafeAfterMisses: 2,
    failsafe: { u: 0, mode: 'failsafe' },
    initial: { u: 0, mode: 'n' },
    timing: { origin: 0, period: PERIOD, deadline: DEADLINE },
    firstFrame: 0,
    maxFramesAhead: 4,
  };
}

type Timing = 'first' | 'between' | 'last' | 'at-deadline' | 'late' | 'silent' | 'twice';

interface Strategy {
  /** Which correct output it measures its lie from. */
  readonly anchor: number;
  /** Offset from the anchor, in tolerances. */
  readonly offset: number;
  /** Put the offset on the far side from the other correct outputs (the class-6 attack). */
  readonly away: boolean;
  readonly timing: Timing;
  readonly otherMode: boolean;
}

const strategyArb: fc.Arbitrary<Strategy> = fc.record({
  anchor: fc.nat(4),
  offset: fc.oneof(
    fc.constantFrom(0, 0.5, 0.99, 1, 1.01, 1.5, 1.99, 2, 2.01, 3, 100),
    fc.double({ min: 0, max: 4, noNaN: true }),
  ),
  away: fc.boolean(),
  timing: fc.constantFrom<Timing>(
    'first',
    'first',
    'between',
    'last',
    'at-deadline',
    'late',
    'silent',
    'twice',
  ),
  otherMode: fc.boolean(),
});

interface FrameSetup {
  readonly base: number;
  /** Correct channel i outputs base + spread[i] * S. */
  readonly spread: readonly number[];
  /** Arrival time of correct channel i, as a fraction of the deadline. */
  readonly times: readonly number[];
  readonly strategies: readonly Strategy[];
}

const frameArb = (correct: number, faulty: number): fc.Arbitrary<FrameSetup> =>
  fc.record({
    base: fc.double({ min: -0.4, max: 0.4, noNaN: true }),
    spread: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: correct, maxLength: correct }),
    times: fc.array(fc.double({ min: 0.05, max: 0.95, noNaN: true }), {
      minLength: correct,
      maxLength: correct,
    }),
    strategies: fc.array(strategyArb, { minLength: faulty, maxLength: faulty }),
  });

/** The faulty channels' arrivals for one frame, chosen after seeing the correct ones. */
function adversary(
  frame: number,
  faulty: readonly string[],
  correct: readonly Arrival<Cmd>[],
  strategies: readonly Strategy[],
): Arrival<Cmd>[] {
  const start = frame * PERIOD;
  const times = correct.map((a) => a.time).sort((a, b) => a - b);
  const values = correct.map((a) => a.command.u);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const out: Arrival<Cmd>[] = [];
  faulty.forEach((channel, i) => {
    const s = strategies[i] as Strategy;
    const anchor = correct[s.anchor % correct.length] as Arrival<Cmd>;
    const a = anchor.command.u;
    // Away: beyond the anchor on the side away from the bulk of the correct outputs.
    const sign = s.away ? (a - lo >= hi - a ? 1 : -1) : -1;
    const command = { u: a + sign * s.offset * T, mode: s.otherMode ? 'x' : 'n' };
    const first = times[0] as number;
    const last = times[times.length - 1] as number;
    const at = {
      first: first - 0.01,
      between: times.length > 1 ? ((times[0] as number) + (times[1] as number)) / 2 : first + 0.01,
      last: last + 0.01,
      'at-deadline': start + DEADLINE,
      late: start + DEADLINE + 1,
      twice: first - 0.02,
      silent: Number.NaN,
    }[s.timing];
    if (s.timing === 'silent') return;
    out.push({ channel, command, time: at });
    // A second, different output for the same frame later on (equivocation at the voter).
    if (s.timing === 'twice')
      out.push({ channel, command: { u: anchor.command.u, mode: 'n' }, time: last + 0.02 });
  });
  return out;
}

function fly(m: number, faultyIdx: readonly number[], frames: readonly FrameSetup[]) {
  const f = Math.floor((m - 1) / 2);
  const channels = Array.from({ length: m }, (_, i) => `c${i}`);
  const faulty = channels.filter((_, i) => faultyIdx.includes(i));
  const correctNames = channels.filter((_, i) => !faultyIdx.includes(i));
  const voter = new Voter(config(channels, f));
  const problems: string[] = [];
  const strikes: ChannelEvent[] = [];
  frames.forEach((setup, k) => {
    const start = k * PERIOD;
    const correct = correctNames.map(
      (channel, i): Arrival<Cmd> => ({
        channel,
        command: { u: setup.base + (setup.spread[i] as number) * S, mode: 'n' },
        time: start + (setup.times[i] as number) * DEADLINE,
      }),
    );
    const lies = adversary(k, faulty, correct, setup.strategies);
    const { record, events } = runFrame(voter, k, [...lies, ...correct]);
    for (const e of events) if (correctNames.includes(e.channel)) strikes.push(e);
    if (record.kind !== 'write') problems.push(`frame ${k}: ${record.kind} (${record.reason})`);
    else
      for (const c of correct)
        if (!(Math.abs(record.value.u - c.command.u) <= T + 1e-12))
          problems.push(`frame ${k}: wrote ${record.value.u}, ${c.channel} said ${c.command.u}`);
  });
  return { voter, problems, strikes, correctNames };
}

describe('an adaptive faulty channel never costs a correct channel its vote (class 6)', () => {
  it('the reported attack: first, 2 x tolerance away from one correct channel, every frame', () => {
    // c0 at x, c1 at x - 0.2 T arriving last; the faulty c2 reports first at c0 + 1.99 T.
    const frames: FrameSetup[] = Array.from({ length: 40 }, (_, k) => ({
      base: 0.1 + 0.001 * k,
      spread: [0.8, 0],
      times: [0.3, 0.6],
      strategies: [{ anchor: 0, offset: 1.99, away: true, timing: 'first', otherMode: false }],
    }));
    const run = fly(3, [2], frames);
    expect(run.strikes, JSON.stringify(run.strikes.slice(0, 3))).toEqual([]);
    expect(run.problems).toEqual([]);
    expect(run.voter.health().find((h) => h.channel === 'c2')?.latched).toBe(true);
  });

  for (const m of [3, 4, 5]) {
    const f = Math.floor((m - 1) / 2);
    it(`property: m = ${m}, f = ${f} faulty, any values and timing, adaptive`, () => {
      const seed = 0x6c1a55 + m;
      const correct = m - f;
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.nat(m - 1), { minLength: f, maxLength: f }),
          fc.array(frameArb(correct, f), { minLength: 1, maxLength: 30 }),
          (faultyIdx, frames) => {
            const run = fly(m, faultyIdx, frames);
            expect(run.strikes).toEqual([]);
            expect(run.problems).toEqual([]);
            for (const h of run.voter.health())
              if (run.correctNames.includes(h.channel))
                expect(h).toMatchObject({ strikes: 0, latched: false });
          },
        ),
        { seed, numRuns: 150 },
      );
    });
  }
});
