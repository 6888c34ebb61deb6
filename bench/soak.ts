/**
 * Soak and rotation loop of proactive recovery in process mode (bench/soak-harness.ts): the board processes on
 * a pty serial mesh restarted on a compressed schedule while the rig flies, one JSON line a minute (frames,
 * misses by cause, restarts, heap and RSS of every process) and a summary at the end.
 *
 *   npm run soak -- --minutes 60                 # 50 Hz, restarts throughout
 *   npm run soak:rotations -- --rotations 100    # until every board process restarted 100 times
 *
 * Options: --minutes M (default 1), --rotations N (stop once every board recovered N times; the flight is then
 * up to --minutes long, default 600), --rate HZ (default 50), --period S (recovery period, default 10: steps
 * queue and run back to back when restarts take longer), --seed N, --config FILE (default
 * config/serial-mesh.json), --no-proactive (crashes and hangs restarted only: the same flight without the
 * scheduled restarts, a control), --pace (pace the serial links at their baud rate), --keep DIR (keep the board
 * processes' logs and work directory there instead of a temporary directory removed at the end), --log LEVEL
 * (the rig's own log, pino JSON on stderr; default silent), --board-log LEVEL (the board processes' logs, in
 * the work directory's logs/; default warn), --node-args 'FLAGS' (Node flags for the board processes, e.g.
 * '--perf-basic-prof-only-functions' so that `perf` names their JavaScript frames).
 * Each minute's line also has every board's last recovery status (view, primary, active, last executed,
 * recovering, rebuilding) and the voter's channel health: what a run that stopped writing was stuck on.
 * Misses by cause: `proactive`/`crash` = fewer than f+1 outputs reached the voter while such a restart was in
 * progress; `afterRestart` = too few within RESTART_SETTLE_MS (3 s) after a rejoin; `late` = f+1 arrived after
 * the deadline (the host); `other` = too few, no restart in progress or settling.
 * A second without a write prints a `stall` line (soak-stall.ts: the rig's links, the boards, the restarts in
 * progress, every process's scheduling state), again every 5 s while it lasts, and `stallEnded` when writes
 * come back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadTopology } from '../src/runtime/config.ts';
import { childrenNamed } from '../src/runtime/node/child-scheduling.ts';
import { breakdownTotals, type MissesByCause, restartBreakdown, startRecoveryRun } from './soak-harness.ts';
import { processState, StallWatch } from './soak-stall.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    rotations: { type: 'string' },
    rate: { type: 'string', default: '50' },
    period: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    config: { type: 'string', default: 'config/serial-mesh.json' },
    pace: { type: 'boolean', default: false },
    'no-proactive': { type: 'boolean', default: false },
    keep: { type: 'string' },
    log: { type: 'string', default: 'silent' },
    'board-log': { type: 'string', default: 'warn' },
    'node-args': { type: 'string' },
  },
});

const rotations = values.rotations === undefined ? undefined : Number(values.rotations);
const minutes = Number(values.minutes ?? (rotations !== undefined ? 600 : 1));
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0) || (rotations !== undefined && !(rotations >= 1))) {
  process.stderr.write('usage: soak [--minutes M] [--rotations N] [--rate HZ] [--period S] [--seed N]\n');
  process.exit(2);
}
const topology = { ...loadTopology(values.config), frameRateHz: rate };
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'triplex-soak-'));
const logger = pino({ level: values.log }, pino.destination(2));
const remote = topology.boards.map((b) => b.name).filter((b) => b !== topology.voters[0]!.board);

function memoryOf(): Record<string, { heapMB: number; rssMB: number } | 'starting'> {
  const mb = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10;
  const out: Record<string, { heapMB: number; rssMB: number } | 'starting'> = {};
  const self = process.memoryUsage();
  out['rig'] = { heapMB: mb(self.heapUsed), rssMB: mb(self.rss) };
  for (const [b, m] of Object.entries(run.cluster.memory()))
    out[b] = m === undefined ? 'starting' : { heapMB: mb(m.heapUsed), rssMB: mb(m.rss) };
  return out;
}

/** Where each board is (its last status) and how the voter judges each channel: what a stuck run waits on. */
function boardsOf(): Record<string, object> {
  const out: Record<string, object> = {};
  const statuses = run.cluster.statuses();
  for (const b of run.cluster.boards) {
    const s = run.cluster.recoveryStatus(b);
    const st = statuses[b];
    const counters = st === undefined || 'exited' in st ? {} : st.counters;
    const recovery = Object.fromEntries(
      Object.entries(counters).filter(
        ([k]) =>
          k.startsWith('rebuild.') ||
          k.startsWith('channel.rebuild') ||
          k === 'channel.gap' ||
          k === 'replica.state-restored',
      ),
    );
    out[b] =
      s === undefined
        ? { alive: run.cluster.alive(b), status: 'none' }
        : {
            alive: run.cluster.alive(b),
            ageMs: Math.round(s.ageMs),
            restarted: s.status.restarted,
            ...(s.status.replica ? { replica: s.status.replica } : {}),
            ...(s.status.rebuilding !== undefined ? { rebuilding: s.status.rebuilding } : {}),
            ...(s.status.resyncing !== undefined ? { resyncing: s.status.resyncing } : {}),
            rebuild: recovery,
          };
  }
  return out;
}

