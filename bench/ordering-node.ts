/**
 * Child process of bench/ordering-processes.ts: one PBFT replica, or one process of closed-loop clients, on
 * UDP loopback (node:dgram). Driven by the parent over the IPC channel:
 *
 *   child -> parent  { type: 'ready', ports }            (bound sockets: one per replica; clients: see Wire)
 *   parent -> child  { type: 'peers', replicas, clients } (ports by replica id / client index)
 *   parent -> all    { type: 'run', warmupMs, measureMs }
 *   client -> parent { type: 'result', ... }             (latencies and counts of the measured window)
 *   parent -> all    { type: 'stop' }  ->  child -> parent { type: 'stats', ... } and exits
 *
 * A child exits when its parent goes away (IPC disconnect), so no replica outlives the bench.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Client } from '../src/core/pbft/client.ts';
import { pbftConfig } from '../src/core/pbft/config.ts';
import { Replica } from '../src/core/pbft/replica.ts';
import type { ClientAction, ReplicaAction, ReplicaInput, Service } from '../src/core/pbft/types.ts';
import { groupKeys } from '../src/sim/keys.ts';

/**
 * How messages go on the wire.
 *  - 'datagram': one message per datagram, one socket per client (what src/io/udp.ts does).
 *  - 'packed': messages to one destination socket within one event-loop turn share a datagram (a
 *    length-prefixed envelope, flushed on setImmediate); the client process uses one socket for all its
 *    clients. Fewer syscalls per message; no added wait (the flush runs right after the turn's input).
 */
export type Wire = 'datagram' | 'packed';

export interface NodeArgs {
  readonly role: 'replica' | 'client';
  /** Replica id (role replica). */
  readonly id: number;
  readonly f: number;
  readonly clients: number;
  readonly opBytes: number;
  readonly resultBytes: number;
  readonly maxBatch: number;
  readonly maxInFlight: number;
  /** Batching delay in ms (the replica's tick is one millisecond, fractional). */
  readonly maxDelayMs: number;
  readonly wire: Wire;
}

export type ParentMessage =
  | { type: 'peers'; replicas: number[]; clients: number[] }
  | { type: 'run'; warmupMs: number; measureMs: number }
  | { type: 'stop' };

export interface ClientResult {
  type: 'result';
  completed: number;
  seconds: number;
  /** Latencies of the measured window, ms. */
  latencies: number[];
  retransmits: number;
  rejected: Record<string, number>;
}

export interface NodeStats {
  type: 'stats';
  role: 'replica' | 'clients';
  id: number;
  /** CPU of the measured window (end of warm-up to 'stop'), microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  wallMs: number;
  executedRequests: number;
  batches: number;
  rejected: Record<string, number>;
  /** Replicas: the view and last executed seq at 'stop' (the case ends with every replica in one view). */
  view?: number;
  lastExecuted?: number;
  /** Replicas: events counted over the whole run (view changes, state restores, batches learned). */
  events?: Record<string, number>;
  udp: { datagramsIn: number; datagramsOut: number; messagesOut: number; errors: Record<string, number> };
}

const HOST = '127.0.0.1';
/** First client principal id (replicas are 0..n-1). */
export const CLIENT_BASE = 1000;
/** Socket buffers: bursts of 1 KiB requests and replies overflow Linux's 208 KiB default (silent drops). */
const SOCKET_BUFFER = 4 * 1024 * 1024;
/** Largest packed datagram (below the 65507-byte UDP limit, leaving room for one more envelope header). */
const PACK_LIMIT = 60_000;
/** Envelope per message in 'packed' mode: u32 destination principal, u32 length. */
const ENVELOPE = 8;

/**
 * A UDP socket on loopback; peers are known by port. The project's UdpTransport (src/io/udp.ts) cannot set
 * socket buffer sizes (its 208 KiB default drops datagrams at this rate) and adds an rxjs hop per message.
 */
class Udp {
  private readonly socket: Socket = createSocket({ type: 'udp4' });
  private readonly queues = new Map<number, { parts: Uint8Array[]; to: number[]; bytes: number }>();
  private flushQueued = false;
  datagramsIn = 0;
  datagramsOut = 0;
  messagesOut = 0;
  readonly errors: Record<string, number> = {};
  /** One message from the socket bound at `fromPort`, for principal `to` (packed mode; else -1). */
  onMessage: (fromPort: number, to: number, bytes: Uint8Array) => void = () => {};

  constructor(private readonly packed: boolean) {}

