/**
 * The reintegration check counts judged frames: probation advances only on rounds the voter judged
 * (src/core/vote/health.ts), so frames held because no batch carried them must not fail a channel's
 * reintegration, while a channel that really stays out longer than its probation still fails.
 */
import { describe, expect, it } from 'vitest';
import { checkAssertions } from '../../hil/assertions.ts';
import type { Scenario } from '../../hil/scenario.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import type { FrameRecord, Trace, VoterOutcome } from '../../src/runtime/report/trace.ts';

const topology = loadTopology('config/laptop.json');
const rate = topology.frameRateHz;
const probation = topology.voter.probationFrames;
const REPAIR = 100;

const scenario: Scenario = {
  name: 'reintegration',
  description: 'c1 repaired at frame 100',
  durationS: 20,
  pilot: [],
  events: [{ atS: REPAIR / rate, kind: 'channel-repair', channel: 1 }],
  maxConsecutiveMisses: 1000,
};

/** A trace whose frames from the repair on are held (no output from any channel) every `holdEvery`-th frame. */
function trace(holdEvery: number, reintegrateAfterJudged: number): Trace {
  const frames: FrameRecord[] = [];
  let judged = 0;
  let back = -1;
  for (let frame = 0; frame < REPAIR + 4 * probation; frame += 1) {
    const held = frame >= REPAIR && holdEvery > 0 && frame % holdEvery === 0;
    const outcome: VoterOutcome = held ? 'hold' : 'write';
    if (frame >= REPAIR && !held && back < 0) {
      if (judged === reintegrateAfterJudged) back = frame;
      judged += 1;
    }
    frames.push({
      frame,
      t: frame / rate,
      reference: 0,
      theta: 0,
      elevator: 0,
      voted: 0,
      outcome,
      channels: held ? [null, null, null] : [0, 0, 0],
      view: 0,
      primary: 0,
      latencyMs: 1,
    });
  }
  return {
    frames,
    events: [{ frame: back, t: back / rate, kind: 'channel-reintegrated', detail: `c1 at frame ${back}` }],
  };
}

function reintegration(t: Trace) {
  const result = checkAssertions(scenario, topology, t, false).find((a) => a.name === 'c1-reintegrated');
  expect(result).toBeDefined();
  return result!;
}

describe('c1-reintegrated', () => {
  it('passes when probation took its judged frames, however many frames were held in between', () => {
    const r = reintegration(trace(2, probation));
    expect(r.passed, r.detail).toBe(true);
    expect(r.detail).toContain(`${probation} of them judged`);
  });

  it('fails when the channel stayed out well past its probation in judged frames', () => {
    const r = reintegration(trace(0, probation + 40));
    expect(r.passed, r.detail).toBe(false);
  });
});
