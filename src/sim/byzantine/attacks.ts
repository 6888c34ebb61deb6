/**
 * Message generators of the catalog's PBFT-level attacks, as pure functions of what the attacker knows
 * (`Knowledge`) and holds (`Forger`: keys or none). Catalog behaviours (replicas), intruders (nodes without
 * keys, faulty clients) and bench/flood.ts all draw their traffic from here, so the simulator and the benchmark
 * attack with the same bytes. Every generator returns a bounded number of messages of bounded size.
 */
import { authPayload, encodeBatch, encodeMessage } from '../../core/codec/encode.ts';
import {
  type Checkpoint,
  DIGEST_BYTES,
  type Message,
  type StateRequest,
  type ViewChangeFetch,
} from '../../core/codec/messages.ts';
import { sha256 } from '../../core/crypto/digest.ts';
import { allReplicas, othersOf, type PbftConfig, primaryOf } from '../../core/pbft/config.ts';
import type { Prng } from '../../core/prng.ts';
import {
  encodable,
  FORGED_TAG_BYTES,
  type Forger,
  forgedNewView,
  forgedPrePrepare,
  forgedViewChange,
  forgedVote,
  junkRequests,
  viewLedBy,
  withFirstField,
} from './forge.ts';

/** What an attacker believes about the group: from its own replica, or from traffic it overheard. */
export interface Knowledge {
  readonly view: number;
  /** Low watermark h (last stable checkpoint). */
  readonly low: number;
  readonly lastExecuted: number;
}

/** How much a flood generator sends: messages per call, bytes per message, share of large messages. */
export interface FloodSize {
  readonly count: number;
  readonly maxBytes: number;
  /** Share of messages built up to `maxBytes` (the rest are small). Default: a few in ten. */
  readonly largeShare?: number;
}

/** A message and who it is for (every replica but the sender when `to` is undefined). */
export interface Aimed {
  readonly to: number | undefined;
  readonly bytes: Uint8Array;
}

const everyone = (bytes: Uint8Array): Aimed => ({ to: undefined, bytes });

/** The empty batch's digest: a NEW-VIEW's choice for a sequence number nobody prepared. */
export const NULL_BATCH_DIGEST = sha256(encodeBatch({ kind: 'full', requests: [] }));

// ---------------------------------------------------------------- invalid NEW-VIEW at a huge view

/**
 * Views an attacker announces, each led by the forger (so the NEW-VIEW passes the primary check and only its
 * content is wrong): just ahead, far ahead, at 2^31/2^32, and at the very top of the codec's range, where one
 * more view (`view + 1`) no longer encodes.
 */
export function hugeViews(config: PbftConfig, id: number, k: Knowledge, rng: Prng): number {
  const n = config.n;
  switch (rng.int(6)) {
    case 0:
      return viewLedBy(k.view + n * (1 + rng.int(3)), n, id);
    case 1:
      return viewLedBy(k.view + 1_000_000 + rng.int(1_000_000_000), n, id);
    case 2:
      return viewLedBy(rng.chance(0.5) ? 2 ** 31 + n : 2 ** 32 + n, n, id);
    case 3:
      return viewLedBy(2 ** 52 + rng.int(1 << 20) * n, n, id);
    default:
      return viewLedBy(Number.MAX_SAFE_INTEGER - rng.int(4) * n, n, id);
  }
}

/**
 * One invalid NEW-VIEW: signed by the forger (a replica's own key) at a huge view it leads, with a V set that
 * cannot validate (empty, or only its own VIEW-CHANGE) and a random O set; or the same message with its view
 * field beyond 2^53, which the codec must refuse; or a VIEW-CHANGE at the top of the range.
 */
export function invalidNewView(forger: Forger, config: PbftConfig, k: Knowledge): Aimed {
  const rng = forger.rng;
  const view = hugeViews(config, forger.id, k, rng);
  const entries = Array.from({ length: rng.int(4) }, (_, i) => ({
    seq: encodable(k.low + 1 + i),
    batchDigest: rng.chance(0.5) ? NULL_BATCH_DIGEST : rng.bytes(DIGEST_BYTES),
  }));
  const own =
    forger.crypto !== undefined && rng.chance(0.5)
      ? [strip(forgedViewChange(forger.crypto, forger.id, view, []))]
      : [];
  const nv = forgedNewView(forger, view, own, entries);
  const pick = rng.int(8);
  if (pick === 0) {
    // Beyond the codec: 2^53 exactly, or a 64-bit value.
    const beyond = rng.chance(0.5) ? 2n ** 53n + BigInt(rng.int(1000)) : 2n ** 64n - 1n;
    return everyone(withFirstField(encodeMessage({ ...nv, view: 0 }), beyond));
  }
  if (pick === 1 && forger.crypto !== undefined) {
    const vc = forgedViewChange(forger.crypto, forger.id, view, []);
    return everyone(encodeMessage(vc));
  }
  return everyone(encodeMessage(nv));
}

