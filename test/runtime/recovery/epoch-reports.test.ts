/**
 * EPOCH-REPORT (src/runtime/recovery/wire-keys.ts): a node whose faulty incarnation pushed what the receivers
 * hold of it up (a bounded jump per signature check) comes back at its persisted epoch + 1, is refused as stale,
 * and moves above the epoch f+1 boards vouch for. A faulty reporter moves it by at most DEFAULT_MAX_EPOCH_AHEAD,
 * at most MAX_REPORT_JUMPS times per start; every malformed, forged or misrouted report is refused and counted,
 * never thrown. Real key files and state directories (held-<name>.json).
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { NewKey } from '../../../src/core/codec/messages.ts';
import { SigningKey } from '../../../src/core/crypto/sign.ts';
import { createNewKey, MAX_KEY_EPOCH } from '../../../src/core/recovery/new-key.ts';
import { DEFAULT_MAX_EPOCH_AHEAD } from '../../../src/core/recovery/session.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { loadPrivateKey, privateKeyPath } from '../../../src/runtime/keyfiles.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import {
  MAX_EPOCH_REPORT_BYTES,
  MAX_REPORT_JUMPS,
  MAX_REPORTS_PER_SECOND,
} from '../../../src/runtime/recovery/wire-keys.ts';
import { type KeyBench, keyBench, type LoadedKeys, taggedEpochReport } from './wire-keys-fixture.ts';

const topology: Topology = loadTopology('config/serial-mesh.json');
const replica = principalOf.replica;
const ch = principalOf.channel;
/** The node whose faulty incarnation pushed the receivers: replica 3, on b2. */
const SUBJECT = replica(3);
const RECEIVERS = ['mon', 'b0', 'b1', 'aiu'] as const;
let bench: KeyBench;
let now = 0;

beforeAll(async () => {
  bench = await keyBench(topology, 'triplex-epoch-reports-', () => now);
});
afterAll(() => bench.close());

let seedByte = 1;
/** A NEW-KEY of `node` signed with its own identity key (what its compromised board can sign). */
async function signedNewKey(node: number, name: string, epoch: number): Promise<Uint8Array> {
  const k = await loadPrivateKey(privateKeyPath(bench.keysDir, name));
  const { message } = createNewKey({
    node,
    epoch,
    recoveryPoint: 0,
    x25519Seed: new Uint8Array(32).fill(seedByte++ & 0xff),
    identity: SigningKey.fromSeed(k.ed25519Seed),
  });
  return encodeMessage({ kind: 'new-key', ...message });
}

/** An EPOCH-REPORT from principal `name` (its key file: what its own board, faulty or not, can tag). */
function report(name: string, subject: number, epoch: number, publicKey: Uint8Array): Promise<Uint8Array> {
  return taggedEpochReport({ keysDir: bench.keysDir, name, subject, epoch, publicKey });
}

