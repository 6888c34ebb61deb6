/**
 * Ordering across OS processes: four PBFT replica processes (f = 1, batching mode 'size') and one process
 * running closed-loop clients, joined by UDP on loopback (src/io/udp.ts). For each case (null requests, and
 * 1 KiB op / 1 KiB result) it warms up, then measures: ordered requests per second, latency p50/p99/p99.9,
 * and the CPU each process spent in the measured window. Prints JSON.
 *
 *   npx tsx bench/ordering-processes.ts                    # 2 cases x 30 s
 *   npx tsx bench/ordering-processes.ts --seconds 5        # a quick check
 *   npm run bench:ordering -- --processes [--seconds N] [--warmup N] [--clients N] [--cases null,1k]
 *        [--max-batch N] [--max-in-flight N] [--max-delay-ms X] [--profile DIR]
 *
 * --profile DIR runs every child under `node --cpu-prof`, writes the profiles to DIR/<case>/ and adds the top
 * self-time functions of each process to the JSON (open the .cpuprofile files in Chrome DevTools for more).
 * Children are killed when this process exits, however it exits.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, type OptionSpecs, scriptOptions } from '../src/cli/args.ts';
import { ChildProc, ChildSet } from '../src/runtime/process/child.ts';
import type { ClientResult, NodeArgs, NodeStats, ParentMessage, Wire } from './ordering-node.ts';

interface Options {
  seconds: number;
  warmup: number;
  clients: number;
  cases: string[];
  maxBatch: number;
  maxInFlight: number;
  maxDelayMs: number;
  wire: Wire;
  profile: string | undefined;
}

const F = 1;
const N = 3 * F + 1;
const here = dirname(fileURLToPath(import.meta.url));
const NODE_ENTRY = join(here, 'ordering-node.ts');

const OPTIONS = {
  processes: { type: 'boolean' },
  seconds: { type: 'number', min: 0, max: 3600, unit: 's' },
  warmup: { type: 'number', min: 0, max: 3600, unit: 's' },
  clients: { type: 'number', min: 1, max: 1024, integer: true },
  cases: { type: 'string' },
  'max-batch': { type: 'number', min: 1, max: 100_000, integer: true },
  'max-in-flight': { type: 'number', min: 1, max: 1024, integer: true },
  'max-delay-ms': { type: 'number', min: 0, max: 60_000, unit: 'ms' },
  wire: { type: 'choice', choices: ['packed', 'datagram'] },
  profile: { type: 'string' },
} as const satisfies OptionSpecs;

const USAGE = `usage: npx tsx bench/ordering-processes.ts [options]   (or npm run bench:ordering -- --processes [options])
  --seconds S          measured seconds per case (default 30)
  --warmup S           warm-up seconds before them (default 5)
  --clients N          closed-loop clients in the client process (default 16)
  --cases LIST         null, 1k or both, comma-separated (default null,1k)
  --max-batch N        most requests in a batch (default 64)
  --max-in-flight N    most batches in flight (default 1)
  --max-delay-ms X     longest a request waits for its batch (default 0)
  --wire W             packed or datagram (default packed)
  --profile DIR        run every child under node --cpu-prof, profiles in DIR/<case>/
exit codes: 0 done (the JSON on stdout), 1 a case failed, 2 bad options`;

function parseArgs(argv: readonly string[]): Options {
  // --processes is the dispatcher's flag (bench/ordering.ts): this script is the processes variant.
  const v = scriptOptions(argv, OPTIONS, 'bench:ordering --processes', USAGE);
  const cases = (v.cases ?? 'null,1k').split(',').filter((c) => c !== '');
  for (const c of cases) {
    if (c !== 'null' && c !== '1k') {
      process.stderr.write(`bench:ordering --processes: unknown case '${c}' (null, 1k)\n${USAGE}\n`);
      process.exit(EXIT.usage);
    }
  }
  return {
    seconds: v.seconds ?? 30,
    warmup: v.warmup ?? 5,
    clients: v.clients ?? 16,
    cases,
    maxBatch: v['max-batch'] ?? 64,
    maxInFlight: v['max-in-flight'] ?? 1,
    maxDelayMs: v['max-delay-ms'] ?? 0,
    wire: (v.wire ?? 'packed') as Wire,
    profile: v.profile === undefined ? undefined : resolve(v.profile),
  };
}

// ---------------------------------------------------------------- children

/** Killed (SIGKILL) when this process exits, however it exits. */
const live = new ChildSet();

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    live.killAll();
    process.exit(130);
  });
}

