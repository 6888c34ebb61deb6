/**
 * Flood benchmark (issue 9): one correct replica under 100,000 messages from a peer with no keys, then (a fresh
 * group) 100,000 from a keyed faulty replica, each a mix of the catalog's floods (src/sim/byzantine/attacks.ts).
 * The target is a backup in the middle of a view change (so the buffer kept until the NEW-VIEW is open) with
 * old views behind it (so the store of old-view batches is reachable), after a warm-up that gives it a log,
 * checkpoints and captured traffic to mutate and replay.
 *
 *   npm run bench:flood            # node --expose-gc --import tsx bench/flood.ts
 *   npm run bench:flood -- --messages 20000 --max-bytes 65536 --large-share 0.3
 *
 * Prints JSON: per source, heap samples (after a forced GC, every 10% of the run), growth over the start, whether
 * it stayed within 32 MiB, the mean cost per message (ns, stepping only: generating the flood is not timed),
 * throws of step() (a correct replica must never throw) and the rejections it counted. It asserts nothing.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { encodeMessage } from '../src/core/codec/encode.ts';
import { MESSAGE_KINDS } from '../src/core/codec/messages.ts';
import { Client } from '../src/core/pbft/client.ts';
import { type PbftConfig, pbftConfig } from '../src/core/pbft/config.ts';
import { Replica } from '../src/core/pbft/replica.ts';
import type { ReplicaAction } from '../src/core/pbft/types.ts';
import { Prng } from '../src/core/prng.ts';
import type { Aimed, Knowledge } from '../src/sim/byzantine/attacks.ts';
import { KeyedFloodMix } from '../src/sim/byzantine/floods.ts';
import { forgedViewChange } from '../src/sim/byzantine/forge.ts';
import { Eavesdropper, keylessBurst } from '../src/sim/intruders/keyless.ts';
import { type GroupKeys, groupKeys } from '../src/sim/keys.ts';
import { FoldService } from '../src/sim/service.ts';

const BUDGET_MIB = 32;
const MIB = 1024 * 1024;
const N = 4;
const CLIENT = N;
const TARGET = 1;
/** The keyed faulty replica, and the transport id of the keyless peer (not a principal of the group). */
const FAULTY = 3;
const KEYLESS_PEER = 99;

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string' },
    'max-bytes': { type: 'string' },
    'large-share': { type: 'string' },
    seed: { type: 'string' },
  },
});
const MESSAGES = Number(args.messages ?? 100_000);
const MAX_BYTES = Number(args['max-bytes'] ?? 128 * 1024);
const SEED = Number(args.seed ?? 1);
/** An attacker after memory sends its early-buffer and old-view floods as large as the codec allows. */
const LARGE_SHARE = Number(args['large-share'] ?? 1);

const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / MIB;
}

interface Group {
  readonly config: PbftConfig;
  readonly keys: GroupKeys;
  readonly replicas: Replica[];
  /** Every message the warm-up put on the wire (for mutation and replay). */
  readonly captures: Uint8Array[];
}

/** A correct group that orders `requests` requests with instant delivery: a warm log, checkpoints, captures. */
function warmGroup(requests: number): Group {
  const config = pbftConfig(1, {
    checkpointInterval: 4,
    watermarkWindow: 16,
    batching: { mode: 'size', maxDelayTicks: 0 },
  });
  const keys = groupKeys(SEED, N, [CLIENT]);
  const replicas = Array.from(
    { length: N },
    (_, id) => new Replica({ id, config, crypto: keys.cryptoFor(id), service: new FoldService() }),
  );
  const client = new Client({
    id: CLIENT,
    config,
    crypto: keys.cryptoFor(CLIENT),
    retransmitTicks: 1_000_000,
  });
  const captures: Uint8Array[] = [];
  const wire: { to: number; from: number; bytes: Uint8Array }[] = [];
  const carry = (from: number, actions: readonly ReplicaAction[]): void => {
    for (const a of actions) {
      if (a.kind === 'send') wire.push({ to: a.to, from, bytes: a.bytes });
      else if (a.kind === 'multicast')
        for (let to = 0; to < N; to++) to !== from && wire.push({ to, from, bytes: a.bytes });
      else if (a.kind === 'reply') wire.push({ to: a.client, from, bytes: a.bytes });
    }
  };
  let done = 0;
  for (let i = 0; i < requests; i++) {
    const s = client.submit(Uint8Array.of(i & 0xff, i >> 8), i);
    if (!s.ok) throw new Error('warm-up client queue full');
    for (const a of s.actions)
      if (a.kind === 'multicast')
        for (let to = 0; to < N; to++) wire.push({ to, from: CLIENT, bytes: a.bytes });
    for (let guard = 0; guard < 100_000 && wire.length > 0; guard++) {
      const p = wire.shift()!;
      if (captures.length < 4096) captures.push(p.bytes);
      if (p.to === CLIENT) {
        for (const a of client.step({ kind: 'receive', from: p.from, bytes: p.bytes }))
          if (a.kind === 'result') done++;
      } else carry(p.to, replicas[p.to]!.step({ kind: 'receive', from: p.from, bytes: p.bytes }));
    }
  }
  if (done !== requests) throw new Error(`warm-up: ${done} of ${requests} requests completed`);
  return { config, keys, replicas, captures };
}

/**
 * Put the target into a view change to view 2 (primary 2, so the target waits for a NEW-VIEW): f+1 signed
 * VIEW-CHANGEs from replicas 0 and 3 make it join. Views 0 and 1 are then old.
 */
function intoViewChange(g: Group, target: Replica): void {
  for (const id of [0, 3]) {
    const vc = forgedViewChange(g.keys.cryptoFor(id), id, 2, [], undefined);
    target.step({ kind: 'receive', from: id, bytes: encodeMessage(vc) });
  }
}

