/**
 * The one transport interface every link implements (memory, UDP, serial, CAN over SLCAN/SocketCAN/emulated
 * bus). Payloads are already-encoded protocol messages; a transport never passes up bytes that failed its
 * own integrity check, and counts what it drops.
 *
 * rxjs is used at the edge only (received$, state$ and the helpers in streams.ts); the per-message path is
 * plain callbacks feeding a Subject, with no scheduler involved.
 */

import type { Observable } from 'rxjs';

/** A node's name in the topology (the config's board or role name). */
export type PeerId = string;

export type LinkState = 'connecting' | 'up' | 'down';

export interface Received {
  from: PeerId;
  bytes: Uint8Array;
}

/** Running totals for one transport. Latency fields are absent where a link cannot measure them. */
export interface LinkStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Dropped input or failed output, by reason (e.g. 'crc', 'cobs', 'timeout', 'unknown-peer'). */
  errors: Record<string, number>;
  /** Messages dropped on the way out (queue full, link down, too long). */
  drops: number;
  /** Send-to-wire latency in ms (queueing and pacing included), where the link can measure it. */
  latency?: { count: number; meanMs: number; maxMs: number };
}

export interface Transport {
  /** This node. */
  readonly self: PeerId;
  /** Peers reachable on this transport. */
  readonly peers: readonly PeerId[];
  /**
   * True when one `broadcast` reaches every peer in a single transmission (a bus): a multicast to several
   * peers is then cheaper as a broadcast that the others ignore. False or absent for point-to-point links.
   */
  readonly sharedMedium?: boolean;
  /** Verified messages from peers. Completes when the transport is closed. */
  readonly received$: Observable<Received>;
  /** Link state; replays the current state to new subscribers. */
  readonly state$: Observable<LinkState>;
  /** Open the link (resolves once it is up or has reported a clear error through state$ and stats). */
  start(): Promise<void>;
  /** Queue `bytes` for `peer`. Returns false (and counts a drop) when it cannot be queued. */
  send(peer: PeerId, bytes: Uint8Array): boolean;
  /** Queue `bytes` for every peer. Returns false when any copy was dropped. */
  broadcast(bytes: Uint8Array): boolean;
  /**
   * `broadcast`, in place of an earlier message queued under the same `key` that has not yet started on the
   * link (a newer sample of a periodic signal replaces the older one still waiting behind other traffic, as
   * AUTOSAR COM's overwrite semantics does for a periodic PDU): the older one is dropped, counted 'superseded'.
   * Absent: the caller broadcasts.
   */
  broadcastLatest?(key: string, bytes: Uint8Array): boolean;
  stats(): LinkStats;
  /** Close the link and complete the observables. Idempotent. */
  close(): Promise<void>;
}

/** Raised for configuration mistakes (unknown peer in a config, missing optional module): fail loudly, early. */
export class TransportConfigError extends Error {
  override readonly name = 'TransportConfigError';
}

/** Mutable counters behind LinkStats, shared by the implementations. */
export class StatsCounter {
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  drops = 0;
  private readonly errors: Record<string, number> = {};
  private latencyCount = 0;
  private latencySum = 0;
  private latencyMax = 0;

  received(bytes: number): void {
    this.framesIn++;
    this.bytesIn += bytes;
  }

  sent(bytes: number): void {
    this.framesOut++;
    this.bytesOut += bytes;
  }

  error(reason: string, n = 1): void {
    if (n <= 0) return;
    this.errors[reason] = (this.errors[reason] ?? 0) + n;
  }

  /** Count `n` messages dropped on the way out for `reason`; returns false for `return counters.drop(...)`. */
  drop(reason: string, n = 1): false {
    this.drops += n;
    this.error(reason, n);
    return false;
  }

  /** Record one send-to-wire latency sample. */
  latency(ms: number): void {
    this.latencyCount++;
    this.latencySum += ms;
    if (ms > this.latencyMax) this.latencyMax = ms;
  }

  /** Current totals; `extraErrors` folds in counters kept elsewhere (a deframer's or reassembler's). */
  snapshot(extraErrors: Record<string, number> = {}): LinkStats {
    const errors: Record<string, number> = { ...this.errors };
    for (const [k, v] of Object.entries(extraErrors)) if (v > 0) errors[k] = (errors[k] ?? 0) + v;
    const stats: LinkStats = {
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      errors,
      drops: this.drops,
    };
    if (this.latencyCount > 0) {
      stats.latency = {
        count: this.latencyCount,
        meanMs: this.latencySum / this.latencyCount,
        maxMs: this.latencyMax,
      };
    }
    return stats;
  }
}

/**
 * Broadcast on a point-to-point transport: one send per peer, every peer tried even after a failure. Returns
 * false when any copy was dropped (each transport's send counts its own drops).
 *
 * @example
 * broadcast(bytes: Uint8Array): boolean { return broadcastEach(this.peers, (p) => this.send(p, bytes)); }
 */
export function broadcastEach(peers: readonly PeerId[], send: (peer: PeerId) => boolean): boolean {
  let all = true;
  for (const peer of peers) all = send(peer) && all;
  return all;
}

/** Sum several LinkStats (a mesh of point-to-point links reported as one transport). */
export function sumStats(all: readonly LinkStats[]): LinkStats {
  const out = new StatsCounter();
  const errors: Record<string, number> = {};
  let latencyCount = 0;
  let latencySum = 0;
  let latencyMax = 0;
  for (const s of all) {
    out.framesIn += s.framesIn;
    out.framesOut += s.framesOut;
    out.bytesIn += s.bytesIn;
    out.bytesOut += s.bytesOut;
    out.drops += s.drops;
    for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
    if (s.latency) {
      latencyCount += s.latency.count;
      latencySum += s.latency.meanMs * s.latency.count;
      latencyMax = Math.max(latencyMax, s.latency.maxMs);
    }
  }
  const snap = out.snapshot(errors);
  if (latencyCount > 0)
    snap.latency = { count: latencyCount, meanMs: latencySum / latencyCount, maxMs: latencyMax };
  return snap;
}

/**
 * Aggregate state of several point-to-point links: 'up' when all are up, 'down' when all are down,
 * otherwise 'connecting' (partly up, or trying).
 */
export function combineStates(states: readonly LinkState[]): LinkState {
  if (states.length === 0) return 'down';
  if (states.every((s) => s === 'up')) return 'up';
  if (states.every((s) => s === 'down')) return 'down';
  return 'connecting';
}
