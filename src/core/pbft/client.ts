/**
 * PBFT client (an input unit) as a pure state machine: one request outstanding at a time (PBFT's rule, which
 * keeps the replicas' last-reply cache exact), a bounded queue behind it, retransmission with exponential
 * back-off, and a result accepted on f+1 matching replies from distinct replicas (at least one correct).
 *
 * A client the group's config lists in `noReplyClients` (an input unit: nothing reads its REPLYs) gets none, so
 * it cannot wait for one: each operation goes out at once under the next timestamp, and it is never
 * retransmitted. A newer request supersedes an older one still unordered at the replicas (requests.ts), and a
 * copy lost on the way to the primary reaches it in the backups' vouches; a sample lost everywhere is missed
 * for one frame, as a sample superseded by the next frame's is.
 *
 * @example
 * const c = new Client({ id: 10, config, crypto, retransmitTicks: 100 });
 * send(c.submit(op, now));
 * for (const a of c.step({ kind: 'receive', from, bytes })) if (a.kind === 'result') use(a.result);
 */
import { hex } from '../bytes.ts';
import { decodeMessage, encodeWithAuthenticator } from '../codec/encode.ts';
import type { Message, Reply, Request } from '../codec/messages.ts';
import { allReplicas, type ClientId, type PbftConfig, type ReplicaId } from './config.ts';
import type { NodeCrypto } from './crypto.ts';
import type { ClientAction, ClientEvent, ClientInput } from './types.ts';
import { payloadOf } from './wire-views.ts';

export interface ClientOptions {
  readonly id: ClientId;
  readonly config: PbftConfig;
  readonly crypto: NodeCrypto;
  /** First retransmission timeout, in ticks. */
  readonly retransmitTicks: number;
  /** Back-off ceiling, in ticks. Default 16 x retransmitTicks. */
  readonly maxRetransmitTicks?: number;
  /** Operations queued behind the outstanding one. Default 1024. */
  readonly maxQueued?: number;
  /** First timestamp minus one (a restarted client continues above its last one). Default 0. */
  readonly lastTimestamp?: number;
}

interface Outstanding {
  readonly request: Request & { kind: 'request' };
  readonly bytes: Uint8Array;
  readonly sentAt: number;
  timeout: number;
  deadline: number;
  attempt: number;
  /** Replica -> result bytes as hex (first reply per replica counts). */
  readonly votes: Map<ReplicaId, string>;
}

export type SubmitResult =
  | { readonly ok: true; readonly timestamp: number; readonly actions: ClientAction[] }
  | { readonly ok: false; readonly reason: 'queue-full' };

export class Client {
  readonly id: ClientId;
  private readonly config: PbftConfig;
  private readonly crypto: NodeCrypto;
  private readonly replicas: ReplicaId[];
  private readonly retransmitTicks: number;
  private readonly maxRetransmitTicks: number;
  private readonly maxQueued: number;
  private timestamp: number;
  private now = 0;
  private outstanding: Outstanding | undefined;
  private readonly queue: Uint8Array[] = [];
  /** Replicas send this client REPLYs (it is not in config.noReplyClients). */
  readonly readsReplies: boolean;

  constructor(options: ClientOptions) {
    if (options.retransmitTicks <= 0) throw new RangeError('retransmitTicks must be > 0');
    this.id = options.id;
    this.config = options.config;
    this.crypto = options.crypto;
    this.replicas = allReplicas(options.config);
    this.retransmitTicks = options.retransmitTicks;
    this.maxRetransmitTicks = options.maxRetransmitTicks ?? 16 * options.retransmitTicks;
    this.maxQueued = options.maxQueued ?? 1024;
    this.timestamp = options.lastTimestamp ?? 0;
    this.readsReplies = !options.config.noReplyClients.has(options.id);
  }

  /** Whether a request is waiting for its result. */
  get busy(): boolean {
    return this.outstanding !== undefined;
  }

  /** The timestamp of the outstanding request, if any. */
  get outstandingTimestamp(): number | undefined {
    return this.outstanding?.request.timestamp;
  }

