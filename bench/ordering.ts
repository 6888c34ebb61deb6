/**
 * Ordering benchmark: 4 PBFT replicas (f = 1) in one process, closed-loop clients, batches of 1, 10 and 100,
 * null and 1 KiB requests; and the same requests through an unreplicated server that uses the same codec and
 * MAC path (client authenticator, server verifies, executes, MACs its reply, client verifies), so the BFT
 * overhead is a ratio measured in the same run. Prints JSON.
 *
 *   npm run bench:ordering                 # all cases
 *   npm run bench:ordering -- --quick      # fewer requests
 *   npm run bench:ordering -- --processes  # replicas and clients in separate processes over UDP (ordering-processes.ts)
 *   npm run bench:ordering -- --case 100:null [--requests N]  # one case, BFT and unreplicated only (profiling)
 *
 * Note: all four replicas share one core here, so the ratio includes 4x the replica work of a deployment.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { authPayload, decodeMessage, encodeMessage, requestAuthPayload } from '../src/core/codec/encode.ts';
import type { Reply, Request } from '../src/core/codec/messages.ts';
import { Client } from '../src/core/pbft/client.ts';
import { pbftConfig } from '../src/core/pbft/config.ts';
import { Replica } from '../src/core/pbft/replica.ts';
import type { ClientAction } from '../src/core/pbft/types.ts';
import { Prng } from '../src/core/prng.ts';
import { behaviour, type SimAction, type SimReplica } from '../src/sim/byzantine.ts';
import { groupKeys } from '../src/sim/keys.ts';
import { NullService } from '../src/sim/service.ts';

const USAGE = `usage: npm run bench:ordering -- [--quick] [--case BATCH:REQUEST [--requests N]] [--processes ...]
  --quick                fewer requests per case
  --case 100:null        one case only (batch 1, 10 or 100; request null or 1KiB): BFT and unreplicated, no
                         attacks, no long run; for profiling with node --cpu-prof --import tsx bench/ordering.ts
  --requests N           requests of that case (default: its usual count)
  --processes            replicas and clients in separate processes over UDP (ordering-processes.ts)`;

const quick = process.argv.includes('--quick');
const F = 1;
const N = 3 * F + 1;
/** Abstract ticks advance only while the in-process wire is idle, so timeouts cost little wall time. */
const REQUEST_TIMEOUT_TICKS = 50;

interface CaseResult {
  /** Seconds spent inside the busiest server-side node's step (replica, or the unreplicated server). */
  readonly busiestServerSeconds: number;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number };
}

interface Packet {
  readonly from: number;
  readonly to: number;
  readonly bytes: Uint8Array;
}

