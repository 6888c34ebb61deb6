/**
 * `--json` through the launchers a user types: the README's `npm start --silent -- --json` and `npx triplex sim
 * --json` print only the JSON summary on stdout (npm's own banner would break it without --silent; the live
 * status and npm's error lines go to stderr), and the exit code is the run's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runToExit } from '../../src/runtime/process/child.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-cli-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runToExit({ command, args }, { timeoutMs: 120_000, cwd: process.cwd() });
}

describe('--json on stdout', () => {
  for (const [name, command, args] of [
    ['npm start --silent -- --json', 'npm', ['start', '--silent', '--']],
    ['npx triplex sim --json', 'npx', ['--no-install', 'triplex', 'sim']],
  ] as const) {
    it(`${name}: stdout is exactly one JSON document`, async () => {
      const out = join(dir, name.replace(/\W+/g, '-'));
      const r = await run(command, [...args, '--json', '--duration', '1', '--seed', '2', '--out', out]);
      expect([0, 1], r.stderr).toContain(r.code); // passed or failed (a busy machine): not a crash
      const summary = JSON.parse(r.stdout); // throws on a banner or any other line
      expect(summary.framesFlown).toBe(50);
      expect(summary.verdict.state).toBe(r.code === 0 ? 'passed' : 'failed');
      expect(existsSync(summary.report.html)).toBe(true);
      expect(r.stderr).toMatch(/frame \d+\/50/); // the live status went to stderr
    }, 150_000);
  }
});
