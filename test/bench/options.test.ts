/**
 * The benches that parse their options through `src/cli/args.ts` (scriptOptions), run for real: --help prints
 * the usage and exits 0 before anything is measured; an unknown option or a bad value is one sentence naming it,
 * and exit code 2.
 */
import { describe, expect, it } from 'vitest';
import { runToExit } from '../../src/runtime/process/child.ts';

const BENCHES = [
  'bench/links.ts',
  'bench/links/latency.ts',
  'bench/ordering-processes.ts',
  'bench/recovery.ts',
];

const bench = (file: string, args: readonly string[]) =>
  runToExit({ command: process.execPath, args: ['--import', 'tsx', file, ...args] }, { timeoutMs: 60_000 });

describe('bench options', () => {
  for (const file of BENCHES) {
    it(`${file}: --help prints the usage, an unknown option is a usage error`, async () => {
      const help = await bench(file, ['--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage: /);
      const bad = await bench(file, ['--bogus']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("unknown option '--bogus'");
      expect(bad.stdout).toBe('');
    });
  }

  it('a value out of its bounds names the option and the bounds', async () => {
    const links = await bench('bench/links.ts', ['--latency-rate', '0']);
    expect(links.code).toBe(2);
    expect(links.stderr).toContain("--latency-rate must be a number from 1 to 1000 (Hz), got '0'");
    const ordering = await bench('bench/ordering-processes.ts', ['--cases', 'null,2k']);
    expect(ordering.code).toBe(2);
    expect(ordering.stderr).toContain("unknown case '2k' (null, 1k)");
  });
});
