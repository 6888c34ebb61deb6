import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import { SigningKey } from '../../../src/core/crypto/sign.ts';
import { createNewKey } from '../../../src/core/recovery/new-key.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { loadPrivateKey, privateKeyPath } from '../../../src/runtime/keyfiles.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { MAX_VERIFIES_PER_SECOND, type WireKeys } from '../../../src/runtime/recovery/wire-keys.ts';
import { type KeyBench, keyBench, type LoadedKeys } from './wire-keys-fixture.ts';

const topology: Topology = loadTopology('config/serial-mesh.json');
let bench: KeyBench;
let keysDir: string;
let now = 0;

beforeAll(async () => {
  bench = await keyBench(topology, 'triplex-wire-keys-', () => now);
  keysDir = bench.keysDir;
});
afterAll(() => bench.close());

const load = (board: string, state: string): Promise<LoadedKeys> => bench.load(board, state);

const payload = new TextEncoder().encode('frame 12');
const ch = principalOf.channel;
const replica = principalOf.replica;

/** b1 (replica 2, channel 1) and b2 (replica 3, channel 2) agree on the key of channel 1 with channel 2. */
function agree(b1: WireKeys, b2: WireKeys): boolean {
  const tag = b1.ring(ch(1)).tag(ch(2), payload);
  return b2.ring(ch(2)).verify(ch(1), payload, tag);
}

/** Delivers every NEW-KEY of `from` to `to`, and `to`'s answer back. */
function exchange(from: WireKeys, to: WireKeys): void {
  for (const m of from.announcements()) {
    const r = to.receive(m);
    if (r.answer !== undefined) for (const a of to.announcements()) from.receive(a);
  }
}

