/**
 * Replica state at a checkpoint: the application snapshot plus the last-reply cache. The cache is part of the
 * replicated state (as in PBFT): a replica restored by state transfer must still answer a retransmitted
 * request with its cached reply instead of executing it again.
 */
import { DEFAULT_LIMITS } from '../codec/limits.ts';
import { DecodeFailure, Reader, Writer } from '../codec/wire.ts';
import type { ClientId } from './config.ts';

export interface CachedReply {
  readonly timestamp: number;
  readonly result: Uint8Array;
}

/** Canonical bytes: clients ascending, so equal states give equal digests on every replica. */
export function encodeReplicaState(app: Uint8Array, replies: ReadonlyMap<ClientId, CachedReply>): Uint8Array {
  const w = new Writer(64 + app.length);
  w.uvar(app.length);
  w.raw(app);
  const clients = [...replies.keys()].sort((a, b) => a - b);
  w.uvar(clients.length);
  for (const c of clients) {
    const r = replies.get(c)!;
    w.uvar(c);
    w.uvar(r.timestamp);
    w.uvar(r.result.length);
    w.raw(r.result);
  }
  return w.finish();
}

export type DecodedState =
  | { readonly ok: true; readonly app: Uint8Array; readonly replies: Map<ClientId, CachedReply> }
  | { readonly ok: false; readonly detail: string };

/** Total decoder (state comes from a peer: untrusted until its digest matched a stable checkpoint). */
export function decodeReplicaState(bytes: Uint8Array, maxClients = 65536): DecodedState {
  try {
    const r = new Reader(bytes);
    const appLength = r.uvar('app.length');
    const app = r.raw(appLength, 'app');
    const count = r.uvar('clients');
    if (count > maxClients) return { ok: false, detail: `clients ${count} > ${maxClients}` };
    const replies = new Map<ClientId, CachedReply>();
    let previous = -1;
    for (let i = 0; i < count; i++) {
      const client = r.uvar('client');
      if (client <= previous) return { ok: false, detail: 'clients not strictly ascending' };
      previous = client;
      const timestamp = r.uvar('timestamp');
      const length = r.uvar('result.length');
      if (length > DEFAULT_LIMITS.maxResultBytes) return { ok: false, detail: 'result too long' };
      replies.set(client, { timestamp, result: r.raw(length, 'result') });
    }
    if (r.remaining !== 0) return { ok: false, detail: 'trailing bytes' };
    return { ok: true, app, replies };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, detail: `${e.reason}: ${e.detail}` };
    throw e;
  }
}
