import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { NewKey } from '../../../src/core/codec/messages.ts';
import { SigningKey } from '../../../src/core/crypto/sign.ts';
import { createNewKey, MAX_KEY_EPOCH, newKeySigningBytes } from '../../../src/core/recovery/new-key.ts';
import { DEFAULT_MAX_EPOCH_AHEAD } from '../../../src/core/recovery/session.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { loadPrivateKey, privateKeyPath } from '../../../src/runtime/keyfiles.ts';
import type { Counters } from '../../../src/runtime/loop/counters.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import {
  MAX_NEW_KEY_BYTES,
  MAX_VERIFIES_PER_SECOND,
  type WireKeys,
} from '../../../src/runtime/recovery/wire-keys.ts';
import { type KeyBench, keyBench, type LoadedKeys } from './wire-keys-fixture.ts';

const topology: Topology = loadTopology('config/serial-mesh.json');
let bench: KeyBench;
let keysDir: string;
let now = 0;
/** The faulty board's identity keys (what a compromise of b2 yields). */
const faultyIdentity = new Map<number, SigningKey>();

const ch = principalOf.channel;
const replica = principalOf.replica;
const FAULTY = replica(3);

beforeAll(async () => {
  bench = await keyBench(topology, 'triplex-wire-keys-adv-', () => now);
  keysDir = bench.keysDir;
  for (const [id, name] of [
    [replica(3), 'replica-3'],
    [ch(2), 'channel-2'],
  ] as const) {
    const k = await loadPrivateKey(privateKeyPath(keysDir, name));
    faultyIdentity.set(id, SigningKey.fromSeed(k.ed25519Seed));
  }
});
afterAll(() => bench.close());

const load = (board: string, state: string): Promise<LoadedKeys> => bench.load(board, state);

let seedByte = 1;
/** A NEW-KEY the faulty board signs with `by`'s identity key (default: the node's own). */
function forge(node: number, epoch: number, o: { recoveryPoint?: number; by?: number } = {}): Uint8Array {
  const { message } = createNewKey({
    node,
    epoch,
    recoveryPoint: o.recoveryPoint ?? 0,
    x25519Seed: new Uint8Array(32).fill(seedByte++ & 0xff),
    identity: faultyIdentity.get(o.by ?? node)!,
  });
  return encodeMessage({ kind: 'new-key', ...message });
}

/** A NEW-KEY of `node` over a public key the faulty board chose, signed with `node`'s identity key. */
function forgeKey(node: number, epoch: number, publicKey: Uint8Array): Uint8Array {
  const body = { node, epoch, recoveryPoint: 0, publicKey };
  const signature = faultyIdentity.get(node)!.sign(newKeySigningBytes(body));
  return encodeMessage({ kind: 'new-key', ...body, signature });
}

function decoded(bytes: Uint8Array): NewKey {
  const d = decodeMessage(bytes);
  if (!d.ok || d.message.kind !== 'new-key') throw new Error('not a NEW-KEY');
  return d.message;
}

const payload = new TextEncoder().encode('prepare v=0 n=40');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** What every principal on b1 holds of the faulty board's principals, as raw keys (to show nothing moved). */
function heldKeys(b1: WireKeys): string {
  return [replica(2), ch(1)].map((self) => [FAULTY, ch(2)].map((p) => hex(b1.rawKey(self, p))).join()).join();
}

/** The refusal counters only. */
function refusals(c: Counters): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.toJSON()).filter(([k]) => k.startsWith('keys.new-key.refused.')),
  );
}

