/**
 * `npm run bench:recovery-diag`: where process mode's missed frames come from while the boards restart. Runs the
 * process mode of the recovery tests (bench/soak-harness.ts: config/serial-mesh.json, a board process per board
 * on a pty mesh, the rig and the voter's board here, the coordinator restarting the boards make-before-break)
 * and prints one JSON object: for every frame not written, its cause and what was seen around it, and for
 * every restart when each of its phases ended.
 *
 * Causes, first that applies:
 * - late-outputs: f+1 or more authentic outputs reached the voter's board, after the deadline (the host was slow);
 * - no-batch: no output at all (ordering stalled: no batch executed in time), with the view change and the host
 *   stalls (per board: its timer lateness, CPU wait, GC) reported in the frames around;
 * - restart-removed-output: some but fewer than f+1 arrived and a channel whose board was restarting was among
 *   the missing (the restart cost the frame);
 * - too-few-outputs: some but fewer than f+1, no restarting board among the missing.
 * Each frame also says which restart was in progress (the soak's 'proactive'/'crash' attribution), the voter's
 * view of each channel, the rig's own event-loop lateness in the frame, and who used the CPU in the frames before
 * it (sampled from /proc every 100 ms: this run's processes by role and real-time priority, others by name).
 *
 * Options: --seconds S (flight, default 90), --period S (recovery period, default 10), --rate HZ (default 10),
 * --seed N, --rotations R (stop once every board restarted R times, default 2), --profile DIR (every board
 * process writes a V8 CPU profile there as it exits).
 *
 * @example
 * npm run bench:recovery-diag -- --seconds 120 --rotations 3
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
    profile: { type: 'string' },
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

/** CPU sampling period, ms: who ran in the frames around a missed one. */
const SAMPLE_MS = 100;
/** CPU samples kept (at SAMPLE_MS: 100 minutes). */
const MAX_SAMPLES = 60_000;
/** Clock ticks per second of /proc/<pid>/stat. */
const USER_HZ = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** User + system CPU, ms. */
  readonly cpuMs: number;
  readonly policy: number;
  readonly rtprio: number;
}

function readStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'latin1');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.push({
        pid: Number(e),
        ppid: Number(f[1]),
        comm,
        cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ,
        rtprio: Number(f[37]),
        policy: Number(f[38]),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** One sample: CPU ms used since the previous one, by what ran (this run's processes by role, the rest by name). */
interface CpuSample {
  readonly atMs: number;
  readonly by: Record<string, number>;
  /** Each board's counters (its latest status) and link frames in/out, at the sample. */
  readonly counters: Record<string, Readonly<Record<string, number>>>;
}

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
const cpu: CpuSample[] = [];
let lastStats = new Map<number, ProcStat>();
/** Per thread (pid/tid/user|sys): CPU ms at the previous sample. */
const lastThreads = new Map<string, number>();
let sampler: NodeJS.Timeout | undefined;
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
    ...(values.profile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] } : {}),
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
    sampler = setInterval(() => sampleCpu(started), SAMPLE_MS);
    sampler.unref();
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
  clearInterval(sampler);
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
      // All missing is no batch (ordering), whoever is restarting; a restart removed the output only when the
      // restarting channel's absence is what left the frame short.
      const cause =
        got >= quorum
          ? 'late-outputs'
          : got === 0 || missing.length === topology.channels.length
            ? 'no-batch'
            : restartingMissing.length > 0
              ? 'restart-removed-output'
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
        cpuAround: cpuAround(f),
        countersAround: countersAround(f),
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
  clearInterval(sampler);
  await run?.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Names this run's processes by role: the rig (this process), board processes (current or loading), relays. */
function roleOf(p: ProcStat, r: RecoveryRun): string | undefined {
  if (p.pid === process.pid) return 'rig';
  for (const b of r.cluster.boards) if (r.cluster.pid(b) === p.pid) return `board:${b}`;
  if (p.ppid === process.pid && p.comm === 'socat') return 'relay';
  if (p.ppid === process.pid) return `child:${p.comm}`;
  return undefined;
}

function sampleCpu(r: RecoveryRun): void {
  const now = performance.timeOrigin + performance.now() - epochZero;
  const stats = readStats();
  const next = new Map<number, ProcStat>();
  const by: Record<string, number> = {};
  for (const p of stats) {
    next.set(p.pid, p);
    const before = lastStats.get(p.pid);
    const used = before === undefined ? 0 : p.cpuMs - before.cpuMs;
    const role = roleOf(p, r);
    const threads = role !== undefined ? threadUse(p.pid) : [];
    if (used <= 0) continue;
    const rt = p.policy === 1 || p.policy === 2 ? `:rt${p.rtprio}` : '';
    const name = `${role ?? `other:${p.comm}`}${rt}`;
    by[name] = (by[name] ?? 0) + used;
    // This run's processes by thread too (user and system time apart): which thread of a board runs.
    for (const [k, v] of threads) by[`${role}/${k}`] = v;
  }
  lastStats = next;
  const counters: Record<string, Record<string, number>> = {};
  for (const [b, st] of Object.entries(r.cluster.statuses())) {
    if (!('counters' in st)) continue;
    counters[b] = { ...st.counters, 'link.framesIn': st.link.framesIn, 'link.framesOut': st.link.framesOut };
  }
  if (cpu.length < MAX_SAMPLES) cpu.push({ atMs: Math.round(now), by, counters });
}

/** CPU ms per thread name and kind (user, sys) of `pid` since the previous call. */
function threadUse(pid: number): [string, number][] {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const t of tasks) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      for (const [kind, v] of [
        ['user', Number(f[11])],
        ['sys', Number(f[12])],
      ] as const) {
        const key = `${pid}/${t}/${kind}`;
        const ms = (v * 1000) / USER_HZ;
        const used = ms - (lastThreads.get(key) ?? ms);
        lastThreads.set(key, ms);
        // Node names no thread: the main (JavaScript) thread apart from all the others.
        const name = `${t === String(pid) ? 'main' : comm === 'node' ? 'others' : comm}:${kind}`;
        if (used > 0) out.set(name, (out.get(name) ?? 0) + used);
      }
    } catch {
      // gone meanwhile
    }
  }
  return [...out];
}

/** CPU ms by what ran in the frames f-AROUND .. f (the second before a missed frame's deadline, roughly). */
function cpuAround(f: number): Record<string, number> {
  const from = (f - AROUND) * periodMs;
  const to = (f + 1) * periodMs;
  const out: Record<string, number> = {};
  for (const c of cpu) {
    if (c.atMs < from || c.atMs > to + SAMPLE_MS) continue;
    for (const [k, v] of Object.entries(c.by)) out[k] = (out[k] ?? 0) + v;
  }
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8),
  );
}

/** Per board, the counters that moved most in the frames f-AROUND .. f (deltas between status samples). */
function countersAround(f: number): Record<string, Record<string, number>> {
  const from = (f - AROUND) * periodMs;
  const to = (f + 1) * periodMs + SAMPLE_MS;
  const inWindow = cpu.filter((c) => c.atMs >= from && c.atMs <= to);
  const first = inWindow[0];
  const last = inWindow.at(-1);
  if (first === undefined || last === undefined) return {};
  const out: Record<string, Record<string, number>> = {};
  for (const [b, now] of Object.entries(last.counters)) {
    const before = first.counters[b] ?? {};
    const moved = Object.entries(now)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, d]) => d > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6);
    if (moved.length > 0) out[b] = Object.fromEntries(moved);
  }
  return out;
}
