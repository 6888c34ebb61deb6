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
 *
 * `--profile`: where the time goes at frame boundaries. Flies `npm start`'s scenario (default config, its own
 * frame rate, faults included) and prints, per frame, this process's main-thread CPU, run-queue wait, GC pauses,
 * event-loop delay and how late each frame started, the CPU per board (its message handling) and per kind of
 * timer, and what each missed frame measured. The machine's load average is printed with it.
 *
 *   npm run bench:loop -- --profile [--seconds 20] [--spin-ms 1] [--no-held]
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Rig } from '../hil/rig.ts';
import { defaultScenario, type Scenario } from '../hil/scenario.ts';
import { loadTopology, type Topology } from '../src/runtime/config.ts';
import { TimedScheduler, timedTransport, WorkMeter } from '../src/runtime/loop/profile.ts';
import { inProcessLoopFactory } from '../src/runtime/node/control-loop.ts';
import { HostProbe } from '../src/runtime/node/host-probe.ts';
import { warmUp } from '../src/runtime/node/warm-up.ts';
import { RealScheduler, VirtualScheduler } from '../src/runtime/scheduler.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '100,500,1000' },
    seconds: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    config: { type: 'string', default: 'config/laptop.json' },
    virtual: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'spin-ms': { type: 'string', default: '1' },
    'no-held': { type: 'boolean', default: false },
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
    heapMiB: heapOf(heapStart, frames.length),
    counters: rig.system.counters.toJSON(),
  };
}

/**
 * Heap at the end of a run: `end` as it stands (garbage included: it grew 23 -> 111 MiB over 5000 virtual frames,
 * none of it retained), and, when the bench runs with --expose-gc (npm run bench:loop does), `retained` after a
 * full collection with the run's trace still referenced, and what that costs per frame (the trace's frame
 * records, by design: about 0.4 KiB a frame). Heap snapshots before and after 8000 more frames differed only in
 * compiled code: no leak.
 */
function heapOf(start: number, frames: number): Record<string, number | boolean> {
  const end = process.memoryUsage().heapUsed;
  if (globalThis.gc === undefined)
    return { start: r3(start / 2 ** 20), end: r3(end / 2 ** 20), collected: false };
  globalThis.gc();
  const retained = process.memoryUsage().heapUsed;
  return {
    start: r3(start / 2 ** 20),
    end: r3(end / 2 ** 20),
    retained: r3(retained / 2 ** 20),
    retainedKiBPerFrame: r3((retained - start) / 1024 / Math.max(1, frames)),
    collected: true,
  };
}

interface ProfileOptions {
  readonly topology: Topology;
  readonly seconds: number;
  readonly seed: number;
  readonly spinMs: number;
  readonly held: boolean;
}

/** Quantiles of a list of numbers (ms), rounded. */
function spread(xs: readonly number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    p50: r3(pct(s, 0.5)),
    p90: r3(pct(s, 0.9)),
    p99: r3(pct(s, 0.99)),
    max: r3(s.at(-1) ?? Number.NaN),
  };
}

