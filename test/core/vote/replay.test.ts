/**
 * Class 8 of issue 9 (voter part): a replay of a correct channel's old OUTPUT, by anyone, never adds to that
 * channel's late count; a genuinely late output counts once, however often it is replayed afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Voter, type VoterConfig } from '../../../src/core/vote/index.ts';

interface Cmd {
  readonly u: number;
}

const CH = ['a', 'b', 'c'];

function config(over: Partial<VoterConfig<Cmd>> = {}): VoterConfig<Cmd> {
  return {
    channels: CH,
    f: 1,
    analog: [{ field: 'u', tolerance: 0.01 }],
    discrete: [],
    strikeThreshold: 3,
    strikeDecayFrames: 5,
    probationFrames: 10,
    failsafeAfterMisses: 4,
    failsafe: { u: 0 },
    initial: { u: 0 },
    timing: { origin: 0, period: 10, deadline: 8 },
    firstFrame: 0,
    maxFramesAhead: 4,
    receiptWindow: 16,
    ...over,
  };
}

const late = (v: Voter<Cmd>, ch: string) => v.health().find((h) => h.channel === ch)?.late;

/** Frame k: every channel in time, then decided at the deadline. */
function cleanFrame(v: Voter<Cmd>, k: number): void {
  CH.forEach((ch, i) => {
    v.offer(k, ch, { u: 0.1 }, k * 10 + 1 + i);
  });
  if (v.frame === k) v.decide(k, k * 10 + 8);
}

describe('replayed outputs (class 8)', () => {
  it('a replay of an output received in time is a duplicate, never late', () => {
    const v = new Voter(config());
    for (let k = 0; k < 40; k++) {
      cleanFrame(v, k);
      // An attacker replays every old output of channel a it has seen, after their deadlines.
      for (let old = Math.max(0, k - 30); old <= k; old++) v.offer(old, 'a', { u: 0.1 }, k * 10 + 9);
    }
    expect(late(v, 'a')).toBe(0);
    const r = v.stats().rejections;
    expect(r.late).toBe(0);
    expect(r.duplicate).toBeGreaterThan(0);
    expect(r.stale).toBeGreaterThan(0); // older than the receipt window: refused without memory
  });

  it('a genuinely late output counts once, however often it is replayed', () => {
    const v = new Voter(config());
    cleanFrame(v, 0);
    v.offer(1, 'a', { u: 0.1 }, 11);
    v.offer(1, 'b', { u: 0.1 }, 12);
    v.decide(1, 18);
    expect(v.offer(1, 'c', { u: 0.1 }, 19)).toEqual({ accepted: false, reason: 'late' });
    for (let i = 0; i < 5; i++)
      expect(v.offer(1, 'c', { u: 0.1 }, 20 + i)).toMatchObject({ reason: 'duplicate' });
    expect(late(v, 'c')).toBe(1);
    expect(v.health().find((h) => h.channel === 'c')?.silentFrames).toBe(1);
  });

  it('property: replays at any time of any earlier output never change a punctual channel’s late count', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            back: fc.nat(40),
            channel: fc.constantFrom(...CH),
            at: fc.double({ min: 0, max: 9.99, noNaN: true }),
          }),
          { maxLength: 200 },
        ),
        fc.integer({ min: 1, max: 40 }),
        (replays, frames) => {
          const v = new Voter(config());
          let next = 0;
          for (let k = 0; k < frames; k++) {
            cleanFrame(v, k);
            for (; next < replays.length && next < (k + 1) * 5; next++) {
              const r = replays[next] as (typeof replays)[number];
              const frame = k - r.back;
              if (frame >= 0) v.offer(frame, r.channel, { u: 0.1 }, k * 10 + 8 + r.at / 10);
            }
          }
          for (const ch of CH) expect(late(v, ch)).toBe(0);
        },
      ),
      { seed: 0x8e91a7, numRuns: 200 },
    );
  });
});
