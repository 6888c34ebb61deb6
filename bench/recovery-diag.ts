/**
 * `npm run bench:recovery-diag`: where process mode's missed frames come from while the boards restart. Runs the
 * process mode of the recovery tests (bench/soak-harness.ts: config/serial-mesh.json, a board process per board
 * on a pty mesh, the rig and the voter's board here, the coordinator restarting the boards make-before-break)
 * and prints one JSON object: for every frame not written, its cause and what was seen around it, and for
 * every restart when each of its phases ended.
 *
 * Causes, first that applies:
 * - late-outputs: f+1 or more authentic outputs reached the voter's board, after the deadline (the host was slow);
 * - restart-removed-output: fewer than f+1 arrived and a channel whose board was restarting was among the
 *   missing (the restart cost the frame);
 * - no-batch: no output at all (ordering stalled: no batch executed in time), with the view change and the host
 *   stalls (per board: its timer lateness, CPU wait, GC) reported in the frames around;
 * - too-few-outputs: some but fewer than f+1, no restarting board among the missing.
 * Each frame also says which restart was in progress (the soak's 'proactive'/'crash' attribution), the voter's
 * view of each channel, and the rig's own event-loop lateness in the frame.
 *
 * Options: --seconds S (flight, default 90), --period S (recovery period, default 10), --rate HZ (default 10),
 * --seed N, --rotations R (stop once every board restarted R times, default 2).
 *
 * @example
 * npm run bench:recovery-diag -- --seconds 120 --rotations 3
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Scenario } from '../hil/scenario.ts';
import { loadTopology } from '../src/runtime/config.ts';
import type { HostReport } from '../src/runtime/node/ipc.ts';
import type { FrameRecord } from '../src/runtime/report/trace.ts';
import { type RecoveryRun, startRecoveryRun } from './soak-harness.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    period: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10' },
    seed: { type: 'string', default: '21' },
    rotations: { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const rotations = Number(values.rotations);
if (!(seconds > 0 && rate > 0 && rotations >= 0)) {
  process.stderr.write('recovery-diag: --seconds, --rate must be positive, --rotations >= 0\n');
  process.exit(2);
}

/** Host reports kept (a stalled host sends at most 50 a second per board). */
const MAX_REPORTS = 50_000;
/** Frames around a missed one whose host reports and views are quoted. */
const AROUND = 2;

interface FrameSeen {
  readonly record: FrameRecord;
  readonly restart: string | undefined;
  readonly restartingBoards: readonly string[];
  readonly voter: readonly string[];
  readonly rigLateMs: number;
}

const topology = { ...loadTopology('config/serial-mesh.json'), frameRateHz: rate };
const periodMs = 1000 / rate;
const quorum = topology.f + 1;
const dir = mkdtempSync(join(tmpdir(), 'triplex-recovery-diag-'));
const seen: FrameSeen[] = [];
const reports: HostReport[] = [];
let epochZero = 0;
let lastFrameAt = 0;
let rigLateMax = 0;
let run: RecoveryRun | undefined;
const load = { before: loadavg().map((x) => Number(x.toFixed(2))), after: [] as number[] };

const scenario: Scenario = {
  name: 'recovery-diag',
  description: 'pilot steps while the boards restart',
  durationS: seconds,
  pilot: [
    { atS: 0.5, pitch: 0.1 },
    { atS: seconds / 2, pitch: -0.05 },
  ],
  events: [],
  maxConsecutiveMisses: 1_000_000,
};

