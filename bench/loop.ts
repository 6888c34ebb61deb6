/**
 * Loop benchmark: the whole control loop in one process with real timers (input units -> PBFT n = 4 -> three
 * dissimilar channels -> voter -> actuator -> plant) at several frame rates. Prints JSON per rate:
 * input-to-actuator latency p50/p99/max (sample taken to voted command written), deadline misses (frames not
 * written in time), event-loop delay, CPU and heap.
 *
 * CPU per frame is in the JSON (`cpuUsPerFrame`: this process's user+system time over the frames flown).
 * `--virtual`: the same loop on the virtual clock, as fast as the CPU goes: CPU per frame without timers or
 * waiting, unaffected by a loaded machine (what profiling needs: `node --cpu-prof --import tsx bench/loop.ts
 * --virtual`); latencies are then virtual (link delays only) and misses are protocol misses.
 *
 *   npm run bench:loop -- [--rates 100,500,1000] [--seconds 10] [--seed 1] [--virtual]
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Rig } from '../hil/rig.ts';
import type { Scenario } from '../hil/scenario.ts';
import { loadTopology } from '../src/runtime/config.ts';
import { RealScheduler, VirtualScheduler } from '../src/runtime/scheduler.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100,500,1000' },
    seconds: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    config: { type: 'string', default: 'config/laptop.json' },
    virtual: { type: 'boolean', default: false },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const base = loadTopology(values.config);

const scenario: Scenario = {
  name: 'bench',
  description: 'pitch steps, no faults',
  durationS: seconds,
  pilot: [
    { atS: 0.5, pitch: 0.2 },
    { atS: seconds / 2, pitch: -0.1 },
  ],
  events: [],
  maxConsecutiveMisses: 0,
};

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
const r3 = (x: number): number => Number(x.toFixed(3));

async function runAt(rate: number): Promise<Record<string, unknown>> {
  const topology = { ...base, frameRateHz: rate };
  const virtual = values.virtual === true ? new VirtualScheduler() : undefined;
  const scheduler = virtual ?? new RealScheduler();
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed: Number(values.seed),
    logger: pino({ level: 'silent' }),
    // Virtual links: each message delivered 20-60 us after it was sent (a fast local link), so the protocol's
    // own path fits a 1 ms frame and the CPU work is the real loop's.
    ...(virtual !== undefined ? { virtual: { minDelayMs: 0.02, maxDelayMs: 0.06 } } : {}),
  });
  globalThis.gc?.();
  const heapStart = process.memoryUsage().heapUsed;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = virtual === undefined ? await rig.run() : await rig.runVirtual((t) => virtual.runUntil(t));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  await rig.system.close();
  const frames = result.trace.frames;
  const lat = frames
    .map((f) => f.latencyMs)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  const deadlineMs = (1000 / rate) * topology.timing.deadlineFraction;
  return {
    frameRateHz: rate,
    clock: virtual === undefined ? 'real' : 'virtual',
    frames: frames.length,
    cpuUsPerFrame: r3((cpu.user + cpu.system) / Math.max(1, frames.length)),
    wallSeconds: r3(wall),
    latencyMs: { p50: r3(pct(lat, 0.5)), p99: r3(pct(lat, 0.99)), max: r3(lat.at(-1) ?? Number.NaN) },
    deadlineMs: r3(deadlineMs),
    deadlineMisses: frames.filter((f) => f.outcome !== 'write').length,
    failsafeFrames: frames.filter((f) => f.outcome === 'failsafe').length,
    eventLoopDelayMs: { p99: r3(delay.percentile(99) / 1e6), max: r3(delay.max / 1e6) },
    cpuPercentOfOneCore: r3(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    heapMiB: { start: r3(heapStart / 2 ** 20), end: r3(process.memoryUsage().heapUsed / 2 ** 20) },
    counters: rig.system.counters.toJSON(),
  };
}

const results = [];
for (const rate of rates) results.push(await runAt(rate));
process.stdout.write(
  `${JSON.stringify({ bench: 'loop', node: process.version, loadAverage: loadavg(), seconds, config: base.file, results }, null, 2)}\n`,
);
