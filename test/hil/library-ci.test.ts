/**
 * The CI-sized subset of the scenario library (scenarios tagged `ci`, one per component of the grid), flown in
 * lockstep exactly as `triplex hil run library --tag ci` flies them. The whole library is `npm run hil:library`.
 * Replay a failure: `npx tsx src/cli/main.ts hil run <name> --lockstep` (the seed is in the scenario file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPONENTS } from '../../hil/grid.ts';
import { loadLibrary } from '../../hil/library.ts';
import { runScenario } from '../../hil/run.ts';
import type { Trace } from '../../src/runtime/report/trace.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-hil-ci-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const references = new Map<string, Trace>();
const ci = loadLibrary()
  .filter((e) => e.loaded?.scenario.spec?.tags.includes('ci'))
  .map((e) => e.loaded!);

describe('the CI subset of the scenario library (lockstep)', () => {
  it('touches every component of the grid', () => {
    const components = new Set(ci.flatMap((l) => l.scenario.faults!.map((f) => f.component)));
    expect([...components].sort()).toEqual([...COMPONENTS].sort());
  });

  for (const loaded of ci) {
    it(`${loaded.scenario.name}: ${loaded.scenario.spec!.promise ?? loaded.scenario.description}`, async () => {
      const o = await runScenario(loaded, {
        timing: 'lockstep',
        out: dir,
        logger: pino({ level: 'silent' }),
        requireHardware: false,
        pace: false,
        probeTimeoutMs: 200,
        references,
      });
      const failed = o.assertions.filter((a) => !a.passed);
      expect(failed, `replay: npx tsx src/cli/main.ts hil run ${loaded.file} --lockstep`).toEqual([]);
      expect(o.verdict).toBe('pass');
      expect(o.faults.every((f) => f.status === 'applied')).toBe(true);
    }, 60_000);
  }
});
