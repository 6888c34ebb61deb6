/**
 * Property: a correct replica never throws from step() and its invariants hold, whatever arrives. The inputs mix
 * random messages of every kind (schema-shaped), protocol messages authenticated by keyed peers that may lie
 * (valid MACs and signatures, chosen fields: huge numbers, 2^53 - 1, empty and oversized arrays, wrong views and
 * seqs), the same with broken authentication, byte mutations of any of them, ticks (small and huge jumps) and
 * frames. Valid VIEW-CHANGEs, NEW-VIEWs, PRE-PREPAREs, votes and CHECKPOINTs built from what the replica itself
 * sends let it reach view changes, execution and stable checkpoints under the noise.
 *
 * Seeded: TRIPLEX_SEED=<n> npx vitest run test/core/pbft/step-fuzz.test.ts replays a run; a failure prints the
 * seed and the counterexample path (fast-check), and the message that broke it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  authPayload,
  encodeBatch,
  encodeMessage,
  requestAuthPayload,
} from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import {
  type CertEntry,
  MESSAGE_KINDS,
  type Message,
  messageSchema,
  type PrePrepare,
  type Request,
  type ViewChange,
} from '../../../src/core/codec/messages.ts';
import { sampleShape } from '../../../src/core/codec/sample.ts';
import { allReplicas, othersOf, type PbftConfig, pbftConfig } from '../../../src/core/pbft/config.ts';
import { decideNewView } from '../../../src/core/pbft/new-view.ts';
import { quorums } from '../../../src/core/pbft/quorum.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import type { ReplicaAction } from '../../../src/core/pbft/types.ts';
import { Prng } from '../../../src/core/prng.ts';
import { groupKeys } from '../../../src/sim/keys.ts';
import { FoldService } from '../../../src/sim/service.ts';

const SEED = Number(process.env.TRIPLEX_SEED ?? 20260914);
const RUNS = Number(process.env.TRIPLEX_RUNS ?? 40);
const CLIENTS = [100, 101, 102];
/** A client only the honest rounds use (its timestamps stay fresh whatever the noise does). */
const HONEST = 103;
const MAX = Number.MAX_SAFE_INTEGER;

interface World {
  readonly config: PbftConfig;
  readonly target: number;
  readonly replica: Replica;
  readonly keys: ReturnType<typeof groupKeys>;
  /** What the target said, to build valid answers from. */
  readonly ownCheckpoints: { seq: number; digest: Uint8Array; signed?: Message[] }[];
  readonly prePrepares: PrePrepare[];
  readonly timestamps: Map<number, number>;
  now: number;
}

function world(n: number, f: number, target: number, frame: boolean, k: number): World {
  const config = pbftConfig(f, {
    n,
    checkpointInterval: k,
    watermarkWindow: 2 * k,
    batching: frame ? { mode: 'frame' } : { mode: 'size', maxDelayTicks: 1 },
    maxBatchRequests: 4,
    maxInFlight: 2,
    requestTimeoutTicks: 20,
    proposalTimeoutTicks: 8,
    viewChangeTimeoutTicks: 10,
    maxViewChangeTimeoutTicks: 40,
    stallTicks: 5,
    maxViewAhead: 6,
    maxHeldPrePrepares: 4,
    maxPendingRequests: 8,
    maxEarlyMessagesPerReplica: 6,
    maxEarlyBytesPerReplica: DEFAULT_LIMITS.maxMessageBytes,
    maxOldBatchBytesPerReplica: 2000,
    maxVouchBytesPerReplica: 2000,
  });
  const keys = groupKeys(7, n, [...CLIENTS, HONEST]);
  const replica = new Replica({
    id: target,
    config,
    crypto: keys.cryptoFor(target),
    service: new FoldService(),
  });
  return {
    config,
    target,
    replica,
    keys,
    ownCheckpoints: [],
    prePrepares: [],
    timestamps: new Map(),
    now: 0,
  };
}

