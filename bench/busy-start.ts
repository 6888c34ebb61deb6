/**
 * `npm start` on a busy machine (issue 15's first "must show"): starts K CPU-bound background processes at nice 10
 * (busy loops, in this script's session, so nice ranks them against the runs), runs `npm start` N times one
 * after another while they run, kills them, and prints JSON: how many runs passed, the worst event-loop delay
 * over all runs and per run, the scheduling each run got, the load average around each run, and for each failed
 * run its verdict and episodes without a write with their attributed causes (host stall, link, protocol), and
 * whether any was left unexplained.
 *
 *   npm run bench:busy -- [--runs 10] [--background 2] [--duration 20] [--processes] [--link serial|can]
 *                         [--realtime off|nice] [--keep DIR]
 *
 * `--keep DIR` keeps each run's report folder (DIR/run-N: summary.json, report.html, the logs) to look into.
 * `--realtime off` runs `npm start` as an unprivileged user gets it (TRIPLEX_REALTIME=off: no SCHED_FIFO, no
 * nice change); the default asks for real-time scheduling where permitted, as `npm start` does.
 * The background processes are killed on every way out (end, error, Ctrl-C); a run that hangs is killed after
 * its duration plus RUN_SLACK_S.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions } from '../src/cli/args.ts';
import { runToExit } from '../src/runtime/process/child.ts';

const parsed = parseOptions(process.argv.slice(2), {
  runs: { type: 'number', min: 1, max: 100, integer: true },
  background: { type: 'number', min: 0, max: 16, integer: true },
  duration: { type: 'number', min: 1, max: 600, unit: 's' },
  processes: { type: 'boolean' },
  link: { type: 'choice', choices: ['serial', 'can'] },
  realtime: { type: 'choice', choices: ['off', 'nice'] },
  keep: { type: 'string' },
});
if (!parsed.ok) {
  process.stderr.write(`bench:busy: ${parsed.message}\n`);
  process.exit(2);
}
const o = parsed.values;
const runs = o.runs ?? 10;
const background = o.background ?? 2;
const duration = o.duration ?? 20;
const extra = [...(o.processes ? ['--processes'] : []), ...(o.link ? ['--link', o.link] : [])];
const env = o.realtime ? { ...process.env, TRIPLEX_REALTIME: o.realtime } : process.env;
/** Seconds a run may take beyond its flight (start of four board processes on a loaded machine, the report). */
const RUN_SLACK_S = 240;

interface Episode {
  kind: string;
  first: number;
  last: number;
  length: number;
  causes: { kind: string; detail: string }[];
}

interface Summary {
  passed: boolean;
  verdict: { state: string; headline: string };
  voter: Record<string, number>;
  framesFlown: number;
  host: {
    eventLoopDelayMs: { p50: number; p99: number; max: number };
    worstFrameLoopDelayMs?: number;
    worstFrameCpuWaitMs?: number;
    worstFrameLagMs?: number;
    loadAverage?: number[];
    scheduling?: { summary?: string };
  };
  episodesTotal: number;
  causes: Record<string, number>;
  episodes: Episode[];
}

