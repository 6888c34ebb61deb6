/**
 * Run many seeded simulations and print a JSON summary, with counts per behaviour and per topology.
 *
 *   npm run sim:seeds -- --seeds 10000            # seeds 1..10000: topologies, behaviours and intruders mixed
 *   npm run sim:seeds -- --seed 1234 --f 2        # replay one seed (prints its result or the violation)
 *   options: --start S (first seed), --f F and --n N (fix the topology), --workers W, --behaviours a,b,c,
 *            --after-gst MS (load after GST; many-seed runs default to the settled load, 0 turns it off)
 *   replay only: --faulty N (faulty replicas besides --primary), --primary NAME (behaviour of replica 0),
 *                --backups-only true (random faulty replicas exclude replica 0), --flooders N (flooding clients),
 *                --intruders a,b (intruders by name, src/sim/intruders.ts), --clients C, --requests R (per client)
 *
 * The mix of a many-seed run, by seed (so a seed replays alone): seed % 10 in 0..5 is the classic n = 3f+1
 * (f = 1 for odd seeds, 2 for even: n = 4 and n = 7), 6, 7, 8 are n = 5, 6, 7 at f = 1, and 9 is n = 8 at f = 2. Faulty
 * replicas (up to f) are drawn from the whole catalog; every fifth seed has a flooding client (flood.ts); seeds
 * with seed % 6 = 4 have one intruder, in turn. A violation's replay command names every option it needs.
 *
 * Exit status 1 when any seed violates an invariant.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { intruders } from '../sim/intruders.ts';
import { InvariantViolation } from '../sim/invariants.ts';
import {
  replayCommandFor,
  runSimulation,
  SETTLED_LOAD_MS,
  type SimOptions,
  type SimResult,
} from '../sim/simulator.ts';
import { EXIT, type OptionSpecs, parseOptions } from './args.ts';

const USAGE = `usage: npm run sim:seeds -- [--seeds N | --seed S] [options]
  --seeds N          run seeds start..start+N-1 (default 100), topologies, behaviours and intruders mixed by seed
  --seed S           replay one seed (prints its result or its violation)
  --start S          first seed of a many-seed run (default 1)
  --f F, --n N       fix the topology (default: mixed by seed; one seed: f 1, n 3f+1)
  --workers W        worker threads (default: the cores)
  --behaviours a,b   catalog entries faulty replicas are drawn from (default: all)
  --after-gst MS     client load kept after GST (many-seed default: the settled load; 0: none)
  replay only: --faulty N, --primary NAME, --backups-only true, --flooders N, --intruders a,b,
               --clients C, --requests R
exit codes: 0 no violation, 1 a seed violated an invariant, 2 bad options, 70 a bug`;

/** The topology of a seed in a mixed run: the classic 3f+1 most of the time, larger groups the rest. */
export function topologyFor(seed: number): { f: number; n: number } {
  switch (seed % 10) {
    case 6:
      return { f: 1, n: 5 };
    case 7:
      return { f: 1, n: 6 };
    case 8:
      return { f: 1, n: 7 };
    case 9:
      // n = 7 at f = 2 is the classic 3f+1 (even slots above); this slot is the larger group at f = 2.
      return { f: 2, n: 8 };
    default: {
      const f = seed % 2 === 1 ? 1 : 2;
      return { f, n: 3 * f + 1 };
    }
  }
}

/** The catalog's client entry mixed into many-seed runs: every fifth seed has one flooding client. */
function floodersFor(seed: number): number {
  return seed % 5 === 0 ? 1 : 0;
}

/** One intruder on seeds with seed % 6 = 4, each intruder in turn. */
function intrudersFor(seed: number): string[] {
  const all = intruders().map((i) => i.name);
  return seed % 6 === 4 ? [all[Math.floor(seed / 6) % all.length]!] : [];
}

/** The outcome of one seed, as counted per behaviour and per topology. */
interface Outcome {
  readonly seed: number;
  readonly f: number;
  readonly n: number;
  /** Every fault present: faulty replicas' behaviours, intruders, 'flooding-client'; 'none' for a clean run. */
  readonly faults: readonly string[];
  readonly violation: { invariant: string; message: string; replay: string } | undefined;
  readonly simulatedMs: number;
  readonly requests: number;
  readonly batches: number;
  readonly maxLatencyAfterGstMs: number;
  /** Views of correct primaries left within an intruder's stated budget (simulator.ts ForcedViewChanges). */
  readonly forcedViewChanges: number;
}