function percentiles(samples: number[]): CaseResult['latencyMs'] {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => round(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(s[s.length - 1] ?? 0) };
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Replicated: real replicas, real clients, a FIFO in-process wire. */
interface AttackResult {
  /** Wall time and abstract ticks from the attack's effect to the first commit in a new view. */
  readonly firstNewViewCommit: { readonly ms: number; readonly ticks: number } | undefined;
  /** Throughput after the attacker was replaced (from the first commit in the new view on). */
  readonly afterReplacementRequestsPerSecond: number | undefined;
  readonly views: number;
  /** Busy seconds of the busiest replica other than replica 0 (the attacker's own work does not count). */
  readonly busiestCorrectSeconds: number;
}

/**
 * `attack`: a Byzantine catalog entry put on replica 0 (the first primary) from the start, or 'crash-midway':
 * replica 0 stops after half the requests (the crash-to-new-view measurement).
 */
function runBft(
  batch: number,
  opBytes: number,
  total: number,
  memory: MemoryProbe | undefined,
  attack?: string,
): CaseResult & AttackResult {
  const clientCount = Math.max(4, 2 * batch);
  const clientIds = Array.from({ length: clientCount }, (_, i) => 1000 + i);
  const config = pbftConfig(F, {
    maxBatchRequests: batch,
    batching: { mode: 'size', maxDelayTicks: 1 },
    checkpointInterval: 16,
    watermarkWindow: 64,
    maxInFlight: 8,
    maxPendingRequests: clientCount + 16,
    requestTimeoutTicks: REQUEST_TIMEOUT_TICKS,
    viewChangeTimeoutTicks: REQUEST_TIMEOUT_TICKS,
  });
  const keys = groupKeys(1, N, clientIds);
  const replicas = Array.from(
    { length: N },
    (_, id) => new Replica({ id, config, crypto: keys.cryptoFor(id), service: new NullService() }),
  );
  const nodes: SimReplica[] = replicas.map((r) => ({ step: (input) => r.step(input) }));
  if (attack !== undefined && attack !== 'crash-midway') {
    nodes[0] = behaviour(attack).create({
      id: 0,
      config,
      crypto: keys.cryptoFor(0),
      rng: new Prng(7),
      nodes: 1000 + clientCount,
      replica: replicas[0]!,
      gst: 0,
    });
  }
  let crashed = false;
  let attackAt: { ms: number; tick: number } | undefined =
    attack === undefined || attack === 'crash-midway' ? undefined : { ms: performance.now(), tick: 0 };
  let firstNewViewCommit: { ms: number; ticks: number } | undefined;
  let replacedAt: { ms: number; completed: number } | undefined;
  let views = 0;
  const clients = new Map(
    clientIds.map((id) => [
      id,
      new Client({ id, config, crypto: keys.cryptoFor(id), retransmitTicks: 1_000_000 }),
    ]),
  );
  const wire: Packet[] = [];
  let head = 0;
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let issued = 0;
  let completed = 0;
  const op = new Uint8Array(opBytes);
  const busy = new Array<number>(N).fill(0);
  const stepReplica = (id: number, input: Parameters<Replica['step']>[0]): SimAction[] => {
    if (crashed && id === 0) return [];
    const t = performance.now();
    const actions = nodes[id]!.step(input);
    busy[id]! += performance.now() - t;
    return actions;
  };

  const onReplica = (id: number, actions: readonly SimAction[]): void => {
    for (const a of actions) {
      if (a.kind === 'send' || a.kind === 'raw') wire.push({ from: id, to: a.to, bytes: a.bytes });
      else if (a.kind === 'multicast') {
        for (let to = 0; to < N; to++) if (to !== id) wire.push({ from: id, to, bytes: a.bytes });
      } else if (a.kind === 'reply') wire.push({ from: id, to: a.client, bytes: a.bytes });
      else if (a.kind === 'event' && a.event.type === 'new-view' && id !== 0)
        views = Math.max(views, a.event.view);
      else if (a.kind === 'execute' && a.view > 0 && id !== 0 && replacedAt === undefined) {
        replacedAt = { ms: performance.now(), completed };
        if (attackAt !== undefined)
          firstNewViewCommit = { ms: round(performance.now() - attackAt.ms), ticks: tick - attackAt.tick };
      }
    }
  };
  const submit = (id: number): void => {
    if (issued >= total) return;
    issued++;
    sentAt.set(id, performance.now());
    const r = clients.get(id)!.submit(op, 0);
    if (!r.ok) throw new Error('client queue full');
    onClient(id, r.actions);
  };
  const onClient = (id: number, actions: readonly ClientAction[]): void => {
    for (const a of actions) {
      if (a.kind === 'multicast') for (let to = 0; to < N; to++) wire.push({ from: id, to, bytes: a.bytes });
      else if (a.kind === 'result') {
        latencies.push(performance.now() - sentAt.get(id)!);
        completed++;
        submit(id);
      }
    }
  };

  let tick = 0;
  let idleTicks = 0;
  const t0 = performance.now();
  for (const id of clientIds) submit(id);
  for (let guard = 0; completed < total && guard < 1e9; guard++) {
    if (attack === 'crash-midway' && !crashed && completed >= total / 2) {
      crashed = true;
      attackAt = { ms: performance.now(), tick };
    }
    if (head >= wire.length) {
      // Idle: let abstract time pass (a partial batch is cut; under attack, timers run out).
      wire.length = 0;
      head = 0;
      tick++;
      idleTicks++;
      for (let id = 0; id < N; id++) onReplica(id, stepReplica(id, { kind: 'tick', now: tick }));
      if (idleTicks > 100_000) throw new Error(`bench stalled at ${completed}/${total} (attack ${attack})`);
      continue;
    }
    idleTicks = 0;
    const p = wire[head++]!;
    if (head > 65536) {
      wire.splice(0, head);
      head = 0;
    }
    if (crashed && (p.to === 0 || p.from === 0)) continue;
    if (p.to < N) onReplica(p.to, stepReplica(p.to, { kind: 'receive', from: p.from, bytes: p.bytes }));
    else onClient(p.to, clients.get(p.to)!.step({ kind: 'receive', from: p.from, bytes: p.bytes }));
    if (memory !== undefined && completed === Math.floor(total / 10)) memory.sample('start', replicas);
  }
  const seconds = (performance.now() - t0) / 1000;
  memory?.sample('end', replicas);
  const after = replacedAt;
  return {
    busiestServerSeconds: round(Math.max(...busy) / 1000),
    requests: completed,
    seconds: round(seconds),
    requestsPerSecond: Math.round(completed / seconds),
    latencyMs: percentiles(latencies),
    firstNewViewCommit,
    afterReplacementRequestsPerSecond:
      after === undefined
        ? undefined
        : Math.round((completed - after.completed) / ((performance.now() - after.ms) / 1000)),
    views,
    busiestCorrectSeconds: Math.max(...busy.slice(1)) / 1000,
  };
}

/** Unreplicated: one server, the same request/reply codec and MAC checks, closed-loop clients. */
function runUnreplicated(opBytes: number, total: number, clientCount: number): CaseResult {
  const server = 0;
  const clientIds = Array.from({ length: clientCount }, (_, i) => 1000 + i);
  const keys = groupKeys(2, 1, clientIds);
  const serverCrypto = keys.cryptoFor(server);
  for (const id of clientIds) keys.cryptoFor(id); // key set-up outside the timed loop, as for the replicas
  const service = new NullService();
  const lastTimestamp = new Map<number, number>();
  const op = new Uint8Array(opBytes);
  const timestamps = new Map<number, number>();
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const wire: Packet[] = [];
  let head = 0;
  let issued = 0;
  let completed = 0;
  const receivers = [server];
  let serverBusy = 0;

  const submit = (id: number): void => {
    if (issued >= total) return;
    issued++;
    const timestamp = (timestamps.get(id) ?? 0) + 1;
    timestamps.set(id, timestamp);
    sentAt.set(id, performance.now());
    const unsigned = { client: id, timestamp, op, auth: [] as Uint8Array[] };
    const request: Request = {
      ...unsigned,
      auth: keys.cryptoFor(id).authenticator(receivers, requestAuthPayload(unsigned)),
    };
    wire.push({ from: id, to: server, bytes: encodeMessage({ kind: 'request', ...request }) });
  };
  const onServer = (bytes: Uint8Array): void => {
    const d = decodeMessage(bytes);
    if (!d.ok || d.message.kind !== 'request') return;
    const r = d.message;
    if (!serverCrypto.verifyAuthenticator(r.client, receivers, requestAuthPayload(r), r.auth)) return;
    if ((lastTimestamp.get(r.client) ?? 0) >= r.timestamp) return;
    lastTimestamp.set(r.client, r.timestamp);
    const result = service.execute();
    const unsigned: Reply = {
      kind: 'reply',
      view: 0,
      client: r.client,
      timestamp: r.timestamp,
      replica: server,
      result,
      tag: new Uint8Array(0),
    };
    const reply: Reply = { ...unsigned, tag: serverCrypto.tag(r.client, authPayload(unsigned)) };
    wire.push({ from: server, to: r.client, bytes: encodeMessage(reply) });
  };
  const onClient = (id: number, bytes: Uint8Array): void => {
    const d = decodeMessage(bytes);
    if (!d.ok || d.message.kind !== 'reply') return;
    if (!keys.cryptoFor(id).verifyTag(server, authPayload(d.message), d.message.tag)) return;
    latencies.push(performance.now() - sentAt.get(id)!);
    completed++;
    submit(id);
  };

  const t0 = performance.now();
  for (const id of clientIds) submit(id);
  while (head < wire.length) {
    const p = wire[head++]!;
    if (head > 65536) {
      wire.splice(0, head);
      head = 0;
    }
    if (p.to === server) {
      const t = performance.now();
      onServer(p.bytes);
      serverBusy += performance.now() - t;
    } else onClient(p.to, p.bytes);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    busiestServerSeconds: round(serverBusy / 1000),
    requests: completed,
    seconds: round(seconds),
    requestsPerSecond: Math.round(completed / seconds),
    latencyMs: percentiles(latencies),
  };
}

// A full collection before each heap sample, so start and end compare live data rather than GC timing.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

class MemoryProbe {
  readonly samples: Record<string, { logEntries: number; checkpointsHeld: number; heapUsedMiB: number }> = {};
  sample(at: string, replicas: readonly Replica[]): void {
    if (this.samples[at] !== undefined) return;
    collect();
    let logEntries = 0;
    let checkpointsHeld = 0;
    for (const r of replicas) {
      logEntries += r.status().logEntries;
      checkpointsHeld += r.status().checkpointsHeld;
    }
    this.samples[at] = {
      logEntries,
      checkpointsHeld,
      heapUsedMiB: round(process.memoryUsage().heapUsed / 2 ** 20),
    };
  }
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}

type BenchCase = { batch: number; opBytes: number; requests: number };

function allCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const opBytes of [0, 1024]) {
    for (const batch of [1, 10, 100]) {
      const base = batch === 1 ? 3000 : batch === 10 ? 15000 : 40000;
      cases.push({ batch, opBytes, requests: quick ? Math.floor(base / 5) : base });
    }
  }
  return cases;
}

