/**
 * Deterministic PBFT simulation: replicas (correct or from the Byzantine catalog), clients and a network model
 * under a virtual clock, all drawn from one seed. Invariants are checked on every execution; a violation throws
 * an InvariantViolation naming the seed and the command that replays it.
 *
 * @example
 * const result = runSimulation({ seed: 1234, f: 2 }); // throws on any violation
 */

import { EventQueue } from '../core/event-queue.ts';
import { Client } from '../core/pbft/client.ts';
import { type PbftConfig, pbftConfig, type ReplicaId } from '../core/pbft/config.ts';
import { Replica, type ReplicaOptions } from '../core/pbft/replica.ts';
import type {
  ClientAction,
  ReplicaEvent,
  ReplicaInput,
  ReplicaStepper,
  StepOutput,
} from '../core/pbft/types.ts';
import { Prng } from '../core/prng.ts';
import { behaviour, behaviours } from './byzantine.ts';
import { FloodingClient } from './flood.ts';
import { type Intruder, intruder } from './intruders.ts';
import { InvariantChecker } from './invariants.ts';
import { groupKeys } from './keys.ts';
import { Network, type NetworkParams, type Partition } from './network.ts';
import { FoldService } from './service.ts';

/** Behaviours drawn for faulty replicas by default: the whole catalog (any replica, the first primary included). */
export const DEFAULT_BEHAVIOURS: readonly string[] = behaviours().map((b) => b.name);

export interface SimOptions {
  readonly seed: number;
  readonly f: number;
  /** Replicas in the group (default 3f+1; any n >= 3f+1 is a topology the core must handle). */
  readonly n?: number;
  /** Catalog names faulty backups are drawn from. Default DEFAULT_BEHAVIOURS. */
  readonly behaviours?: readonly string[];
  /** How many faulty replicas besides `primaryBehaviour` (default: drawn from 0..f). */
  readonly faultyBackups?: number;
  /** Whether randomly chosen faulty replicas may include replica 0, the first primary. Default true. */
  readonly faultyMayIncludePrimary?: boolean;
  /** A behaviour for replica 0, the primary of view 0 (counts toward f). */
  readonly primaryBehaviour?: string;
  /** Check that every request commits within the stated bound after GST. Default true. */
  readonly checkLiveness?: boolean;
  /**
   * Correct clients keep submitting past `requestsPerClient` until this long after GST (default 0: the run ends
   * when the quota is done, often soon after GST). What happens after GST (a correct primary blamed, a livelock
   * that only shows later) needs the load to go on: `SETTLED_LOAD_MS` is a good value.
   */
  readonly loadAfterGstMs?: number;
  /** Check that no correct replica suspects a correct primary once GST has settled. Default true. */
  readonly checkSuspicion?: boolean;
  /** Build a correct replica differently (tests: a deliberately broken one). */
  readonly makeReplica?: (options: ReplicaOptions) => Replica;
  readonly network?: Partial<NetworkParams>;
  readonly clients?: number;
  readonly requestsPerClient?: number;
  /** Flooding clients (the catalog's client entry, src/sim/flood.ts) besides the correct ones. Default 0. */
  readonly floodingClients?: number;
  /** Intruders by catalog name (src/sim/intruders.ts), one node each, after the flooding clients. Default none. */
  readonly intruders?: readonly string[];
  /** Called once the scenario is drawn, before the run (so a caller knows who was faulty even if the run fails). */
  readonly onStart?: (scenario: { readonly faulty: SimResult['faulty']; readonly n: number }) => void;
  /** Stop after this much virtual time whatever happens (default: derived from the liveness bound). */
  readonly horizonMs?: number;
}

export interface SimResult {
  readonly seed: number;
  readonly f: number;
  readonly n: number;
  readonly simulatedMs: number;
  readonly gst: number;
  readonly livenessBoundMs: number;
  readonly requestsIssued: number;
  readonly requestsCompleted: number;
  readonly batchesExecuted: number;
  readonly maxLatencyAfterGstMs: number;
  /** Views of correct primaries left after GST within an intruder's stated budget (ForcedViewChanges). */
  readonly forcedViewChanges: number;
  readonly faulty: readonly { replica: ReplicaId; behaviour: string }[];
  readonly intruders: readonly string[];
  readonly batching: 'frame' | 'size';
  readonly messages: { sent: number; lost: number; duplicated: number };
  readonly rejections: Readonly<Record<string, number>>;
  readonly events: Readonly<Record<string, number>>;
}

