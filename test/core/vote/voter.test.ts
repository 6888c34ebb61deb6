import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Decision,
  type DecisionRecord,
  majority,
  midValue,
  Voter,
  type VoterConfig,
} from '../../../src/core/vote/index.ts';

interface Cmd {
  readonly u: number;
  readonly mode: string;
}

const CH = ['a', 'b', 'c'];

function config(over: Partial<VoterConfig<Cmd>> = {}): VoterConfig<Cmd> {
  return {
    channels: CH,
    f: 1,
    analog: [{ field: 'u', tolerance: 0.01 }],
    discrete: ['mode'],
    strikeThreshold: 3,
    strikeDecayFrames: 5,
    probationFrames: 10,
    failsafeAfterMisses: 4,
    failsafe: { u: 0, mode: 'failsafe' },
    initial: { u: 0, mode: 'init' },
    timing: { origin: 0, period: 10, deadline: 8 },
    firstFrame: 0,
    maxFramesAhead: 4,
    ...over,
  };
}

const cmd = (u: number, mode = 'n'): Cmd => ({ u, mode });

/** A decision that must have been made (not declined). */
function decided(d: Decision<Cmd>): DecisionRecord<Cmd> {
  if (d.kind === 'declined') throw new Error(`frame ${d.frame}: decision declined`);
  return d;
}

/** Offer the given commands (undefined = silent) for the voter's next frame and decide at the deadline. */
function frame(v: Voter<Cmd>, values: (Cmd | undefined)[]) {
  const k = v.frame;
  values.forEach((c, i) => {
    if (c !== undefined) v.offer(k, CH[i] as string, c, k * 10 + 1 + i);
  });
  return decided(v.decide(k, k * 10 + 8));
}

