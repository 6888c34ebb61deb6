/**
 * The full differential run of issue 12: at least 100,000 channel OUTPUT frames (default), split over the
 * three voter shapes of bench/firmware/corpus.ts, through the TypeScript VoterHost and through the firmware,
 * host build (sync FIFO link) and Cortex-M3 build under QEMU (UART on a socket chardev, pipelined). Every
 * decision, channel event, counter and channel health compared bit for bit. Prints JSON; exit 1 on any
 * difference.
 *
 *   npm run fw:diff -- [--outputs 100000] [--seed 20250101] [--targets host,qemu]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hostToolchain, m3Toolchain } from '../src/runtime/firmware/toolchain.ts';
import type { FirmwareTarget } from '../src/runtime/firmware/unit.ts';
import { compareRuns } from './firmware/compare.ts';
import { generateCorpus, SETUPS } from './firmware/corpus.ts';
import { runFirmware, runReference, startUnit } from './firmware/harness.ts';

const { values } = parseArgs({
  options: {
    outputs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '20250101' },
    targets: { type: 'string', default: 'host,qemu' },
  },
});
const wanted = Number(values.outputs);
const seed = Number(values.seed);
// Outputs per frame of each shape (measured on the corpus: m = 3, 5, 4, minus silence, plus replays).
const PER_FRAME = [2.9, 5.0, 3.9];
let framesPerSetup = Math.ceil(wanted / PER_FRAME.reduce((a, b) => a + b, 0)) + 1;
const total = (f: number): number =>
  SETUPS.reduce((n, s, i) => n + generateCorpus(s, f, seed + i).outputs, 0);
for (let i = 0, n = total(framesPerSetup); n < wanted && i < 5; i++, n = total(framesPerSetup)) {
  framesPerSetup = Math.ceil(framesPerSetup * (wanted / n) * 1.01);
}

const work = mkdtempSync(join(tmpdir(), 'triplex-fw-diffbench-'));
const corpora = SETUPS.map((setup, i) => {
  const corpus = generateCorpus(setup, framesPerSetup, seed + i);
  const started = performance.now();
  const reference = runReference(corpus);
  return { corpus, reference, referenceSeconds: (performance.now() - started) / 1000 };
});
const outputs = corpora.reduce((n, c) => n + c.corpus.outputs, 0);
const results: Record<string, unknown> = {};
let failed = false;
try {
  for (const target of values.targets.split(',').filter((t) => t !== '') as FirmwareTarget[]) {
    if (target !== 'host' && target !== 'qemu') throw new Error(`--targets: host and/or qemu, not ${target}`);
    const available = target === 'host' ? hostToolchain() : m3Toolchain();
    if (!available.ok) {
      results[target] = { skipped: available.reason };
      continue;
    }
    const perSetup: Record<string, unknown>[] = [];
    for (const { corpus, reference } of corpora) {
      const started = performance.now();
      const mode = target === 'host' ? 'sync' : 'async';
      const unit = await startUnit(corpus, target, mode, join(work, `${target}-${corpus.setup.name}`));
      try {
        const run = await runFirmware(corpus, unit);
        const diff = compareRuns(reference, run, corpus);
        if (diff !== undefined) failed = true;
        perSetup.push({
          setup: corpus.setup.name,
          link:
            mode === 'sync'
              ? 'FIFO pair, lockstep'
              : 'UART0 socket chardev, pipelined; guest time from instructions (icount sleep=off)',
          frames: run.decisions.length,
          outputs: corpus.outputs,
          identical: diff === undefined,
          ...(diff === undefined ? {} : { firstDifference: diff }),
          decisions: run.status.decisions,
          channelEvents: run.events.flat().length,
          linkGarbageDropped: run.status.deframer.crc + run.status.deframer.cobs + run.status.deframer.empty,
          // Every BOOT after the first (none expected: a reset mid-run would also show as a difference).
          resets: unit.boots.slice(1).map((b) => `${b.resetCause}, boot count ${b.bootCount}`),
          seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        });
      } finally {
        await unit.close();
      }
    }
    results[target] = perSetup;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const kinds: Record<string, number> = {};
for (const { corpus } of corpora)
  for (const [k, n] of Object.entries(corpus.kinds)) kinds[k] = (kinds[k] ?? 0) + n;
process.stdout.write(
  `${JSON.stringify(
    {
      outputs,
      seed,
      framesPerSetup,
      byBehaviour: Object.fromEntries(Object.entries(kinds).sort((a, b) => b[1] - a[1])),
      referenceSeconds: Number(corpora.reduce((s, c) => s + c.referenceSeconds, 0).toFixed(2)),
      results,
      identical: !failed,
      replay: `npm run fw:diff -- --outputs ${wanted} --seed ${seed} --targets ${values.targets}`,
    },
    null,
    2,
  )}\n`,
);
process.exitCode = failed ? 1 : 0;
