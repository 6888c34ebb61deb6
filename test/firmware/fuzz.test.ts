/**
 * The firmware's decoder under ASan and UBSan survives the codec fuzzer's mutations with no crash and no
 * verdict other than the TypeScript codec's; a mutated link stream through a whole provisioned unit too.
 * CI-sized; `npm run fw:fuzz` runs 1,000,000 frames.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runFirmwareFuzz } from '../../bench/firmware/fuzz-run.ts';
import { BUILD_TIMEOUT_MS, buildFor, hostToolchain } from '../../src/runtime/firmware/toolchain.ts';

const host = hostToolchain();
if (!host.ok) console.warn(`firmware fuzz test skipped: ${host.reason}`);

beforeAll(() => buildFor(['fuzz']), BUILD_TIMEOUT_MS);
describe.skipIf(!host.ok)('firmware decoder fuzz (ASan + UBSan)', () => {
  it('survives 20,000 mutated frames and a mutated link stream, agreeing with the codec on every verdict', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'triplex-fw-fuzz-'));
    try {
      const s = await runFirmwareFuzz({ frames: 20_000, seed: 7, workDir });
      if (s.crashes > 0 || s.mismatches > 0) {
        console.error(
          'replay: npm run fw:fuzz -- --frames 20000 --seed 7',
          s.crashSamples,
          s.mismatchSamples,
        );
      }
      expect(s.crashes).toBe(0);
      expect(s.mismatches).toBe(0);
      expect(s.link.exit).toBe('ok');
      // Both acceptance and rejection were exercised, and most rejection reasons.
      expect(s.accepted).toBeGreaterThan(500);
      expect(Object.keys(s.verdicts).length).toBeGreaterThan(10);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
