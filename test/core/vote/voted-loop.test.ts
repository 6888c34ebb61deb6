import { describe, expect, it } from 'vitest';
import { meetsTutorialCriteria, stepMetrics } from '../../../src/core/control/index.ts';
import { CHANNELS, type ChannelFault, flyVoted, randomPilot } from '../control/harness.ts';

const FRAME_RATE = 50;
const TOLERANCE = 0.01;
const THRESHOLD = 4;

describe('voted loop (3 channels -> voter -> actuator -> plant -> sensors)', () => {
  it('meets the tutorial step criteria', () => {
    const run = flyVoted({ frameRate: FRAME_RATE, frames: 20 * FRAME_RATE, pilot: () => 0.2 });
    const m = stepMetrics(run.theta, 1 / FRAME_RATE, 0.2);
    console.log('step voted @50Hz', JSON.stringify(m));
    expect(meetsTutorialCriteria(m), JSON.stringify(m)).toBe(true);
    expect(run.records.every((r) => r.kind === 'write' && r.contributors.length >= 2)).toBe(true);
    expect(run.events.flat()).toEqual([]);
  });

  const frames = 2000;
  const onset = 300;
  const pilot = randomPilot(3, FRAME_RATE, frames);
  const clean = flyVoted({ frameRate: FRAME_RATE, frames, pilot, seed: 3 });
  const faults: ChannelFault[] = [
    { kind: 'stuck' },
    { kind: 'random' },
    { kind: 'drift', ratePerSecond: 0.02 },
    { kind: 'oscillating', amplitude: 0.1, hz: 1 },
    { kind: 'silent' },
    { kind: 'late' },
    { kind: 'adaptive' },
  ];
  for (const fault of faults) {
    for (const faulty of [0, 1, 2]) {
      it(`one Byzantine channel (${fault.kind}, channel ${faulty}): trace within tolerance, handled as specified`, () => {
        const run = flyVoted({ frameRate: FRAME_RATE, frames, pilot, seed: 3, faulty, fault, onset });
        const ch = CHANNELS[faulty] as string;
        let worst = 0;
        for (let k = 0; k < frames; k++) {
          worst = Math.max(worst, Math.abs((run.command[k] as number) - (clean.command[k] as number)));
          const r = run.records[k];
          expect(r?.kind, `frame ${k}`).toBe('write');
        }
        expect(worst).toBeLessThan(TOLERANCE);
        const health = run.voter.health().find((h) => h.channel === ch);
        if (fault.kind === 'silent' || fault.kind === 'late') {
          // Silence and lateness are counted, never latched.
          expect(health?.latched).toBe(false);
          expect(health?.silentFrames).toBe(frames - onset);
          if (fault.kind === 'late') expect(run.voter.stats().rejections.late).toBe(frames - onset);
          return;
        }
        // Latched after at most THRESHOLD frames in which it was out of tolerance.
        let dissents = 0;
        let latchedAt = -1;
        for (const e of run.events.flat()) {
          if (e.channel !== ch) continue;
          if (e.kind === 'strike') dissents++;
          if (e.kind === 'latched') {
            latchedAt = e.frame;
            break;
          }
        }
        expect(latchedAt).toBeGreaterThanOrEqual(onset);
        expect(dissents).toBeLessThanOrEqual(THRESHOLD);
        expect(run.records.at(-1)?.latched).toContain(ch);
        console.log(
          `${fault.kind} ch${faulty}: latched at frame ${latchedAt} (onset ${onset}), max deviation ${worst.toExponential(2)}`,
        );
      });
    }
  }

  it('no channel is ever struck in the fault-free run', () => {
    expect(clean.events.flat()).toEqual([]);
  });

  it('no correct channel is ever struck with one faulty channel of any kind', () => {
    for (const fault of faults)
      for (const faulty of [0, 1, 2]) {
        const run = flyVoted({
          frameRate: FRAME_RATE,
          frames: 600,
          pilot,
          seed: 3,
          faulty,
          fault,
          onset: 100,
        });
        const correct = CHANNELS.filter((_, i) => i !== faulty) as string[];
        const struck = run.events.flat().filter((e) => correct.includes(e.channel));
        expect(struck, `${fault.kind} ch${faulty}`).toEqual([]);
      }
  });
});
