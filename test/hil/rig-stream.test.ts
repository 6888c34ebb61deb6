/**
 * The rig's streamed mode (a long run): every frame and event goes to a JSONL file as it completes and only a
 * bounded tail stays in memory, with the same result as the run that keeps everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type FrameExtra, Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario } from '../../hil/scenario.ts';
import { readTraceStream, TraceStream } from '../../hil/trace-stream.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import type { FrameRecord } from '../../src/runtime/report/trace.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const topology = loadTopology('config/laptop.json');
const dir = mkdtempSync(join(tmpdir(), 'triplex-rig-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fly(stream?: { path: string; keepFrames: number }): Promise<{ rig: Rig; result: RigResult }> {
  const scheduler = new VirtualScheduler();
  const rig = new Rig({
    topology,
    scheduler,
    scenario: defaultScenario(12, 'primary'),
    seed: 21,
    logger: pino({ level: 'silent' }),
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
    ...(stream ? { stream } : {}),
  });
  const result = await rig.runVirtual((t) => scheduler.runUntil(t));
  return { rig, result };
}

describe('rig streamed trace', () => {
  it('gives the same summary, assertions, trace and extras as the in-memory run, holding a bounded tail', async () => {
    const memory = await fly();
    const path = join(dir, 'trace.jsonl');
    const keepFrames = 50;
    const streamed = await fly({ path, keepFrames });
    // A fault scenario: view changes, a crash and a Byzantine channel, so the events and outcomes are not trivial.
    expect(memory.result.trace.events.map((e) => e.kind)).toContain('view-change');
    expect(memory.result.frames).toBe(12 * topology.frameRateHz);
    expect(streamed.result.summary).toEqual(memory.result.summary);
    expect(streamed.result.assertions).toEqual(memory.result.assertions);
    expect(streamed.result.frames).toBe(memory.result.frames);
    // The file holds every frame and event, equal to what the in-memory run kept.
    const file = readTraceStream(path);
    expect(file.trace.frames).toHaveLength(memory.result.frames);
    expect(file.trace).toEqual(memory.result.trace);
    expect(file.extras).toEqual(memory.result.extras);
    expect(streamed.result.trace).toEqual(memory.result.trace);
    // What the rig itself holds is the tail only: at most 2 * keepFrames frames and extras.
    expect(streamed.rig.trace.frames.length).toBeLessThanOrEqual(2 * keepFrames);
    expect(streamed.rig.extras.length).toBe(streamed.rig.trace.frames.length);
    expect(streamed.rig.trace.frames.at(-1)).toEqual(memory.result.trace.frames.at(-1));
  });
});

describe('trace stream file', () => {
  it("round-trips a NaN latency as NaN and an event detail that reads 'NaN' as text", () => {
    const path = join(dir, 'nan.jsonl');
    const s = new TraceStream(path);
    const record = { frame: 0, latencyMs: Number.NaN } as unknown as FrameRecord;
    s.frame(record, {} as FrameExtra);
    s.event({ frame: 0, t: 0, kind: 'mark', detail: 'NaN' });
    s.close();
    const back = readTraceStream(path);
    expect(back.trace.frames[0]!.latencyMs).toBeNaN();
    expect(back.trace.events[0]!.detail).toBe('NaN');
  });
});