describe('voter basics', () => {
  it('mid-value selects and records contributors', () => {
    const v = new Voter(config());
    const r = frame(v, [cmd(0.1), cmd(0.105), cmd(0.3)]);
    expect(r.kind).toBe('write');
    expect(r.value).toEqual(cmd(0.105));
    expect(r.contributors).toEqual(['a', 'b']);
    expect(r.dissenters).toEqual(['c']);
    expect(r.strikes).toEqual({ a: 0, b: 0, c: 1 });
  });

  it('holds the last value on a miss and fails safe after N consecutive misses, then recovers', () => {
    const v = new Voter(config());
    frame(v, [cmd(0.1), cmd(0.1), cmd(0.1)]);
    const kinds = [1, 2, 3, 4, 5].map(() => frame(v, [cmd(0.1), cmd(0.2), cmd(0.3)]));
    expect(kinds.map((r) => r.kind)).toEqual(['hold', 'hold', 'hold', 'failsafe', 'failsafe']);
    expect(kinds[0]?.value).toEqual(cmd(0.1));
    expect(kinds[3]?.value).toEqual({ u: 0, mode: 'failsafe' });
    expect(kinds[0]?.reason).toBe('no-majority');
    expect(frame(v, [cmd(0.2), undefined, undefined]).reason).toBe('too-few-outputs');
    const back = frame(v, [cmd(0.2), cmd(0.2), undefined]);
    expect(back.kind).toBe('write');
    expect(back.consecutiveMisses).toBe(0);
  });

  it('requires an exact majority on discrete fields', () => {
    const v = new Voter(config());
    expect(frame(v, [cmd(0.1, 'x'), cmd(0.1, 'y'), cmd(0.1, 'z')]).kind).toBe('hold');
    const r = frame(v, [cmd(0.1, 'x'), cmd(0.1, 'y'), cmd(0.1, 'x')]);
    expect(r.value).toEqual(cmd(0.1, 'x'));
    expect(r.dissenters).toEqual(['b']);
  });

  it('counts rejections: unknown, malformed, duplicate, late, stale, too far ahead', () => {
    const v = new Voter(config());
    expect(v.offer(0, 'zz', cmd(0), 1)).toEqual({ accepted: false, reason: 'unknown-channel' });
    expect(v.offer(0, 'a', { u: Number.NaN, mode: 'n' }, 1)).toEqual({
      accepted: false,
      reason: 'malformed',
    });
    expect(v.offer(0, 'a', { u: 1 } as unknown as Cmd, 1)).toEqual({ accepted: false, reason: 'malformed' });
    expect(v.offer(0, 'a', cmd(0), 1).accepted).toBe(true);
    expect(v.offer(0, 'a', cmd(0), 2)).toEqual({ accepted: false, reason: 'duplicate' });
    expect(v.offer(0, 'b', cmd(0), 9)).toEqual({ accepted: false, reason: 'late' });
    expect(v.offer(9, 'b', cmd(0), 2)).toEqual({ accepted: false, reason: 'too-far-ahead' });
    v.decide(0, 8);
    v.decide(1, 18);
    v.decide(2, 28);
    expect(v.offer(1, 'c', cmd(0), 15)).toEqual({ accepted: false, reason: 'stale' });
    expect(v.stats().rejections).toEqual({
      'unknown-channel': 1,
      malformed: 2,
      duplicate: 1,
      late: 1,
      stale: 1,
      'too-far-ahead': 1,
    });
    expect(() => v.decide(7, 80)).toThrow(/expected frame 3/);
  });

  it('decides early once f+1 agree within the early band, and judges the frame once every channel is in', () => {
    const v = new Voter(config({ analog: [{ field: 'u', tolerance: 0.01, earlyBand: 0.005 }] }));
    expect(v.offer(0, 'a', cmd(0.1), 1)).toMatchObject({ ready: false });
    expect(v.offer(0, 'b', cmd(0.104), 2)).toMatchObject({ ready: true, majorityReady: true });
    const r = decided(v.decide(0, 2));
    expect(r).toMatchObject({ kind: 'write', early: true, earlyRound: true, missing: ['c'], dissenters: [] });
    expect(r.value.u).toBeCloseTo(0.102, 12);
    expect(r.judgments).toEqual([]); // not judged before the frame is complete or its deadline
    const late = v.offer(0, 'c', cmd(0.5), 5);
    expect(late).toMatchObject({ accepted: true, status: 'monitored' });
    if (!late.accepted) throw new Error('unreachable');
    expect(late.judgments.map((j) => [j.frame, j.dissenters])).toEqual([[0, ['c']]]);
    expect(late.events).toEqual([{ kind: 'strike', channel: 'c', frame: 0, strikes: 1 }]);
    expect(v.health().find((h) => h.channel === 'c')).toMatchObject({ strikes: 1, silentFrames: 0 });
  });

  it('does not decide early without an early band, nor when f+1 agree only within tolerance', () => {
    const noBand = new Voter(config());
    noBand.offer(0, 'a', cmd(0.1), 1);
    expect(noBand.offer(0, 'b', cmd(0.1), 2)).toMatchObject({ ready: false });
    expect(noBand.decide(0, 2)).toMatchObject({ kind: 'declined', frame: 0 }); // not ready: declined
    const banded = new Voter(config({ analog: [{ field: 'u', tolerance: 0.01, earlyBand: 0.002 }] }));
    banded.offer(0, 'a', cmd(0.1), 1);
    expect(banded.offer(0, 'b', cmd(0.106), 2)).toMatchObject({ ready: false }); // 0.003 from the mean
    expect(banded.offer(0, 'c', cmd(0.3), 3)).toMatchObject({ ready: true }); // complete
    expect(banded.decide(0, 3)).toMatchObject({ kind: 'write', earlyRound: false, dissenters: ['c'] });
  });

  it('judges an early-written frame at its deadline when a channel stays silent', () => {
    const v = new Voter(config({ analog: [{ field: 'u', tolerance: 0.01, earlyBand: 0.005 }] }));
    v.offer(0, 'a', cmd(0.1), 1);
    v.offer(0, 'b', cmd(0.1), 2);
    v.decide(0, 2);
    expect(v.closeDue(7.9)).toEqual([]);
    const [j] = v.closeDue(8);
    expect(j).toMatchObject({ frame: 0, judged: false, agreed: [], dissenters: [] }); // |V| = 2 < 2f+1
    expect(v.health().find((h) => h.channel === 'c')).toMatchObject({
      silentFrames: 1,
      consecutiveSilent: 1,
    });
    expect(v.offer(0, 'c', cmd(0.1), 8.5)).toEqual({ accepted: false, reason: 'late' });
  });

  it('latches after the strike threshold and reintegrates after probation', () => {
    const v = new Voter(config());
    const r = [1, 2, 3].map(() => frame(v, [cmd(0.1), cmd(0.1), cmd(0.9)]));
    expect(r[2]?.events).toContainEqual({ kind: 'latched', channel: 'c', frame: 2 });
    expect(r[2]?.latched).toEqual(['c']);
    // Latched: no longer voted; with a silent b there are too few voters even though c "agrees" with a.
    expect(frame(v, [cmd(0.1), undefined, cmd(0.1)]).reason).toBe('too-few-outputs');
    // Probation: 10 consecutive agreeing frames (the frame above did not count: nothing was written).
    let events: string[] = [];
    for (let i = 0; i < 10; i++) events = frame(v, [cmd(0.2), cmd(0.2), cmd(0.2)]).events.map((e) => e.kind);
    expect(events).toEqual(['reintegrated']);
    expect(v.health().find((h) => h.channel === 'c')).toMatchObject({
      latched: false,
      strikes: 0,
      latchCount: 1,
    });
  });

  it('compares a latched channel that reports after the frame was decided, so its probation progresses', () => {
    const v = new Voter(config());
    for (let i = 0; i < 3; i++) frame(v, [cmd(0.1), cmd(0.1), cmd(0.9)]);
    let reintegratedAt = -1;
    for (let i = 0; i < 20 && reintegratedAt < 0; i++) {
      const k = v.frame;
      v.offer(k, 'a', cmd(0.2), k * 10 + 1);
      const ready = v.offer(k, 'b', cmd(0.2), k * 10 + 2);
      expect(ready).toMatchObject({ accepted: true, ready: true }); // every non-latched channel is in
      v.decide(k, k * 10 + 2);
      const late = v.offer(k, 'c', cmd(0.2), k * 10 + 3);
      expect(late).toMatchObject({ accepted: true, status: 'monitored' });
      if (late.accepted && late.events.some((e) => e.kind === 'reintegrated')) reintegratedAt = i + 1;
    }
    expect(reintegratedAt).toBe(10);
  });

  it('works off isolated strikes (decay) instead of latching on sporadic disagreement', () => {
    const v = new Voter(config());
    for (let i = 0; i < 60; i++) frame(v, [cmd(0.1), cmd(0.1), i % 6 === 0 ? cmd(0.5) : cmd(0.1)]);
    expect(v.health().find((h) => h.channel === 'c')?.latched).toBe(false);
  });

  it('refuses bad configurations', () => {
    expect(() => new Voter(config({ channels: ['a', 'b'] }))).toThrow(/2f\+1/);
    expect(() => new Voter(config({ channels: ['a', 'a', 'b'] }))).toThrow(/unique/);
    expect(() => new Voter(config({ strikeThreshold: 0 }))).toThrow(RangeError);
    expect(() => new Voter(config({ failsafe: { u: Number.NaN, mode: 'x' } }))).toThrow(RangeError);
  });

  it('midValue and majority helpers', () => {
    expect(midValue([3, 1, 2])).toBe(2);
    expect(midValue([4, 1])).toBe(2.5);
    expect(majority(['x', 'y', 'x'], 2)).toBe('x');
    expect(majority(['x', 'y'], 1)).toBeUndefined();
    expect(majority([true, true, false, false], 2)).toBeUndefined();
  });
});

