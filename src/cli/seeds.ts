/**
 * Run many seeded simulations and print a JSON summary.
 *
 *   npm run sim:seeds -- --seeds 10000            # seeds 1..10000, f alternating 1 and 2, all cores
 *   npm run sim:seeds -- --seed 1234 --f 2        # replay one seed (prints its result or the violation)
 *   options: --start S (first seed), --f F (fix f), --workers W, --behaviours a,b,c
 *   replay only: --faulty N (faulty replicas besides --primary), --primary NAME (behaviour of replica 0),
 *                --backups-only true (random faulty replicas exclude replica 0), --flooders N (flooding clients)
 *   In a many-seed run every fifth seed also has a flooding client (src/sim/flood.ts); its replay says so.
 *
 * Exit status 1 when any seed violates an invariant; each violation lists its replay command.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { InvariantViolation } from '../sim/invariants.ts';
import { replayCommandFor, runSimulation, type SimOptions, type SimResult } from '../sim/simulator.ts';

/** The catalog's client entry mixed into many-seed runs: every fifth seed has one flooding client. */
function floodersFor(seed: number): number {
  return seed % 5 === 0 ? 1 : 0;
}

interface Job {
  readonly seeds: readonly { seed: number; f: number }[];
  readonly behaviours: readonly string[] | undefined;
}

interface Violation {
  readonly seed: number;
  readonly f: number;
  readonly message: string;
  readonly replay: string;
}

interface Partial {
  seedsRun: number;
  violations: Violation[];
  simulatedMs: number;
  requests: number;
  batches: number;
  maxLatencyAfterGstMs: number;
}

function runJob(job: Job): Partial {
  const out: Partial = {
    seedsRun: 0,
    violations: [],
    simulatedMs: 0,
    requests: 0,
    batches: 0,
    maxLatencyAfterGstMs: 0,
  };
  for (const { seed, f } of job.seeds) {
    const options: SimOptions = {
      seed,
      f,
      ...(job.behaviours === undefined ? {} : { behaviours: job.behaviours }),
      ...(floodersFor(seed) > 0 ? { floodingClients: floodersFor(seed) } : {}),
    };
    try {
      const r: SimResult = runSimulation(options);
      out.simulatedMs += r.simulatedMs;
      out.requests += r.requestsCompleted;
      out.batches += r.batchesExecuted;
      out.maxLatencyAfterGstMs = Math.max(out.maxLatencyAfterGstMs, r.maxLatencyAfterGstMs);
    } catch (e) {
      const message =
        e instanceof InvariantViolation ? e.message : `crash: ${e instanceof Error ? e.stack : String(e)}`;
      out.violations.push({ seed, f, message, replay: replayCommandFor(options) });
    }
    out.seedsRun++;
  }
  return out;
}

/** Workers do not inherit tsx's loader on Node 20: register it in the worker, then load this file. */
function workerBootstrap(): string {
  const api = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
}

function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${a} needs a value`);
    args.set(a.slice(2), value);
    i++;
  }
  return args;
}

function int(args: Map<string, string>, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const fixedF = args.has('f') ? int(args, 'f', 1) : undefined;
  const behaviours = args
    .get('behaviours')
    ?.split(',')
    .filter((s) => s.length > 0);
  if (args.has('seed')) {
    const seed = int(args, 'seed', 1);
    const f = fixedF ?? 1;
    const options: SimOptions = {
      seed,
      f,
      ...(behaviours === undefined ? {} : { behaviours }),
      ...(args.has('faulty') ? { faultyBackups: int(args, 'faulty', 0) } : {}),
      ...(args.has('primary') ? { primaryBehaviour: args.get('primary')! } : {}),
      ...(args.get('backups-only') === 'true' ? { faultyMayIncludePrimary: false } : {}),
      ...(args.has('flooders') ? { floodingClients: int(args, 'flooders', 0) } : {}),
    };
    try {
      const r = runSimulation(options);
      console.log(JSON.stringify({ ...r, violations: 0 }, null, 2));
    } catch (e) {
      console.log(
        JSON.stringify(
          { seed, f, violations: 1, message: String(e instanceof Error ? e.message : e) },
          null,
          2,
        ),
      );
      process.exitCode = 1;
    }
    return;
  }
  const count = int(args, 'seeds', 100);
  const start = int(args, 'start', 1);
  const workers = Math.max(1, Math.min(int(args, 'workers', availableParallelism()), count));
  const seeds = Array.from({ length: count }, (_, i) => ({ seed: start + i, f: fixedF ?? 1 + (i % 2) }));
  const t0 = performance.now();
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const job: Job = { seeds: seeds.filter((_, i) => i % workers === w), behaviours };
      return new Promise<Partial>((resolve, reject) => {
        const worker = new Worker(workerBootstrap(), { eval: true, workerData: job });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  const wallMs = performance.now() - t0;
  const total = parts.reduce((a, p) => ({
    seedsRun: a.seedsRun + p.seedsRun,
    violations: [...a.violations, ...p.violations],
    simulatedMs: a.simulatedMs + p.simulatedMs,
    requests: a.requests + p.requests,
    batches: a.batches + p.batches,
    maxLatencyAfterGstMs: Math.max(a.maxLatencyAfterGstMs, p.maxLatencyAfterGstMs),
  }));
  console.log(
    JSON.stringify(
      {
        seedsRun: total.seedsRun,
        firstSeed: start,
        f: fixedF ?? 'alternating 1,2',
        violations: total.violations.length,
        violationDetails: total.violations.slice(0, 20),
        simulatedSeconds: Math.round(total.simulatedMs) / 1000,
        wallSeconds: Math.round(wallMs) / 1000,
        workers,
        requestsCommitted: total.requests,
        batchesExecuted: total.batches,
        maxLatencyAfterGstMs: Math.round(total.maxLatencyAfterGstMs),
      },
      null,
      2,
    ),
  );
  if (total.violations.length > 0) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
} else {
  parentPort!.postMessage(runJob(workerData as Job));
}
