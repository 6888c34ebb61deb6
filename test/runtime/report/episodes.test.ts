/** Attribution of missed frames: each cause rests on a measurement, and an episode no measurement explains says so. */
import { describe, expect, it } from 'vitest';
import { attribute, causeCounts, findEpisodes, MAX_EPISODES } from '../../../src/runtime/report/episodes.ts';
import type { FrameRecord, FrameSample, Incident, VoterOutcome } from '../../../src/runtime/report/trace.ts';
import { verdictOf } from '../../../src/runtime/report/verdict.ts';

const timing = { periodMs: 20, deadlineMs: 16, viewChangeTimeoutFrames: 25 };

function frames(outcomes: string, view = (_: number) => 0): FrameRecord[] {
  const kind: Record<string, VoterOutcome> = { w: 'write', h: 'hold', f: 'failsafe' };
  return [...outcomes].map((c, i) => ({
    frame: i,
    t: i / 50,
    reference: 0,
    theta: 0,
    elevator: 0,
    voted: 0,
    outcome: kind[c]!,
    channels: c === 'w' ? [0, 0, 0] : [null, 0, null],
    view: view(i),
    primary: view(i),
    latencyMs: c === 'w' ? 2 : 16,
  }));
}

function samples(n: number, at: Record<number, Partial<FrameSample>> = {}): FrameSample[] {
  return Array.from({ length: n }, (_, i) => ({
    frame: i,
    loopDelayMs: 1.2,
    lagMs: 0,
    cpuWaitMs: 0.5,
    channels: [],
    ...at[i],
  }));
}

