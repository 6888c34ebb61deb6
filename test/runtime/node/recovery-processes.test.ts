/**
 * Proactive recovery in process mode (bench/soak-harness.ts): mon, b0, b1 and b2 each a `triplex node` child on
 * a pty serial mesh (socat), the voter's board (aiu) and the rig here, the coordinator restarting the board
 * processes on a compressed schedule. Real processes and real timers at 10 frames a second; nothing is timed:
 * the assertions count restarts, rejoins, key epochs and frames missed by cause. No frame may be lost to a
 * restart (in progress or settling after its rejoin); frames whose outputs all arrived but late, and frames lost
 * with no restart near (the two shared cores), are counted apart, printed, and bounded (HOST_MISS_FRACTION).
 *
 * Slow on purpose: each restart is a process start (seconds on a loaded 2-core machine); the rotation test stops
 * as soon as every board recovered three times.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RecoveryRun, startRecoveryRun } from '../../../bench/soak-harness.ts';
import type { Scenario } from '../../../hil/scenario.ts';
import type { RecoveryReport } from '../../../src/core/recovery/records.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { requireSocat } from '../../../src/runtime/node/cluster.ts';

/**
 * Frames late (every output arrived, after the deadline) or lost with no restart near, as a fraction of the
 * frames flown: what the shared two-core host may cost; more fails the run with every missed frame printed.
 */
const HOST_MISS_FRACTION = 0.01;

const base: Topology = { ...loadTopology('config/serial-mesh.json'), frameRateHz: 10 };
const REMOTE = ['mon', 'b0', 'b1', 'b2'];
const dirs: string[] = [];
const runs: RecoveryRun[] = [];

let socatProblem: string | undefined;
try {
  requireSocat();
} catch (e) {
  socatProblem = (e as Error).message;
  console.warn(`skipping process-mode recovery tests: ${socatProblem}`);
}