function runOne(options: SimOptions): Outcome {
  let faulty: SimResult['faulty'] = [];
  const withStart: SimOptions = {
    ...options,
    onStart: (s) => {
      faulty = s.faulty;
    },
  };
  const faultsOf = (): string[] => {
    const names = new Set<string>(faulty.map((x) => x.behaviour));
    for (const i of options.intruders ?? []) names.add(i);
    if ((options.floodingClients ?? 0) > 0) names.add('flooding-client');
    return names.size === 0 ? ['none'] : [...names].sort();
  };
  const base = { seed: options.seed, f: options.f, n: options.n ?? 3 * options.f + 1 };
  try {
    const r = runSimulation(withStart);
    return {
      ...base,
      faults: faultsOf(),
      violation: undefined,
      simulatedMs: r.simulatedMs,
      requests: r.requestsCompleted,
      batches: r.batchesExecuted,
      maxLatencyAfterGstMs: r.maxLatencyAfterGstMs,
      forcedViewChanges: r.forcedViewChanges,
    };
  } catch (e) {
    const invariant = e instanceof InvariantViolation ? e.invariant : 'crash';
    const message =
      e instanceof InvariantViolation ? e.message : `crash: ${e instanceof Error ? e.stack : String(e)}`;
    return {
      ...base,
      faults: faultsOf(),
      violation: { invariant, message, replay: replayCommandFor(options) },
      simulatedMs: 0,
      requests: 0,
      batches: 0,
      maxLatencyAfterGstMs: 0,
      forcedViewChanges: 0,
    };
  }
}

/** Counts of one bucket (a behaviour, a topology). */
interface Bucket {
  runs: number;
  violations: number;
  /** Runs that ended with every correct client's request committed within the bound after GST, no violation. */
  liveAfterGst: number;
  byInvariant: Record<string, number>;
}