function runCases(cases: readonly BenchCase[]): object[] {
  const results = [];
  for (const c of cases) {
    runBft(c.batch, c.opBytes, Math.min(500, c.requests), undefined); // warm-up
    const bft = runBft(c.batch, c.opBytes, c.requests, undefined);
    const clientCount = Math.max(4, 2 * c.batch);
    runUnreplicated(c.opBytes, Math.min(500, c.requests), clientCount);
    const plain = runUnreplicated(c.opBytes, c.requests, clientCount);
    results.push({
      batch: c.batch,
      request: c.opBytes === 0 ? 'null' : '1KiB',
      bft,
      unreplicated: plain,
      throughputRatio: round(bft.requestsPerSecond / plain.requestsPerSecond),
      // One core per node: capacity is set by the busiest replica vs the server (requests per busy second).
      bottleneckRatio: round(
        plain.busiestServerSeconds / plain.requests / (bft.busiestServerSeconds / bft.requests),
      ),
    });
  }
  return results;
}

/** `--case 100:null`: that case alone, printed as the full run prints its entry of `cases`. */
function oneCase(spec: string): void {
  const [batchText, request] = spec.split(':');
  const found = allCases().find(
    (c) => String(c.batch) === batchText && (c.opBytes === 0 ? 'null' : '1KiB') === request,
  );
  if (found === undefined) {
    console.error(`unknown case ${spec}\n${USAGE}`);
    process.exit(2);
  }
  const requests = Number(argValue('--requests') ?? found.requests);
  if (!Number.isInteger(requests) || requests <= 0) {
    console.error(`--requests must be a positive integer\n${USAGE}`);
    process.exit(2);
  }
  const [result] = runCases([{ ...found, requests }]);
  console.log(JSON.stringify({ bench: 'ordering', node: process.version, case: result }, null, 2));
}

