/**
 * Ctrl-C and SIGTERM against the real `triplex sim` process, at seeded random moments from the start of the
 * flight to the end of the report write, some right as the report is being written, some with a second signal
 * close behind the first (a terminal and a launcher each send one): every time, the report folder is complete
 * (report.html whole, summary.json parses, one CSV row per frame flown), an interrupted run says so and judges
 * only what it flew, and the exit code is 130.
 *
 * Replay one trial: TRIPLEX_INTERRUPT_SEED=<seed> npx vitest run test/cli/interrupt.test.ts
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.ts';
import { start } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-cli-interrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DURATION_S = 1.5;
const RATE_HZ = 50;
const TRIALS = 6;
const FIRST_SEED = Number(process.env['TRIPLEX_INTERRUPT_SEED'] ?? 1);
const trials = process.env['TRIPLEX_INTERRUPT_SEED'] ? 1 : TRIALS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `file` exists (polled often, so that a signal can land inside the report write). */
async function appears(file: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(file)) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

/** A whole report.html: the document closes, and every element that opens closes. */
function expectCompleteHtml(html: string, seed: number): void {
  expect(html.startsWith('<!doctype html>'), `seed ${seed}`).toBe(true);
  expect(html.trimEnd().endsWith('</body></html>'), `seed ${seed}: report.html cut short`).toBe(true);
  for (const tag of ['svg', 'table', 'figure', 'h2']) {
    const opened = html.match(new RegExp(`<${tag}[ >]`, 'g'))?.length ?? 0;
    const closed = html.match(new RegExp(`</${tag}>`, 'g'))?.length ?? 0;
    expect(closed, `seed ${seed}: <${tag}> opened ${opened}, closed ${closed}`).toBe(opened);
  }
}

interface Trial {
  readonly seed: number;
  readonly signal: 'SIGINT' | 'SIGTERM';
  /** ms after the first frame; undefined: at the report write (when summary.json appears). */
  readonly delayMs: number | undefined;
  /** A second signal this long after the first. */
  readonly againMs: number | undefined;
}

function plan(seed: number): Trial {
  const rng = new Prng(seed);
  const atWrite = rng.int(3) === 0;
  return {
    seed,
    signal: rng.int(4) === 0 ? 'SIGTERM' : 'SIGINT',
    delayMs: atWrite ? undefined : rng.int(DURATION_S * 1000 + 300),
    againMs: rng.int(2) === 0 ? 1 + rng.int(40) : undefined,
  };
}

async function runTrial(t: Trial): Promise<string> {
  const out = join(dir, `run-${t.seed}`);
  const { child, done, stderrMatches } = start([
    'sim',
    '--duration',
    String(DURATION_S),
    '--rate',
    String(RATE_HZ),
    '--seed',
    String(t.seed),
    '--out',
    out,
  ]);
  // The live status prints a line at the first frame (on a pipe, then every 2 s): the flight has begun.
  expect(await stderrMatches(/frame 1\//), `seed ${t.seed}: the flight never started`).toBe(true);
  if (t.delayMs === undefined) await appears(join(out, 'summary.json'), 60_000);
  else await sleep(t.delayMs);
  const htmlBefore = existsSync(join(out, 'report.html'));
  child.kill(t.signal);
  if (t.againMs !== undefined) {
    await sleep(t.againMs);
    child.kill('SIGINT');
  }
  const r = await done;
  const what = `seed ${t.seed} (${JSON.stringify(t)}): exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`;
  // Never killed by the signal while it matters. A repeated signal that lands while Node tears the process down,
  // after the report is on disk, meets the default action (libuv has closed its signal handles by then); a shell
  // reports that death as 130 too. So a death by SIGINT passes only with a complete, interrupted summary below.
  const diedInTeardown = r.signal === 'SIGINT' && t.againMs !== undefined;
  if (!diedInTeardown) expect(r.signal, what).toBeNull();
  // A signal after the report was complete may find the run already decided (0 or 1); before, it is an interrupt.
  if (!htmlBefore && !diedInTeardown) expect(r.code, what).toBe(130);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expectCompleteHtml(html, t.seed);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const csv = readFileSync(join(out, 'trace.csv'), 'utf8').trim().split('\n');
  expect(csv.length, what).toBe(summary.framesFlown + 1);
  if (r.code === 130 || (diedInTeardown && !htmlBefore)) {
    expect(summary.verdict.state === 'interrupted' || !summary.stoppedEarly, what).toBe(true);
    if (summary.stoppedEarly) {
      expect(html).toContain('<div class="verdict interrupted">INTERRUPTED after');
      // Judged on what it flew: no assertion about an event the run did not reach.
      const flownS = summary.framesFlown / RATE_HZ;
      const names: string[] = summary.assertions.map((a: { name: string }) => a.name);
      if (flownS < DURATION_S * 0.25) expect(names, what).not.toContain('c1-latched');
      if (flownS < DURATION_S * 0.65) expect(names, what).not.toContain('view-change-after-primary-crash');
    }
  }
  return `${t.signal}${t.againMs !== undefined ? ' x2' : ''} ${t.delayMs === undefined ? 'at the report write' : `at +${t.delayMs} ms`}: exit ${r.code}, ${summary.framesFlown} frames`;
}

describe('interrupting triplex sim', () => {
  it(`leaves a complete report every time (${trials} seeded trials)`, async () => {
    const seeds = Array.from({ length: trials }, (_, i) => FIRST_SEED + i);
    const lines: string[] = [];
    // Two at a time: the machine has two cores, and each run flies real-time frames.
    for (let i = 0; i < seeds.length; i += 2) {
      const batch = seeds.slice(i, i + 2).map((s) => runTrial(plan(s)).then((l) => `seed ${s}: ${l}`));
      lines.push(...(await Promise.all(batch)));
    }
    console.log(lines.join('\n'));
  }, 300_000);
});