  async start(): Promise<void> {
    await new Promise<void>((ok, fail) => {
      this.socket.once('error', fail);
      this.socket.bind(0, HOST, () => {
        this.socket.off('error', fail);
        ok();
      });
    });
    this.socket.setRecvBufferSize(SOCKET_BUFFER);
    this.socket.setSendBufferSize(SOCKET_BUFFER);
    this.socket.on('error', (err) => count(this.errors, `socket:${(err as NodeJS.ErrnoException).code}`));
    this.socket.on('message', (msg, rinfo) => {
      this.datagramsIn++;
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
      if (this.packed) this.unpack(rinfo.port, bytes);
      else this.onMessage(rinfo.port, -1, bytes);
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Start counting afresh (end of the warm-up). */
  resetCounters(): void {
    this.datagramsIn = 0;
    this.datagramsOut = 0;
    this.messagesOut = 0;
  }

  /** Send `bytes` (for principal `to`) to the socket at `port`. */
  send(port: number, to: number, bytes: Uint8Array): void {
    this.messagesOut++;
    if (!this.packed) {
      this.write(port, bytes);
      return;
    }
    let q = this.queues.get(port);
    if (q === undefined) {
      q = { parts: [], to: [], bytes: 0 };
      this.queues.set(port, q);
    }
    if (q.bytes + ENVELOPE + bytes.length > PACK_LIMIT) this.flushPort(port);
    q.parts.push(bytes);
    q.to.push(to);
    q.bytes += ENVELOPE + bytes.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  close(): Promise<void> {
    return new Promise((ok) => this.socket.close(() => ok()));
  }

  private flush(): void {
    this.flushQueued = false;
    for (const port of this.queues.keys()) this.flushPort(port);
  }

  private flushPort(port: number): void {
    const q = this.queues.get(port);
    if (q === undefined || q.parts.length === 0) return;
    const out = Buffer.allocUnsafe(q.bytes);
    let at = 0;
    for (let i = 0; i < q.parts.length; i++) {
      const part = q.parts[i]!;
      out.writeUInt32BE(q.to[i]!, at);
      out.writeUInt32BE(part.length, at + 4);
      out.set(part, at + ENVELOPE);
      at += ENVELOPE + part.length;
    }
    q.parts = [];
    q.to = [];
    q.bytes = 0;
    this.write(port, out);
  }

  private write(port: number, bytes: Uint8Array): void {
    this.datagramsOut++;
    this.socket.send(bytes, port, HOST, (err) => {
      if (err) count(this.errors, `send:${(err as NodeJS.ErrnoException).code}`);
    });
  }

  private unpack(fromPort: number, d: Uint8Array): void {
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    let at = 0;
    while (at < d.length) {
      if (at + ENVELOPE > d.length) {
        count(this.errors, 'truncated-envelope');
        return;
      }
      const to = view.getUint32(at);
      const len = view.getUint32(at + 4);
      if (at + ENVELOPE + len > d.length) {
        count(this.errors, 'truncated-envelope');
        return;
      }
      this.onMessage(fromPort, to, d.subarray(at + ENVELOPE, at + ENVELOPE + len));
      at += ENVELOPE + len;
    }
  }
}

/** Returns a fixed result of `resultBytes` for every request (the 1 KiB / 1 KiB case). */
class FixedResultService implements Service {
  private readonly result: Uint8Array;
  constructor(resultBytes: number) {
    this.result = new Uint8Array(resultBytes).fill(0x5a);
  }
  execute(): Uint8Array {
    return this.result;
  }
  snapshot(): Uint8Array {
    return new Uint8Array(0);
  }
  restore(): void {}
}

function tellParent(m: unknown): void {
  process.send?.(m);
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function configOf(a: NodeArgs) {
  return pbftConfig(a.f, {
    maxBatchRequests: a.maxBatch,
    batching: { mode: 'size', maxDelayTicks: a.maxDelayMs },
    checkpointInterval: 64,
    watermarkWindow: 256,
    maxInFlight: a.maxInFlight,
    maxPendingRequests: a.clients + 16,
    stallTicks: 200,
  });
}

function clientIds(a: NodeArgs): number[] {
  return Array.from({ length: a.clients }, (_, i) => CLIENT_BASE + i);
}

/** CPU and wall time since the last `reset`. */
class Window {
  private cpu = process.cpuUsage();
  private wall = performance.now();
  reset(): void {
    this.cpu = process.cpuUsage();
    this.wall = performance.now();
  }
  read(): { user: number; system: number; wallMs: number } {
    const c = process.cpuUsage(this.cpu);
    return { user: c.user, system: c.system, wallMs: performance.now() - this.wall };
  }
}

/** Replica events worth a count in the JSON: what a replica that fell behind or left the group's view did. */
const COUNTED_EVENTS = new Set(['view-change', 'new-view', 'state-restored', 'learned']);

async function runReplica(a: NodeArgs): Promise<void> {
  const config = configOf(a);
  const keys = groupKeys(1, config.n, clientIds(a));
  const replica = new Replica({
    id: a.id,
    config,
    crypto: keys.cryptoFor(a.id),
    service: new FixedResultService(a.resultBytes),
    // This process's clock has run since it started loading (over a second here): the time base of the input
    // that arrives before the first tick (ReplicaOptions.now).
    now: performance.now(),
  });
  const udp = new Udp(a.wire === 'packed');
  await udp.start();
  let replicaPorts: number[] = [];
  let clientPorts: number[] = [];
  /** Port -> principal that sends from it (-1: the shared client socket, or unknown). */
  const principalByPort = new Map<number, number>();
  const rejected: Record<string, number> = {};
  const events: Record<string, number> = {};
  let executedRequests = 0;
  let batches = 0;
  const window = new Window();

  const perform = (actions: readonly ReplicaAction[]): void => {
    for (const act of actions) {
      switch (act.kind) {
        case 'send':
          udp.send(replicaPorts[act.to]!, act.to, act.bytes);
          break;
        case 'multicast':
          for (let r = 0; r < config.n; r++) if (r !== a.id) udp.send(replicaPorts[r]!, r, act.bytes);
          break;
        case 'reply': {
          const port = clientPorts[act.client - CLIENT_BASE];
          if (port === undefined) count(rejected, 'reply-to-unknown-client');
          else udp.send(port, act.client, act.bytes);
          break;
        }
        case 'execute':
          batches++;
          executedRequests += act.requests.length;
          break;
        case 'event':
          if (act.event.type === 'rejected') count(rejected, act.event.reason);
          else if (COUNTED_EVENTS.has(act.event.type)) count(events, act.event.type);
          break;
      }
    }
  };
  const step = (input: ReplicaInput): void => perform(replica.step(input));

  // A tick after each drained burst of input: the primary cuts what arrived in that burst (maxDelayMs 0), so
  // batches grow with load instead of waiting on a timer.
  let tickQueued = false;
  const tick = (): void => {
    tickQueued = false;
    step({ kind: 'tick', now: performance.now() });
  };
  udp.onMessage = (fromPort, _to, bytes) => {
    step({ kind: 'receive', from: principalByPort.get(fromPort) ?? -1, bytes });
    if (!tickQueued) {
      tickQueued = true;
      setImmediate(tick);
    }
  };
  const stallTimer = setInterval(tick, 10);

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'peers') {
      replicaPorts = m.replicas;
      clientPorts = m.clients;
      for (const [r, port] of m.replicas.entries()) principalByPort.set(port, r);
      for (const [i, port] of m.clients.entries()) {
        principalByPort.set(port, a.wire === 'packed' ? -1 : CLIENT_BASE + i);
      }
    } else if (m.type === 'run') {
      setTimeout(() => {
        window.reset();
        udp.resetCounters();
        executedRequests = 0;
        batches = 0;
      }, m.warmupMs);
    } else if (m.type === 'stop') {
      clearInterval(stallTimer);
      const w = window.read();
      const stats: NodeStats = {
        type: 'stats',
        role: 'replica',
        id: a.id,
        cpuUserUs: w.user,
        cpuSystemUs: w.system,
        wallMs: w.wallMs,
        executedRequests,
        batches,
        rejected,
        view: replica.status().view,
        lastExecuted: replica.status().lastExecuted,
        events,
        udp: {
          datagramsIn: udp.datagramsIn,
          datagramsOut: udp.datagramsOut,
          messagesOut: udp.messagesOut,
          errors: udp.errors,
        },
      };
      tellParent(stats);
      void udp.close().then(() => process.exit(0));
    }
  });
  tellParent({ type: 'ready', ports: [udp.port] });
}

async function runClients(a: NodeArgs): Promise<void> {
  const config = configOf(a);
  const ids = clientIds(a);
  const keys = groupKeys(1, config.n, ids);
  const op = new Uint8Array(a.opBytes).fill(0xa5);
  const packed = a.wire === 'packed';
  const rejected: Record<string, number> = {};
  let retransmits = 0;
  let measuring = false;
  let running = false;
  let completed = 0;
  const latencies: number[] = [];
  const window = new Window();
  let replicaPorts: number[] = [];
  const replicaByPort = new Map<number, number>();

  interface Slot {
    readonly client: Client;
    readonly udp: Udp;
    sentAt: number;
  }
  // Packed: one socket for the process (replies for every client share datagrams); else one per client.
  const shared = packed ? new Udp(true) : undefined;
  if (shared) await shared.start();
  const slots: Slot[] = [];
  for (const id of ids) {
    const client = new Client({ id, config, crypto: keys.cryptoFor(id), retransmitTicks: 100 });
    let udp = shared;
    if (udp === undefined) {
      udp = new Udp(false);
      await udp.start();
    }
    slots.push({ client, udp, sentAt: 0 });
  }
  const sockets = shared ? [shared] : slots.map((s) => s.udp);

  const perform = (s: Slot, actions: readonly ClientAction[]): void => {
    for (const act of actions) {
      if (act.kind === 'multicast') {
        for (let r = 0; r < config.n; r++) s.udp.send(replicaPorts[r]!, r, act.bytes);
      } else if (act.kind === 'result') {
        if (measuring) {
          latencies.push(performance.now() - s.sentAt);
          completed++;
        }
        if (running) submit(s);
      } else if (act.event.type === 'rejected') count(rejected, act.event.reason);
      else if (act.event.type === 'retransmit') retransmits++;
    }
  };
  const submit = (s: Slot): void => {
    s.sentAt = performance.now();
    const r = s.client.submit(op, s.sentAt);
    if (!r.ok) throw new Error(`client ${s.client.id}: queue full (closed loop keeps one outstanding)`);
    perform(s, r.actions);
  };
  const receive = (s: Slot | undefined, fromPort: number, bytes: Uint8Array): void => {
    if (s === undefined) {
      count(rejected, 'reply-for-unknown-client');
      return;
    }
    perform(s, s.client.step({ kind: 'receive', from: replicaByPort.get(fromPort) ?? -1, bytes }));
  };
  if (shared) shared.onMessage = (fromPort, to, bytes) => receive(slots[to - CLIENT_BASE], fromPort, bytes);
  else for (const s of slots) s.udp.onMessage = (fromPort, _to, bytes) => receive(s, fromPort, bytes);
  const retransmitTimer = setInterval(() => {
    const now = performance.now();
    for (const s of slots) perform(s, s.client.step({ kind: 'tick', now }));
  }, 10);

  const finish = (): void => {
    measuring = false;
    running = false;
    const w = window.read();
    const result: ClientResult = {
      type: 'result',
      completed,
      seconds: w.wallMs / 1000,
      latencies,
      retransmits,
      rejected,
    };
    tellParent(result);
  };

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'peers') {
      replicaPorts = m.replicas;
      for (const [r, port] of m.replicas.entries()) replicaByPort.set(port, r);
    } else if (m.type === 'run') {
      running = true;
      for (const s of slots) submit(s);
      setTimeout(() => {
        measuring = true;
        retransmits = 0;
        for (const k of Object.keys(rejected)) delete rejected[k];
        window.reset();
        for (const u of sockets) u.resetCounters();
        setTimeout(finish, m.measureMs);
      }, m.warmupMs);
    } else if (m.type === 'stop') {
      clearInterval(retransmitTimer);
      const w = window.read();
      const errors: Record<string, number> = {};
      for (const u of sockets)
        for (const [k, v] of Object.entries(u.errors)) errors[k] = (errors[k] ?? 0) + v;
      const stats: NodeStats = {
        type: 'stats',
        role: 'clients',
        id: 0,
        cpuUserUs: w.user,
        cpuSystemUs: w.system,
        wallMs: w.wallMs,
        executedRequests: completed,
        batches: 0,
        rejected,
        udp: {
          datagramsIn: sockets.reduce((t, u) => t + u.datagramsIn, 0),
          datagramsOut: sockets.reduce((t, u) => t + u.datagramsOut, 0),
          messagesOut: sockets.reduce((t, u) => t + u.messagesOut, 0),
          errors,
        },
      };
      tellParent(stats);
      void Promise.all(sockets.map((u) => u.close())).then(() => process.exit(0));
    }
  });
  tellParent({ type: 'ready', ports: shared ? ids.map(() => shared.port) : slots.map((s) => s.udp.port) });
}

function main(): void {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('ordering-node: expects its arguments as one JSON argument');
  const args = JSON.parse(raw) as NodeArgs;
  // The parent owns this process: when it goes, we go (no orphaned replicas holding ports and CPU).
  process.on('disconnect', () => process.exit(0));
  if (args.role === 'replica') void runReplica(args);
  else void runClients(args);
}

main();
