/**
 * Board processes over real pseudo-terminals (socat): mon, b0, b1 and b2 each run `triplex node` as a child
 * process on a serial mesh; this process runs the voter's board (aiu) and the emulated rig. Real timers, 10
 * frames a second. Every child is killed after its test and again in afterAll, also when a test fails.
 * The time limits are generous on purpose: starting four children (tsx, warm-up) takes 5 s on an idle 2-core
 * machine and 25 s or more on a loaded one; the flights themselves are a few seconds.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Rig, type RigResult } from '../../../hil/rig.ts';
import type { Scenario } from '../../../hil/scenario.ts';
import { Prng } from '../../../src/core/prng.ts';
import type { SerialTransport } from '../../../src/io/serial.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { ProcessCluster, requireSocat } from '../../../src/runtime/node/cluster.ts';
import { loadBoardKeys } from '../../../src/runtime/node/keys.ts';
import { ProcessLoop } from '../../../src/runtime/node/process-loop.ts';
import { RealtimeGovernor, requestRealtime } from '../../../src/runtime/node/realtime.ts';
import { createBoardTransport } from '../../../src/runtime/node/transports.ts';
import { warmUp } from '../../../src/runtime/node/warm-up.ts';
import type { FrameRecord } from '../../../src/runtime/report/trace.ts';
import { RealScheduler } from '../../../src/runtime/scheduler.ts';

const RATE_HZ = 10;
/**
 * Unpaced: pacing at 921600 baud (store-and-forward, one timer per frame) puts this mesh's sample-to-output time
 * at 15-40 ms on a loaded 2-core machine, too close to the 40 ms deadline for a test that must not flake. These
 * tests are about processes, ptys, crashes and line noise; pacing has its own tests in test/io.
 */
const PACE = false;
const base: Topology = { ...loadTopology('config/serial-mesh.json'), frameRateHz: RATE_HZ };
const silent = pino({ level: 'silent' });
const dirs: string[] = [];
const clusters: ProcessCluster[] = [];
const realtime: RealtimeGovernor[] = [];

let socatProblem: string | undefined;
try {
  requireSocat();
} catch (e) {
  socatProblem = (e as Error).message;
  console.warn(`skipping board-process tests: ${socatProblem}`);
}

afterAll(async () => {
  for (const g of realtime.splice(0)) g.stop();
  await Promise.all(clusters.map((c) => c.close(2000)));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Each board's last status (view, last executed batch, counters): what a stall report needs. */
function boardsOf(run: Run): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(run.cluster.statuses()).map(([b, s]) => {
      const st = s as { view?: number; lastExecuted?: number; counters?: unknown };
      return [b, { view: st.view, lastExecuted: st.lastExecuted, counters: st.counters }];
    }),
  );
}

interface Run {
  readonly cluster: ProcessCluster;
  readonly transport: SerialTransport;
  readonly rig: Rig;
}

async function startRun(scenario: Scenario, seed: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-node-test-'));
  dirs.push(dir);
  const cluster = await ProcessCluster.start({
    topology: base,
    link: 'serial',
    localBoard: 'aiu',
    workDir: join(dir, 'work'),
    logDir: join(dir, 'logs'),
    logLevel: 'warn',
    seed,
    logger: silent,
    pace: PACE,
    // Each child compiles through tsx and warms up for seconds of CPU: on a loaded 2-core machine, four at once
    // take far longer than the CLI's default to come up. Readiness is not what these tests are about.
    readyTimeoutMs: 90_000,
  });
  clusters.push(cluster);
  const topology = cluster.topology;
  const keys = await loadBoardKeys(cluster.keysDir, topology, 'aiu');
  const transport = createBoardTransport(topology, 'aiu', { pace: PACE }) as SerialTransport;
  await warmUp(topology);
  // Held until the rig's board has started (its links open): frame 0 is not already late (as in `triplex sim`).
  const scheduler = new RealScheduler({ held: true });
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed,
    logger: silent,
    onStarted: () => {
      scheduler.begin();
      // The voter's board gets the scheduling `triplex sim --processes` gives it (where permitted).
      realtime.push(RealtimeGovernor.start(silent));
      requestRealtime();
    },
    loop: (callbacks) =>
      new ProcessLoop({
        ...callbacks,
        topology,
        transport,
        scheduler,
        keys,
        logger: silent,
        seed,
        remote: cluster,
      }),
  });
  return { cluster, transport, rig };
}

/** Flies the run's scenario; the board processes are stopped afterwards (their final status is kept). */
async function fly(run: Run): Promise<RigResult> {
  try {
    return await run.rig.run();
  } finally {
    // Back to ordinary scheduling before the clean-up (and the next test).
    for (const g of realtime.splice(0)) g.stop();
    await run.rig.system.close();
    await run.cluster.close();
  }
}

const step = (durationS: number): Scenario => ({
  name: 'step',
  description: '0.2 rad step at 0.5 s',
  durationS,
  pilot: [{ atS: 0.5, pitch: 0.2 }],
  events: [],
  maxConsecutiveMisses: 5,
});