/** Numbers a faulty node would try: edges of the codec's range, the window's edges, and ordinary ones. */
function num(rng: Prng, near = 0): number {
  switch (rng.int(8)) {
    case 0:
      return [0, 1, 2 ** 31, 2 ** 32, 2 ** 52, 2 ** 52 + 1, MAX - 1, MAX][rng.int(8)]!;
    case 1:
      return rng.u32() * 2 ** 21 + (rng.u32() >>> 11);
    case 2:
      return rng.int(100);
    default:
      return Math.min(MAX, Math.max(0, near + rng.int(7) - 2));
  }
}

function digestOf(rng: Prng, w: World): Uint8Array {
  if (w.prePrepares.length > 0 && rng.chance(0.6))
    return w.prePrepares[rng.int(w.prePrepares.length)]!.batchDigest;
  return rng.bytes(32);
}

/** A sender: mostly a real replica (keyed), sometimes the target itself or an id that does not exist. */
function sender(rng: Prng, w: World): number {
  const r = rng.int(20);
  if (r === 0) return w.config.n + rng.int(3);
  if (r === 1) return MAX;
  if (r === 2) return w.target;
  return (w.target + 1 + rng.int(w.config.n - 1)) % w.config.n;
}

function keyed(w: World, id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < w.config.n;
}

/** An authenticator from `from` to `receivers`: valid, broken in some slots, or garbage of any shape. */
function authenticator(
  rng: Prng,
  w: World,
  from: number,
  receivers: readonly number[],
  payload: Uint8Array,
): Uint8Array[] {
  const mode = rng.int(10);
  if (mode < 7 && (keyed(w, from) || CLIENTS.includes(from))) {
    const auth = w.keys.cryptoFor(from).authenticator(receivers, payload);
    if (mode === 6) auth[rng.int(auth.length)] = rng.bytes(auth[0]!.length);
    return auth;
  }
  if (mode === 7) return [];
  return Array.from({ length: rng.int(40) }, () =>
    rng.bytes(rng.chance(0.9) ? rng.int(33) : 33 + rng.int(8)),
  );
}

function sign(rng: Prng, w: World, signer: number, payload: Uint8Array): Uint8Array {
  if (keyed(w, signer) && rng.chance(0.85)) return w.keys.cryptoFor(signer).sign(payload);
  return rng.bytes(64);
}

function tag(rng: Prng, w: World, from: number, payload: Uint8Array): Uint8Array {
  if (keyed(w, from) && rng.chance(0.85)) return w.keys.cryptoFor(from).tag(w.target, payload);
  return rng.bytes(rng.int(40));
}

function request(rng: Prng, w: World): Request {
  const client = rng.chance(0.9) ? CLIENTS[rng.int(CLIENTS.length)]! : num(rng);
  const last = w.timestamps.get(client) ?? 0;
  const timestamp = rng.chance(0.8) ? last + 1 : num(rng, last);
  w.timestamps.set(client, Math.max(last, timestamp));
  const op = rng.chance(0.95) ? rng.bytes(rng.int(16)) : rng.bytes(4097);
  const unsigned = { client, timestamp, op, auth: [] as Uint8Array[] };
  return {
    ...unsigned,
    auth: authenticator(rng, w, client, allReplicas(w.config), requestAuthPayload(unsigned)),
  };
}

function entries(rng: Prng, w: World, view: number): CertEntry[] {
  const count = [0, 1, 2, 3, w.config.watermarkWindow + 1, 600][rng.int(6)]!;
  const low = w.replica.status().lowWatermark;
  return Array.from({ length: count }, () => ({
    seq: num(rng, low + 1),
    view: rng.chance(0.8) ? Math.max(0, view - 1 - rng.int(2)) : num(rng, view),
    batchDigest: digestOf(rng, w),
  }));
}