/** The exact command that replays one seed (`n` only when it is not the classic 3f+1). */
export function replayCommand(seed: number, f: number, n?: number): string {
  const topology = n === undefined || n === 3 * f + 1 ? '' : ` --n ${n}`;
  return `npm run sim:seeds -- --seed ${seed} --f ${f}${topology}`;
}

/** The exact command that replays a run with these options (those the command line can express). */
export function replayCommandFor(o: SimOptions): string {
  const parts = [replayCommand(o.seed, o.f, o.n)];
  if (o.behaviours !== undefined) parts.push(`--behaviours ${o.behaviours.join(',')}`);
  if (o.faultyBackups !== undefined) parts.push(`--faulty ${o.faultyBackups}`);
  if (o.primaryBehaviour !== undefined) parts.push(`--primary ${o.primaryBehaviour}`);
  if (o.faultyMayIncludePrimary === false) parts.push('--backups-only true');
  if ((o.floodingClients ?? 0) > 0) parts.push(`--flooders ${o.floodingClients}`);
  if ((o.intruders ?? []).length > 0) parts.push(`--intruders ${o.intruders!.join(',')}`);
  if ((o.loadAfterGstMs ?? 0) > 0) parts.push(`--after-gst ${o.loadAfterGstMs}`);
  if (o.clients !== undefined) parts.push(`--clients ${o.clients}`);
  if (o.requestsPerClient !== undefined) parts.push(`--requests ${o.requestsPerClient}`);
  return parts.join(' ');
}

const TICK_MS = 5;
const STALL_TICKS_MS = 40;
const CLIENT_RETRANSMIT_MS = 60;
const CLIENT_MAX_RETRANSMIT_MS = 16 * CLIENT_RETRANSMIT_MS;
const REQUEST_TIMEOUT_MS = 200;
const MAX_DELAY_AFTER_GST_MS = 20;
const VIEW_CHANGE_TIMEOUT_MS = 200;
const MAX_VIEW_CHANGE_TIMEOUT_MS = 8 * VIEW_CHANGE_TIMEOUT_MS;
/**
 * After GST, how long timers started before it may still fire: a request timeout for a request held since before
 * GST, plus the rounds that order it (forward to the primary after a stall, propose, prepare, commit).
 */
const SUSPICION_SETTLE_MS = 2 * REQUEST_TIMEOUT_MS + 4 * STALL_TICKS_MS;
/** A pause of every client after GST has settled: longer than the request timeout, so timers would show. */
const QUIET_MS = 2 * REQUEST_TIMEOUT_MS;
/** Load after GST that exercises the settled system: settle, a quiet period, then load again as long. */
export const SETTLED_LOAD_MS = 2 * SUSPICION_SETTLE_MS + QUIET_MS;
/** How often (ticks) liveness deadlines are checked during a run, so a stuck run ends at its first miss. */
const LIVENESS_EVERY_TICKS = 50;

type SimEvent =
  | { readonly kind: 'deliver'; readonly to: number; readonly from: number; readonly bytes: Uint8Array }
  | { readonly kind: 'tick' }
  | { readonly kind: 'frame' }
  | { readonly kind: 'submit'; readonly client: number };