function strip<T extends { kind: string }>(m: T): Omit<T, 'kind'> {
  const { kind: _kind, ...body } = m;
  return body;
}

// ---------------------------------------------------------------- old-view batches (the batch store)

/**
 * PRE-PREPAREs for views before the current one, each with a distinct batch whose digest is right: the store
 * of old-view batches keeps such content for re-proposal after a view change, so a flood of them tries to
 * evict (or crowd out) the batches a NEW-VIEW will need. Unauthenticated (claiming the old view's primary) or
 * self-authenticated (a view the forger led, with its own keys). Sequence numbers near the high watermark
 * live longest in the store. `maxBytes` bounds each message (large ones press on a byte budget).
 */
export function oldViewBatches(
  forger: Forger,
  config: PbftConfig,
  k: Knowledge,
  options: FloodSize,
): Aimed[] {
  const rng = forger.rng;
  const out: Aimed[] = [];
  if (k.view === 0) return out; // nothing is old yet
  const receivers = othersOf(config, forger.id);
  for (let i = 0; i < options.count; i++) {
    const ownView = viewLedBy(k.view - 1, config.n, forger.id);
    const selfAuth = forger.crypto !== undefined && ownView < k.view && rng.chance(0.5);
    const view = selfAuth ? ownView : rng.int(k.view);
    const window = config.watermarkWindow;
    const seq = rng.chance(0.7) ? k.low + window - rng.int(Math.min(window, 4)) : k.low + 1 + rng.int(window);
    const large = rng.chance(options.largeShare ?? 0.2);
    const opBytes = large ? Math.min(config.limits.maxOpBytes, 1024) : 8;
    const count = large ? Math.max(1, Math.floor(options.maxBytes / (opBytes + 64))) : 1 + rng.int(3);
    const requests = junkRequests(rng, Math.min(count, config.maxBatchRequests), opBytes, config.n);
    const replica = selfAuth ? forger.id : primaryOf(config, view);
    const pp = forgedPrePrepare(forger, { view, seq, replica, requests }, othersOf(config, replica));
    out.push({ to: receivers[rng.int(receivers.length)], bytes: encodeMessage(pp) });
    if (rng.chance(0.5)) out.push(everyone(encodeMessage(pp)));
  }
  return out;
}

// ---------------------------------------------------------------- stray PREPAREs (timers and slots)

/**
 * PREPAREs (and some COMMITs) by the forger for sequence numbers nobody proposed yet: the next slots above the
 * last executed one, where a real PRE-PREPARE will land later (a slot created early must not start its
 * request timer early), random slots across the window, and a few at the edges (seq 0, beyond the window, the
 * next view, claiming the primary's id).
 */
export function strayVotes(forger: Forger, config: PbftConfig, k: Knowledge): Aimed[] {
  const rng = forger.rng;
  const out: Aimed[] = [];
  const receivers = othersOf(config, forger.id);
  const digest = (): Uint8Array => (rng.chance(0.5) ? NULL_BATCH_DIGEST : rng.bytes(DIGEST_BYTES));
  const vote = (kind: 'prepare' | 'commit', view: number, seq: number, replica = forger.id): void => {
    const m = forgedVote(
      forger,
      kind,
      { view, seq, batchDigest: digest(), replica },
      othersOf(config, replica),
    );
    out.push(everyone(encodeMessage(m)));
  };
  const ahead = Math.min(config.maxInFlight + 2, config.watermarkWindow);
  for (let i = 1; i <= ahead; i++) vote('prepare', k.view, k.lastExecuted + i);
  for (let i = 0; i < 2; i++)
    vote(rng.chance(0.7) ? 'prepare' : 'commit', k.view, k.low + 1 + rng.int(config.watermarkWindow));
  switch (rng.int(4)) {
    case 0:
      vote('prepare', k.view, 0);
      break;
    case 1:
      vote('prepare', k.view, k.low + config.watermarkWindow + 1 + rng.int(1000));
      break;
    case 2:
      vote('prepare', k.view + 1, k.lastExecuted + 1);
      break;
    default:
      vote('prepare', k.view, k.lastExecuted + 1, primaryOf(config, k.view));
  }
  return out.slice(0, 2 * receivers.length + ahead + 4);
}