function viewChange(rng: Prng, w: World, replica: number, newView: number, clean: boolean): ViewChange {
  const unsigned: ViewChange = {
    kind: 'view-change',
    newView,
    replica,
    stableSeq: clean ? 0 : num(rng),
    stableDigest: rng.bytes(32),
    checkpointProof: [],
    prepared: clean ? [] : entries(rng, w, newView),
    prePrepared: clean ? [] : entries(rng, w, newView),
    signature: new Uint8Array(64),
  };
  const signature = clean
    ? w.keys.cryptoFor(replica).sign(authPayload(unsigned))
    : sign(rng, w, replica, authPayload(unsigned));
  return { ...unsigned, signature };
}

/** One message as a faulty peer (or the network) might deliver it. */
function message(rng: Prng, w: World): Message {
  const status = w.replica.status();
  const { n } = w.config;
  const view = rng.chance(0.8) ? status.view + rng.int(3) - (rng.chance(0.2) ? 1 : 0) : num(rng, status.view);
  const v = Math.max(0, view);
  const seq = rng.chance(0.8) ? status.lowWatermark + 1 + rng.int(w.config.watermarkWindow + 2) : num(rng);
  const from = sender(rng, w);
  switch (rng.int(14)) {
    case 0:
      return { kind: 'request', ...request(rng, w) };
    case 1: {
      const primary = rng.chance(0.8) ? v % n : from;
      const requests = Array.from({ length: [0, 1, 2, 5][rng.int(4)]! }, () => request(rng, w));
      const batch = { kind: 'full' as const, requests };
      const unsigned: PrePrepare = {
        kind: 'pre-prepare',
        view: v,
        seq,
        batchDigest: rng.chance(0.9) ? w.keys.cryptoFor(0).digest(encodeBatch(batch)) : rng.bytes(32),
        replica: primary,
        batch: rng.chance(0.95) ? batch : { kind: 'digests', digests: [rng.bytes(32)] },
        auth: [],
      };
      const pp = {
        ...unsigned,
        auth: authenticator(
          rng,
          w,
          primary,
          othersOf(w.config, keyed(w, primary) ? primary : 0),
          authPayload(unsigned),
        ),
      };
      w.prePrepares.push(pp);
      if (w.prePrepares.length > 16) w.prePrepares.shift();
      return pp;
    }
    case 2:
    case 3: {
      const kind = rng.chance(0.5) ? ('prepare' as const) : ('commit' as const);
      const pp =
        w.prePrepares.length > 0 && rng.chance(0.7)
          ? w.prePrepares[rng.int(w.prePrepares.length)]
          : undefined;
      const unsigned = {
        kind,
        view: pp?.view ?? v,
        seq: pp?.seq ?? seq,
        batchDigest: pp?.batchDigest ?? digestOf(rng, w),
        replica: from,
        auth: [] as Uint8Array[],
      };
      const others = othersOf(w.config, keyed(w, from) ? from : 0);
      return { ...unsigned, auth: authenticator(rng, w, from, others, authPayload(unsigned)) };
    }
    case 4: {
      const own =
        w.ownCheckpoints.length > 0 && rng.chance(0.7)
          ? w.ownCheckpoints[rng.int(w.ownCheckpoints.length)]
          : undefined;
      const unsigned = {
        kind: 'checkpoint' as const,
        seq: own?.seq ?? (rng.chance(0.5) ? w.config.checkpointInterval * (1 + rng.int(8)) : num(rng)),
        stateDigest: own?.digest ?? rng.bytes(32),
        replica: from,
        signature: new Uint8Array(64),
      };
      return { ...unsigned, signature: sign(rng, w, from, authPayload(unsigned)) };
    }
    case 5:
      return viewChange(
        rng,
        w,
        from,
        rng.chance(0.8) ? status.view + 1 + rng.int(3) : num(rng, status.view),
        false,
      );
    case 6: {
      // A NEW-VIEW: valid (q clean VIEW-CHANGEs by peers) most of the time, otherwise anything.
      const nv = rng.chance(0.6) ? status.view + 1 + rng.int(3) : num(rng, status.view);
      const primary = nv % n;
      const peers = allReplicas(w.config).filter((r) => r !== w.target);
      const q = quorums(n, w.config.f).viewChanges;
      const clean = rng.chance(0.7) && primary !== w.target && nv <= 2 ** 52;
      const count = clean ? q : [0, 1, q, n + 1][rng.int(4)]!;
      const vcs = Array.from({ length: count }, (_, i) =>
        viewChange(rng, w, clean ? peers[i % peers.length]! : sender(rng, w), nv, clean),
      );
      const decided = decideNewView(
        vcs,
        quorums(n, w.config.f),
        w.config.watermarkWindow,
        w.keys.cryptoFor(0).digest(encodeBatch({ kind: 'full', requests: [] })),
      );
      const unsigned = {
        kind: 'new-view' as const,
        view: nv,
        replica: rng.chance(0.9) ? primary : from,
        viewChanges: vcs,
        prePrepares:
          decided.ok && rng.chance(0.9) ? decided.chosen : [{ seq: num(rng), batchDigest: rng.bytes(32) }],
        signature: new Uint8Array(64),
      };
      return { ...unsigned, signature: sign(rng, w, unsigned.replica, authPayload(unsigned)) };
    }
    case 7: {
      const unsigned = {
        kind: 'state-request' as const,
        replica: from,
        fromSeq: num(rng),
        nonce: num(rng),
        tag: new Uint8Array(0),
      };
      return { ...unsigned, tag: tag(rng, w, from, authPayload(unsigned)) };
    }
    case 8: {
      const unsigned = {
        kind: 'state-reply' as const,
        replica: from,
        nonce: rng.int(6),
        stableSeq: num(rng, status.lowWatermark + w.config.checkpointInterval),
        stableDigest: rng.bytes(32),
        checkpointProof: [],
        snapshot: rng.bytes(rng.int(30)),
        entries: [],
        more: rng.chance(0.5),
        tag: new Uint8Array(0),
      };
      return { ...unsigned, tag: tag(rng, w, from, authPayload(unsigned)) };
    }
    case 9: {
      const unsigned = {
        kind: 'view-change-fetch' as const,
        view: num(rng, status.view),
        replica: from,
        tag: new Uint8Array(0),
      };
      return { ...unsigned, tag: tag(rng, w, from, authPayload(unsigned)) };
    }
    case 10: {
      const unsigned = {
        kind: 'vouch' as const,
        replica: from,
        request: request(rng, w),
        auth: [] as Uint8Array[],
      };
      const others = othersOf(w.config, keyed(w, from) ? from : 0);
      return { ...unsigned, auth: authenticator(rng, w, from, others, authPayload(unsigned)) };
    }
    case 11: {
      const batch = { kind: 'full' as const, requests: [request(rng, w)] };
      const unsigned = rng.chance(0.5)
        ? {
            kind: 'batch-fetch' as const,
            replica: from,
            seq,
            batchDigest: digestOf(rng, w),
            tag: new Uint8Array(0),
          }
        : {
            kind: 'batch-reply' as const,
            replica: from,
            seq,
            batchDigest: rng.chance(0.5) ? w.keys.cryptoFor(0).digest(encodeBatch(batch)) : digestOf(rng, w),
            batch,
            tag: new Uint8Array(0),
          };
      return { ...unsigned, tag: tag(rng, w, from, authPayload(unsigned)) } as Message;
    }
    default: {
      // Anything the schema allows, of any kind.
      const shape = messageSchema.shape;
      if (shape.t !== 'union') throw new Error('message schema must be a union');
      const kind = MESSAGE_KINDS[rng.int(MESSAGE_KINDS.length)]!;
      const body = sampleShape(shape.variants[kind]!, rng, DEFAULT_LIMITS, { maxLength: 6 }) as object;
      return { kind, ...body } as Message;
    }
  }
}

