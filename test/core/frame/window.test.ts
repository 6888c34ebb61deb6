import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyClaim, voteFrame } from '../../../src/core/frame/window.ts';

const rules = { f: 1, window: 8 };

describe('frame window', () => {
  it('classifies claims against the last executed frame', () => {
    expect(classifyClaim(10, 10, 8)).toBe('stale');
    expect(classifyClaim(10, 11, 8)).toBe('in-window');
    expect(classifyClaim(10, 18, 8)).toBe('in-window');
    expect(classifyClaim(10, 19, 8)).toBe('ahead');
    expect(classifyClaim(-1, 0, 8)).toBe('in-window');
  });

  it('one far-future claim cannot move the frame (class 5)', () => {
    expect(voteFrame(41, [[42], [42], [2 ** 52]], rules)).toEqual({ frame: 42, how: 'window' });
    expect(voteFrame(41, [[42], [49], [49]], rules)).toEqual({ frame: 49, how: 'window' });
    // A liar inside the window, claiming ahead: the f+1-th largest claim is a correct unit's.
    expect(voteFrame(41, [[42], [42], [49]], rules)).toEqual({ frame: 42, how: 'window' });
    // Alone it decides nothing.
    expect(voteFrame(41, [[], [], [45]], rules)).toEqual({ frame: undefined, how: 'no-quorum' });
    // Replayed old frames are stale.
    expect(voteFrame(41, [[40], [41], [3]], rules)).toEqual({ frame: undefined, how: 'no-quorum' });
  });

  it('a quorum past the window resynchronises (after an outage longer than the window)', () => {
    expect(voteFrame(41, [[500], [501], [41]], rules)).toEqual({ frame: 500, how: 'resync' });
    expect(voteFrame(-1, [[7000], [7000], []], rules)).toEqual({ frame: 7000, how: 'resync' });
    expect(voteFrame(41, [[500], [], [2 ** 52]], rules)).toEqual({ frame: 500, how: 'resync' });
  });

  it('property: with f+1 correct units claiming the true frame, f liars never change it; else never ahead of it', () => {
    const claim = fc.oneof(fc.nat(), fc.constant(2 ** 53 - 1), fc.integer({ min: 0, max: 1e6 + 200 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: -1, max: 1e6 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.array(claim, { maxLength: 3 }), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 1, max: 8 }),
        (f, last, window, presentCorrect, liarClaims, ahead) => {
          const truth = last + Math.min(ahead, window);
          const claims = [
            ...Array.from({ length: presentCorrect }, () => [truth]),
            ...liarClaims.slice(0, f),
          ];
          const vote = voteFrame(last, claims, { f, window });
          if (presentCorrect >= f + 1) expect(vote).toEqual({ frame: truth, how: 'window' });
          else if (vote.frame !== undefined) expect(vote.frame).toBeLessThanOrEqual(truth);
        },
      ),
      { seed: 0x5f1a3e, numRuns: 1000 },
    );
  });
});