  /**
   * Queue an operation; it is sent at once when nothing is outstanding (always, for a client that reads no
   * replies: it is never outstanding).
   */
  submit(op: Uint8Array, now: number): SubmitResult {
    if (now > this.now) this.now = now;
    if (!this.readsReplies) {
      this.timestamp++;
      const { request, bytes } = this.authenticated(this.timestamp, op);
      return {
        ok: true,
        timestamp: this.timestamp,
        actions: [{ kind: 'multicast', message: request, bytes }],
      };
    }
    if (this.queue.length >= this.maxQueued) return { ok: false, reason: 'queue-full' };
    this.queue.push(op);
    const timestamp = this.timestamp + 1 + (this.outstanding === undefined ? 0 : this.queue.length - 1);
    const actions: ClientAction[] = [];
    this.sendNext(actions);
    return { ok: true, timestamp, actions };
  }

  step(input: ClientInput): ClientAction[] {
    const actions: ClientAction[] = [];
    switch (input.kind) {
      case 'receive': {
        const decoded = decodeMessage(input.bytes, this.config.limits);
        if (!decoded.ok) this.emit(actions, { type: 'rejected', reason: decoded.reason, from: input.from });
        else this.onMessage(input.from, decoded.message, input.bytes, actions);
        break;
      }
      case 'decoded':
        this.onMessage(input.from, input.message, input.bytes, actions);
        break;
      case 'tick':
        this.onTick(input.now, actions);
        break;
    }
    return actions;
  }

  private onMessage(from: number, message: Message, bytes: Uint8Array, actions: ClientAction[]): void {
    if (message.kind !== 'reply') {
      this.emit(actions, { type: 'rejected', reason: 'unsupported-kind', from });
      return;
    }
    this.onReply(from, message, bytes, actions);
  }

  private onReply(from: number, reply: Reply, bytes: Uint8Array, actions: ClientAction[]): void {
    const o = this.outstanding;
    if (o === undefined || reply.client !== this.id || reply.timestamp !== o.request.timestamp) {
      this.emit(actions, { type: 'rejected', reason: 'unexpected-reply', from });
      return;
    }
    if (reply.replica < 0 || reply.replica >= this.config.n || !Number.isInteger(reply.replica)) {
      this.emit(actions, { type: 'rejected', reason: 'unexpected-reply', from });
      return;
    }
    if (!this.crypto.verifyTag(reply.replica, payloadOf(bytes, reply), reply.tag)) {
      this.emit(actions, { type: 'rejected', reason: 'bad-mac', from });
      return;
    }
    if (o.votes.has(reply.replica)) return;
    const key = hex(reply.result);
    o.votes.set(reply.replica, key);
    let matching = 0;
    for (const v of o.votes.values()) if (v === key) matching++;
    if (matching < this.config.f + 1) return;
    this.outstanding = undefined;
    actions.push({
      kind: 'result',
      timestamp: o.request.timestamp,
      result: reply.result,
      latencyTicks: this.now - o.sentAt,
    });
    this.sendNext(actions);
  }

  private onTick(now: number, actions: ClientAction[]): void {
    if (now > this.now) this.now = now;
    const o = this.outstanding;
    if (o === undefined || this.now < o.deadline) return;
    o.attempt++;
    o.timeout = Math.min(o.timeout * 2, this.maxRetransmitTicks);
    o.deadline = this.now + o.timeout;
    this.emit(actions, { type: 'retransmit', timestamp: o.request.timestamp, attempt: o.attempt });
    actions.push({ kind: 'multicast', message: o.request, bytes: o.bytes });
  }

  private sendNext(actions: ClientAction[]): void {
    if (this.outstanding !== undefined) return;
    const op = this.queue.shift();
    if (op === undefined) return;
    this.timestamp++;
    const { request, bytes } = this.authenticated(this.timestamp, op);
    this.outstanding = {
      request,
      bytes,
      sentAt: this.now,
      timeout: this.retransmitTicks,
      deadline: this.now + this.retransmitTicks,
      attempt: 0,
      votes: new Map(),
    };
    actions.push({ kind: 'multicast', message: request, bytes });
  }

  /** The REQUEST of `op` at `timestamp` with this client's authenticator for every replica, and its bytes. */
  private authenticated(
    timestamp: number,
    op: Uint8Array,
  ): { request: Request & { kind: 'request' }; bytes: Uint8Array } {
    const unsigned = { kind: 'request' as const, client: this.id, timestamp, op, auth: [] };
    const { bytes, auth } = encodeWithAuthenticator(unsigned, (payload) =>
      this.crypto.authenticator(this.replicas, payload),
    );
    return { request: { ...unsigned, auth }, bytes };
  }

  private emit(actions: ClientAction[], event: ClientEvent): void {
    actions.push({ kind: 'event', event });
  }
}