describe('one faulty board against NEW-KEY at the runtime handler', () => {
  it('replays: the same bytes again, an older epoch after a newer, the same epoch under another key', async () => {
    const b1 = await load('b1', 'replay');
    now = 1000;
    const e1 = forge(FAULTY, 1);
    const e2 = forge(FAULTY, 2);
    expect(b1.keys.receive(e1, 'b2').accepted).toBe(true);
    now = 3000;
    expect(b1.keys.receive(e2, 'b2').accepted).toBe(true);
    const held = heldKeys(b1.keys);
    const outcomes = [e2, e2, e1, forge(FAULTY, 2), forge(FAULTY, 1)].map((m) => b1.keys.receive(m, 'b2'));
    expect(outcomes.map((o) => o.reason ?? 'none')).toEqual([
      'none',
      'none',
      'stale-epoch',
      'stale-epoch',
      'stale-epoch',
    ]);
    expect(outcomes.every((o) => !o.accepted)).toBe(true);
    expect(b1.counters.get('keys.new-key.duplicate')).toBe(2);
    expect(refusals(b1.counters)).toEqual({ 'keys.new-key.refused.stale-epoch': 3 });
    expect(heldKeys(b1.keys)).toBe(held);
    expect(b1.keys.epochs().held[FAULTY]).toBe(2);
  });

  it('names: another principal’s signature, a node other than the signer, unknown, the receiver itself', async () => {
    const b1 = await load('b1', 'names');
    const held = heldKeys(b1.keys);
    const valid = decoded(forge(FAULTY, 5));
    const cases: [Uint8Array, string, string][] = [
      // Channel 2's NEW-KEY signed by replica 3 (both on the faulty board).
      [forge(ch(2), 5, { by: FAULTY }), 'b2', 'bad-signature'],
      // Replica 3's valid NEW-KEY with only its node field changed (to a principal of the same board).
      [encodeMessage({ ...valid, node: ch(2) }), 'b2', 'bad-signature'],
      // The same in another board's name: refused by source before any signature check.
      [encodeMessage({ ...valid, node: replica(1) }), 'b2', 'wrong-source'],
      // A principal id in no key file, and one above u16 written into an otherwise valid message.
      [encodeMessage({ ...valid, node: 999 }), 'b2', 'unknown-node'],
      [encodeMessage({ ...valid, node: 0xffff }), 'b2', 'unknown-node'],
      // The receiver's own principals.
      [encodeMessage({ ...valid, node: replica(2) }), 'b2', 'own-principal'],
      [encodeMessage({ ...valid, node: ch(1) }), 'b2', 'own-principal'],
    ];
    for (const [bytes, from, reason] of cases) {
      const r = b1.keys.receive(bytes, from);
      expect(r, reason).toMatchObject({ accepted: false, reason });
    }
    expect(refusals(b1.counters)).toEqual({
      'keys.new-key.refused.bad-signature': 2,
      'keys.new-key.refused.wrong-source': 1,
      'keys.new-key.refused.unknown-node': 2,
      'keys.new-key.refused.own-principal': 2,
    });
    expect(heldKeys(b1.keys)).toBe(held);
    // The two signature checks were on channel 2's budget; replica 3's is untouched.
    now = 50_000;
    expect(b1.keys.receive(forge(FAULTY, 6), 'b2').accepted).toBe(true);
  });

  it('epoch jumps: +1 and +maxEpochAhead accepted, one further refused, once a key was learnt on the wire', async () => {
    const b1 = await load('b1', 'jump');
    now = 100_000;
    expect(b1.keys.receive(forge(FAULTY, 7), 'b2').accepted).toBe(true);
    expect(b1.keys.receive(forge(FAULTY, 8), 'b2').accepted).toBe(true);
    expect(b1.keys.receive(forge(FAULTY, 8 + DEFAULT_MAX_EPOCH_AHEAD + 1), 'b2').reason).toBe(
      'epoch-too-far',
    );
    expect(b1.keys.receive(forge(FAULTY, MAX_KEY_EPOCH), 'b2').reason).toBe('epoch-too-far');
    expect(b1.keys.receive(forge(FAULTY, 8 + DEFAULT_MAX_EPOCH_AHEAD), 'b2').accepted).toBe(true);
    // An epoch above u32 on the wire (a 5-byte varint above 2^32-1).
    const valid = decoded(forge(FAULTY, 9));
    const over = encodeMessage({ ...valid, epoch: 2 ** 34 });
    // The shared codec does not range-check it; the handler refuses it by the jump bound, before the signature.
    expect(b1.keys.receive(over, 'b2')).toMatchObject({ accepted: false, reason: 'epoch-too-far' });
    expect(b1.keys.epochs().held[FAULTY]).toBe(8 + DEFAULT_MAX_EPOCH_AHEAD);
  });

  it('the jump bound holds from the key-file key and across the receiver’s restarts: no last-epoch freeze', async () => {
    const state = 'freeze';
    const b1 = await load('b1', state);
    await load('b2', state); // b2's first start: epoch 0
    // While compromised, b2 announces replica 3 at the last epoch: refused, at a first start and after restarts.
    now = 200_000;
    expect(b1.keys.receive(forge(FAULTY, MAX_KEY_EPOCH), 'b2').reason).toBe('epoch-too-far');
    const b1again = await load('b1', state);
    expect(b1again.keys.receive(forge(FAULTY, MAX_KEY_EPOCH), 'b2').reason).toBe('epoch-too-far');
    // The most one signature check buys: DEFAULT_MAX_EPOCH_AHEAD, and b1 keeps it across its restart.
    expect(b1again.keys.receive(forge(FAULTY, DEFAULT_MAX_EPOCH_AHEAD), 'b2').accepted).toBe(true);
    const b1third = await load('b1', state);
    expect(b1third.keys.epochs().held[FAULTY]).toBe(DEFAULT_MAX_EPOCH_AHEAD);
    expect(b1third.keys.receive(forge(FAULTY, MAX_KEY_EPOCH), 'b2').reason).toBe('epoch-too-far');
    // The recovered b2 (epoch 1) is refused as stale by b1, which reports what it holds, back to b2 only.
    const b2 = await load('b2', state);
    const refused = b2.keys.announcements().map((m) => b1third.keys.receive(m, 'b2'));
    const stale = refused.find((r) => r.reason === 'stale-epoch')!;
    expect(stale.reports?.to).toBe('b2');
    expect(stale.reports?.messages.length).toBe(2); // replica 2 and channel 1 both hold replica 3 at 1024
    // One board's word moves b2 up to DEFAULT_MAX_EPOCH_AHEAD (what a faulty reporter could make it skip).
    for (const r of stale.reports!.messages)
      expect(b2.keys.receiveReport(r, 'b1')).toMatchObject({ accepted: true });
    const jump = b2.keys.jumpForReports(FAULTY);
    expect(decoded(jump!).epoch).toBe(DEFAULT_MAX_EPOCH_AHEAD + 1);
    const accepted = b1third.keys.receive(jump!, 'b2');
    expect(accepted).toMatchObject({ accepted: true, answer: 'b2' });
    for (const m of b1third.keys.announcements()) b2.keys.receive(m, 'b1'); // b1's answer
    expect(hex(b1third.keys.rawKey(replica(2), FAULTY))).toBe(hex(b2.keys.rawKey(FAULTY, replica(2))));
  });

  it('a low-order public key, signed by its own node, is refused and installs nothing', async () => {
    const b1 = await load('b1', 'low-order');
    const held = heldKeys(b1.keys);
    now = 300_000;
    const one = new Uint8Array(32);
    one[0] = 1;
    const p = Uint8Array.from(Buffer.from(`ed${'ff'.repeat(30)}7f`, 'hex'));
    for (const key of [new Uint8Array(32), one, p]) {
      expect(b1.keys.receive(forgeKey(FAULTY, 1, key), 'b2')).toMatchObject({
        accepted: false,
        reason: 'low-order-point',
      });
    }
    expect(refusals(b1.counters)).toEqual({ 'keys.new-key.refused.low-order-point': 3 });
    expect(heldKeys(b1.keys)).toBe(held);
    expect(b1.keys.epochs().held[FAULTY]).toBe(0);
    now = 301_001;
    expect(b1.keys.receive(forge(FAULTY, 1), 'b2').accepted).toBe(true);
  });

  it('an absurd recovery point is carried, fits the size bound, and changes nothing but the key', async () => {
    const b1 = await load('b1', 'recovery-point');
    now = 400_000;
    for (const [epoch, point] of [
      [1, 2 ** 53 - 1],
      [2, 0],
      [3, 1],
    ] as const) {
      expect(b1.keys.receive(forge(FAULTY, epoch, { recoveryPoint: point }), 'b2').accepted).toBe(true);
    }
    // The largest NEW-KEY the codec can carry (node u16, epoch u32, recovery point 2^53-1) is exactly the size
    // bound, so no valid recovery point is refused as too long.
    const largest = encodeMessage({
      ...decoded(forge(FAULTY, MAX_KEY_EPOCH, { recoveryPoint: 2 ** 53 - 1 })),
      node: 0xffff,
    });
    expect(largest.length).toBe(MAX_NEW_KEY_BYTES);
    expect(b1.keys.receive(largest, 'b2').reason).toBe('unknown-node');
    expect(b1.keys.receive(Uint8Array.of(...largest, 0), 'b2').reason).toBe('too-long');
  });

  it('a flood of valid NEW-KEYs: 8 signature checks a second reach the key work, the rest are counted', async () => {
    const b1 = await load('b1', 'flood');
    now = 500_000;
    const n = 100;
    const flood = Array.from({ length: n }, (_, i) => forge(FAULTY, i + 1));
    let accepted = 0;
    const started = performance.now();
    for (const m of flood) if (b1.keys.receive(m, 'b2').accepted) accepted++;
    const ms = performance.now() - started;
    expect(accepted).toBe(MAX_VERIFIES_PER_SECOND);
    expect(b1.counters.get('keys.new-key.refused.rate-limited')).toBe(n - MAX_VERIFIES_PER_SECOND);
    expect(b1.keys.epochs().held[FAULTY]).toBe(MAX_VERIFIES_PER_SECOND);
    console.log(
      `flood: ${n} valid NEW-KEYs of one principal received in ${ms.toFixed(1)} ms, ${accepted} accepted`,
    );
    // Another principal's budget is its own: channel 2 (same faulty board) and a correct board are unaffected.
    expect(b1.keys.receive(forge(ch(2), 1), 'b2').accepted).toBe(true);
    // Repeats of the accepted NEW-KEY cost no signature check and no budget; answers to them are bounded.
    const last = forge(FAULTY, MAX_VERIFIES_PER_SECOND + 1);
    now = 501_000;
    expect(b1.keys.receive(last, 'b2').accepted).toBe(true);
    // Restarted, b1 holds what it accepted (held-<name>.json) and has NEW-KEYs of its own to answer with.
    const b1restarted = await load('b1', 'flood');
    expect(b1restarted.keys.epochs().held[FAULTY]).toBe(MAX_VERIFIES_PER_SECOND + 1);
    let answers = 0;
    for (let i = 0; i < 1000; i++) if (b1restarted.keys.receive(last, 'b2').answer !== undefined) answers++;
    expect(b1restarted.counters.get('keys.new-key.duplicate')).toBe(1000);
    expect(answers).toBe(2);
    // A second later the budget is back.
    now = 502_000;
    expect(b1.keys.receive(forge(FAULTY, 200), 'b2').accepted).toBe(true);
  });

  it('mutated bytes of a valid NEW-KEY (flips, truncations, extensions, splices) never throw, never install a key', async () => {
    const b1 = await load('b1', 'mutants');
    const original = forge(FAULTY, 3, { recoveryPoint: 700 });
    const held = heldKeys(b1.keys);
    now = 900_000;
    const mutant = fc.oneof(
      fc
        .tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 1, max: 255 }))
        .map(([at, x]) => Uint8Array.from(original, (b, i) => (i === at ? b ^ x : b))),
      fc.nat({ max: original.length - 1 }).map((n) => original.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((tail) => Uint8Array.of(...original, ...tail)),
      fc
        .tuple(fc.nat({ max: original.length }), fc.uint8Array({ maxLength: 8 }))
        .map(([at, junk]) => Uint8Array.of(...original.subarray(0, at), ...junk, ...original.subarray(at))),
    );
    fc.assert(
      fc.property(mutant, (bytes) => {
        fc.pre(hex(bytes) !== hex(original));
        now += 37; // some reach the signature check, others are rate limited: neither may install a key
        const r = b1.keys.receive(bytes, 'b2');
        expect(r.accepted).toBe(false);
      }),
      { seed: 0x6d757461, numRuns: 400 },
    );
    expect(heldKeys(b1.keys)).toBe(held);
    now += 2000;
    expect(b1.keys.receive(original, 'b2').accepted).toBe(true);
  });

  it('forged NEW-KEYs in a correct board’s name from the faulty board spend none of its budget', async () => {
    const b1 = await load('b1', 'victim');
    await load('b0', 'victim');
    const b0 = await load('b0', 'victim'); // restarted: NEW-KEYs at epoch 1
    now = 600_000;
    const valid = decoded(b0.keys.announcements()[0]!);
    for (let e = 2; e < 200; e++) b1.keys.receive(encodeMessage({ ...valid, epoch: e }), 'b2');
    expect(b1.counters.get('keys.new-key.refused.wrong-source')).toBe(198);
    for (const m of b0.keys.announcements()) expect(b1.keys.receive(m, 'b0').accepted).toBe(true);
  });
});