describe('hold and failsafe episodes', () => {
  it('finds maximal runs without a write; a run with a failsafe frame is a failsafe episode', () => {
    expect(findEpisodes(frames('wwhhwwhhffhw'))).toEqual([
      { kind: 'hold', first: 2, last: 3 },
      { kind: 'failsafe', first: 6, last: 10 },
    ]);
    expect(findEpisodes(frames('wwww'))).toEqual([]);
  });

  it('host: a long event-loop delay, a long CPU wait, or a schedule lag, quoted with its frame', () => {
    const fr = frames('wwwwhhwwwhwwwwwwhw');
    const s = samples(fr.length, { 3: { loopDelayMs: 40 }, 9: { cpuWaitMs: 12 }, 15: { lagMs: 30 } });
    const [a, b, c] = attribute({ frames: fr, events: [], samples: s, timing });
    expect(a!.causes).toEqual([
      {
        kind: 'host',
        detail: "host stall: event-loop delay 40 ms at frame 3 (deadline 16 ms after each frame's start)",
      },
    ]);
    expect(b!.causes[0]!.detail).toContain('the JS thread waited 12 ms for a CPU in frame 9');
    expect(c!.causes[0]!.detail).toContain('frame 16 started 30 ms late');
  });

  it('link: names the link and what it counted; protocol: the view change and the fault before it', () => {
    const fr = frames('wwwwwhhhwwwwwwwwwwhhhhww', (i) => (i >= 20 ? 1 : 0));
    const incidents: Incident[] = [
      { frame: 5, source: 'link aiu-b0', counter: 'crc', delta: 3 },
      { frame: 6, source: 'link aiu-b0', counter: 'crc', delta: 1 },
      { frame: 6, source: 'counters', counter: 'board.send-dropped', delta: 2 },
      { frame: 6, source: 'counters', counter: 'voter.hold', delta: 1 }, // not a link counter
    ];
    const events = [
      { frame: 17, t: 0.34, kind: 'board-crashed', detail: 'primary r0 (board mon)' },
      { frame: 20, t: 0.4, kind: 'view-change', detail: 'view 0 -> 1, primary r1' },
    ];
    const [link, protocol] = attribute({
      frames: fr,
      events,
      samples: samples(fr.length),
      incidents,
      timing,
    });
    expect(link!.causes).toEqual([
      { kind: 'link', detail: 'link: link aiu-b0: crc +4, boards: board.send-dropped +2' },
    ]);
    expect(protocol!.causes).toEqual([
      {
        kind: 'protocol',
        detail:
          'protocol: board-crashed (primary r0 (board mon)) at frame 17; view change 0 -> 1, primary r1 at frame 20',
      },
    ]);
    expect(causeCounts([link!, protocol!])).toEqual({ link: 1, protocol: 1 });
  });

  it('unexplained: says so, with what was seen', () => {
    const fr = frames('wwhww');
    const [e] = attribute({
      frames: fr,
      events: [],
      samples: samples(fr.length),
      incidents: [{ frame: 2, source: 'counters', counter: 'voter.rejected.late', delta: 3 }],
      timing,
    });
    expect(e!.causes).toHaveLength(1);
    expect(e!.causes[0]!.kind).toBe('unexplained');
    expect(e!.causes[0]!.detail).toBe(
      'no host stall, link error or view change measured (worst event-loop delay 1.2 ms, CPU wait 0.5 ms in a frame; as few as 1 channel outputs before the frame ended; 3 channel outputs arrived after the deadline)',
    );
  });

  it('host of a board process: its reported stall overlapping the episode, named by board', () => {
    const fr = frames('wwwwhhwwwwwwhww');
    const remoteStalls = [
      { board: 'b1', first: 3, last: 4, loopDelayMs: 30, cpuWaitMs: 2, gcMs: 0 },
      { board: 'b1', first: 4, last: 4, loopDelayMs: 12, gcMs: 0 }, // a lesser one of the same board
      { board: 'mon', first: 5, last: 5, loopDelayMs: 1, cpuWaitMs: 25, gcMs: 9 },
      { board: 'b2', first: 8, last: 9, loopDelayMs: 50, gcMs: 0 }, // between the episodes
      { board: 'b2', first: 12, last: 12, loopDelayMs: 3, gcMs: 1 }, // below half the deadline
    ];
    const [a, b] = attribute({
      frames: fr,
      events: [],
      samples: samples(fr.length),
      timing,
      remoteBoards: ['b1', 'b2', 'mon'],
      remoteStalls,
    });
    expect(a!.causes).toEqual([
      {
        kind: 'host',
        detail:
          "host stall: board b1's process timers 30 ms late at frames 3-4; board mon's process waited 25 ms for a CPU, GC 9.0 ms at frame 5 (deadline 16 ms after each frame's start)",
      },
    ]);
    // Nothing reached half the deadline at frames 11-13, and the boards did report: it says so.
    expect(b!.causes).toHaveLength(1);
    expect(b!.causes[0]!.kind).toBe('unexplained');
    expect(b!.causes[0]!.detail).toContain('boards b1, b2, mon in other processes reported no host stall');
  });

  it("slow links: with boards in other processes and nothing else measured, the quorum's late arrival", () => {
    const fr = frames('wwwhhww');
    const s = samples(fr.length, {
      3: { outputsMs: [4, 19.5, 30] },
      4: { outputsMs: [5] }, // the second output never came
    });
    const [e] = attribute({ frames: fr, events: [], samples: s, timing, remoteBoards: ['b0'] });
    expect(e!.causes).toEqual([
      {
        kind: 'link',
        detail:
          "slow links: fewer than 2 channel outputs of frame 4 reached the voter before the frame ended (deadline 16 ms), with no host stall, link error or view change measured on any board: the time went to the links (wire time, relays) and the protocol's message rounds",
      },
    ]);
    // In one process the arrivals are not measured, and nothing is inferred.
    const [inProcess] = attribute({ frames: fr, events: [], samples: samples(fr.length), timing });
    expect(inProcess!.causes[0]!.kind).toBe('unexplained');
  });

  it("slow links: a latched channel's output does not complete the quorum, so its arrival is not counted", () => {
    const fr = frames('wwwhww');
    const latched = [
      { strikes: 0, state: 'ok' as const },
      { strikes: 3, state: 'latched' as const },
      { strikes: 0, state: 'ok' as const },
    ];
    // Two outputs arrived in time, but one of them was the latched channel's: the counted quorum never formed.
    const s = samples(fr.length, { 3: { outputsMs: [4, 10], channels: latched } });
    const [e] = attribute({ frames: fr, events: [], samples: s, timing, remoteBoards: ['b0'] });
    expect(e!.causes[0]!.kind).toBe('link');
    expect(e!.causes[0]!.detail).toContain('frame 3');
    // Without the latch the same arrivals make a quorum in time, and the slow-link cause is not claimed.
    const open = samples(fr.length, { 3: { outputsMs: [4, 10] } });
    const [o] = attribute({ frames: fr, events: [], samples: open, timing, remoteBoards: ['b0'] });
    expect(o!.causes[0]!.kind).toBe('unexplained');
    expect(o!.causes[0]!.detail).not.toContain('latched');
  });

  it("protocol: a batch cut without a quorum of input units' samples, where it was counted", () => {
    const fr = frames('wwhww');
    const [e] = attribute({
      frames: fr,
      events: [],
      samples: samples(fr.length),
      incidents: [{ frame: 2, source: 'board b1', counter: 'channel.no-frame.no-quorum', delta: 1 }],
      timing,
    });
    expect(e!.causes).toEqual([
      {
        kind: 'protocol',
        detail:
          "protocol: a batch was cut without a quorum of input units' samples (board b1 counted channel.no-frame.no-quorum): the samples reached the primary after its cut",
      },
    ]);
  });

  it('protocol: frames no ordered batch carried, counted by a channel when its next batch ran', () => {
    const fr = frames('wwhhhhwwww');
    const [e] = attribute({
      frames: fr,
      events: [],
      samples: samples(fr.length),
      // Counted at frame 7, after the episode (frames 2-5), when the channel executed frame 6's batch.
      incidents: [
        { frame: 3, source: 'counters', counter: 'input.retransmit', delta: 2 },
        { frame: 4, source: 'counters', counter: 'input.superseded', delta: 3 },
        { frame: 7, source: 'board b0', counter: 'channel.skipped-frames', delta: 4 },
      ],
      timing,
      remoteBoards: ['b0'],
    });
    expect(e!.causes).toEqual([
      {
        kind: 'protocol',
        detail:
          "protocol: no ordered batch carried some frames' samples: board b0 executed none for 4 frames (channel.skipped-frames at frame 7); input units' requests went unanswered: 2 sent again, 3 newer samples superseded while a unit waited (a unit sends its next sample once the last is ordered)",
      },
    ]);
  });

  it('describes at most MAX_EPISODES episodes however many there are', () => {
    const fr = frames('hw'.repeat(MAX_EPISODES + 50));
    expect(findEpisodes(fr)).toHaveLength(MAX_EPISODES + 50);
    expect(attribute({ frames: fr, events: [], timing })).toHaveLength(MAX_EPISODES);
  });
});

describe('verdict', () => {
  const ok = { name: 'no-failsafe', passed: true, detail: '0 failsafe frames' };
  const bad = { name: 'misses-bounded', passed: false, detail: 'longest run 12 (bound 10)' };
  it('names the first failed assertion; an interrupted run says how far it got and judges what it flew', () => {
    expect(
      verdictOf({ assertions: [ok], interrupted: false, framesFlown: 9, framesPlanned: 9 }).headline,
    ).toBe('PASSED: all 1 assertions held');
    expect(
      verdictOf({ assertions: [ok, bad], interrupted: false, framesFlown: 9, framesPlanned: 9 }),
    ).toEqual({
      state: 'failed',
      headline: 'FAILED: misses-bounded: longest run 12 (bound 10)',
      firstFailed: bad,
    });
    const completed = { name: 'completed', passed: false, detail: 'interrupted after 4 frames' };
    expect(
      verdictOf({ assertions: [completed, ok], interrupted: true, framesFlown: 4, framesPlanned: 9 })
        .headline,
    ).toBe('INTERRUPTED after 4 of 9 frames; what was flown passed');
  });
});