function newKey(bytes: Uint8Array): NewKey {
  const d = decodeMessage(bytes);
  if (!d.ok || d.message.kind !== 'new-key') throw new Error('not a NEW-KEY');
  return d.message;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const someKey = new Uint8Array(32).fill(9);

async function receivers(state: string): Promise<Record<string, LoadedKeys>> {
  const out: Record<string, LoadedKeys> = {};
  for (const b of RECEIVERS) out[b] = await bench.load(b, state);
  return out;
}

describe('EPOCH-REPORT: a recovered node rejoins above what its faulty incarnation pushed', () => {
  it('every receiver pushed two jumps up: f+1 reports vouch, the node moves above, and all hold its new key', async () => {
    const state = 'pushed';
    const rx = await receivers(state);
    await bench.load('b2', state); // b2's first start: epoch 0
    now = 10_000;
    // Compromised, b2 pushes replica 3 at every receiver as far as two signature checks go.
    for (const epoch of [DEFAULT_MAX_EPOCH_AHEAD, 2 * DEFAULT_MAX_EPOCH_AHEAD]) {
      const m = await signedNewKey(SUBJECT, 'replica-3', epoch);
      for (const b of RECEIVERS) expect(rx[b]!.keys.receive(m, 'b2').accepted, b).toBe(true);
    }
    // Recovered (restarted from its installed code): its persisted epoch + 1, refused as stale everywhere.
    const b2 = await bench.load('b2', state);
    expect(b2.keys.epoch(SUBJECT)).toBe(1);
    const reports: [string, Uint8Array][] = [];
    for (const b of RECEIVERS) {
      for (const m of b2.keys.announcements()) {
        const r = rx[b]!.keys.receive(m, 'b2');
        if (newKey(m).node === SUBJECT) expect(r.reason, b).toBe('stale-epoch');
        for (const rep of r.reports?.messages ?? []) reports.push([b, rep]);
      }
    }
    expect(new Set(reports.map(([b]) => b))).toEqual(new Set(RECEIVERS));
    for (const [b, rep] of reports) expect(b2.keys.receiveReport(rep, b)).toMatchObject({ accepted: true });
    const jump = b2.keys.jumpForReports(SUBJECT);
    expect(newKey(jump!).epoch).toBe(2 * DEFAULT_MAX_EPOCH_AHEAD + 1);
    expect(b2.keys.epoch(SUBJECT)).toBe(2 * DEFAULT_MAX_EPOCH_AHEAD + 1);
    expect(b2.counters.get('keys.epoch-report.jumped')).toBe(1);
    for (const b of RECEIVERS) expect(rx[b]!.keys.receive(jump!, 'b2').accepted, b).toBe(true);
    // Both ends derive the same pairwise key: b1's replica 2 and channel 1 with replica 3.
    for (const self of [replica(2), ch(1)])
      expect(hex(rx.b1!.keys.rawKey(self, SUBJECT))).toBe(hex(b2.keys.rawKey(SUBJECT, self)));
    // Nothing left to move: the same reports again decide nothing.
    for (const [b, rep] of reports) b2.keys.receiveReport(rep, b);
    expect(b2.keys.jumpForReports(SUBJECT)).toBeUndefined();
    // What the receivers hold survives their restarts.
    const b1again = await bench.load('b1', state);
    expect(b1again.keys.epochs().held[SUBJECT]).toBe(2 * DEFAULT_MAX_EPOCH_AHEAD + 1);
  });

  it('one faulty reporter: its word moves a node at most DEFAULT_MAX_EPOCH_AHEAD, MAX_REPORT_JUMPS times a start', async () => {
    const state = 'one-reporter';
    await bench.load('b2', state);
    const b2 = await bench.load('b2', state); // restarted: epoch 1
    expect(b2.keys.epoch(SUBJECT)).toBe(1);
    now = 20_000;
    // b1 (faulty) reports near the last epoch from both its principals: one board, not credible alone.
    for (const name of ['replica-2', 'channel-1'])
      expect(
        b2.keys.receiveReport(await report(name, SUBJECT, MAX_KEY_EPOCH - 5, someKey), 'b1').accepted,
      ).toBe(true);
    expect(b2.keys.jumpForReports(SUBJECT)).toBeUndefined();
    // Within the bound from nothing vouched: it moves, twice, then no more this start.
    const fresh = await bench.load('b2', state); // epoch 2
    const epochs: (number | undefined)[] = [];
    for (const epoch of [1000, 1010, 1020]) {
      fresh.keys.receiveReport(await report('replica-2', SUBJECT, epoch, someKey), 'b1');
      const j = fresh.keys.jumpForReports(SUBJECT);
      epochs.push(j === undefined ? undefined : newKey(j).epoch);
    }
    expect(epochs).toEqual([1001, 1011, undefined]);
    expect(fresh.counters.get('keys.epoch-report.jumped')).toBe(MAX_REPORT_JUMPS);
  });

  it('one faulty reporter at a node’s first start: where it moves the node, every correct receiver follows', async () => {
    // b1 (faulty) reports, unasked, as high as the bound lets one board's word go, and one above.
    for (const reported of [DEFAULT_MAX_EPOCH_AHEAD - 1, DEFAULT_MAX_EPOCH_AHEAD]) {
      const state = `first-start-faulty-${reported}`;
      const rx = await receivers(state);
      const b2 = await bench.load('b2', state); // first start: epoch 0, the receivers hold its key-file key
      expect(b2.keys.epoch(SUBJECT)).toBe(0);
      now = 30_000;
      const r = await report('replica-2', SUBJECT, reported, someKey);
      expect(b2.keys.receiveReport(r, 'b1')).toMatchObject({ accepted: true });
      const jump = b2.keys.jumpForReports(SUBJECT);
      if (reported === DEFAULT_MAX_EPOCH_AHEAD) {
        // Moving to one above would be refused by every correct receiver (epoch-too-far) and freeze the node's
        // links: ignored.
        expect(jump).toBeUndefined();
        continue;
      }
      expect(newKey(jump!).epoch).toBe(DEFAULT_MAX_EPOCH_AHEAD);
      for (const b of ['mon', 'b0', 'aiu'] as const)
        expect(rx[b]!.keys.receive(jump!, 'b2'), b).toMatchObject({ accepted: true });
    }
  });

  it('a report of the node’s own current key (a replayed old NEW-KEY was refused) moves nothing', async () => {
    const state = 'replayed';
    const rx = await receivers(state);
    await bench.load('b2', state);
    const b2 = await bench.load('b2', state); // epoch 1
    for (const b of RECEIVERS) for (const m of b2.keys.announcements()) rx[b]!.keys.receive(m, 'b2');
    const b2next = await bench.load('b2', state); // epoch 2
    for (const b of RECEIVERS) for (const m of b2next.keys.announcements()) rx[b]!.keys.receive(m, 'b2');
    now = 30_000;
    // The epoch-1 NEW-KEYs replayed at every receiver: refused as stale, each reports epoch 2, b2next's key.
    let reports = 0;
    for (const b of RECEIVERS) {
      for (const m of b2.keys.announcements()) {
        const r = rx[b]!.keys.receive(m, 'b2');
        for (const rep of r.reports?.messages ?? []) {
          reports++;
          expect(b2next.keys.receiveReport(rep, b).accepted).toBe(true);
        }
      }
    }
    expect(reports).toBeGreaterThan(RECEIVERS.length);
    expect(b2next.keys.jumpForReports(SUBJECT)).toBeUndefined();
    expect(b2next.keys.epoch(SUBJECT)).toBe(2);
  });

  it('reports a receiver sends about one subject are rate limited', async () => {
    const state = 'report-rate';
    const b1 = await bench.load('b1', state);
    now = 40_000;
    expect(b1.keys.receive(await signedNewKey(SUBJECT, 'replica-3', 5), 'b2').accepted).toBe(true);
    const stale = await signedNewKey(SUBJECT, 'replica-3', 3);
    let withReports = 0;
    for (let i = 0; i < 50; i++) if (b1.keys.receive(stale, 'b2').reports !== undefined) withReports++;
    expect(withReports).toBe(MAX_REPORTS_PER_SECOND);
    expect(b1.counters.get('keys.new-key.refused.stale-epoch')).toBe(50);
    expect(b1.counters.get('keys.epoch-report.rate-limited')).toBe(50 - MAX_REPORTS_PER_SECOND);
    now = 41_000;
    expect(b1.keys.receive(stale, 'b2').reports?.messages.length).toBe(2);
  });

  it('forged, misrouted, oversize and mutated reports are refused and counted, never thrown', async () => {
    const state = 'refusals';
    await bench.load('b2', state);
    const b2 = await bench.load('b2', state);
    now = 50_000;
    const good = await report('replica-2', SUBJECT, 7, someKey);
    const flipped = Uint8Array.from(good);
    flipped[flipped.length - 1]! ^= 1;
    const cases: [string, Uint8Array, string][] = [
      ['bad-tag', flipped, 'b1'],
      ['wrong-source', good, 'b0'],
      ['not-hosted', await report('replica-2', replica(1), 7, someKey), 'b1'],
      ['own-principal', await report('channel-2', SUBJECT, 7, someKey), 'b2'],
      ['too-long', new Uint8Array(MAX_EPOCH_REPORT_BYTES + 1), 'b1'],
      ['malformed.truncated', good.subarray(0, good.length - 5), 'b1'],
    ];
    for (const [reason, bytes, from] of cases) {
      const r = b2.keys.receiveReport(bytes, from);
      expect(r.accepted, reason).toBe(false);
      if (!r.accepted)
        expect(r.reason.startsWith(reason.split('.')[0]!), `${reason}: ${r.reason}`).toBe(true);
    }
    // A report under another pair's key (b1's replica 2 to replica 1's key) is a bad tag at replica 3.
    const otherPair = await report('replica-2', replica(1), 7, someKey);
    const retargeted = decodeMessage(otherPair);
    if (!retargeted.ok || retargeted.message.kind !== 'epoch-report') throw new Error('no report');
    const moved = encodeMessage({ ...retargeted.message, subject: SUBJECT });
    expect(b2.keys.receiveReport(moved, 'b1')).toMatchObject({ accepted: false, reason: 'bad-tag' });
    // Mutations of a valid report: never throw, accepted only if the bytes still decode to the same report.
    let refused = 0;
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const m = Uint8Array.from(good, (b, i) => (i === at ? b ^ x : b));
        const r = b2.keys.receiveReport(m, 'b1');
        if (!r.accepted) refused++;
        return !r.accepted;
      }),
      { seed: 7, numRuns: 300 },
    );
    const counted = Object.entries(b2.counters.toJSON())
      .filter(([k]) => k.startsWith('keys.epoch-report.refused.'))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(counted).toBe(cases.length + 1 + refused);
    expect(b2.keys.jumpForReports(SUBJECT)).toBeUndefined();
  });
});