function tally(outcomes: readonly Outcome[], key: (o: Outcome) => readonly string[]): Record<string, Bucket> {
  const out: Record<string, Bucket> = {};
  for (const o of outcomes) {
    for (const k of key(o)) {
      const b = out[k] ?? { runs: 0, violations: 0, liveAfterGst: 0, byInvariant: {} };
      out[k] = b;
      b.runs++;
      if (o.violation === undefined) b.liveAfterGst++;
      else {
        b.violations++;
        b.byInvariant[o.violation.invariant] = (b.byInvariant[o.violation.invariant] ?? 0) + 1;
      }
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Workers do not inherit tsx's loader on Node 20: register it in the worker, then load this file. */
function workerBootstrap(): string {
  const api = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
}

/** Every option of sim:seeds, with its bounds (src/cli/args.ts checks them and names what is wrong). */
const SEEDS_OPTIONS = {
  seeds: { type: 'number', min: 1, max: 10_000_000, integer: true },
  seed: { type: 'number', min: 0, max: 0xffff_ffff, integer: true },
  start: { type: 'number', min: 0, max: 0xffff_ffff, integer: true },
  f: { type: 'number', min: 1, max: 10, integer: true },
  n: { type: 'number', min: 4, max: 32, integer: true },
  workers: { type: 'number', min: 1, max: 256, integer: true },
  behaviours: { type: 'string' },
  'after-gst': { type: 'number', min: 0, max: 600_000, integer: true, unit: 'ms' },
  faulty: { type: 'number', min: 0, max: 10, integer: true },
  primary: { type: 'string' },
  'backups-only': { type: 'choice', choices: ['true', 'false'] },
  flooders: { type: 'number', min: 0, max: 16, integer: true },
  intruders: { type: 'string' },
  clients: { type: 'number', min: 1, max: 64, integer: true },
  requests: { type: 'number', min: 1, max: 100_000, integer: true },
} as const satisfies OptionSpecs;

const list = (v: string | undefined): string[] | undefined => v?.split(',').filter((s) => s.length > 0);

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2), SEEDS_OPTIONS);
  if (!parsed.ok || parsed.values.help === true) {
    console.error(parsed.ok ? USAGE : `${parsed.message}\n${USAGE}`);
    process.exitCode = parsed.ok ? EXIT.ok : EXIT.usage;
    return;
  }
  const a = parsed.values;
  const fixedF = a.f;
  const fixedN = a.n;
  const behaviours = list(a.behaviours);
  const afterGst = a['after-gst'];
  if (a.seed !== undefined) {
    const seed = a.seed;
    const f = fixedF ?? 1;
    const faultyBackups = a.faulty;
    const flooders = a.flooders;
    const clients = a.clients;
    const requests = a.requests;
    const options: SimOptions = {
      seed,
      f,
      ...(fixedN === undefined ? {} : { n: fixedN }),
      ...(behaviours === undefined ? {} : { behaviours }),
      ...(faultyBackups === undefined ? {} : { faultyBackups }),
      ...(a.primary === undefined ? {} : { primaryBehaviour: a.primary }),
      ...(a['backups-only'] === 'true' ? { faultyMayIncludePrimary: false } : {}),
      ...(flooders === undefined ? {} : { floodingClients: flooders }),
      ...(a.intruders === undefined ? {} : { intruders: list(a.intruders)! }),
      ...(afterGst === undefined ? {} : { loadAfterGstMs: afterGst }),
      ...(clients === undefined ? {} : { clients }),
      ...(requests === undefined ? {} : { requestsPerClient: requests }),
    };
    try {
      const r = runSimulation(options);
      console.log(JSON.stringify({ ...r, violations: 0 }, null, 2));
    } catch (e) {
      const message = String(e instanceof Error ? e.message : e);
      console.log(JSON.stringify({ seed, f, n: options.n ?? 3 * f + 1, violations: 1, message }, null, 2));
      process.exitCode = EXIT.failed;
    }
    return;
  }
  const count = a.seeds ?? 100;
  const start = a.start ?? 1;
  const workers = Math.max(1, Math.min(a.workers ?? availableParallelism(), count));
  const load = afterGst ?? SETTLED_LOAD_MS;
  const jobs: SimOptions[] = Array.from({ length: count }, (_, i) => {
    const seed = start + i;
    const mixed = topologyFor(seed);
    const f = fixedF ?? (fixedN === undefined ? mixed.f : 1);
    const n = fixedN ?? (fixedF === undefined ? mixed.n : 3 * f + 1);
    const extra = intrudersFor(seed);
    return {
      seed,
      f,
      ...(n === 3 * f + 1 ? {} : { n }),
      ...(behaviours === undefined ? {} : { behaviours }),
      ...(floodersFor(seed) > 0 ? { floodingClients: floodersFor(seed) } : {}),
      ...(extra.length > 0 ? { intruders: extra } : {}),
      ...(load > 0 ? { loadAfterGstMs: load } : {}),
    };
  });
  const t0 = performance.now();
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = jobs.filter((_, i) => i % workers === w);
      return new Promise<Outcome[]>((resolve, reject) => {
        const worker = new Worker(workerBootstrap(), { eval: true, workerData: mine });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  const wallMs = performance.now() - t0;
  const outcomes = parts.flat().sort((x, y) => x.seed - y.seed);
  const violations = outcomes.filter((o) => o.violation !== undefined);
  const sum = (pick: (o: Outcome) => number): number => outcomes.reduce((s, o) => s + pick(o), 0);
  console.log(
    JSON.stringify(
      {
        seedsRun: outcomes.length,
        firstSeed: start,
        f: fixedF ?? (fixedN === undefined ? 'mixed' : 1),
        n: fixedN ?? 'mixed',
        loadAfterGstMs: load,
        violations: violations.length,
        violationDetails: violations.slice(0, 20).map((o) => ({
          seed: o.seed,
          f: o.f,
          n: o.n,
          faults: o.faults,
          message: o.violation!.message,
          replay: o.violation!.replay,
        })),
        simulatedSeconds: Math.round(sum((o) => o.simulatedMs)) / 1000,
        wallSeconds: Math.round(wallMs) / 1000,
        workers,
        requestsCommitted: sum((o) => o.requests),
        batchesExecuted: sum((o) => o.batches),
        maxLatencyAfterGstMs: Math.round(Math.max(0, ...outcomes.map((o) => o.maxLatencyAfterGstMs))),
        forcedViewChanges: {
          views: sum((o) => o.forcedViewChanges),
          runs: outcomes.filter((o) => o.forcedViewChanges > 0).length,
          bound:
            'f views per vouchFirstTicks per client whose tags verify at the primary and fewer than f backups (replica.ts)',
        },
        byInvariant: tally(violations, (o) => [o.violation!.invariant]),
        byTopology: tally(outcomes, (o) => [`n=${o.n} f=${o.f}`]),
        byBehaviour: tally(outcomes, (o) => o.faults),
      },
      null,
      2,
    ),
  );
  if (violations.length > 0) process.exitCode = EXIT.failed;
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = EXIT.internal;
  });
} else {
  parentPort!.postMessage((workerData as SimOptions[]).map(runOne));
}
