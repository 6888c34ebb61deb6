/**
 * The pure loop with one faulty input unit of each kind (class 5): every frame written, every channel derives
 * the same inputs, no channel is struck, and the liar changes the voted elevator by no more than losing that
 * unit would (its trace is compared with the run in which the same unit falls silent at the same frame).
 *
 * Why not compare with the fault-free run directly: losing one of three pitch sensors (any kind of fault,
 * silence included) changes the voted pitch from the median of three to the mean of two, by sensor noise
 * (0.0005 rad), and the law's derivative path amplifies that by kd * cd, about 18 at 50 Hz: up to 0.04 rad of
 * elevator over 2,000 frames, whatever the voter does. That is the law's noise sensitivity, measured here.
 */
import { describe, expect, it } from 'vitest';
import { randomPilot } from '../control/harness.ts';
import { flyInputs, INPUT_FAULTS, type InputLoopRun } from './loop-harness.ts';

const RATE = 50;
const FRAMES = 1200;
const ONSET = 300;
const TOLERANCE = 0.01;
const pilot = randomPilot(3, RATE, FRAMES);
const clean = flyInputs({ frameRate: RATE, frames: FRAMES, pilot, seed: 3 });
const silent = [0, 1, 2].map((faulty) =>
  flyInputs({ frameRate: RATE, frames: FRAMES, pilot, seed: 3, faulty, fault: 'silent', onset: ONSET }),
);

function worst(a: InputLoopRun, b: InputLoopRun, from = 0): number {
  let w = 0;
  for (let k = from; k < FRAMES; k++)
    w = Math.max(w, Math.abs((a.elevator[k] as number) - (b.elevator[k] as number)));
  return w;
}

describe('the loop with one faulty input unit of three', () => {
  it('fault-free: every frame written by all three channels, all units healthy', () => {
    expect(clean.records.every((r) => r.kind === 'write' && r.contributors.length >= 2)).toBe(true);
    // The host writes as soon as two channels agree within the early band (the third is judged later).
    expect(clean.records.filter((r) => r.earlyRound).length).toBe(FRAMES);
    expect(clean.consistent).toBe(true);
    expect(clean.unitHealth.every((h) => !h.latched && h.used === FRAMES)).toBe(true);
  });

  for (const fault of INPUT_FAULTS) {
    for (const faulty of [0, 1, 2]) {
      it(`${fault}, unit ${faulty}: no hold, no channel struck, no worse than the unit falling silent`, () => {
        const run = flyInputs({
          frameRate: RATE,
          frames: FRAMES,
          pilot,
          seed: 3,
          faulty,
          fault,
          onset: ONSET,
        });
        expect(run.consistent).toBe(true);
        expect(run.records.filter((r) => r.kind !== 'write')).toEqual([]);
        expect(run.records.flatMap((r) => r.events)).toEqual([]);
        const reference = silent[faulty] as InputLoopRun;
        const w = worst(run, reference);
        const h = run.unitHealth[faulty];
        if (fault === 'far-future' || fault === 'replay' || fault === 'silent') {
          expect(w).toBe(0); // its samples are never used: exactly as if it were silent
          expect(h).toMatchObject({ used: ONSET, missing: FRAMES - ONSET, latched: false });
        } else {
          // A value liar: outvoted at once (mid-value select), latched within a few frames out of tolerance.
          expect(h?.latched).toBe(true);
          expect(w).toBeLessThan(2.5 * TOLERANCE);
          expect(worst(run, reference, ONSET + 100)).toBeLessThan(TOLERANCE / 5);
        }
        for (const u of [0, 1, 2]) if (u !== faulty) expect(run.unitHealth[u]?.latched).toBe(false);
      });
    }
  }

  it('records the law’s own sensitivity to losing a sensor (for the report)', () => {
    const lost = Math.max(...silent.map((s) => worst(s, clean)));
    console.log(
      `losing one of three pitch sensors moves the voted elevator by up to ${lost.toExponential(2)} rad`,
    );
    expect(lost).toBeGreaterThan(0);
  });
});
