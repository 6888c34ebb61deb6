/**
 * Both ends of the rig protocol's hello. The board side wraps a board's transport (`answerRigHello`): rig
 * messages never reach the board's roles; a HELLO is answered with a HELLO-ACK carrying the board's name, its
 * triplex and wire versions, its key set id and a MAC; anything else is counted. The rig side (`probeHello`) sends
 * HELLOs on one link until the answer comes or the timeout passes, and checks the answer.
 *
 * @example
 * const transport = answerRigHello(createBoardTransport(topology, 'b0'), { topology, board: 'b0', keys, counters });
 * const answer = await probeHello(rigTransport, 'b0', { rig: 'aiu', timeoutMs: 1500 });
 */
import { createRequire } from 'node:module';
import { type Observable, Subject } from 'rxjs';
import { WIRE_VERSION } from '../../src/core/codec/messages.ts';
import type { LinkState, LinkStats, PeerId, Received, Transport } from '../../src/io/transport.ts';
import type { Topology } from '../../src/runtime/config.ts';
import type { Counters } from '../../src/runtime/loop/counters.ts';
import type { BoardKeys } from '../../src/runtime/loop/keys.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import { boardPrincipals } from '../../src/runtime/node/keys.ts';
import {
  ackSignedPart,
  decodeRigMessage,
  encodeAck,
  encodeHello,
  isRigMessage,
  keySetId,
  type RigMessage,
} from './rig-protocol.ts';

export const TRIPLEX_VERSION: string = (
  createRequire(import.meta.url)('../../package.json') as { version: string }
).version;

/**
 * Most HELLOs a board answers per second to one source; more are counted and dropped (an answer costs a MAC and
 * a send). Per source: with one budget for all, a faulty peer saying HELLO 20 times a second kept the board from
 * ever answering the rig.
 */
export const MAX_ANSWERS_PER_SECOND = 20;
/** Sources whose answer windows are kept at once; a new one past this evicts the least recently heard. */
export const MAX_HELLO_SOURCES = 64;

/** A fixed one-second window of answers per source, in a bounded table (least recently heard evicted). */
export class HelloRateLimit {
  private readonly windows = new Map<PeerId, { start: number; answered: number }>();
  evictions = 0;

  constructor(
    private readonly perSecond = MAX_ANSWERS_PER_SECOND,
    private readonly maxSources = MAX_HELLO_SOURCES,
  ) {}

  /** Whether `source` may be answered at `now` (ms); when it may, the answer is counted. */
  allow(source: PeerId, now: number): boolean {
    let w = this.windows.get(source);
    if (w !== undefined) this.windows.delete(source);
    else if (this.windows.size >= this.maxSources) {
      // Insertion order, and every hello re-inserts its source: the first key is the least recently heard.
      this.windows.delete(this.windows.keys().next().value as PeerId);
      this.evictions++;
    }
    // A clock that steps back (or a first hello) opens a fresh window.
    if (w === undefined || now - w.start >= 1000 || now < w.start) w = { start: now, answered: 0 };
    this.windows.set(source, w);
    if (w.answered >= this.perSecond) return false;
    w.answered++;
    return true;
  }

  get size(): number {
    return this.windows.size;
  }
}

export interface ResponderOptions {
  readonly topology: Topology;
  readonly board: string;
  readonly keys: BoardKeys;
  readonly counters: Counters;
  /** Milliseconds, for the answer rate limit (default performance.now). */
  readonly now?: () => number;
}

/** The board's transport, answering the rig's HELLOs and hiding every rig message from the board's roles. */
export function answerRigHello(inner: Transport, o: ResponderOptions): Transport {
  return new HelloResponder(inner, o);
}

class HelloResponder implements Transport {
  readonly self: PeerId;
  readonly received$: Observable<Received>;
  readonly state$: Observable<LinkState>;
  private readonly rx = new Subject<Received>();
  private readonly principal: number | undefined;
  private readonly keyId: string;
  private readonly limit = new HelloRateLimit();