function longestWriteRun(frames: readonly FrameRecord[]): number {
  let best = 0;
  let run = 0;
  for (const f of frames) {
    run = f.outcome === 'write' ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}

function writesIn(
  frames: readonly FrameRecord[],
  fromS: number,
  toS: number,
): { writes: number; frames: number } {
  const window = frames.filter((f) => f.t >= fromS && f.t < toS);
  return { writes: window.filter((f) => f.outcome === 'write').length, frames: window.length };
}

function explain(r: RigResult, extra: unknown = {}): string {
  const outcomes = r.trace.frames.map((f) => f.outcome[0]).join('');
  const latency = r.trace.frames.map((f) => Math.round(f.latencyMs)).join(',');
  return JSON.stringify({ failed: r.assertions.filter((a) => !a.passed), outcomes, latency, extra });
}

/** Random bytes into one end of a pty link: they come out of the other end, as line noise would. */
function injectGarbage(path: string, bytes: number, seed: number): void {
  const rng = new Prng(seed);
  const junk = Uint8Array.from({ length: bytes }, () => rng.u32() & 0xff);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, junk);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(socatProblem !== undefined)('board processes on a pty serial mesh', () => {
  it('four board processes order frames and the voter writes the actuator', async () => {
    const run = await startRun(step(6), 101);
    expect(run.cluster.boards.sort()).toEqual(['b0', 'b1', 'b2', 'mon']);
    const pids = run.cluster.boards.map((b) => run.cluster.pid(b));
    expect(new Set(pids).size).toBe(4);
    expect(pids).not.toContain(process.pid);
    const r = await fly(run);
    const frames = r.trace.frames;
    expect(frames).toHaveLength(6 * RATE_HZ);
    const writes = frames.filter((f) => f.outcome === 'write').length;
    // Real processes on 2 shared cores: a scheduling stall can push a frame past its deadline now and then (held,
    // never written wrong). Bounded: at most 10% of frames, never more than the scenario's run of misses.
    expect(
      writes,
      explain(r, { aiu: run.rig.system.counters.toJSON(), boards: boardsOf(run) }),
    ).toBeGreaterThanOrEqual(frames.length * 0.9);
    expect(longestWriteRun(frames), explain(r, boardsOf(run))).toBeGreaterThanOrEqual(15);
    expect(r.assertions.find((a) => a.name === 'misses-bounded')?.passed, explain(r, boardsOf(run))).toBe(
      true,
    );
    expect(r.assertions.find((a) => a.name === 'tracks-step-0')?.passed, explain(r, boardsOf(run))).toBe(
      true,
    );
    // Every written value had f+1 channel outputs, as the voter received them, within tolerance.
    expect(r.assertions.find((a) => a.name === 'writes-supported-by-f+1')?.passed).toBe(true);
    const statuses = run.cluster.statuses();
    for (const b of ['mon', 'b0', 'b1', 'b2']) {
      const s = statuses[b] as { counters: Record<string, number> };
      expect(s.counters['replica.committed'], `${b}: ${JSON.stringify(s)}`).toBeGreaterThan(
        frames.length - 10,
      );
    }
  }, 120_000);

  it('killing a backup replica board process mid-run does not stop the loop', async () => {
    const scenario: Scenario = {
      ...step(7),
      name: 'crash-backup',
      events: [{ atS: 2.5, kind: 'crash-backup' }],
    };
    const run = await startRun(scenario, 202);
    const r = await fly(run);
    const crash = r.trace.events.find((e) => e.kind === 'board-crashed');
    // r3 on b2: the highest-numbered replica that is not the primary (r0 on mon).
    expect(crash?.detail, explain(r, boardsOf(run))).toBe('backup r3 (board b2)');
    // b2 died by SIGKILL mid-run; the others flew on and stopped cleanly at the end.
    expect(run.cluster.exitOf('b2')).toEqual({ code: null, signal: 'SIGKILL' });
    for (const b of ['mon', 'b0', 'b1']) expect(run.cluster.exitOf(b), b).toEqual({ code: 0, signal: null });
    const after = writesIn(r.trace.frames, 3, 7);
    expect(after.writes, explain(r, boardsOf(run))).toBeGreaterThanOrEqual(after.frames * 0.9);
    const misses = r.assertions.find((a) => a.name === 'misses-bounded');
    expect(misses?.passed, explain(r, boardsOf(run))).toBe(true);
    expect(r.assertions.find((a) => a.name === 'no-failsafe')?.passed, explain(r, boardsOf(run))).toBe(true);
    expect(r.assertions.find((a) => a.name === 'tracks-step-0')?.passed, explain(r, boardsOf(run))).toBe(
      true,
    );
  }, 120_000);

  it('garbage on serial lines is counted and the loop keeps flying', async () => {
    const run = await startRun(step(6), 303);
    const toAiu = run.cluster.devicePath('b1', 'aiu')!; // written at b1's end, read by aiu (this process)
    const toMon = run.cluster.devicePath('aiu', 'mon')!; // written at aiu's end, read by mon (the primary)
    const before = run.transport.stats();
    const injected: number[] = [];
    const flight = fly(run);
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < 4; i++) {
      injectGarbage(toAiu, 512, 7 + i);
      injectGarbage(toMon, 512, 70 + i);
      injected.push(i);
      await new Promise((r) => setTimeout(r, 150));
    }
    const r = await flight;
    const errors = (s: { errors: Record<string, number> }): number =>
      Object.values(s.errors).reduce((a, b) => a + b, 0);
    const aiuStats = run.transport.stats();
    expect(errors(aiuStats) - errors(before), JSON.stringify(aiuStats)).toBeGreaterThan(0);
    const mon = run.cluster.statuses()['mon'] as { link: { errors: Record<string, number> } };
    expect(errors(mon.link), JSON.stringify(mon)).toBeGreaterThan(0);
    // Writes continue after the noise (the frames it corrupted are retransmitted or held, not written wrong).
    const after = writesIn(r.trace.frames, 3.5, 6);
    expect(after.writes, explain(r, { aiuStats, boards: boardsOf(run) })).toBeGreaterThanOrEqual(
      after.frames * 0.9,
    );
    expect(r.assertions.find((a) => a.name === 'no-failsafe')?.passed, explain(r, boardsOf(run))).toBe(true);
    expect(r.assertions.find((a) => a.name === 'writes-supported-by-f+1')?.passed).toBe(true);
  }, 120_000);
});