function mutate(bytes: Uint8Array, rng: Prng): Uint8Array {
  const b = bytes.slice();
  switch (rng.int(3)) {
    case 0:
      if (b.length > 0) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    case 1:
      return b.subarray(0, rng.int(b.length + 1));
    default:
      return Uint8Array.from([...b, ...rng.bytes(1 + rng.int(8))]);
  }
}

/** Remember what the target said that a valid answer can build on. */
const stats = new Map<string, number>();

function listen(w: World, actions: readonly ReplicaAction[]): void {
  for (const a of actions) {
    if (a.kind === 'event') {
      const key = a.event.type === 'rejected' ? `rejected:${a.event.reason}` : a.event.type;
      stats.set(key, (stats.get(key) ?? 0) + 1);
    }
    if (a.kind !== 'multicast') continue;
    if (a.message.kind === 'checkpoint')
      w.ownCheckpoints.push({ seq: a.message.seq, digest: a.message.stateDigest });
    if (a.message.kind === 'pre-prepare') w.prePrepares.push(a.message);
  }
  if (w.ownCheckpoints.length > 8) w.ownCheckpoints.splice(0, w.ownCheckpoints.length - 8);
  if (w.prePrepares.length > 16) w.prePrepares.splice(0, w.prePrepares.length - 16);
}