// ---- property tests (seeded) ----

const SEED = 20240601;
const value = fc.oneof(
  fc.double({ min: -0.02, max: 0.02, noNaN: true }),
  fc.double({ min: -1, max: 1, noNaN: true }),
  fc.constant(0),
);
const output = fc.option(fc.record({ u: value, mode: fc.constantFrom('n', 'n', 'n', 'x') }), {
  nil: undefined,
});
const framesArb = fc.array(fc.tuple(output, output, output), { minLength: 1, maxLength: 60 });

describe('voter properties', () => {
  it('never writes a value supported by fewer than f+1 voted channels', () => {
    const seen = { write: 0, hold: 0, failsafe: 0 };
    fc.assert(
      fc.property(framesArb, fc.constantFrom(3, 4, 5), (frames, m) => {
        const channels = ['a', 'b', 'c', 'd', 'e'].slice(0, m);
        const v = new Voter(config({ channels, f: Math.floor((m - 1) / 2), failsafeAfterMisses: 2 }));
        const f = Math.floor((m - 1) / 2);
        for (const [i, row] of frames.entries()) {
          const outs = channels.map((_, j) => row[j % 3]);
          const latchedBefore = new Set(
            v
              .health()
              .filter((h) => h.latched)
              .map((h) => h.channel),
          );
          outs.forEach((c, j) => {
            if (c !== undefined) v.offer(i, channels[j] as string, c, i * 10 + 1);
          });
          const r = decided(v.decide(i, i * 10 + 8));
          seen[r.kind]++;
          if (r.kind !== 'write') continue;
          const support = outs.filter(
            (c, j) =>
              c !== undefined &&
              !latchedBefore.has(channels[j] as string) &&
              Math.abs(c.u - r.value.u) <= 0.01 &&
              c.mode === r.value.mode,
          ).length;
          expect(support).toBeGreaterThanOrEqual(f + 1);
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
    // The generator must exercise every outcome, or the property says little.
    expect(seen.write).toBeGreaterThan(100);
    expect(seen.hold).toBeGreaterThan(100);
    expect(seen.failsafe).toBeGreaterThan(10);
  });

  it('fails safe exactly after N consecutive misses, and not before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 6 }),
        (agree, n) => {
          const v = new Voter(config({ failsafeAfterMisses: n }));
          let misses = 0;
          for (const ok of agree) {
            const r = frame(v, ok ? [cmd(0.1), cmd(0.1), cmd(0.1)] : [cmd(0.1), cmd(0.5), undefined]);
            misses = ok ? 0 : misses + 1;
            expect(r.kind).toBe(ok ? 'write' : misses >= n ? 'failsafe' : 'hold');
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('reintegrates a latched channel exactly after the probation period of agreement', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 29 }),
        (probation, threshold, interrupt) => {
          const v = new Voter(config({ probationFrames: probation, strikeThreshold: threshold }));
          for (let i = 0; i < threshold; i++) frame(v, [cmd(0.1), cmd(0.1), cmd(-0.5)]);
          expect(v.health()[2]?.latched).toBe(true);
          // One disagreement part-way through probation restarts it.
          const disagreeAt = interrupt < probation ? interrupt : -1;
          let reintegratedAfter = -1;
          for (let i = 0; i < 2 * probation + 2 && reintegratedAfter < 0; i++) {
            const r = frame(v, [cmd(0.1), cmd(0.1), i === disagreeAt ? cmd(0.9) : cmd(0.1)]);
            if (r.events.some((e) => e.kind === 'reintegrated')) reintegratedAfter = i + 1;
          }
          expect(reintegratedAfter).toBe(disagreeAt < 0 ? probation : disagreeAt + 1 + probation);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });
});