describe('NEW-KEY on the wire', () => {
  it('a first start uses the key files (epoch 0); a restart moves to a fresh epoch that peers accept', async () => {
    const state = 'agree';
    const b1 = await load('b1', state);
    const b2 = await load('b2', state);
    expect(b1.keys.epochs().own).toEqual({ [replica(2)]: 0, [ch(1)]: 0 });
    expect(b1.keys.announcements()).toEqual([]);
    expect(agree(b1.keys, b2.keys)).toBe(true);
    const oldTag = b2.keys.ring(ch(2)).tag(ch(1), payload);

    const b2again = await load('b2', state); // the restarted process
    expect(b2again.keys.epochs().own).toEqual({ [replica(3)]: 1, [ch(2)]: 1 });
    expect(b2again.keys.announcements()).toHaveLength(2);
    expect(agree(b1.keys, b2again.keys)).toBe(false); // b1 still holds b2's epoch-0 key
    exchange(b2again.keys, b1.keys);
    expect(b1.counters.get('keys.new-key.accepted')).toBe(2);
    expect(agree(b1.keys, b2again.keys)).toBe(true);
    // A message under the keys b2 held before its restart fails at b1 from now on.
    expect(b1.keys.ring(ch(1)).verify(ch(2), payload, oldTag)).toBe(false);
    expect(b1.keys.epochs().held[ch(2)]).toBe(1);

    // Then b1 restarts too: b2 learns b1's epoch 1, and b1 (knowing only key files) learns b2's epoch 1.
    const b1again = await load('b1', state);
    exchange(b1again.keys, b2again.keys);
    expect(agree(b1again.keys, b2again.keys)).toBe(true);
    expect(b1again.keys.epochs().held[ch(2)]).toBe(1);
  });

  it('refuses and counts replays, stale epochs, forgeries, misattribution, own principals and huge ones', async () => {
    const state = 'attack';
    const b1 = await load('b1', state);
    await load('b2', state);
    const b2e1 = await load('b2', state);
    const epoch1 = b2e1.keys.announcements();
    for (const m of epoch1) b1.keys.receive(m);
    // Replayed: the very message accepted.
    expect(b1.keys.receive(epoch1[0]!).accepted).toBe(false);
    expect(b1.counters.get('keys.new-key.duplicate')).toBe(1);
    // Stale: after epoch 2 is accepted, the epoch-1 NEW-KEY is an old epoch.
    const b2e2 = await load('b2', state);
    for (const m of b2e2.keys.announcements()) b1.keys.receive(m);
    expect(b1.keys.receive(epoch1[1]!).reason).toBe('stale-epoch');
    // Forged: a flipped signature bit.
    const forged = b2e2.keys.announcements()[0]!.slice();
    forged[forged.length - 1]! ^= 1;
    // Its epoch is already held, so make it a fresh epoch with the same (now wrong) signature.
    const m = decodeMessage(forged);
    if (!m.ok || m.message.kind !== 'new-key') throw new Error('decode');
    expect(b1.keys.receive(encodeMessage({ ...m.message, epoch: 9 })).reason).toBe('bad-signature');
    // A NEW-KEY for replica 3 signed by replica 2's identity (b1's own key, as a faulty b1 peer could).
    const r2 = await loadPrivateKey(privateKeyPath(keysDir, 'replica-2'));
    const b0 = await load('b0', state);
    const base = {
      node: replica(3),
      epoch: 20,
      recoveryPoint: 0,
      x25519Seed: new Uint8Array(32).fill(7),
      identity: SigningKey.fromSeed(r2.ed25519Seed),
    };
    const claim = createNewKey(base);
    expect(b0.keys.receive(encodeMessage({ kind: 'new-key', ...claim.message })).reason).toBe(
      'bad-signature',
    );
    // A NEW-KEY naming a principal the receiver hosts itself.
    const own = createNewKey({
      ...base,
      node: ch(0),
      epoch: 3,
      x25519Seed: new Uint8Array(32).fill(8),
      recoveryPoint: 0,
      identity: SigningKey.fromSeed(r2.ed25519Seed),
    });
    expect(b0.keys.receive(encodeMessage({ kind: 'new-key', ...own.message })).reason).toBe('own-principal');
    // An unknown principal, and bytes far over a NEW-KEY's size.
    const unknown = createNewKey({ ...base, node: 999, identity: SigningKey.fromSeed(r2.ed25519Seed) });
    expect(b0.keys.receive(encodeMessage({ kind: 'new-key', ...unknown.message })).reason).toBe(
      'unknown-node',
    );
    expect(b0.keys.receive(new Uint8Array(4096)).reason).toBe('too-long');
    expect(b0.keys.receive(new Uint8Array([1, 250])).reason).toMatch(/^malformed\./);
    expect(b0.counters.toJSON()).toMatchObject({
      'keys.new-key.refused.bad-signature': 1,
      'keys.new-key.refused.own-principal': 1,
      'keys.new-key.refused.unknown-node': 1,
      'keys.new-key.refused.too-long': 1,
    });
    // The keys b0 holds for replica 3 did not move.
    expect(b0.keys.epochs().held[replica(3)]).toBe(0);
  });

  it('refuses a NEW-KEY from a board other than its principal’s before its signature; onRekey tells a key holder', async () => {
    const state = 'source';
    const b1 = await load('b1', state);
    await load('b2', state);
    const b2again = await load('b2', state);
    const rekeyed: [number, number, string][] = [];
    // A holder of raw keys (a firmware voter's unit) reads the new key in the listener.
    b1.keys.onRekey(ch(1), (peer) =>
      rekeyed.push([ch(1), peer, Buffer.from(b1.keys.rawKey(ch(1), peer)).toString('hex')]),
    );
    const [first] = b2again.keys.announcements();
    expect(b1.keys.receive(first!, 'b0').reason).toBe('wrong-source');
    expect(b1.keys.receive(first!, 'mon').reason).toBe('wrong-source');
    expect(b1.counters.get('keys.new-key.refused.wrong-source')).toBe(2);
    expect(rekeyed).toEqual([]);
    expect(b1.keys.receive(first!, 'b2').accepted).toBe(true);
    expect(rekeyed.map(([self, peer]) => [self, peer])).toEqual([[ch(1), replica(3)]]);
    expect(rekeyed[0]![2]).toBe(Buffer.from(b1.keys.rawKey(ch(1), replica(3))).toString('hex'));
  });

  it('bounds the signature checks a flood of forged NEW-KEYs can cost', async () => {
    const b0 = await load('b0', 'flood');
    const r2 = await loadPrivateKey(privateKeyPath(keysDir, 'replica-2'));
    const reasons: string[] = [];
    now = 5000;
    for (let e = 1; e <= MAX_VERIFIES_PER_SECOND + 4; e++) {
      const forged = createNewKey({
        node: replica(3),
        epoch: e,
        recoveryPoint: 0,
        x25519Seed: new Uint8Array(32).fill(e),
        identity: SigningKey.fromSeed(r2.ed25519Seed),
      });
      reasons.push(b0.keys.receive(encodeMessage({ kind: 'new-key', ...forged.message })).reason ?? 'ok');
    }
    expect(reasons.filter((r) => r === 'bad-signature')).toHaveLength(MAX_VERIFIES_PER_SECOND);
    expect(reasons.filter((r) => r === 'rate-limited')).toHaveLength(4);
    now = 6001; // a second later: checked again
    const later = createNewKey({
      node: replica(3),
      epoch: 100,
      recoveryPoint: 0,
      x25519Seed: new Uint8Array(32).fill(3),
      identity: SigningKey.fromSeed(r2.ed25519Seed),
    });
    expect(b0.keys.receive(encodeMessage({ kind: 'new-key', ...later.message })).reason).toBe(
      'bad-signature',
    );
  });

  it('a voter rotated in process takes tags under its old keys for its grace only, then refuses them', async () => {
    now = 10_000;
    const aiu = await load('aiu', 'grace');
    const b0 = await load('b0', 'grace');
    const voter = principalOf.voter(0);
    const oldTag = b0.keys.ring(ch(0)).tag(voter, payload);
    const newKey = aiu.keys.rotate(voter, 0, 80);
    expect(newKey).toBeDefined();
    expect(aiu.keys.epochs().own[voter]).toBe(1);
    expect(aiu.keys.ring(voter).verify(ch(0), payload, oldTag)).toBe(true); // in flight as it rotated
    b0.keys.receive(newKey!);
    expect(aiu.keys.ring(voter).verify(ch(0), payload, b0.keys.ring(ch(0)).tag(voter, payload))).toBe(true);
    now = 10_081;
    expect(aiu.keys.ring(voter).verify(ch(0), payload, oldTag)).toBe(false);
    expect(aiu.counters.get('keys.grace-verified')).toBe(1);
  });
});