function validVote(w: World, kind: 'prepare' | 'commit', pp: PrePrepare, replica: number): Message {
  const unsigned = {
    kind,
    view: pp.view,
    seq: pp.seq,
    batchDigest: pp.batchDigest,
    replica,
    auth: [] as Uint8Array[],
  };
  const auth = w.keys.cryptoFor(replica).authenticator(othersOf(w.config, replica), authPayload(unsigned));
  return { ...unsigned, auth };
}

/**
 * What a correct group would send the target for one batch: the primary's PRE-PREPARE (or, when the target is
 * the primary, a client request it will propose), every backup's PREPARE and everyone's COMMIT, and the
 * others' CHECKPOINTs for what the target checkpointed. Lets runs reach execution and stable checkpoints.
 */
function honestRound(rng: Prng, w: World): Message[] {
  const status = w.replica.status();
  if (!status.active) return [];
  const { n } = w.config;
  const primary = status.view % n;
  const out: Message[] = [];
  let pp: PrePrepare | undefined;
  if (primary === w.target) {
    out.push({ kind: 'request', ...validRequest(w) });
    pp = w.prePrepares.filter((p) => p.replica === w.target && p.view === status.view).at(-1);
  } else {
    const requests = [validRequest(w)];
    const batch = { kind: 'full' as const, requests };
    const unsigned: PrePrepare = {
      kind: 'pre-prepare',
      view: status.view,
      seq: Math.min(status.highWatermark, status.lastExecuted + 1 + rng.int(2)),
      batchDigest: w.keys.cryptoFor(primary).digest(encodeBatch(batch)),
      replica: primary,
      batch,
      auth: [],
    };
    pp = {
      ...unsigned,
      auth: w.keys.cryptoFor(primary).authenticator(othersOf(w.config, primary), authPayload(unsigned)),
    };
    out.push(pp);
  }
  if (pp !== undefined) {
    for (let r = 0; r < n; r++) if (r !== w.target && r !== primary) out.push(validVote(w, 'prepare', pp, r));
    for (let r = 0; r < n; r++) if (r !== w.target) out.push(validVote(w, 'commit', pp, r));
  }
  for (const cp of w.ownCheckpoints.slice(-2)) {
    for (let r = 0; r < n; r++) {
      if (r === w.target) continue;
      const unsigned = {
        kind: 'checkpoint' as const,
        seq: cp.seq,
        stateDigest: cp.digest,
        replica: r,
        signature: new Uint8Array(64),
      };
      out.push({ ...unsigned, signature: w.keys.cryptoFor(r).sign(authPayload(unsigned)) });
    }
  }
  return out;
}

