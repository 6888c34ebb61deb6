/**
 * Fuzz the firmware's untrusted-input paths under ASan + UBSan: the codec fuzzer's mutations, 1,000,000
 * frames by default, each judged against the TypeScript codec; then a mutated link stream through a whole
 * provisioned unit. Prints JSON; exit code 1 on any crash or mismatch.
 *
 *   npm run fw:fuzz -- [--frames 1000000] [--seed 1]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hostToolchain } from '../src/runtime/firmware/toolchain.ts';
import { runFirmwareFuzz } from './firmware/fuzz-run.ts';

const { values } = parseArgs({
  options: { frames: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' } },
});
const host = hostToolchain();
if (!host.ok) {
  process.stdout.write(`${JSON.stringify({ skipped: host.reason })}\n`);
  process.exit(0);
}
const workDir = mkdtempSync(join(tmpdir(), 'triplex-fw-fuzz-'));
try {
  const summary = await runFirmwareFuzz({
    frames: Number(values.frames),
    seed: Number(values.seed),
    workDir,
  });
  process.stdout.write(
    `${JSON.stringify({ ...summary, replay: `npm run fw:fuzz -- --frames ${values.frames} --seed ${values.seed}` }, null, 2)}\n`,
  );
  process.exitCode = summary.crashes === 0 && summary.mismatches === 0 ? 0 : 1;
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