  constructor(
    private readonly inner: Transport,
    private readonly o: ResponderOptions,
  ) {
    this.self = inner.self;
    this.state$ = inner.state$;
    this.received$ = this.rx.asObservable();
    this.principal = boardPrincipals(o.topology, o.board)[0]?.id;
    this.keyId = keySetId(o.keys.replicaPublicKeys);
    inner.received$.subscribe({
      next: (r) => (isRigMessage(r.bytes) ? this.onRig(r) : this.rx.next(r)),
      complete: () => this.rx.complete(),
    });
  }

  get peers(): readonly PeerId[] {
    return this.inner.peers;
  }

  get sharedMedium(): boolean | undefined {
    return this.inner.sharedMedium;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(peer: PeerId, bytes: Uint8Array): boolean {
    return this.inner.send(peer, bytes);
  }

  broadcast(bytes: Uint8Array): boolean {
    return this.inner.broadcast(bytes);
  }

  stats(): LinkStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private onRig({ from, bytes }: Received): void {
    const d = decodeRigMessage(bytes);
    if (!d.ok) {
      this.o.counters.add(`rig.rejected.${d.reason}`);
      return;
    }
    if (d.message.type !== 'hello') {
      this.o.counters.add(`rig.unexpected.${d.message.type}`);
      return;
    }
    if (this.principal === undefined) return this.notAnswered('no-principal');
    const now = (this.o.now ?? (() => performance.now()))();
    const evicted = this.limit.evictions;
    const allowed = this.limit.allow(from, now);
    if (this.limit.evictions > evicted) this.o.counters.add('rig.hello-source-evicted');
    if (!allowed) return this.notAnswered('rate-limited');
    const signed = ackSignedPart({
      nonce: d.message.nonce,
      board: this.o.board,
      version: TRIPLEX_VERSION,
      wire: WIRE_VERSION,
      keyId: this.keyId,
      principal: this.principal,
    });
    const tag = this.o.keys.ring(this.principal).tag(principalOf.voter(0), signed);
    this.inner.send(from, encodeAck(signed, tag));
    this.o.counters.add('rig.hello-answered');
  }

  private notAnswered(reason: 'no-principal' | 'rate-limited'): void {
    this.o.counters.add('rig.hello-not-answered');
    this.o.counters.add(`rig.hello-not-answered.${reason}`);
  }
}

export type HelloAck = Extract<RigMessage, { type: 'hello-ack' }>;

export type ProbeAnswer =
  | {
      readonly answered: true;
      readonly ack: HelloAck;
      /** true: the MAC checks with the rig's keys; false: it does not; undefined: the rig has no keys to check. */
      readonly authentic: boolean | undefined;
      readonly ms: number;
    }
  | { readonly answered: false; readonly reason: string };

export interface ProbeOptions {
  readonly rig: string;
  readonly timeoutMs: number;
  /** The rig's own keys (its voter principal's ring checks the ACK's MAC). */
  readonly keys?: BoardKeys;
  readonly nonce: number;
  /** Resend the HELLO this often (default 250 ms). */
  readonly everyMs?: number;
}

/** Says HELLO to `peer` on `transport` (started) until it answers or `timeoutMs` passes. */
export function probeHello(transport: Transport, peer: string, o: ProbeOptions): Promise<ProbeAnswer> {
  const started = performance.now();
  const hello = encodeHello({ nonce: o.nonce, rig: o.rig });
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: ProbeAnswer): void => {
      if (done) return;
      done = true;
      sub.unsubscribe();
      clearInterval(resend);
      clearTimeout(timer);
      resolve(a);
    };
    const sub = transport.received$.subscribe(({ from, bytes }) => {
      if (from !== peer || !isRigMessage(bytes)) return;
      const d = decodeRigMessage(bytes);
      if (!d.ok || d.message.type !== 'hello-ack' || d.message.nonce !== o.nonce) return;
      const ack = d.message;
      const authentic = o.keys?.ring(principalOf.voter(0)).verify(ack.principal, d.signed, ack.tag);
      finish({ answered: true, ack, authentic, ms: performance.now() - started });
    });
    const send = (): void => {
      transport.send(peer, hello);
    };
    send();
    const resend = setInterval(send, o.everyMs ?? 250);
    const timer = setTimeout(
      () => finish({ answered: false, reason: `no answer to the rig hello within ${o.timeoutMs} ms` }),
      o.timeoutMs,
    );
  });
}
