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
import { InvariantChecker } from './invariants.ts';
import { groupKeys } from './keys.ts';
import { Network, type NetworkParams, type Partition } from './network.ts';
import { FoldService } from './service.ts';

/** Behaviours drawn for faulty replicas by default: the whole catalog (any replica, the first primary included). */
export const DEFAULT_BEHAVIOURS: readonly string[] = behaviours().map((b) => b.name);

export interface SimOptions {
  readonly seed: number;
  readonly f: number;
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
  /** Build a correct replica differently (tests: a deliberately broken one). */
  readonly makeReplica?: (options: ReplicaOptions) => Replica;
  readonly network?: Partial<NetworkParams>;
  readonly clients?: number;
  readonly requestsPerClient?: number;
  /** Flooding clients (the catalog's client entry, src/sim/flood.ts) besides the correct ones. Default 0. */
  readonly floodingClients?: number;
  /** Stop after this much virtual time whatever happens (default: derived from the liveness bound). */
  readonly horizonMs?: number;
}

export interface SimResult {
  readonly seed: number;
  readonly f: number;
  readonly simulatedMs: number;
  readonly gst: number;
  readonly livenessBoundMs: number;
  readonly requestsIssued: number;
  readonly requestsCompleted: number;
  readonly batchesExecuted: number;
  readonly maxLatencyAfterGstMs: number;
  readonly faulty: readonly { replica: ReplicaId; behaviour: string }[];
  readonly batching: 'frame' | 'size';
  readonly messages: { sent: number; lost: number; duplicated: number };
  readonly rejections: Readonly<Record<string, number>>;
  readonly events: Readonly<Record<string, number>>;
}

/** The exact command that replays one seed. */
export function replayCommand(seed: number, f: number): string {
  return `npm run sim:seeds -- --seed ${seed} --f ${f}`;
}

