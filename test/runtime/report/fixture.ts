/**
 * A realistic report input for the report tests: the default scenario flown under virtual time (a Byzantine
 * channel latched and reintegrated, the primary's board crashed and a view change), with per-frame host samples
 * that carry one injected stall (frames 60-75 held, then failsafe), so every part of the page has something to
 * show. Deterministic: the same seed gives the same report.
 */
import pino from 'pino';
import { Rig } from '../../../hil/rig.ts';
import { defaultScenario } from '../../../hil/scenario.ts';
import { loadTopology } from '../../../src/runtime/config.ts';
import { attribute, findEpisodes } from '../../../src/runtime/report/episodes.ts';
import type { HtmlReportInput } from '../../../src/runtime/report/html.ts';
import type { ChannelState, FrameRecord, FrameSample } from '../../../src/runtime/report/trace.ts';
import { verdictOf } from '../../../src/runtime/report/verdict.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

export const STALL = { first: 60, last: 75, delayMs: 119 } as const;

export async function reportFixture(seed = 3): Promise<HtmlReportInput> {
  const topology = loadTopology('config/laptop.json');
  const scheduler = new VirtualScheduler();
  const rig = new Rig({
    topology,
    scheduler,
    scenario: defaultScenario(12, 'primary'),
    seed,
    logger: pino({ level: 'silent' }),
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
  });
  const result = await rig.runVirtual((t) => scheduler.runUntil(t));
  // The injected host stall: the voter missed frames 60..75, and failed safe after its threshold.
  const frames: FrameRecord[] = result.trace.frames.map((f) =>
    f.frame >= STALL.first && f.frame <= STALL.last
      ? { ...f, outcome: f.frame - STALL.first >= 10 ? 'failsafe' : 'hold', latencyMs: Number.NaN }
      : f,
  );
  const latchedAt = result.trace.events.find((e) => e.kind === 'channel-latched')?.frame ?? 0;
  const backAt = result.trace.events.find((e) => e.kind === 'channel-reintegrated')?.frame ?? 0;
  const samples: FrameSample[] = frames.map((f) => {
    const stalled = f.frame === STALL.first - 1;
    const c1: ChannelState =
      f.frame >= latchedAt && f.frame < backAt - 50
        ? 'latched'
        : f.frame >= backAt - 50 && f.frame < backAt
          ? 'probation'
          : 'ok';
    return {
      frame: f.frame,
      loopDelayMs: stalled ? STALL.delayMs : 1 + (f.frame % 7) * 0.3,
      lagMs: stalled ? STALL.delayMs - 10 : 0,
      cpuWaitMs: f.frame % 5,
      channels: [
        { strikes: 0, state: 'ok' },
        { strikes: f.frame >= latchedAt - 3 && f.frame < latchedAt ? f.frame - latchedAt + 4 : 0, state: c1 },
        { strikes: 0, state: f.frame > frames.length - 200 ? 'down' : 'ok' },
      ],
    };
  });
  const timing = {
    periodMs: 20,
    deadlineMs: 16,
    viewChangeTimeoutFrames: topology.timing.viewChangeTimeoutFrames,
  };
  const episodes = attribute({ frames, events: result.trace.events, samples, incidents: [], timing });
  const failsafes = frames.filter((f) => f.outcome === 'failsafe').length;
  const assertions = [
    { name: 'no-failsafe', passed: failsafes === 0, detail: `${failsafes} failsafe frames` },
    ...result.assertions.filter((a) => a.name !== 'no-failsafe'),
  ];
  const verdict = verdictOf({
    assertions,
    interrupted: false,
    framesFlown: frames.length,
    framesPlanned: frames.length,
  });
  const summary: Record<string, unknown> = {
    passed: false,
    verdict,
    scenario: 'default',
    config: topology.file,
    seed,
    frameRateHz: topology.frameRateHz,
    framesFlown: frames.length,
    framesPlanned: frames.length,
    voter: {
      write: frames.filter((f) => f.outcome === 'write').length,
      hold: frames.filter((f) => f.outcome === 'hold').length,
      failsafe: failsafes,
    },
    latencyMs: { p50: 0.9, p99: 2.1, max: 3.4 },
    host: {
      eventLoopDelayMs: { p50: 1.1, p99: 5.2, max: STALL.delayMs },
      cpuSeconds: 3.1,
      loadAverage: [2.5, 2.1, 1.9],
    },
    faultBudget: topology.budget.summary,
    assertions,
    episodesTotal: findEpisodes(frames).length,
    episodes,
    counters: rig.system.counters.toJSON(),
    replay: `npm start -- --config config/laptop.json --duration 12 --seed ${seed} --a-very-long-option-to-wrap`,
  };
  return {
    title: 'triplex sim: pitch steps; channel c1 Byzantine (random) then repaired; the primary board crashes',
    summary,
    frames,
    events: result.trace.events,
    samples,
    channelNames: topology.channels.map((c) => `c${c.id} (${c.impl})`),
    verdict,
    episodes,
    deadlineMs: 16,
  };
}