export function runSimulation(options: SimOptions): SimResult {
  const { seed, f } = options;
  const rng = new Prng(seed);
  const scenarioRng = rng.fork();
  const n = options.n ?? 3 * f + 1;
  const clientCount = options.clients ?? 2 + scenarioRng.int(3);
  const requestsPerClient = options.requestsPerClient ?? 5 + scenarioRng.int(8);
  const clientIds = Array.from({ length: clientCount }, (_, i) => n + i);
  const flooderIds = Array.from({ length: options.floodingClients ?? 0 }, (_, i) => n + clientCount + i);
  const intruderEntries = (options.intruders ?? []).map((name) => intruder(name));
  const intruderBase = n + clientCount + flooderIds.length;
  const intruderIds = intruderEntries.map((_, i) => intruderBase + i);
  const keyedIntruderIds = intruderIds.filter((_, i) => intruderEntries[i]!.keyed);
  const nodes = intruderBase + intruderIds.length;

  const k = 2 + scenarioRng.int(6);
  const batchingMode: 'frame' | 'size' = scenarioRng.chance(0.5) ? 'frame' : 'size';
  const frameMs = 5 + scenarioRng.int(20);
  const config: PbftConfig = pbftConfig(f, {
    n,
    checkpointInterval: k,
    watermarkWindow: k * (2 + scenarioRng.int(3)),
    maxBatchRequests: 1 + scenarioRng.int(8),
    maxInFlight: 1 + scenarioRng.int(2 * k),
    batching:
      batchingMode === 'frame'
        ? { mode: 'frame' }
        : { mode: 'size', maxDelayTicks: scenarioRng.int(3) * TICK_MS },
    stallTicks: STALL_TICKS_MS,
    requestTimeoutTicks: REQUEST_TIMEOUT_MS,
    // Monitoring must allow a forwarded request (stall) and a round trip of the slowest link after GST.
    proposalTimeoutTicks: STALL_TICKS_MS + 4 * MAX_DELAY_AFTER_GST_MS,
    maxMissedFrames: Math.ceil((STALL_TICKS_MS + 4 * MAX_DELAY_AFTER_GST_MS) / frameMs),
    viewChangeTimeoutTicks: VIEW_CHANGE_TIMEOUT_MS,
    maxViewChangeTimeoutTicks: MAX_VIEW_CHANGE_TIMEOUT_MS,
  });

  const gst = options.network?.gst ?? 100 + scenarioRng.int(900);
  const params: NetworkParams = {
    gst,
    loss: scenarioRng.float() * 0.3,
    duplicate: scenarioRng.float() * 0.1,
    jitterBeforeGst: scenarioRng.float() * 40,
    maxDelayAfterGst: 5 + scenarioRng.int(MAX_DELAY_AFTER_GST_MS - 5),
    partitions: randomPartitions(scenarioRng, nodes, gst),
    ...options.network,
  };
  // Stated bound: a client's back-off ceiling, plus stall detection and recovery rounds, plus message delays,
  // plus up to f+1 view changes (each a request timeout and at most the ceiling of the view-change timeout,
  // which may have grown before GST): every faulty replica may be the primary of one view.
  const livenessBoundMs =
    2 * CLIENT_MAX_RETRANSMIT_MS +
    20 * STALL_TICKS_MS +
    60 * params.maxDelayAfterGst +
    (f + 1) * (REQUEST_TIMEOUT_MS + MAX_VIEW_CHANGE_TIMEOUT_MS);

  const keys = groupKeys(seed, n, [...clientIds, ...flooderIds, ...keyedIntruderIds]);
  const checker = new InvariantChecker(seed, replayCommandFor(options), config);
  const network = new Network(params, rng.fork(), nodes);
  const faultRng = rng.fork();

  const faulty = chooseFaulty(options, faultRng, n, f);
  const faultyIds = new Set(faulty.map((x) => x.replica));
  options.onStart?.({ faulty, n });
  const makeReplica = options.makeReplica ?? ((o: ReplicaOptions) => new Replica(o));
  const replicas: ReplicaStepper[] = [];
  /** The correct replicas themselves (not behind a behaviour): the checker reads their state after each step. */
  const correct = new Map<number, Replica>();
  for (let id = 0; id < n; id++) {
    const replicaOptions: ReplicaOptions = {
      id,
      config,
      crypto: keys.cryptoFor(id),
      service: new FoldService(),
    };
    const fault = faulty.find((x) => x.replica === id);
    if (fault === undefined) {
      const r = makeReplica(replicaOptions);
      correct.set(id, r);
      replicas.push(r);
    } else {
      replicas.push(
        behaviour(fault.behaviour).create({
          id,
          config,
          crypto: keys.cryptoFor(id),
          rng: faultRng.fork(),
          nodes,
          replica: new Replica(replicaOptions),
          gst,
        }),
      );
    }
  }
  const clients = clientIds.map(
    (id) =>
      new Client({
        id,
        config,
        crypto: keys.cryptoFor(id),
        retransmitTicks: CLIENT_RETRANSMIT_MS,
        maxRetransmitTicks: CLIENT_MAX_RETRANSMIT_MS,
      }),
  );
  const remaining = new Map<number, number>(clientIds.map((id) => [id, requestsPerClient]));
  /** Correct clients keep submitting (past their quota) until then, so behaviour after GST is exercised. */
  const loadUntil =
    (options.loadAfterGstMs ?? 0) > 0 ? gst + options.loadAfterGstMs! : Number.NEGATIVE_INFINITY;
  /** Clients with a request submitted and not yet answered (a run with load after GST waits for them). */
  const outstanding = new Set<number>();
  // With enough load after GST, every client pauses once in the settled period: an idle system whose next request
  // must not find a timer already running (a stray PREPARE's slot, a request timer started by a faulty node).
  const quietStart = gst + SUSPICION_SETTLE_MS;
  const quietEnd =
    loadUntil >= quietStart + QUIET_MS + SUSPICION_SETTLE_MS ? quietStart + QUIET_MS : quietStart;
  const afterQuiet = (t: number): number => (t >= quietStart && t < quietEnd ? quietEnd : t);

  const queue = new EventQueue<SimEvent>();
  const rejections: Record<string, number> = {};
  const events: Record<string, number> = {};
  let now = 0;
  let batchesExecuted = 0;
  let maxLatencyAfterGst = 0;
  const issuedAt = new Map<string, number>();

  // Sniffing intruders overhear traffic between other nodes (a shared medium); created after the other streams.
  const sniffers: { id: number; intruder: Intruder }[] = [];
  const transmit = (from: number, to: number, bytes: Uint8Array): void => {
    if (to < 0 || to >= nodes || to === from) return;
    for (const s of sniffers) if (s.id !== from && s.id !== to) s.intruder.overhear?.(from, to, bytes);
    for (const d of network.delays(from, to, now)) queue.push(now + d, { kind: 'deliver', to, from, bytes });
  };

  const forced = new ForcedViewChanges(
    intruderEntries.filter((e) => e.forcedViewChanges === 'f-per-vouch-first-period').length * f,
    config.vouchFirstTicks,
  );
  /**
   * A correct replica that suspects the primary of its view (request timer, or Aardvark's rate monitor) long
   * enough after GST that every timer started before GST has run out, while that primary is correct, was made to
   * blame a correct primary: one faulty client or replica forced a view change (issue 9, class 4).
   */
  const suspected = (id: number, e: Extract<ReplicaEvent, { type: 'view-change' }>): void => {
    if (e.reason !== 'request-timeout' && e.reason !== 'slow-primary') return;
    const left = e.view - 1;
    const primary = left % n;
    if (faultyIds.has(primary) || now < gst + SUSPICION_SETTLE_MS) return;
    if (forced.allows(left, now)) return;
    checker.fail(
      'a correct primary keeps its view after GST',
      `replica ${id} left view ${left} (correct primary ${primary}) for ${e.reason} at ${Math.round(now)} ms, GST ${Math.round(gst)} ms`,
    );
  };

  /** Step replica `id`; a correct one must not throw, and its invariants must hold after every step. */
  const stepReplica = (id: number, input: ReplicaInput): readonly StepOutput[] => {
    const r = correct.get(id);
    if (r === undefined) return replicas[id]!.step(input);
    let out: readonly StepOutput[];
    try {
      out = r.step(input);
    } catch (e) {
      return checker.fail(
        'a correct replica never throws',
        `replica ${id} on ${input.kind}: ${errorText(e)}`,
      );
    }
    checker.afterStep(id, r);
    return out;
  };

  const onReplicaActions = (id: number, actions: readonly StepOutput[]): void => {
    const isCorrect = !faultyIds.has(id);
    for (const a of actions) {
      switch (a.kind) {
        case 'send':
        case 'raw':
          transmit(id, a.to, a.bytes);
          break;
        case 'multicast':
          for (let to = 0; to < n; to++) if (to !== id) transmit(id, to, a.bytes);
          break;
        case 'reply':
          transmit(id, a.client, a.bytes);
          break;
        case 'execute':
          if (isCorrect) {
            checker.onExecute(id, a.seq, a.batchDigest, a.requests);
            batchesExecuted++;
          }
          break;
        case 'event':
          if (isCorrect) countEvent(a.event, events, rejections);
          if (isCorrect && a.event.type === 'state-restored') checker.onRestore(id, a.event.seq);
          if (isCorrect && a.event.type === 'view-change' && checkSuspicion) suspected(id, a.event);
          break;
      }
    }
  };

  const onClientActions = (id: number, actions: readonly ClientAction[]): void => {
    for (const a of actions) {
      switch (a.kind) {
        case 'multicast':
          for (let to = 0; to < n; to++) transmit(id, to, a.bytes);
          break;
        case 'result': {
          checker.onResult(id, a.timestamp, now);
          outstanding.delete(id);
          const sent = issuedAt.get(`${id}:${a.timestamp}`) ?? now;
          if (sent >= gst) maxLatencyAfterGst = Math.max(maxLatencyAfterGst, now - sent);
          const left = remaining.get(id)! - 1;
          remaining.set(id, left);
          if (left > 0 || now < loadUntil)
            queue.push(afterQuiet(now + clientRng.float() * 20), { kind: 'submit', client: id });
          break;
        }
        case 'event':
          events[`client-${a.event.type}`] = (events[`client-${a.event.type}`] ?? 0) + 1;
          break;
      }
    }
  };

  const clientRng = rng.fork();
  // Forked after every earlier stream, so adding flooders never changes the scenario a seed replays.
  const floodRng = rng.fork();
  const allReplicas = Array.from({ length: n }, (_, i) => i);
  const flooders = flooderIds.map(
    (id) => new FloodingClient(id, allReplicas, keys.cryptoFor(id), floodRng.fork()),
  );
  // Forked after the flooders' stream, for the same reason.
  const intruderRng = rng.fork();
  const intruderNodes = intruderEntries.map((entry, i) =>
    entry.create({
      id: intruderIds[i]!,
      config,
      crypto: entry.keyed ? keys.cryptoFor(intruderIds[i]!) : undefined,
      rng: intruderRng.fork(),
      nodes,
      gst,
    }),
  );
  intruderNodes.forEach((node, i) => {
    if (node.overhear !== undefined) sniffers.push({ id: intruderIds[i]!, intruder: node });
  });
  const checkLiveness = options.checkLiveness ?? true;
  const checkSuspicion = options.checkSuspicion ?? true;
  let ticks = 0;
  for (const id of clientIds) queue.push(clientRng.float() * gst, { kind: 'submit', client: id });
  queue.push(0, { kind: 'tick' });
  if (batchingMode === 'frame') queue.push(frameMs, { kind: 'frame' });

  const horizon = options.horizonMs ?? gst + livenessBoundMs * (requestsPerClient + 2);
  const done = (): boolean =>
    now >= loadUntil && outstanding.size === 0 && [...remaining.values()].every((left) => left <= 0);
  for (let guard = 0; guard < 50_000_000; guard++) {
    const next = queue.pop();
    if (next === undefined || next.time > horizon) break;
    now = next.time;
    const e = next.value;
    switch (e.kind) {
      case 'deliver':
        if (e.to < n)
          onReplicaActions(e.to, stepReplica(e.to, { kind: 'receive', from: e.from, bytes: e.bytes }));
        else if (e.to < n + clientCount)
          onClientActions(e.to, clients[e.to - n]!.step({ kind: 'receive', from: e.from, bytes: e.bytes }));
        else if (e.to >= intruderBase) intruderNodes[e.to - intruderBase]!.receive(e.from, e.bytes);
        // Replies to a flooding client are dropped: it does not listen.
        break;
      case 'tick': {
        const tick: ReplicaInput = { kind: 'tick', now };
        for (let id = 0; id < n; id++) onReplicaActions(id, stepReplica(id, tick));
        for (const c of clients) onClientActions(c.id, c.step(tick));
        for (const fl of flooders) {
          const { fresh, all } = fl.burst();
          for (const r of fresh) checker.onFaultyIssue(fl.id, r.timestamp, r.op);
          for (const bytes of all) for (let to = 0; to < n; to++) transmit(fl.id, to, bytes);
        }
        intruderNodes.forEach((node, i) => {
          const id = intruderIds[i]!;
          const { sends, issued } = node.tick(now);
          for (const r of issued) checker.onFaultyIssue(id, r.timestamp, r.op);
          for (const m of sends) {
            if (m.to !== undefined) transmit(id, m.to, m.bytes);
            else for (let to = 0; to < n; to++) transmit(id, to, m.bytes);
          }
        });
        // A run that already missed a deadline stops here: a livelocked run would otherwise spin to the horizon.
        if (checkLiveness && ++ticks % LIVENESS_EVERY_TICKS === 0)
          checker.checkLiveness(gst, livenessBoundMs, now);
        queue.push(now + TICK_MS, { kind: 'tick' });
        break;
      }
      case 'frame':
        for (let id = 0; id < n; id++) onReplicaActions(id, stepReplica(id, { kind: 'frame' }));
        queue.push(now + frameMs, { kind: 'frame' });
        break;
      case 'submit': {
        const client = clients[e.client - n]!;
        const op = clientRng.bytes(1 + clientRng.int(16));
        const submitted = client.submit(op, now);
        if (!submitted.ok) throw new Error('invariant: simulated client queue full');
        checker.onIssue(e.client, submitted.timestamp, op, now);
        issuedAt.set(`${e.client}:${submitted.timestamp}`, now);
        outstanding.add(e.client);
        onClientActions(e.client, submitted.actions);
        break;
      }
    }
    if (done()) break;
  }

  if (checkLiveness) checker.checkLiveness(gst, livenessBoundMs, now);
  const counts = checker.counts();
  return {
    seed,
    f,
    n,
    simulatedMs: now,
    gst,
    livenessBoundMs,
    requestsIssued: counts.issued,
    requestsCompleted: counts.completed,
    batchesExecuted,
    maxLatencyAfterGstMs: maxLatencyAfterGst,
    forcedViewChanges: forced.count,
    faulty,
    intruders: intruderEntries.map((e) => e.name),
    batching: batchingMode,
    messages: { sent: network.sent, lost: network.lost, duplicated: network.duplicated },
    rejections,
    events,
  };
}