/** The exact command that replays a run with these options (those the command line can express). */
export function replayCommandFor(o: SimOptions): string {
  const parts = [replayCommand(o.seed, o.f)];
  if (o.behaviours !== undefined) parts.push(`--behaviours ${o.behaviours.join(',')}`);
  if (o.faultyBackups !== undefined) parts.push(`--faulty ${o.faultyBackups}`);
  if (o.primaryBehaviour !== undefined) parts.push(`--primary ${o.primaryBehaviour}`);
  if (o.faultyMayIncludePrimary === false) parts.push('--backups-only true');
  if ((o.floodingClients ?? 0) > 0) parts.push(`--flooders ${o.floodingClients}`);
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

type SimEvent =
  | { readonly kind: 'deliver'; readonly to: number; readonly from: number; readonly bytes: Uint8Array }
  | { readonly kind: 'tick' }
  | { readonly kind: 'frame' }
  | { readonly kind: 'submit'; readonly client: number };

export function runSimulation(options: SimOptions): SimResult {
  const { seed, f } = options;
  const rng = new Prng(seed);
  const scenarioRng = rng.fork();
  const n = 3 * f + 1;
  const clientCount = options.clients ?? 2 + scenarioRng.int(3);
  const requestsPerClient = options.requestsPerClient ?? 5 + scenarioRng.int(8);
  const clientIds = Array.from({ length: clientCount }, (_, i) => n + i);
  const flooderIds = Array.from({ length: options.floodingClients ?? 0 }, (_, i) => n + clientCount + i);
  const nodes = n + clientCount + flooderIds.length;

  const k = 2 + scenarioRng.int(6);
  const batchingMode: 'frame' | 'size' = scenarioRng.chance(0.5) ? 'frame' : 'size';
  const frameMs = 5 + scenarioRng.int(20);
  const config: PbftConfig = pbftConfig(f, {
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

  const keys = groupKeys(seed, n, [...clientIds, ...flooderIds]);
  const checker = new InvariantChecker(seed, replayCommandFor(options));
  const network = new Network(params, rng.fork(), nodes);
  const faultRng = rng.fork();

  const faulty = chooseFaulty(options, faultRng, n, f);
  const faultyIds = new Set(faulty.map((x) => x.replica));
  const makeReplica = options.makeReplica ?? ((o: ReplicaOptions) => new Replica(o));
  const replicas: ReplicaStepper[] = [];
  for (let id = 0; id < n; id++) {
    const replicaOptions: ReplicaOptions = {
      id,
      config,
      crypto: keys.cryptoFor(id),
      service: new FoldService(),
    };
    const fault = faulty.find((x) => x.replica === id);
    if (fault === undefined) {
      replicas.push(makeReplica(replicaOptions));
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

  const queue = new EventQueue<SimEvent>();
  const rejections: Record<string, number> = {};
  const events: Record<string, number> = {};
  let now = 0;
  let batchesExecuted = 0;
  let maxLatencyAfterGst = 0;
  const issuedAt = new Map<string, number>();

  const transmit = (from: number, to: number, bytes: Uint8Array): void => {
    if (to < 0 || to >= nodes || to === from) return;
    for (const d of network.delays(from, to, now)) queue.push(now + d, { kind: 'deliver', to, from, bytes });
  };

  const onReplicaActions = (id: number, actions: readonly StepOutput[]): void => {
    const correct = !faultyIds.has(id);
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
          if (correct) {
            checker.onExecute(id, a.seq, a.batchDigest, a.requests);
            batchesExecuted++;
          }
          break;
        case 'event':
          if (correct) countEvent(a.event, events, rejections);
          if (correct && a.event.type === 'state-restored') checker.onRestore(id, a.event.seq);
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
          const sent = issuedAt.get(`${id}:${a.timestamp}`) ?? now;
          if (sent >= gst) maxLatencyAfterGst = Math.max(maxLatencyAfterGst, now - sent);
          const left = remaining.get(id)! - 1;
          remaining.set(id, left);
          if (left > 0) queue.push(now + clientRng.float() * 20, { kind: 'submit', client: id });
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
  for (const id of clientIds) queue.push(clientRng.float() * gst, { kind: 'submit', client: id });
  queue.push(0, { kind: 'tick' });
  if (batchingMode === 'frame') queue.push(frameMs, { kind: 'frame' });

  const horizon = options.horizonMs ?? gst + livenessBoundMs * (requestsPerClient + 2);
  const done = (): boolean => [...remaining.values()].every((left) => left === 0);
  for (let guard = 0; guard < 50_000_000; guard++) {
    const next = queue.pop();
    if (next === undefined || next.time > horizon) break;
    now = next.time;
    const e = next.value;
    switch (e.kind) {
      case 'deliver':
        if (e.to < n)
          onReplicaActions(e.to, replicas[e.to]!.step({ kind: 'receive', from: e.from, bytes: e.bytes }));
        else if (e.to < n + clientCount)
          onClientActions(e.to, clients[e.to - n]!.step({ kind: 'receive', from: e.from, bytes: e.bytes }));
        // Replies to a flooding client are dropped: it does not listen.
        break;
      case 'tick': {
        const tick: ReplicaInput = { kind: 'tick', now };
        for (let id = 0; id < n; id++) onReplicaActions(id, replicas[id]!.step(tick));
        for (const c of clients) onClientActions(c.id, c.step(tick));
        for (const fl of flooders) {
          const { fresh, all } = fl.burst();
          for (const r of fresh) checker.onFaultyIssue(fl.id, r.timestamp, r.op);
          for (const bytes of all) for (let to = 0; to < n; to++) transmit(fl.id, to, bytes);
        }
        queue.push(now + TICK_MS, { kind: 'tick' });
        break;
      }
      case 'frame':
        for (let id = 0; id < n; id++) onReplicaActions(id, replicas[id]!.step({ kind: 'frame' }));
        queue.push(now + frameMs, { kind: 'frame' });
        break;
      case 'submit': {
        const client = clients[e.client - n]!;
        const op = clientRng.bytes(1 + clientRng.int(16));
        const submitted = client.submit(op, now);
        if (!submitted.ok) throw new Error('invariant: simulated client queue full');
        checker.onIssue(e.client, submitted.timestamp, op, now);
        issuedAt.set(`${e.client}:${submitted.timestamp}`, now);
        onClientActions(e.client, submitted.actions);
        break;
      }
    }
    if (done()) break;
  }

  if (options.checkLiveness ?? true) checker.checkLiveness(gst, livenessBoundMs, now);
  const counts = checker.counts();
  return {
    seed,
    f,
    simulatedMs: now,
    gst,
    livenessBoundMs,
    requestsIssued: counts.issued,
    requestsCompleted: counts.completed,
    batchesExecuted,
    maxLatencyAfterGstMs: maxLatencyAfterGst,
    faulty,
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