/** Busy loops at nice 10: CPU-bound background load, as a shared board or a laptop has. */
function startBackground(n: number): ChildProcess[] {
  return Array.from({ length: n }, () =>
    spawn('nice', ['-n', '10', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
}

function stopAll(children: readonly ChildProcess[]): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

async function npmStart(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [
    'start',
    '--silent',
    '--',
    '--json',
    '--no-status',
    '--duration',
    String(duration),
    '--out',
    out,
  ];
  // Not detached: the run stays in this session's autogroup with the background load, so nice 10 ranks them.
  // A hung run: SIGTERM (npm passes it on; the flight stops and closes its board processes), then SIGKILL.
  const r = await runToExit(
    { command: 'npm', args: [...args, ...extra] },
    { timeoutMs: (duration + RUN_SLACK_S) * 1000, stopGraceMs: 15_000, env },
  );
  const note = r.timedOut ? `\nbench:busy: run stopped after ${duration + RUN_SLACK_S} s\n` : '';
  return { code: r.code, stdout: r.stdout, stderr: r.stderr + note };
}

const round = (x: number): number => Number(x.toFixed(2));

/** The episodes that failed the run: failsafe ones first, then the longest; at most 8. */
function failingEpisodes(s: Summary): Episode[] {
  return [...s.episodes]
    .filter((e) => e.kind === 'failsafe' || e.length > 1)
    .sort((a, b) => Number(b.kind === 'failsafe') - Number(a.kind === 'failsafe') || b.length - a.length)
    .slice(0, 8);
}

/** One run's line in the JSON. */
function resultOf(i: number, s: Summary, code: number | null, loadBefore: number[]): Record<string, unknown> {
  const failing = s.passed ? [] : failingEpisodes(s);
  const unexplained = failing.filter((e) => e.causes.every((c) => c.kind === 'unexplained')).length;
  return {
    run: i,
    passed: s.passed,
    exitCode: code,
    verdict: s.verdict.headline,
    voter: s.voter,
    worstEventLoopDelayMs: s.host.eventLoopDelayMs.max,
    eventLoopDelayP99Ms: s.host.eventLoopDelayMs.p99,
    worstFrameCpuWaitMs: s.host.worstFrameCpuWaitMs,
    worstFrameLagMs: s.host.worstFrameLagMs,
    scheduling: s.host.scheduling?.summary,
    loadAverage: { before: loadBefore, end: s.host.loadAverage },
    episodes: s.episodesTotal,
    causes: s.causes,
    ...(s.passed
      ? {}
      : {
          failingEpisodesUnexplained: unexplained,
          failures: failing.map(
            (e) => `${e.kind} frames ${e.first}-${e.last}: ${e.causes.map((c) => c.detail).join('; ')}`,
          ),
        }),
  };
}

async function main(): Promise<void> {
  const dir = o.keep ?? mkdtempSync(join(tmpdir(), 'triplex-busy-'));
  const clean = (): void => {
    if (o.keep === undefined) rmSync(dir, { recursive: true, force: true });
  };
  const loadBefore = loadavg().map(round);
  const burners = startBackground(background);
  const stop = (): void => {
    stopAll(burners);
    clean();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const results: Record<string, unknown>[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const load = loadavg().map(round);
      const r = await npmStart(join(dir, `run-${i}`));
      let s: Summary;
      try {
        s = JSON.parse(r.stdout) as Summary;
      } catch {
        results.push({
          run: i,
          passed: false,
          exitCode: r.code,
          loadAverage: { before: load, end: loadavg().map(round) },
          error: `no summary on stdout: ${r.stderr.slice(-2000)}`,
        });
        process.stderr.write(`run ${i + 1}/${runs}: no summary (exit ${r.code})\n`);
        continue;
      }
      results.push(resultOf(i, s, r.code, load));
      process.stderr.write(`run ${i + 1}/${runs}: ${s.verdict.headline} (load ${load.join(' ')})\n`);
    }
  } finally {
    stopAll(burners);
    clean();
  }
  const passed = results.filter((r) => r['passed'] === true).length;
  const delays = results.map((r) => (r['worstEventLoopDelayMs'] as number | undefined) ?? null);
  const report = {
    bench: 'busy-start',
    command: `npm start --silent -- --json --no-status --duration ${duration}${extra.length ? ` ${extra.join(' ')}` : ''}`,
    realtime: o.realtime ?? 'as npm start asks (SCHED_FIFO where permitted)',
    runs,
    passed,
    failedRunsWithUnexplainedFailure: results.filter(
      (r) => r['passed'] !== true && ((r['failingEpisodesUnexplained'] as number | undefined) ?? 1) > 0,
    ).length,
    worstEventLoopDelayMs: Math.max(0, ...delays.filter((d): d is number => d !== null)),
    worstEventLoopDelayMsPerRun: delays,
    backgroundProcesses: { count: background, nice: 10, kind: 'CPU-bound busy loop, this session' },
    loadAverage: { beforeBackground: loadBefore, end: loadavg().map(round) },
    cpus: cpus().length,
    results,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:busy: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