// ---------------------------------------------------------------- the early buffer

/**
 * Messages for the view being installed and the next two, aimed at the buffer a replica keeps while it waits
 * for a NEW-VIEW: many PREPAREs and COMMITs across the window (authentic when the forger has keys) and large
 * PRE-PREPAREs claiming the view's primary (authentic only if the forger leads it). `maxBytes` bounds each.
 */
export function earlyBufferFlood(
  forger: Forger,
  config: PbftConfig,
  k: Knowledge,
  options: FloodSize,
): Aimed[] {
  const rng = forger.rng;
  const out: Aimed[] = [];
  for (let i = 0; i < options.count; i++) {
    const view = k.view + rng.int(3);
    const seq = k.low + 1 + rng.int(config.watermarkWindow);
    if (rng.chance(options.largeShare ?? 0.3)) {
      const opBytes = Math.min(config.limits.maxOpBytes, 2048);
      const count = Math.max(
        1,
        Math.min(config.maxBatchRequests, Math.floor(options.maxBytes / (opBytes + 64))),
      );
      const replica = primaryOf(config, view);
      const requests = junkRequests(rng, count, opBytes, config.n);
      const pp = forgedPrePrepare(forger, { view, seq, replica, requests }, othersOf(config, replica));
      out.push(everyone(encodeMessage(pp)));
    } else {
      const kind = rng.chance(0.5) ? 'prepare' : 'commit';
      const replica = forger.crypto !== undefined ? forger.id : rng.int(config.n);
      const m = forgedVote(
        forger,
        kind,
        { view, seq, batchDigest: rng.bytes(DIGEST_BYTES), replica },
        othersOf(config, replica),
      );
      out.push(everyone(encodeMessage(m)));
    }
  }
  return out;
}

// ---------------------------------------------------------------- retransmission and state transfer

/**
 * Authentic STATE-REQUESTs (from seq 0 or 1, far ahead, fresh or huge nonces) and VIEW-CHANGE-FETCHes (this
 * view, the next, the top of the range) to every peer: each one asks a correct replica for work, so answers
 * must be rate limited per peer and bounded per answer. Needs keys (a keyless sender fails the tag check).
 */
export function retransmitRequests(forger: Forger, config: PbftConfig, k: Knowledge, nonce: number): Aimed[] {
  const rng = forger.rng;
  const out: Aimed[] = [];
  const crypto = forger.crypto;
  for (const to of othersOf(config, forger.id)) {
    const fromSeq = [0, 1, k.low + 1, k.low + 10 * config.watermarkWindow][rng.int(4)]!;
    const request: StateRequest = {
      kind: 'state-request',
      replica: forger.id,
      fromSeq: encodable(fromSeq),
      nonce: rng.chance(0.9) ? encodable(nonce) : Number.MAX_SAFE_INTEGER,
      tag: new Uint8Array(0),
    };
    const view = encodable([k.view, k.view + 1, Number.MAX_SAFE_INTEGER][rng.int(3)]!);
    const fetch: ViewChangeFetch = {
      kind: 'view-change-fetch',
      view,
      replica: forger.id,
      tag: new Uint8Array(0),
    };
    for (const m of [request, fetch]) {
      const tag = crypto !== undefined ? crypto.tag(to, authPayload(m)) : rng.bytes(FORGED_TAG_BYTES);
      out.push({ to, bytes: encodeMessage({ ...m, tag }) });
    }
  }
  return out;
}

// ---------------------------------------------------------------- replays

/**
 * A bounded memory of signed messages worth replaying (CHECKPOINTs, stable proofs): at most `capacity` entries,
 * replaced at random once full, so the attacker keeps a spread of old and recent ones.
 */
export class ReplayMemory<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly capacity: number,
    private readonly rng: Prng,
  ) {}

  remember(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.rng.int(this.capacity)] = item;
  }

  pick(): T | undefined {
    return this.items.length === 0 ? undefined : this.items[this.rng.int(this.items.length)];
  }

  all(): readonly T[] {
    return this.items;
  }

  get size(): number {
    return this.items.length;
  }
}

/** Checkpoints worth replaying: every valid (signed) CHECKPOINT the attacker saw, by anyone. */
export function isCheckpoint(m: Message): m is Checkpoint {
  return m.kind === 'checkpoint';
}

/** Every replica of the group (a client's authenticator covers them all). */
export function replicasOf(config: PbftConfig): number[] {
  return allReplicas(config);
}