/** `npm start`'s flight, instrumented: where each frame's time went. */
async function profileFlight(o: ProfileOptions): Promise<Record<string, unknown>> {
  const load = loadavg().map((x) => Number(x.toFixed(2)));
  const warmMs = await warmUp(o.topology);
  const real = new RealScheduler({ held: o.held, spinMs: o.spinMs });
  const meter = new WorkMeter();
  const scheduler = new TimedScheduler(real, meter);
  const probe = new HostProbe();
  const frames: Record<string, number>[] = [];
  const work: Record<string, { count: number; ms: number }> = {};
  let lateness: number[] = [];
  const rig = new Rig({
    topology: o.topology,
    scheduler,
    scenario: defaultScenario(o.seconds, 'primary'),
    seed: o.seed,
    logger: pino({ level: 'silent' }),
    loop: inProcessLoopFactory({
      topology: o.topology,
      scheduler,
      seed: o.seed,
      logger: pino({ level: 'silent' }),
      transportOf: (board, t) => timedTransport(board, t, meter),
    }),
    onStarted: () => {
      real.begin();
      probe.window();
      meter.take();
    },
    onFrame: (record) => {
      const lag = Math.max(0, real.now() - rig.system.frameTime(record.frame + 1));
      const w = probe.window();
      const taken = meter.take();
      let boards = 0;
      for (const [k, v] of Object.entries(taken.work)) {
        const acc = work[k] ?? { count: 0, ms: 0 };
        acc.count += v.count;
        acc.ms += v.ms;
        work[k] = acc;
        boards += v.ms;
      }
      lateness = lateness.concat(taken.lateness);
      frames.push({
        frame: record.frame,
        written: record.outcome === 'write' ? 1 : 0,
        latencyMs: record.latencyMs,
        lagMs: lag,
        loopDelayMs: w.loopDelayMs,
        cpuMs: w.cpuMs ?? Number.NaN,
        cpuWaitMs: w.cpuWaitMs ?? Number.NaN,
        gcMs: w.gcMs,
        workMs: boards,
      });
    },
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await rig.run();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const totals = probe.totals();
  probe.close();
  await rig.system.close();
  const n = frames.length;
  const col = (k: string): number[] => frames.map((f) => f[k]!);
  const deadlineMs = (1000 / o.topology.frameRateHz) * o.topology.timing.deadlineFraction;
  const missed = frames.filter((f) => f['written'] === 0);
  const half = deadlineMs / 2;
  const why = (f: Record<string, number>): string => {
    if ((f['gcMs'] ?? 0) >= half) return 'gc';
    if ((f['cpuWaitMs'] ?? 0) >= half) return 'cpu-wait';
    if ((f['loopDelayMs'] ?? 0) >= half || (f['lagMs'] ?? 0) >= half) return 'loop-delay';
    if ((f['cpuMs'] ?? 0) >= half) return 'cpu-work';
    return 'other (view change, fault)';
  };
  const missedBy: Record<string, number> = {};
  for (const f of missed) {
    // A stall late in the frame before delays this frame's decision: judge by the worse of the two windows.
    const before = frames[(f['frame'] ?? 0) - 1];
    const worse = before && (before['cpuWaitMs'] ?? 0) > (f['cpuWaitMs'] ?? 0) ? before : f;
    const k = why(worse);
    missedBy[k] = (missedBy[k] ?? 0) + 1;
  }
  return {
    bench: 'loop --profile',
    node: process.version,
    config: o.topology.file,
    frameRateHz: o.topology.frameRateHz,
    deadlineMs: r3(deadlineMs),
    scheduler: { held: o.held, spinMs: o.spinMs },
    loadAverage: { start: load, end: loadavg().map((x) => Number(x.toFixed(2))) },
    warmUpMs: Math.round(warmMs),
    frames: n,
    passed: result.passed,
    missed: missed.length,
    missedBy,
    cpuPercentOfOneCore: r3(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    perFrameMs: {
      mainThreadCpu: spread(col('cpuMs')),
      cpuWait: spread(col('cpuWaitMs')),
      gc: spread(col('gcMs')),
      eventLoopDelay: spread(col('loopDelayMs')),
      startLag: spread(col('lagMs')),
      latency: spread(col('latencyMs')),
      boardsAndTimers: spread(col('workMs')),
    },
    timerLatenessMs: spread(lateness),
    workMsPerFrame: Object.fromEntries(
      Object.entries(work)
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([k, v]) => [k, { perFrame: r3(v.ms / n), callsPerFrame: r3(v.count / n) }]),
    ),
    gc: totals.gc,
    eventLoopDelayMs: totals.eventLoopDelayMs,
    worstFrames: [...frames]
      .sort((a, b) => (b['cpuWaitMs'] ?? 0) + (b['gcMs'] ?? 0) - ((a['cpuWaitMs'] ?? 0) + (a['gcMs'] ?? 0)))
      .slice(0, 8)
      .map((f) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, r3(v)]))),
  };
}

if (values.profile) {
  const report = await profileFlight({
    topology: base,
    seconds: values.seconds === '10' ? 20 : seconds,
    seed: Number(values.seed),
    spinMs: Number(values['spin-ms']),
    held: !values['no-held'],
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const results = [];
  for (const rate of rates) results.push(await runAt(rate));
  process.stdout.write(
    `${JSON.stringify({ bench: 'loop', node: process.version, loadAverage: loadavg(), seconds, config: base.file, results }, null, 2)}\n`,
  );
}