function chooseFaulty(
  options: SimOptions,
  rng: Prng,
  n: number,
  f: number,
): { replica: ReplicaId; behaviour: string }[] {
  const names = options.behaviours ?? DEFAULT_BEHAVIOURS;
  const out: { replica: ReplicaId; behaviour: string }[] = [];
  if (options.primaryBehaviour !== undefined) out.push({ replica: 0, behaviour: options.primaryBehaviour });
  const budget = f - out.length;
  const count = Math.min(budget, options.faultyBackups ?? rng.int(f + 1));
  if (names.length === 0) return out;
  const mayIncludePrimary =
    (options.faultyMayIncludePrimary ?? true) && options.primaryBehaviour === undefined;
  const backups = mayIncludePrimary
    ? Array.from({ length: n }, (_, i) => i)
    : Array.from({ length: n - 1 }, (_, i) => i + 1);
  for (let i = 0; i < count; i++) {
    const replica = backups.splice(rng.int(backups.length), 1)[0]!;
    out.push({ replica, behaviour: names[rng.int(names.length)]! });
  }
  return out;
}

function randomPartitions(rng: Prng, nodes: number, gst: number): Partition[] {
  const out: Partition[] = [];
  const count = rng.int(3);
  for (let i = 0; i < count; i++) {
    const start = rng.float() * gst;
    const end = start + rng.float() * (gst - start);
    const side = new Set<number>();
    for (let node = 0; node < nodes; node++) if (rng.chance(0.4)) side.add(node);
    out.push({ start, end, side });
  }
  return out;
}

function countEvent(
  event: ReplicaEvent,
  events: Record<string, number>,
  rejections: Record<string, number>,
): void {
  if (event.type === 'rejected') rejections[event.reason] = (rejections[event.reason] ?? 0) + 1;
  else events[event.type] = (events[event.type] ?? 0) + 1;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * The view changes of correct primaries a run's intruders may force by the core's stated bound (replica.ts: a
 * client whose tags verify at the primary and at fewer than f backups costs at most f views per vouch-first
 * period, the first included): `budget` distinct views left within any `period`. A view is counted once, however
 * many replicas vote to leave it; more than that is a violation like any other.
 */
export class ForcedViewChanges {
  private readonly views = new Map<number, number>();

  /** Views forgiven so far. */
  get count(): number {
    return this.views.size;
  }

  constructor(
    private readonly budget: number,
    private readonly period: number,
  ) {}

  /** Whether leaving `view` at `now` is within the budget (and count it if so). */
  allows(view: number, now: number): boolean {
    if (this.views.has(view)) return true;
    let recent = 0;
    for (const at of this.views.values()) if (at > now - this.period) recent++;
    if (recent >= this.budget) return false;
    this.views.set(view, now);
    return true;
  }
}
