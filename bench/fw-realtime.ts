/**
 * Real-time flights with each voter build (issue 12's "`triplex sim` flies with the firmware voter", on real
 * timers, on this machine as loaded as it is): runs `triplex sim` N times per variant, the variants interleaved
 * so that each sees the same load, and prints JSON: passes per variant, and per run the verdict, the voter's
 * outcome counts, the load average before and after, the firmware unit's startup (boot, handshake round trips,
 * its scheduling, from the log) and, for a failed run, its worst episodes with their causes.
 *
 *   npm run fw:realtime -- [--runs 3] [--duration 20] [--voters ts,firmware-host,firmware-qemu]
 *                          [--modes in-process,processes] [--config FILE] [--keep DIR]
 *
 * `--modes processes` flies `triplex sim --processes` (board processes on a socat serial mesh, the voter's board
 * and the rig in the flight's process). `--config` applies to every run (default: each mode's own default
 * config). A run that hangs is stopped after its duration plus RUN_SLACK_S.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions } from '../src/cli/args.ts';
import { runToExit } from '../src/runtime/process/child.ts';

const parsed = parseOptions(process.argv.slice(2), {
  runs: { type: 'number', min: 1, max: 100, integer: true },
  duration: { type: 'number', min: 1, max: 600, unit: 's' },
  voters: { type: 'string' },
  modes: { type: 'string' },
  config: { type: 'string' },
  keep: { type: 'string' },
});
if (!parsed.ok) {
  process.stderr.write(`fw:realtime: ${parsed.message}\n`);
  process.exit(2);
}
const o = parsed.values;
const runs = o.runs ?? 3;
const duration = o.duration ?? 20;
const voters = (o.voters ?? 'ts,firmware-host,firmware-qemu').split(',');
const modes = (o.modes ?? 'in-process,processes').split(',');
for (const v of voters)
  if (!['ts', 'firmware-host', 'firmware-qemu'].includes(v)) throw new Error(`unknown voter ${v}`);
for (const m of modes) if (!['in-process', 'processes'].includes(m)) throw new Error(`unknown mode ${m}`);
/** Seconds a run may take beyond its flight (board processes' start on a loaded machine, the report). */
const RUN_SLACK_S = 240;

interface Summary {
  passed: boolean;
  verdict: { headline: string };
  voter: Record<string, number>;
  host: { loadAverage?: number[]; startMs?: number; scheduling?: { summary?: string } };
  episodes: { kind: string; first: number; last: number; length: number; causes: { detail: string }[] }[];
  counters: Record<string, number>;
}

async function sim(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runToExit(
    { command: 'npx', args: ['tsx', 'src/cli/main.ts', 'sim', ...args] },
    { timeoutMs: (duration + RUN_SLACK_S) * 1000, stopGraceMs: 15_000 },
  );
  const note = r.timedOut ? `\nfw:realtime: run stopped after ${duration + RUN_SLACK_S} s\n` : '';
  return { code: r.code, stdout: r.stdout, stderr: r.stderr + note };
}

/** The firmware voter's startup as its board logged it ('firmware voter ready'). */
function startupOf(logFile: string): unknown {
  try {
    for (const line of readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('firmware voter ready')) continue;
      return (JSON.parse(line) as { startup?: unknown }).startup;
    }
  } catch {
    // no log: the run failed before it wrote one
  }
  return undefined;
}

const round = (x: number): number => Number(x.toFixed(2));
const root = o.keep ?? mkdtempSync(join(tmpdir(), 'triplex-fw-realtime-'));
const results: Record<string, unknown>[] = [];
const passes: Record<string, { passed: number; runs: number }> = {};
for (let i = 0; i < runs; i++) {
  for (const mode of modes) {
    for (const voter of voters) {
      const variant = `${mode}/${voter}`;
      const out = join(root, `${mode}-${voter}-${i}`);
      const args = ['--json', '--no-status', '--duration', String(duration), '--voter', voter, '--out', out];
      if (mode === 'processes') args.push('--processes');
      if (o.config !== undefined) args.push('--config', o.config);
      const before = loadavg().map(round);
      const r = await sim(args);
      let s: Summary | undefined;
      try {
        s = JSON.parse(r.stdout) as Summary;
      } catch {
        s = undefined;
      }
      const p = passes[variant] ?? { passed: 0, runs: 0 };
      passes[variant] = p;
      p.runs++;
      if (s?.passed === true) p.passed++;
      results.push({
        variant,
        run: i,
        passed: s?.passed ?? false,
        exitCode: r.code,
        verdict: s?.verdict.headline ?? r.stderr.trim().split('\n').slice(-3).join(' | '),
        voter: s?.voter,
        startMs: s?.host.startMs,
        loadAverage: { before, end: s?.host.loadAverage },
        ...(voter === 'ts' ? {} : { firmware: startupOf(join(out, 'triplex.log')) }),
        ...(s !== undefined && !s.passed
          ? {
              episodes: s.episodes
                .filter((e) => e.kind === 'failsafe' || e.length > 1)
                .slice(0, 4)
                .map((e) => ({
                  kind: e.kind,
                  frames: `${e.first}-${e.last}`,
                  causes: e.causes.map((c) => c.detail.slice(0, 240)),
                })),
              firmwareCounters: Object.fromEntries(
                Object.entries(s.counters).filter(([k]) => /^(firmware|voter)\./.test(k)),
              ),
            }
          : {}),
      });
      process.stderr.write(`${variant} run ${i}: ${s?.passed ? 'passed' : 'FAILED'} (load ${before[0]})\n`);
    }
  }
}
if (o.keep === undefined) rmSync(root, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ duration, runs, passes, results }, null, 2)}\n`);