afterAll(async () => {
  await Promise.all(runs.map((r) => r.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const flight = (durationS: number): Scenario => ({
  name: 'recovery',
  description: 'pilot steps while the boards restart',
  durationS,
  pilot: [
    { atS: 0.5, pitch: 0.1 },
    { atS: durationS / 2, pitch: -0.05 },
  ],
  events: [],
  maxConsecutiveMisses: 1000,
});

async function start(seed: number, recovery: Parameters<typeof startRecoveryRun>[0]['recovery']) {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-recovery-proc-'));
  dirs.push(dir);
  const run = await startRecoveryRun({
    topology: base,
    seed,
    workDir: dir,
    ...(recovery ? { recovery } : {}),
  });
  runs.push(run);
  return run;
}

function completed(report: RecoveryReport, board: string, cause?: string): number {
  return report.records.filter(
    (r) => r.board === board && r.rejoinedAtMs !== undefined && (cause === undefined || r.cause === cause),
  ).length;
}

/** Polls every 200 ms (real time) until `done`; the flight's own length bounds it. */
function watch(run: RecoveryRun, done: () => boolean): void {
  const tick = (): void => {
    if (done()) run.stop();
    else setTimeout(tick, 200).unref();
  };
  tick();
}

/**
 * Not part of `npm test` yet: process-mode recovery does not meet its bound on this 2-core machine. What
 * bench/recovery-diag.ts and perf attribute the missed frames to (2026-12-02): ordering stalls (no batch
 * executed). The largest, 6 to 14 frames at each restart, was the rig's real-time main thread looping for
 * 0.9-1 s in the kernel while it reaped the old board process (wait4, d_invalidate of its /proc entries,
 * waiting on an exiting thread of that process kept off the CPU until real-time throttling); board processes
 * now exit above the rig (raiseForExit, realtime.ts) and those stalls are gone. Left: single frames and short
 * runs of 2 to 4 with no output while a restarted board's new process loads (ordinary scheduling, competing with
 * the machine's other work) or right before it opens its links, at load 3 to 10; not explained yet. Both cases
 * run with `npm run test:process-recovery` (TRIPLEX_PROCESS_RECOVERY=1) until process-mode recovery meets its
 * bound.
 */
const processRecovery = process.env.TRIPLEX_PROCESS_RECOVERY === '1';
if (!processRecovery)
  console.warn(
    'skipping process-mode recovery: it still loses a few frames to ordering stalls around restarts on this host (bench/recovery-diag.ts, issue 10); run npm run test:process-recovery',
  );

describe.skipIf(socatProblem !== undefined || !processRecovery)(
  'proactive recovery across board processes',
  () => {
    it('every board process, the primary first handing over, restarts three times with fresh keys; no frame lost to a restart', async () => {
      // The period is compressed below what four process starts take here: due steps queue and run back to back.
      const run = await start(11, { periodSeconds: 10, restartSeconds: 1, handoverSeconds: 0.25 });
      const r = await run.fly(flight(240), (started) =>
        watch(started, () => {
          const rep = started.recovery()?.report();
          return rep !== undefined && REMOTE.every((b) => completed(rep, b, 'proactive') >= 3);
        }),
      );
      const rep = run.recovery()!.report();
      const why = JSON.stringify({
        perBoard: rep.perBoard,
        misses: run.counted,
        records: rep.records.map((x) => [x.board, x.cause, x.handover, x.gaveUp, x.roles]),
        counters: run.loop()?.counters.toJSON(),
        keys: run.keyCounters.toJSON(),
      });
      for (const b of REMOTE)
        expect(completed(rep, b, 'proactive'), `${b}: ${why}`).toBeGreaterThanOrEqual(3);
      // The primary's board handed its view over before restarting (a planned view change), more than once.
      const handovers = rep.records.filter((x) => x.handover !== undefined && !x.handover.timedOut);
      expect(handovers.length, why).toBeGreaterThanOrEqual(2);
      expect(r.trace.frames.at(-1)!.view, why).toBeGreaterThanOrEqual(2);
      // Channels came back by BASE rebuild and the voter counted them again; the rig's roles restarted too.
      expect(completed(rep, 'aiu'), why).toBeGreaterThanOrEqual(2);
      expect(
        rep.records.some((x) => x.gaveUp),
        why,
      ).toBe(false);
      // No key older than its rotation: every principal of a board process is at epoch >= 3 and every other
      // board holds that epoch of it.
      for (const [p, k] of Object.entries(rep.keys)) {
        expect(k.epoch, `principal ${p}: ${why}`).toBeGreaterThanOrEqual(3);
        expect(k.oldestHeld, `principal ${p}: ${why}`).toBe(k.epoch);
      }
      expect(
        Object.keys(run.keyCounters.toJSON()).filter((c) => c.includes('refused')),
        why,
      ).toEqual([]);
      // No frame lost because of a scheduled restart, judged on every run: too few outputs while a proactive
      // restart was in progress or in the seconds after its rejoin (the group settling, a view change the
      // rejoin set off), and no failsafe frame (10 misses in a row).
      const missedWhy = JSON.stringify({ misses: run.counted, missed: run.missed.slice(0, 100) });
      expect(run.counted.proactive + run.counted.afterRestart, `lost to restarts: ${missedWhy}`).toBe(0);
      expect(r.trace.frames.filter((f) => f.outcome === 'failsafe').length, missedWhy).toBe(0);
      // Frames whose outputs all arrived but late (the two shared cores: five board processes, process starts
      // and other work), and frames lost with no restart near: reported with their cause and time, bounded.
      const hostMisses = run.counted.late + run.counted.other;
      expect(hostMisses, `host misses over ${HOST_MISS_FRACTION * 100}%: ${missedWhy}`).toBeLessThanOrEqual(
        Math.ceil(run.counted.frames * HOST_MISS_FRACTION),
      );
      if (hostMisses > 0)
        console.warn(`process-mode rotation, frames late or lost outside restarts: ${missedWhy}`);
      console.log(
        `process-mode rotation: ${JSON.stringify({ frames: r.trace.frames.length, misses: run.counted, starts: run.cluster.starts })}`,
      );
    }, 420_000);

    it('a board killed with SIGKILL and one stopped with SIGSTOP are restarted and rejoin', async () => {
      const run = await start(12, { proactive: false, hangAfterMs: 1500 });
      let phase = 0;
      const r = await run.fly(flight(120), (started) =>
        watch(started, () => {
          const rep = started.recovery()?.report();
          if (rep === undefined) return false;
          if (phase === 0 && started.scheduler.now() > 3000) {
            started.cluster.crashBoard('b2'); // kill -9
            phase = 1;
          } else if (phase === 1 && completed(rep, 'b2', 'crash') >= 1) {
            started.cluster.signal('b1', 'SIGSTOP'); // a hang
            phase = 2;
          }
          return phase === 2 && completed(rep, 'b1', 'crash') >= 1;
        }),
      );
      const rep = run.recovery()!.report();
      const counters = run.loop()!.counters.toJSON();
      const why = JSON.stringify({ records: rep.records, counters, misses: run.counted });
      expect(completed(rep, 'b2', 'crash'), why).toBe(1);
      expect(completed(rep, 'b1', 'crash'), why).toBe(1);
      expect(counters['recovery.crash-detected'], why).toBe(1);
      expect(counters['recovery.hang-detected'], why).toBe(1);
      // Both came back with fresh keys that every other board holds.
      for (const p of [3, 202, 2, 201]) {
        expect(rep.keys[p]?.epoch, `principal ${p}: ${why}`).toBe(1);
        expect(rep.keys[p]?.oldestHeld, `principal ${p}: ${why}`).toBe(1);
      }
      expect(r.trace.frames.filter((f) => f.outcome === 'failsafe').length, why).toBe(0);
      console.log(
        `process-mode crash and hang: ${JSON.stringify({ misses: run.counted, starts: run.cluster.starts })}`,
      );
    }, 300_000);
  },
);