function validRequest(w: World): Request {
  const client = HONEST;
  const timestamp = (w.timestamps.get(client) ?? 0) + 1;
  w.timestamps.set(client, timestamp);
  const unsigned = { client, timestamp, op: Uint8Array.of(timestamp & 0xff), auth: [] as Uint8Array[] };
  return {
    ...unsigned,
    auth: w.keys.cryptoFor(client).authenticator(allReplicas(w.config), requestAuthPayload(unsigned)),
  };
}

function step(w: World, input: Parameters<Replica['step']>[0], seed: number): void {
  try {
    listen(w, w.replica.step(input));
    w.replica.checkInvariants();
  } catch (e) {
    const what =
      input.kind === 'receive' || input.kind === 'deliver' ? `${input.kind} from ${input.from}` : input.kind;
    throw new Error(
      `command seed ${seed} (${what}) broke the replica: ${e instanceof Error ? e.stack : String(e)}`,
    );
  }
}

/** Run one command; throws (with the input) if the replica throws or an invariant breaks. */
function run(w: World, seed: number): void {
  const rng = new Prng(seed);
  const pick = rng.int(20);
  let input: Parameters<Replica['step']>[0];
  if (pick >= 5 && pick < 9) {
    for (const m of honestRound(rng, w)) step(w, { kind: 'receive', from: 0, bytes: encodeMessage(m) }, seed);
    return;
  }
  if (pick < 4) {
    w.now += rng.chance(0.97) ? rng.int(8) : num(rng);
    input = { kind: 'tick', now: w.now };
  } else if (pick === 4) {
    input = { kind: 'frame' };
  } else {
    let m: Message;
    let bytes: Uint8Array;
    try {
      m = message(rng, w);
      bytes = encodeMessage(m);
    } catch (e) {
      if (e instanceof RangeError) {
        stats.set('(not encodable)', (stats.get('(not encodable)') ?? 0) + 1);
        return; // a value out of the codec's range: nothing a network could deliver
      }
      throw e;
    }
    if (rng.chance(0.1)) bytes = mutate(bytes, rng);
    input = rng.chance(0.05)
      ? { kind: 'deliver', from: rng.int(w.config.n + 3), message: m }
      : { kind: 'receive', from: rng.int(w.config.n + 3), bytes };
  }
  try {
    listen(w, w.replica.step(input));
    w.replica.checkInvariants();
  } catch (e) {
    const what =
      input.kind === 'receive' || input.kind === 'deliver' ? `${input.kind} from ${input.from}` : input.kind;
    throw new Error(
      `command seed ${seed} (${what}) broke the replica: ${e instanceof Error ? e.stack : String(e)}`,
    );
  }
}

describe('a correct replica under arbitrary input', () => {
  it(`never throws from step() and keeps its invariants (TRIPLEX_SEED=${SEED})`, () => {
    const topology = fc.record({
      shape: fc.constantFrom([4, 1], [5, 1], [7, 2]),
      target: fc.nat(6),
      frame: fc.boolean(),
      k: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(
        topology,
        fc.array(fc.nat(), { minLength: 1, maxLength: 120, size: 'max' }),
        (t, commands) => {
          const [n, f] = t.shape as [number, number];
          const w = world(n, f, t.target % n, t.frame, t.k);
          for (const seed of commands) run(w, seed);
          // Later ticks too (timers fire on what the inputs left behind).
          for (let i = 0; i < 30; i++) {
            w.now += 7;
            w.replica.step({ kind: 'tick', now: w.now });
            w.replica.checkInvariants();
          }
          expect(w.replica.status().view).toBeLessThanOrEqual(2 ** 52);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    if (process.env.TRIPLEX_FUZZ_STATS) console.log([...stats].sort((a, b) => b[1] - a[1]));
  });
});