function main(): void {
  const results = runCases(allCases());
  // Primary attacks (Aardvark's measure): throughput with replica 0 faulty from the start, as a ratio of the
  // fault-free run in the same process; and after the attacker is replaced (from the first new-view commit).
  const attackRequests = quick ? 4000 : 20000;
  const attackRounds = quick ? 3 : 5;
  runBft(10, 0, 1000, undefined);
  const baselines: number[] = [];
  const attacks: Record<string, unknown> = {};
  for (const name of [
    'crash-midway',
    'silent',
    'crash',
    'equivocate',
    'corrupt-macs',
    'replay',
    'random-bytes',
  ]) {
    // One thread's throughput drifts by tens of percent between runs a second apart (JIT, GC, the machine), so
    // each round flies the fault-free case and then the attack, and the figures are medians over the rounds'
    // ratios: a ratio compares two runs adjacent in time.
    const rounds: {
      ratio: number;
      bottleneck: number;
      after: number | undefined;
      r: CaseResult & AttackResult;
    }[] = [];
    for (let i = 0; i < attackRounds; i++) {
      const baseline = runBft(10, 0, attackRequests, undefined);
      baselines.push(baseline.requestsPerSecond);
      const r = runBft(10, 0, attackRequests, undefined, name);
      rounds.push({
        ratio: r.requestsPerSecond / baseline.requestsPerSecond,
        bottleneck:
          baseline.busiestCorrectSeconds / baseline.requests / (r.busiestCorrectSeconds / r.requests),
        after:
          r.afterReplacementRequestsPerSecond === undefined
            ? undefined
            : r.afterReplacementRequestsPerSecond / baseline.requestsPerSecond,
        r,
      });
    }
    const ratios = rounds.map((x) => x.ratio);
    const afters = rounds.flatMap((x) => (x.after === undefined ? [] : [x.after]));
    const last = rounds[rounds.length - 1]!.r;
    attacks[name] = {
      requestsPerSecond: round(median(rounds.map((x) => x.r.requestsPerSecond))),
      ratio: round(median(ratios)),
      ratioRange: [round(Math.min(...ratios)), round(Math.max(...ratios))],
      bottleneckRatio: round(median(rounds.map((x) => x.bottleneck))),
      afterReplacementRatio: afters.length === 0 ? null : round(median(afters)),
      firstNewViewCommit: last.firstNewViewCommit ?? null,
      finalView: last.views,
    };
  }
  // Long run for memory: the log must stay bounded by the watermark window across many checkpoints.
  const memory = new MemoryProbe();
  const longRun = runBft(100, 0, quick ? 40_000 : 200_000, memory);
  console.log(
    JSON.stringify(
      {
        bench: 'ordering',
        replicas: N,
        f: F,
        node: process.version,
        note:
          'all replicas and clients share one thread. throughputRatio = BFT / unreplicated requests per second in ' +
          'that thread (BFT pays 4 replicas + f+1-reply clients). bottleneckRatio models one core per node: ' +
          'server busy time per request / busiest replica busy time per request.',
        cases: results,
        attacks: {
          batch: 10,
          request: 'null',
          rounds: attackRounds,
          baselineRequestsPerSecond: round(median(baselines)),
          note:
            'each figure is the median over rounds of (fault-free run, then attacked run) pairs; ratioRange is ' +
            'the lowest and highest round. ratio: whole run (includes the view change) / fault-free, one thread (a dead replica frees CPU for the ' +
            'others, so it can exceed 1); bottleneckRatio: the same with one core per node (busiest correct ' +
            'replica busy time per request); afterReplacementRatio: from the first commit ' +
            'in a new view on. firstNewViewCommit: from the crash to that commit (ticks: abstract time; the ' +
            'request timeout is ' +
            REQUEST_TIMEOUT_TICKS +
            ' ticks).',
          results: attacks,
        },
        memory: {
          requests: longRun.requests,
          requestsPerSecond: longRun.requestsPerSecond,
          ...memory.samples,
        },
      },
      null,
      2,
    ),
  );
}

// Across OS processes is a different harness (child processes over UDP loopback); it takes the same flag style.
if (process.argv.includes('--help')) console.log(USAGE);
else if (process.argv.includes('--processes')) await import('./ordering-processes.ts');
else if (argValue('--case') !== undefined) oneCase(argValue('--case')!);
else main();
