/**
 * What the parts of one replica share: who it is, its keys and service, the few numbers several parts read
 * (view, time, execution point), the actions being collected for the current step, and the parts themselves.
 * Each part owns its own state (log.ts, batch-store.ts, requests.ts, checkpoints.ts, view-change.ts, ...)
 * and reaches the others through this context; replica.ts builds it and routes inputs.
 */
import { authPayload, encodeMessage } from '../codec/encode.ts';
import type {
  BatchFetch,
  BatchReply,
  Message,
  MessageKind,
  StateReply,
  StateRequest,
  ViewChangeFetch,
} from '../codec/messages.ts';
import type { Agreement } from './agreement.ts';
import type { BatchFetcher } from './batch-fetch.ts';
import type { BatchStore } from './batch-store.ts';
import type { Checkpoints } from './checkpoints.ts';
import { type PbftConfig, primaryOf, type ReplicaId } from './config.ts';
import type { NodeCrypto } from './crypto.ts';
import type { EarlyBuffer } from './early-buffer.ts';
import type { Learner } from './learn.ts';
import type { Log } from './log.ts';
import type { Monitor } from './monitor.ts';
import type { Quorums } from './quorum.ts';
import type { Requests } from './requests.ts';
import type { StateTransfer } from './state-transfer.ts';
import type { ReplicaAction, ReplicaEvent, ReplicaRejection, Service } from './types.ts';
import type { ViewChanges } from './view-change.ts';
import { payloadOf } from './wire-views.ts';

/** The actions of one step, in the order they were decided. */
export class Outbox {
  private actions: ReplicaAction[] = [];

  push(action: ReplicaAction): void {
    this.actions.push(action);
  }

  send(to: ReplicaId, message: Message, bytes: Uint8Array): void {
    this.actions.push({ kind: 'send', to, message, bytes });
  }

  multicast(message: Message, bytes: Uint8Array): void {
    this.actions.push({ kind: 'multicast', message, bytes });
  }

  emit(event: ReplicaEvent): void {
    this.actions.push({ kind: 'event', event });
  }

  /** Count a refused input (an event; never a crash). */
  reject(reason: ReplicaRejection, from: number, kind?: MessageKind): void {
    this.emit(
      kind === undefined ? { type: 'rejected', reason, from } : { type: 'rejected', reason, from, kind },
    );
  }

  /** The actions collected so far; the outbox is empty afterwards. */
  take(): ReplicaAction[] {
    const actions = this.actions;
    this.actions = [];
    return actions;
  }
}

/** Numbers several parts read. The comment on each says which part moves it. */
export interface ReplicaState {
  /** The current view (view-change.ts). */
  view: number;
  /** False between sending a VIEW-CHANGE and accepting the NEW-VIEW of `view` (view-change.ts). */
  active: boolean;
  /** Abstract time, never decreasing (replica.ts, from tick inputs). */
  now: number;
  /** The last executed sequence number (agreement.ts; state-transfer.ts on a restore). */
  lastExecuted: number;
  /** Primary: the last sequence number assigned (agreement.ts, view-change.ts, checkpoints.ts). */
  lastAssigned: number;
  /** Last time a batch executed or a view became active: request timers measure from here. */
  progressAt: number;
  /** When the current view became active (view-change.ts). */
  viewActiveSince: number;
  /** Restarted and not yet past its recovery point (replica.ts, each step; recovering.ts). */
  recovering: boolean;
}

export interface Ctx {
  readonly id: ReplicaId;
  readonly config: PbftConfig;
  readonly crypto: NodeCrypto;
  readonly service: Service;
  /** Every replica id but ours, ascending (the receivers of our authenticators). */
  readonly others: readonly ReplicaId[];
  /** Every replica id ascending (the receivers of a client's authenticator). */
  readonly everyone: readonly ReplicaId[];
  readonly quorums: Quorums;
  /** Digest of the empty batch (what a NEW-VIEW fixes where nothing prepared). */
  readonly nullDigest: Uint8Array;
  readonly s: ReplicaState;
  readonly out: Outbox;
  readonly log: Log;
  readonly batches: BatchStore;
  readonly requests: Requests;
  readonly agreement: Agreement;
  readonly checkpoints: Checkpoints;
  readonly views: ViewChanges;
  readonly early: EarlyBuffer;
  readonly transfer: StateTransfer;
  readonly monitor: Monitor;
  readonly fetcher: BatchFetcher;
  readonly learner: Learner;
}

export function isPrimary(ctx: Ctx): boolean {
  return primaryOf(ctx.config, ctx.s.view) === ctx.id;
}

export function validReplica(config: PbftConfig, id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < config.n;
}

export const NO_TAG = new Uint8Array(0);

type Tagged = StateRequest | StateReply | ViewChangeFetch | BatchFetch | BatchReply;

/** Tag a point-to-point message for replica `to` and send it. */
export function sendTagged(ctx: Ctx, to: ReplicaId, unsigned: Tagged): void {
  const message = { ...unsigned, tag: ctx.crypto.tag(to, authPayload(unsigned)) };
  ctx.out.send(to, message, encodeMessage(message));
}

/**
 * A point-to-point message from another replica with a valid tag over `bytes` (its encoding as received);
 * otherwise the rejection is counted.
 */
export function taggedFromPeer(ctx: Ctx, from: number, m: Tagged, bytes: Uint8Array): boolean {
  if (!validReplica(ctx.config, m.replica) || m.replica === ctx.id) {
    ctx.out.reject('bad-replica-id', from, m.kind);
    return false;
  }
  if (!ctx.crypto.verifyTag(m.replica, payloadOf(bytes, m), m.tag)) {
    ctx.out.reject('bad-mac', from, m.kind);
    return false;
  }
  return true;
}