function spawnNode(args: NodeArgs, profileDir: string | undefined, label: string): ChildProc {
  const execArgv = [...process.execArgv];
  // One directory per process: tsx's loader thread is profiled too and writes its own file next to the main one.
  if (profileDir !== undefined) execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(profileDir, label)}`);
  // What fork(NODE_ENTRY) runs: this node with this process's loader flags, an IPC channel, this folder.
  const child = live.add(
    ChildProc.spawn({
      command: process.execPath,
      args: [...execArgv, NODE_ENTRY, JSON.stringify(args)],
      label,
      cwd: process.cwd(),
      ipc: true,
    }),
  );
  // A child's errors show on this process's stderr, as they did when it inherited it.
  child.process.stderr?.on('data', (s: string) => process.stderr.write(s));
  return child;
}

/** The next message of `type` from `child` (rejects if the child exits first or after `ms`). */
function next<T>(child: ChildProcess, type: string, ms: number): Promise<T> {
  return new Promise<T>((ok, fail) => {
    const timer = setTimeout(() => done(new Error(`child ${child.pid}: no '${type}' within ${ms} ms`)), ms);
    const onMessage = (m: { type?: string }): void => {
      if (m.type === type) done(undefined, m as T);
    };
    const onExit = (code: number | null): void =>
      done(new Error(`child ${child.pid} exited (${code}) before '${type}'`));
    function done(err: Error | undefined, value?: T): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) fail(err);
      else ok(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function tell(child: ChildProcess, m: ParentMessage): void {
  child.send(m);
}

// ---------------------------------------------------------------- one case

/** Linux's count of UDP datagrams dropped for a full receive buffer (system-wide), or undefined elsewhere. */
function kernelUdpDrops(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = lines[0]?.split(/\s+/) ?? [];
    const values = lines[1]?.split(/\s+/) ?? [];
    const v = Number(values[names.indexOf('RcvbufErrors')]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

interface CaseResult {
  case: string;
  opBytes: number;
  resultBytes: number;
  seconds: number;
  orderedRequests: number;
  throughputPerSecond: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number; mean: number };
  meanBatch: number;
  retransmits: number;
  cpu: { process: string; userS: number; systemS: number; coreShare: number }[];
  cpuTotalCoreShare: number;
  /** Per ordered request, summed over all processes. */
  datagramsPerRequest: number;
  messagesPerRequest: number;
  udpErrors: Record<string, number>;
  /** 1-minute load average at the end of the case (other work on the machine competes for the cores). */
  loadAverage1m: number;
  /** Datagrams the kernel dropped on full receive buffers during the case (system-wide, Linux only). */
  kernelRcvbufDrops: number | null;
  rejected: Record<string, Record<string, number>>;
  /** With --profile: top self-time functions per process (whole run, warm-up included). */
  profile?: Record<string, { fn: string; selfPct: number }[]>;
}

async function runCase(name: string, o: Options): Promise<CaseResult> {
  const bytes = name === '1k' ? 1024 : 0;
  const base: Omit<NodeArgs, 'role' | 'id'> = {
    f: F,
    clients: o.clients,
    opBytes: bytes,
    resultBytes: bytes,
    maxBatch: o.maxBatch,
    maxInFlight: o.maxInFlight,
    maxDelayMs: o.maxDelayMs,
    wire: o.wire,
  };
  const profileDir = o.profile === undefined ? undefined : join(o.profile, name);
  const replicas = Array.from({ length: N }, (_, id) =>
    spawnNode({ ...base, role: 'replica', id }, profileDir, `replica-${id}`),
  );
  const client = spawnNode({ ...base, role: 'client', id: 0 }, profileDir, 'clients');
  const all = [...replicas, client];
  try {
    const dropsBefore = kernelUdpDrops();
    const ready = await Promise.all(all.map((c) => next<{ ports: number[] }>(c.process, 'ready', 30_000)));
    const peers: ParentMessage = {
      type: 'peers',
      replicas: ready.slice(0, N).map((r) => r.ports[0]!),
      clients: ready[N]!.ports,
    };
    for (const c of all) tell(c.process, peers);
    const run: ParentMessage = { type: 'run', warmupMs: o.warmup * 1000, measureMs: o.seconds * 1000 };
    for (const c of all) tell(c.process, run);
    const result = await next<ClientResult>(client.process, 'result', (o.warmup + o.seconds) * 1000 + 30_000);
    const statsP = all.map((c) => next<NodeStats>(c.process, 'stats', 10_000));
    for (const c of all) tell(c.process, { type: 'stop' });
    const stats = await Promise.all(statsP);
    await Promise.all(all.map((c) => c.exit));
    const dropsAfter = kernelUdpDrops();
    const kernelDrops =
      dropsBefore === undefined || dropsAfter === undefined ? null : dropsAfter - dropsBefore;
    const summary = summarize(name, bytes, result, stats, kernelDrops);
    if (profileDir !== undefined) summary.profile = profileSummary(profileDir);
    return summary;
  } finally {
    for (const c of all) c.kill();
  }
}

function summarize(
  name: string,
  bytes: number,
  r: ClientResult,
  stats: NodeStats[],
  kernelRcvbufDrops: number | null,
): CaseResult {
  const s = Float64Array.from(r.latencies).sort();
  const at = (q: number): number => round3(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN);
  const mean = s.reduce((x, y) => x + y, 0) / Math.max(1, s.length);
  const primary = stats.find((x) => x.role === 'replica' && x.id === 0);
  const cpu = stats.map((x) => ({
    process: x.role === 'replica' ? `replica-${x.id}` : 'clients',
    userS: round3(x.cpuUserUs / 1e6),
    systemS: round3(x.cpuSystemUs / 1e6),
    coreShare: round3((x.cpuUserUs + x.cpuSystemUs) / 1000 / x.wallMs),
  }));
  const rejected: Record<string, Record<string, number>> = {};
  for (const x of stats)
    if (Object.keys(x.rejected).length > 0)
      rejected[x.role === 'replica' ? `replica-${x.id}` : 'clients'] = x.rejected;
  return {
    case: name === '1k' ? '1KiB op / 1KiB result' : 'null',
    opBytes: bytes,
    resultBytes: bytes,
    seconds: round3(r.seconds),
    orderedRequests: r.completed,
    throughputPerSecond: Math.round(r.completed / r.seconds),
    latencyMs: {
      p50: at(0.5),
      p99: at(0.99),
      p999: at(0.999),
      max: round3(s[s.length - 1] ?? Number.NaN),
      mean: round3(mean),
    },
    meanBatch: primary && primary.batches > 0 ? round3(primary.executedRequests / primary.batches) : 0,
    retransmits: r.retransmits,
    cpu,
    cpuTotalCoreShare: round3(cpu.reduce((t, c) => t + c.coreShare, 0)),
    datagramsPerRequest: round3(stats.reduce((t, x) => t + x.udp.datagramsOut, 0) / Math.max(1, r.completed)),
    messagesPerRequest: round3(stats.reduce((t, x) => t + x.udp.messagesOut, 0) / Math.max(1, r.completed)),
    udpErrors: mergeCounts(stats.map((x) => x.udp.errors)),
    loadAverage1m: round3(loadavg()[0] ?? 0),
    kernelRcvbufDrops,
    rejected,
    ...replicaViews(stats),
  };
}

/** Where each replica ended (view, last executed seq, its view-change and catch-up events), and whether in one view. */
function replicaViews(stats: readonly NodeStats[]): {
  replicasAtEnd: Record<string, { view?: number; lastExecuted?: number; events?: Record<string, number> }>;
  oneViewAtEnd: boolean;
} {
  const replicas = stats.filter((x) => x.role === 'replica').sort((a, b) => a.id - b.id);
  const replicasAtEnd = Object.fromEntries(
    replicas.map((x) => [
      `replica-${x.id}`,
      { view: x.view, lastExecuted: x.lastExecuted, events: x.events },
    ]),
  );
  return { replicasAtEnd, oneViewAtEnd: new Set(replicas.map((x) => x.view)).size === 1 };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

/** Samples in which the thread was doing something (the main thread is the busy one; tsx's loader thread idles). */
function busySamples(p: CpuProfile): number {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  return p.samples.filter((id) => !idle.has(id)).length;
}

/** Top self-time entries of one V8 .cpuprofile, as percentages of its busy (non-idle) samples. */
function topSelf(profile: CpuProfile, limit: number): { fn: string; selfPct: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const n = byId.get(id);
    if (n === undefined || n.callFrame.functionName === '(idle)') continue;
    const url = n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/');
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
    self.set(fn, (self.get(fn) ?? 0) + 1);
  }
  const total = Math.max(1, busySamples(profile));
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, hits]) => ({ fn, selfPct: Math.round((1000 * hits) / total) / 10 }));
}

function profileSummary(dir: string): Record<string, { fn: string; selfPct: number }[]> {
  const out: Record<string, { fn: string; selfPct: number }[]> = {};
  for (const label of readdirSync(dir).sort()) {
    const files = readdirSync(join(dir, label)).filter((x) => x.endsWith('.cpuprofile'));
    const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, label, f), 'utf8')) as CpuProfile);
    const main = profiles.sort((a, b) => busySamples(b) - busySamples(a))[0];
    if (main !== undefined) out[label] = topSelf(main, 15);
  }
  return out;
}

function mergeCounts(all: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of all) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cases: CaseResult[] = [];
  for (const c of o.cases) cases.push(await runCase(c, o));
  const out = {
    bench: 'ordering-processes',
    transport: 'udp loopback (node:dgram, 4 MiB socket buffers)',
    wire: o.wire,
    replicas: N,
    f: F,
    clients: o.clients,
    clientProcesses: 1,
    batching: {
      mode: 'size',
      maxBatchRequests: o.maxBatch,
      maxInFlight: o.maxInFlight,
      maxDelayMs: o.maxDelayMs,
    },
    warmupSeconds: o.warmup,
    node: process.version,
    cores: cpus().length,
    aim: { throughputPerSecond: 10_000, p99Ms: 2 },
    cases,
    ...(o.profile !== undefined ? { profiles: o.profile } : {}),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    live.killAll();
    process.exit(1);
  },
);