function minus(a: MissesByCause & { frames: number }, b: MissesByCause & { frames: number }): object {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k as keyof typeof b] ?? 0)]));
}

/** What a stall waits on: the rig's links, the boards, the restarts in progress, and each process as Linux sees it. */
function stallSnapshot(): object {
  const links = Object.fromEntries(
    Object.entries(run.transport.peerStats()).map(([peer, l]) => [
      peer,
      {
        state: l.state,
        framesOut: l.framesOut,
        framesIn: l.framesIn,
        queuedBytes: l.queuedBytes,
        drops: l.drops,
        errors: l.errors,
        ...(l.lastError ? { lastError: l.lastError } : {}),
      },
    ]),
  );
  const rep = run.recovery()?.report();
  const processes: Record<string, object | undefined> = { rig: processState(process.pid) };
  for (const b of run.cluster.boards) {
    const pid = run.cluster.pid(b);
    processes[b] = pid === undefined ? undefined : { pid, ...processState(pid) };
  }
  return {
    load: loadavg().map((x) => Math.round(x * 100) / 100),
    rigLinks: links,
    inProgress: rep?.inProgress ?? [],
    restarts: (rep?.records ?? []).filter((r) => r.rejoinedAtMs === undefined).slice(-4),
    boards: boardsOf(),
    processes,
    socat: childrenNamed('socat').map((pid) => ({ pid, ...processState(pid) })),
  };
}
const stalls = new StallWatch({
  thresholdFrames: Math.round(rate),
  everyFrames: Math.round(5 * rate),
  snapshot: () => stallSnapshot(),
  write: (line) => process.stdout.write(`${line}\n`),
});

const run = await startRecoveryRun({
  topology,
  seed: Number(values.seed),
  workDir: dir,
  logger,
  onFrame: (record) => stalls.frame(record.frame, record.outcome === 'write'),
  logLevel: values['board-log'],
  ...(values['node-args'] ? { nodeArgs: values['node-args'].split(' ').filter((x) => x !== '') } : {}),
  pace: values.pace,
  recovery: {
    periodSeconds: Number(values.period),
    restartSeconds: 1,
    handoverSeconds: 0.25,
    ...(values['no-proactive'] ? { proactive: false } : {}),
  },
});
const durationS = minutes * 60;
let last = { ...run.counted };
let minute = 0;
const report = (): void => {
  minute++;
  const rep = run.recovery()?.report();
  const line = {
    minute,
    totals: { ...run.counted },
    lastMinute: minus(run.counted, last),
    recoveries: rep?.perBoard ?? {},
    memory: memoryOf(),
    boards: boardsOf(),
    voter: run.loop()?.voterHealth(),
  };
  last = { ...run.counted };
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
let timer: NodeJS.Timeout | undefined;
const result = await run.fly(
  {
    name: 'soak',
    description: 'pilot steps every 5 s while the board processes restart',
    durationS,
    pilot: Array.from({ length: Math.floor(durationS / 5) }, (_, i) => ({
      atS: 0.5 + i * 5,
      pitch: i % 2 === 0 ? 0.1 : -0.05,
    })),
    events: [],
    maxConsecutiveMisses: 1_000_000,
  },
  (started) => {
    timer = setInterval(report, 60_000);
    timer.unref();
    if (rotations !== undefined) {
      const check = setInterval(() => {
        const rep = started.recovery()?.report();
        if (rep === undefined) return;
        const done = remote.every(
          (b) => rep.records.filter((r) => r.board === b && r.rejoinedAtMs !== undefined).length >= rotations,
        );
        if (done) {
          clearInterval(check);
          started.stop();
        }
      }, 500);
      check.unref();
    }
  },
);
clearInterval(timer);
const rep = run.recovery()!.report();
const breakdown = restartBreakdown(run.recovery()!, run.missed);
if (values.keep !== undefined) {
  writeFileSync(join(dir, 'missed.json'), `${JSON.stringify(run.missed)}\n`);
  writeFileSync(join(dir, 'restarts.json'), `${JSON.stringify(breakdown, null, 1)}\n`);
}
process.stdout.write(
  `${JSON.stringify({
    summary: {
      rateHz: rate,
      frames: result.frames,
      misses: run.counted,
      byPhase: breakdownTotals(breakdown),
      load: loadavg().map((x) => Math.round(x * 100) / 100),
      failsafeFrames: (result.summary['voter'] as { failsafe: number }).failsafe,
      recoveries: rep.perBoard,
      gaveUp: rep.records.filter((r) => r.gaveUp).length,
      handovers: rep.records.filter((r) => r.handover !== undefined && !r.handover.timedOut).length,
      keys: rep.keys,
      staleKeys: Object.entries(rep.keys)
        .filter(([, k]) => k.oldestHeld !== k.epoch)
        .map(([p]) => Number(p)),
      starts: run.cluster.starts,
      counters: run.loop()?.counters.toJSON(),
      memory: memoryOf(),
    },
  })}\n`,
);
await run.close();
if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
