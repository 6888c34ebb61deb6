/**
 * `npm start` on a busy machine: runs it N times, one after another, with K CPU-bound background processes at
 * nice 10 running the whole time, and prints JSON: how many runs passed, each run's worst event-loop delay and
 * CPU wait, and for each failed run the episodes without a write with their attributed causes (host stall,
 * link, protocol), so that every failure is explained.
 *
 *   npm run bench:busy -- [--runs 10] [--background 2] [--duration 20] [--processes] [--link can]
 *
 * The background processes are killed on every way out (end, error, Ctrl-C).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions } from '../src/cli/args.ts';

const parsed = parseOptions(process.argv.slice(2), {
  runs: { type: 'number', min: 1, max: 100, integer: true },
  background: { type: 'number', min: 0, max: 16, integer: true },
  duration: { type: 'number', min: 1, max: 600, unit: 's' },
  processes: { type: 'boolean' },
  link: { type: 'choice', choices: ['serial', 'can'] },
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

function npmStart(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
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
    const child = spawn('npm', [...args, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const round = (x: number): number => Number(x.toFixed(2));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-busy-'));
  const burners = startBackground(background);
  const stop = (): void => {
    stopAll(burners);
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const loadStart = loadavg().map(round);
  const results: Record<string, unknown>[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = await npmStart(join(dir, `run-${i}`));
      let s: Summary;
      try {
        s = JSON.parse(r.stdout) as Summary;
      } catch {
        results.push({ run: i, passed: false, exitCode: r.code, error: r.stderr.slice(-2000) });
        continue;
      }
      results.push({
        run: i,
        passed: s.passed,
        exitCode: r.code,
        verdict: s.verdict.headline,
        voter: s.voter,
        worstEventLoopDelayMs: s.host.eventLoopDelayMs.max,
        eventLoopDelayP99Ms: s.host.eventLoopDelayMs.p99,
        worstFrameCpuWaitMs: s.host.worstFrameCpuWaitMs,
        worstFrameLagMs: s.host.worstFrameLagMs,
        loadAverage: s.host.loadAverage,
        episodes: s.episodesTotal,
        causes: s.causes,
        ...(s.passed
          ? {}
          : {
              failures: s.episodes
                .filter((e) => e.kind === 'failsafe' || e.length > 1)
                .slice(0, 8)
                .map(
                  (e) => `${e.kind} frames ${e.first}-${e.last}: ${e.causes.map((c) => c.detail).join('; ')}`,
                ),
            }),
      });
      process.stderr.write(`run ${i + 1}/${runs}: ${s.verdict.headline}\n`);
    }
  } finally {
    stopAll(burners);
    rmSync(dir, { recursive: true, force: true });
  }
  const explained = results.filter(
    (r) => r['passed'] === true || (r['causes'] !== undefined && !('unexplained' in (r['causes'] as object))),
  ).length;
  const report = {
    bench: 'busy-start',
    command: `npm start --silent -- --json --no-status --duration ${duration}${extra.length ? ` ${extra.join(' ')}` : ''}`,
    runs,
    passed: results.filter((r) => r['passed'] === true).length,
    failedRunsFullyExplained: explained - results.filter((r) => r['passed'] === true).length,
    backgroundProcesses: { count: background, nice: 10, kind: 'CPU-bound busy loop' },
    loadAverage: { start: loadStart, end: loadavg().map(round) },
    worstEventLoopDelayMs: results.map((r) => r['worstEventLoopDelayMs'] ?? null),
    results,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:busy: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