interface Run {
  readonly source: string;
  readonly messages: number;
  readonly gcAvailable: boolean;
  readonly heapMiB: {
    readonly start: number;
    readonly max: number;
    readonly end: number;
    readonly samples: number[];
  };
  readonly growthMiB: number;
  readonly withinBudget: boolean;
  readonly budgetMiB: number;
  readonly nsPerMessage: number;
  readonly nsPerMessageWorstTenth: number;
  readonly bytesSent: number;
  readonly throws: number;
  readonly firstThrow: string | undefined;
  readonly targetAfter: { view: number; active: boolean; logEntries: number; held: number; pending: number };
  readonly rejections: Record<string, number>;
}

/** Feed `count` messages from `from` to the target; `next` makes the following chunk from what the attacker knows. */
function flood(source: string, from: number, target: Replica, next: (k: Knowledge) => readonly Aimed[]): Run {
  const rejections: Record<string, number> = {};
  const samples: number[] = [];
  const start = heapMiB();
  samples.push(start);
  const tenth = Math.max(1, Math.floor(MESSAGES / 10));
  let sent = 0;
  let bytesSent = 0;
  let stepNs = 0;
  let worstTenthNs = 0;
  let tenthNs = 0;
  let throws = 0;
  let firstThrow: string | undefined;
  let now = 0;
  while (sent < MESSAGES) {
    const s = target.status();
    const chunk = next({ view: s.view, low: s.lowWatermark, lastExecuted: s.lastExecuted });
    for (const m of chunk) {
      if (sent >= MESSAGES) break;
      const t0 = process.hrtime.bigint();
      try {
        for (const a of target.step({ kind: 'receive', from, bytes: m.bytes }))
          if (a.kind === 'event' && a.event.type === 'rejected')
            rejections[a.event.reason] = (rejections[a.event.reason] ?? 0) + 1;
      } catch (e) {
        throws++;
        firstThrow ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
      const dt = Number(process.hrtime.bigint() - t0);
      stepNs += dt;
      tenthNs += dt;
      bytesSent += m.bytes.length;
      sent++;
      if (sent % 1000 === 0) {
        // Time moves slowly (1 tick per 1000 messages): well under the view-change timeout, so the view change
        // the flood aims at stays open for the whole run.
        try {
          target.step({ kind: 'tick', now: ++now });
        } catch (e) {
          throws++;
          firstThrow ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        }
      }
      if (sent % tenth === 0) {
        samples.push(heapMiB());
        worstTenthNs = Math.max(worstTenthNs, tenthNs / tenth);
        tenthNs = 0;
      }
    }
  }
  const end = heapMiB();
  const max = Math.max(...samples, end);
  const st = target.status();
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    source,
    messages: sent,
    gcAvailable: gc !== undefined,
    heapMiB: { start: round(start), max: round(max), end: round(end), samples: samples.map(round) },
    growthMiB: round(max - start),
    withinBudget: max - start <= BUDGET_MIB,
    budgetMiB: BUDGET_MIB,
    nsPerMessage: Math.round(stepNs / sent),
    nsPerMessageWorstTenth: Math.round(worstTenthNs),
    bytesSent,
    throws,
    firstThrow,
    targetAfter: {
      view: st.view,
      active: st.active,
      logEntries: st.logEntries,
      held: st.held,
      pending: st.pending,
    },
    rejections: Object.fromEntries(Object.entries(rejections).sort(([, a], [, b]) => b - a)),
  };
}

function keylessRun(): Run {
  const g = warmGroup(40);
  const target = g.replicas[TARGET]!;
  intoViewChange(g, target);
  const rng = new Prng(SEED * 7919 + 1);
  const ear = new Eavesdropper(g.config, rng.fork());
  for (const bytes of g.captures) ear.overhear(bytes);
  const forger = { id: KEYLESS_PEER, crypto: undefined, rng };
  // What it overheard, plus the view being installed: the VIEW-CHANGEs that start it are on the wire too.
  return flood('peer with no keys', KEYLESS_PEER, target, (k) => {
    const heard = ear.knowledge();
    const known = { ...heard, view: Math.max(heard.view, k.view), low: Math.max(heard.low, k.low) };
    return keylessBurst(forger, g.config, known, ear.captures, {
      maxBytes: MAX_BYTES,
      largeShare: LARGE_SHARE,
    });
  });
}

function keyedRun(): Run {
  const g = warmGroup(40);
  const target = g.replicas[TARGET]!;
  intoViewChange(g, target);
  const rng = new Prng(SEED * 7919 + 2);
  const mix = new KeyedFloodMix(
    { id: FAULTY, crypto: g.keys.cryptoFor(FAULTY), rng },
    g.config,
    MAX_BYTES,
    LARGE_SHARE,
  );
  const signed = [MESSAGE_KINDS.indexOf('checkpoint'), MESSAGE_KINDS.indexOf('view-change')];
  for (const bytes of g.captures) if (signed.includes(bytes[1]!)) mix.replays.remember(bytes);
  return flood('keyed faulty replica', FAULTY, target, (k) => mix.next(k));
}

const t0 = performance.now();
const keyless = keylessRun();
const keyed = keyedRun();
console.log(
  JSON.stringify(
    {
      bench: 'flood',
      messagesPerSource: MESSAGES,
      maxBytesPerMessage: MAX_BYTES,
      largeShare: LARGE_SHARE,
      seed: SEED,
      node: process.version,
      loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
      wallSeconds: Math.round(performance.now() - t0) / 1000,
      allWithinBudget: keyless.withinBudget && keyed.withinBudget,
      runs: [keyless, keyed],
    },
    null,
    2,
  ),
);