describe('after a peer rekeys, its old key is refused', () => {
  it('also by a voter still in the grace of its own rotation (the grace is for the voter’s keys only)', async () => {
    const state = 'grace-peer';
    now = 700_000;
    const aiu = await load('aiu', state);
    await load('b0', state);
    const b0old = await load('b0', state); // epoch 1
    for (const m of b0old.keys.announcements()) aiu.keys.receive(m, 'b0');
    const voter = principalOf.voter(0);
    const oldTag = b0old.keys.ring(ch(0)).tag(voter, payload);
    expect(aiu.keys.ring(voter).verify(ch(0), payload, oldTag)).toBe(true);
    // The voter rotates in process, with a grace for tags in flight under its old keys.
    const voterKey = aiu.keys.rotate(voter, 0, 80);
    expect(voterKey).toBeDefined();
    expect(aiu.keys.ring(voter).verify(ch(0), payload, oldTag)).toBe(true); // in flight: the grace's purpose
    // Within that grace, b0 restarts (say it was compromised) and its NEW-KEY reaches aiu.
    const b0new = await load('b0', state); // epoch 2
    for (const m of b0new.keys.announcements()) expect(aiu.keys.receive(m, 'b0').accepted).toBe(true);
    // b0's replaced keys are refused at once, not for the rest of the voter's grace.
    const graceBefore = aiu.counters.get('keys.grace-verified');
    expect(aiu.keys.ring(voter).verify(ch(0), payload, oldTag)).toBe(false);
    expect(aiu.counters.get('keys.grace-verified')).toBe(graceBefore);
    // b0's new keys work once b0 has the voter's NEW-KEY.
    b0new.keys.receive(voterKey!, 'aiu');
    expect(aiu.keys.ring(voter).verify(ch(0), payload, b0new.keys.ring(ch(0)).tag(voter, payload))).toBe(
      true,
    );
    // Other peers' old-voter-key tags still get the grace (b1 has not seen the voter's NEW-KEY yet).
    const b1 = await load('b1', state);
    expect(aiu.keys.ring(voter).verify(ch(1), payload, b1.keys.ring(ch(1)).tag(voter, payload))).toBe(true);
    now = 700_081;
    expect(aiu.keys.ring(voter).verify(ch(1), payload, b1.keys.ring(ch(1)).tag(voter, payload))).toBe(false);
  });

  it('a co-hosted principal rotated in process: the voter’s grace ring forgets its old key too', async () => {
    const state = 'grace-cohosted';
    now = 800_000;
    const aiu = await load('aiu', state);
    const voter = principalOf.voter(0);
    const input = principalOf.input(0);
    const oldTag = aiu.keys.ring(input).tag(voter, payload);
    aiu.keys.rotate(voter, 0, 80);
    expect(aiu.keys.ring(voter).verify(input, payload, oldTag)).toBe(true); // in flight: the grace's purpose
    aiu.keys.rotate(input, 0, 0);
    expect(aiu.keys.ring(voter).verify(input, payload, oldTag)).toBe(false);
    expect(aiu.keys.ring(voter).verify(input, payload, aiu.keys.ring(input).tag(voter, payload))).toBe(true);
  });
});