describe('held-<name>.json: what a principal holds of its peers, across restarts', () => {
  it('is written 0600 on acceptance; a malformed file stops the board naming the file and field', async () => {
    const state = 'held-file';
    const b1 = await bench.load('b1', state);
    now = 60_000;
    expect(b1.keys.receive(await signedNewKey(SUBJECT, 'replica-3', 4), 'b2').accepted).toBe(true);
    const file = join(bench.dir, state, 'held-replica-2.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { peers: { id: number; epoch: number }[] };
    expect(doc.peers.find((p) => p.id === SUBJECT)?.epoch).toBe(4);
    const at = doc.peers.findIndex((p) => p.id === SUBJECT);
    for (const [bad, field] of [
      [
        { ...doc, peers: doc.peers.map((p, i) => (i === at ? { ...p, epoch: -1 } : p)) },
        `peers[${at}].epoch`,
      ],
      [{ ...doc, peers: doc.peers.map((p, i) => (i === at ? { ...p, id: 4242 } : p)) }, `peers[${at}].id`],
      [
        { ...doc, peers: doc.peers.map((p, i) => (i === at ? { ...p, publicKey: 'zz' } : p)) },
        `peers[${at}].publicKey`,
      ],
      [{ ...doc, version: 2 }, 'version'],
    ] as const) {
      writeFileSync(file, JSON.stringify(bad));
      await expect(bench.load('b1', state)).rejects.toThrow(`${file}: ${field}`);
    }
    writeFileSync(file, '{not json');
    await expect(bench.load('b1', state)).rejects.toThrow(`${file}: (file): not JSON`);
    writeFileSync(file, JSON.stringify(doc));
    expect((await bench.load('b1', state)).keys.epochs().held[SUBJECT]).toBe(4);
  });

  it('a restarted board MACs under its peers’ current keys at once: one NEW-KEY each way is enough', async () => {
    const state = 'at-once';
    const b1 = await bench.load('b1', state);
    await bench.load('b2', state);
    const b2 = await bench.load('b2', state); // epoch 1
    for (const m of b2.keys.announcements()) b1.keys.receive(m, 'b2');
    // b1 restarts; b2 accepts its NEW-KEYs and the two agree without b2's answer reaching b1.
    const b1again = await bench.load('b1', state);
    for (const m of b1again.keys.announcements()) expect(b2.keys.receive(m, 'b1').accepted).toBe(true);
    expect(hex(b1again.keys.rawKey(replica(2), SUBJECT))).toBe(hex(b2.keys.rawKey(SUBJECT, replica(2))));
  });
});
