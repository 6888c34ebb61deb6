/**
 * Size, stack and speed of the Cortex-M3 firmware image (the production build, no test hooks). Prints JSON:
 * text, data and bss of the image; the worst-case stack from -fstack-usage call graphs (bench/fw-stack.ts)
 * and the painted-stack high-water mark measured after a faulty corpus; and cycles per voted frame measured
 * under QEMU -icount (a typical frame: three agreeing OUTPUTs and the deadline tick; and the faulty corpus).
 *
 *   npm run fw:size -- [--frames 500]
 *
 * Cycles: QEMU does not model Cortex-M3 timing. Under `-icount shift=N` every instruction takes 2^N ns of
 * guest time, and SysTick counts guest time at the AN385's 25 MHz; the unit sums SysTick ticks over the work
 * of each DELIVER and TICK (decode, MAC, vote, response encoding; not the UART I/O). Instructions are ticks x
 * 40 ns / 2^N ns; `cyclesPerVotedFrame` counts one cycle per instruction, a lower bound for a real M3 (loads,
 * branches and flash wait states cost more).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUILD_DIR, build, m3Toolchain } from '../src/runtime/firmware/toolchain.ts';
import { generateCorpus, SETUPS } from './firmware/corpus.ts';
import { runFirmware, startUnit } from './firmware/harness.ts';
import { analyzeStack } from './fw-stack.ts';

const { values } = parseArgs({ options: { frames: { type: 'string', default: '500' } } });
const frames = Number(values.frames);
const ICOUNT_SHIFT = 5;
const SYSTICK_NS = 40; // 25 MHz

const m3 = m3Toolchain();
if (!m3.ok) {
  process.stdout.write(`${JSON.stringify({ skipped: m3.reason })}\n`);
  process.exit(0);
}
const elf = build('m3');
const berkeley = execFileSync('arm-none-eabi-size', [elf], { encoding: 'utf8' }).trim().split('\n')[1]!;
const [text, data, bss] = berkeley.trim().split(/\s+/).map(Number) as [number, number, number];
const sections = Object.fromEntries(
  execFileSync('arm-none-eabi-size', ['-A', elf], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^(\.\S+)\s+(\d+)\s+/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) > 0 && !m[1]!.startsWith('.debug'))
    .filter((m) => !['.comment', '.ARM.attributes'].includes(m[1]!))
    .map((m) => [m[1]!, Number(m[2])]),
);
const stack = analyzeStack(join(BUILD_DIR, 'm3'), elf);

const work = mkdtempSync(join(tmpdir(), 'triplex-fw-size-'));
async function measure(faults: boolean) {
  const corpus = generateCorpus(SETUPS[0]!, frames, 99, faults);
  const unit = await startUnit(corpus, 'qemu', 'async', join(work, faults ? 'faulty' : 'clean'));
  try {
    const run = await runFirmware(corpus, unit);
    const s = run.status;
    const voted = s.decisions.write + s.decisions.hold + s.decisions.failsafe;
    const toInstructions = (ticks: number): number => (ticks * SYSTICK_NS) / 2 ** ICOUNT_SHIFT;
    return {
      frames: voted,
      outputs: corpus.outputs,
      requests: s.work.requests,
      cyclesPerVotedFrame: Math.round(toInstructions(s.work.ticks) / voted),
      cyclesPerRequest: Math.round(toInstructions(s.work.ticks) / s.work.requests),
      worstRequestCycles: Math.round(toInstructions(s.work.maxTicks)),
      sysTickTicksPerVotedFrame: Number((s.work.ticks / voted).toFixed(1)),
      microsecondsPerVotedFrameAt25MHz: Number((toInstructions(s.work.ticks) / voted / 25).toFixed(1)),
      stackHighWaterBytes: s.stackUsed,
    };
  } finally {
    await unit.close();
  }
}
try {
  const typical = await measure(false);
  const faulty = await measure(true);
  const out = {
    image: 'firmware-bridge/build/m3/triplex-fw.elf (arm-none-eabi-gcc -Os, Cortex-M3, newlib-nano)',
    text,
    data,
    bss,
    sections,
    note: 'bss includes the 8 KiB stack reserve (.stack) and .noinit',
    stack: {
      worstCaseBytes: stack.worstBytes,
      mainLoopBytes: stack.mainBytes,
      mainLoopPath: stack.mainPath,
      frames: stack.frames,
      interruptBytes: stack.interruptBytes,
      measuredHighWaterBytes: Math.max(typical.stackHighWaterBytes, faulty.stackHighWaterBytes),
      sizedFromDisassembly: stack.fromDisassembly,
      dynamicOrUnbounded: stack.dynamicOrUnbounded,
      recursion: stack.recursion,
      reserveBytes: sections['.stack'] ?? null,
    },
    cycles: {
      model: `qemu-system-arm -icount shift=${ICOUNT_SHIFT} (one instruction = ${2 ** ICOUNT_SHIFT} ns); SysTick at 25 MHz; one cycle per instruction`,
      typical: { corpus: 'three agreeing channels, all in time', ...typical },
      faulty: { corpus: 'the differential corpus (m3-f1: faults, replays, forgeries, garbage)', ...faulty },
    },
    cyclesPerVotedFrame: typical.cyclesPerVotedFrame,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