try {
  run = await startRecoveryRun({
    topology,
    seed: Number(values.seed),
    workDir: dir,
    recovery: { periodSeconds: Number(values.period), restartSeconds: 1, handoverSeconds: 0.25 },
    onFrame: (record) => {
      const now = performance.now();
      // The rig's own lateness: how far past a period since the last frame was recorded.
      const late = lastFrameAt > 0 ? Math.max(0, now - lastFrameAt - periodMs) : 0;
      lastFrameAt = now;
      rigLateMax = Math.max(rigLateMax, late);
      for (const r of run?.cluster.takeHostReports() ?? []) if (reports.length < MAX_REPORTS) reports.push(r);
      const recovery = run?.recovery();
      const restartingBoards = recovery?.report().inProgress ?? [];
      const health = run?.loop()?.voterHealth() ?? [];
      seen.push({
        record,
        restart: recovery?.restartingAt(record.t * 1000),
        restartingBoards,
        voter: health.map((h) =>
          h.latched ? 'latched' : h.probation > 0 ? 'probation' : h.consecutiveSilent > 0 ? 'silent' : 'ok',
        ),
        rigLateMs: Number(late.toFixed(1)),
      });
    },
  });
  const started = run;
  await started.fly(scenario, (r) => {
    epochZero = performance.timeOrigin + performance.now();
    const tick = (): void => {
      const rep = r.recovery()?.report();
      const done =
        rep !== undefined &&
        started.cluster.boards.every(
          (b) => rep.records.filter((x) => x.board === b && x.rejoinedAtMs !== undefined).length >= rotations,
        );
      if (done && rotations > 0) r.stop();
      else setTimeout(tick, 200).unref();
    };
    tick();
  });
  load.after = loadavg().map((x) => Number(x.toFixed(2)));
  const rep = started.recovery()!.report();
  const arrivals = started.arrivals;
  const boardOfChannel = topology.channels.map((c) => c.board);
  const frameOf = (r: HostReport): { first: number; last: number } => {
    const end = r.endedAt - epochZero;
    return { first: Math.floor((end - r.windowMs) / periodMs), last: Math.floor(end / periodMs) };
  };
  const missed = seen
    .filter((s) => s.record.outcome !== 'write')
    .map((s) => {
      const f = s.record.frame;
      const got = arrivals.get(f) ?? 0;
      const missing = s.record.channels.flatMap((v, i) => (v === null ? [i] : []));
      const restartingMissing = missing.filter((c) =>
        s.restartingBoards.some(
          (x) => x.startsWith('channel-') && Number(x.slice(8)) === topology.channels[c]?.id,
        ),
      );
      const around = seen.filter((o) => Math.abs(o.record.frame - f) <= AROUND);
      const viewChange = new Set(around.map((o) => o.record.view)).size > 1;
      const stalls = reports
        .filter((r) => {
          const w = frameOf(r);
          return w.last >= f - AROUND && w.first <= f + AROUND;
        })
        .map((r) => ({
          board: r.board,
          loopDelayMs: r.loopDelayMs,
          cpuWaitMs: r.cpuWaitMs,
          gcMs: r.gcMs,
          ...(r.counters ? { counters: r.counters } : {}),
        }));
      const cause =
        got >= quorum
          ? 'late-outputs'
          : restartingMissing.length > 0
            ? 'restart-removed-output'
            : got === 0
              ? 'no-batch'
              : 'too-few-outputs';
      return {
        frame: f,
        t: s.record.t,
        outcome: s.record.outcome,
        cause,
        outputsArrived: got,
        missingChannels: missing.map((c) => `c${c}@${boardOfChannel[c]}`),
        restartInProgress: s.restart ?? null,
        restarting: s.restartingBoards,
        view: s.record.view,
        viewChangeNear: viewChange,
        voter: s.voter,
        rigLateMs: s.rigLateMs,
        hostStalls: stalls.slice(0, 12),
      };
    });
  const byCause: Record<string, number> = {};
  for (const m of missed) byCause[m.cause] = (byCause[m.cause] ?? 0) + 1;
  const restarts = rep.records.map((r) => ({
    board: r.board,
    cause: r.cause,
    startedAtMs: Math.round(r.startedAtMs),
    stoppedAtMs: r.stoppedAtMs !== undefined ? Math.round(r.stoppedAtMs) : null,
    upAtMs: r.startedRolesAtMs !== undefined ? Math.round(r.startedRolesAtMs) : null,
    rejoinedAtMs: r.rejoinedAtMs !== undefined ? Math.round(r.rejoinedAtMs) : null,
    handover: r.handover ?? null,
    gaveUp: r.gaveUp ?? false,
    roles: r.roles.map((x) => ({
      role: `${x.kind}-${x.id}`,
      rejoinedAtMs: x.rejoinedAtMs !== undefined ? Math.round(x.rejoinedAtMs) : null,
    })),
  }));
  process.stdout.write(
    `${JSON.stringify(
      {
        load,
        rateHz: rate,
        frames: seen.length,
        missed: missed.length,
        byCause,
        misses: started.counted,
        rigLateMaxMs: Number(rigLateMax.toFixed(1)),
        starts: started.cluster.starts,
        scheduling: started.cluster.relayScheduling,
        counters: started.loop()?.counters.toJSON(),
        restarts,
        missedFrames: missed,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await run?.close();
  rmSync(dir, { recursive: true, force: true });
}
