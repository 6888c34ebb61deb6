/**
 * MAC tag length per link kind (src/runtime/link-tags.ts, docs/MAC-TAGS.md): ordering principals on boards joined
 * by a CAN bus exchange tags of crypto.linkTagBytes.can; channels and the voter keep crypto.tagBytes; a tag below
 * its kind's floor is refused at load with the field and why; the loop runs with short tags, and a tag of the
 * wrong length is refused.
 */
import { describe, expect, it } from 'vitest';
import { virtualCanRun } from '../../bench/links/virtual-can.ts';
import { KeyRing } from '../../src/core/crypto/keyring.ts';
import { parseTopology } from '../../src/runtime/config.ts';
import { LINK_TAG_FLOOR, peerTagLengths } from '../../src/runtime/link-tags.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import { frameTrafficOf } from '../../src/runtime/wire-input.ts';
import { readConfig, refusal } from './config-fixtures.ts';

const canRaw = readConfig('config/can-bus.json');
const meshRaw = readConfig('config/serial-mesh.json');
const withTags = (raw: Record<string, unknown>, linkTagBytes: Record<string, number>) => ({
  ...raw,
  crypto: { ...(raw.crypto as object), linkTagBytes },
});

describe('MAC tag length per link kind', () => {
  it('ordering principals on other boards of the bus get the CAN tag; channels and voters keep tagBytes', () => {
    const t = parseTopology(withTags(canRaw, { can: 4 }), 'can.json');
    const replica0 = peerTagLengths(t, principalOf.replica(0));
    const others = [1, 2, 3].map((r) => principalOf.replica(r));
    for (const r of others) expect(replica0.get(r)).toBe(4);
    for (let u = 0; u < t.inputUnits; u++) expect(replica0.get(principalOf.input(u))).toBe(4);
    expect(replica0.has(principalOf.voter(0))).toBe(false);
    expect(replica0.has(principalOf.channel(0))).toBe(false);
    expect(peerTagLengths(t, principalOf.channel(0)).size).toBe(0);
    expect(peerTagLengths(t, principalOf.voter(0)).size).toBe(0);
    // Input units share a board: among themselves they never cross a wire (tagBytes).
    expect(peerTagLengths(t, principalOf.input(0)).has(principalOf.input(1))).toBe(false);
  });

  it('the two ends of a pair agree, and a tag of another length from that peer fails', () => {
    const t = parseTopology(withTags(canRaw, { can: 4 }), 'can.json');
    const keys = seededKeys(t, 3);
    const a = keys.ring(principalOf.replica(1));
    const b = keys.ring(principalOf.replica(2));
    const data = new TextEncoder().encode('prepare 7');
    const tag = a.tag(principalOf.replica(2), data);
    expect(tag).toHaveLength(4);
    expect(b.verify(principalOf.replica(1), data, tag)).toBe(true);
    // OUTPUT keys: a channel's tag to the voter keeps tagBytes (8), which the firmware voter is provisioned with.
    expect(keys.ring(principalOf.channel(0)).tag(principalOf.voter(0), data)).toHaveLength(8);
    // An 8-byte tag (the default) from a peer that uses 4 is refused, as is its 4-byte prefix padded out.
    const long = new KeyRing({ self: 1, keys: [[2, new Uint8Array(32)]], tagLength: 8 });
    const short = new KeyRing({
      self: 2,
      keys: [[1, new Uint8Array(32)]],
      tagLength: 8,
      peerTagLengths: [[1, 4]],
    });
    const t8 = long.tag(2, data);
    expect(short.verify(1, data, t8)).toBe(false);
    expect(short.verify(1, data, t8.subarray(0, 4))).toBe(true);
    expect(() => new KeyRing({ self: 2, keys: [], peerTagLengths: [[1, 3]] })).toThrow(/tag length/);
  });

  it('refuses a link tag below its kind floor, naming the field and the floor', () => {
    expect(LINK_TAG_FLOOR).toEqual({ can: 4, serial: 4, udp: 8, memory: 8 });
    const e = refusal(withTags(canRaw, { can: 3 }));
    expect(e.issues.map((i) => i.field)).toEqual(['crypto.linkTagBytes.can']);
    expect(e.message).toMatch(/3-byte MAC tags on can links are below the floor of 4 bytes \(32 bits\)/);
    const udp = refusal(withTags(canRaw, { udp: 4, serial: 2 }));
    expect(udp.issues.map((i) => i.field).sort()).toEqual([
      'crypto.linkTagBytes.serial',
      'crypto.linkTagBytes.udp',
    ]);
    expect(() => parseTopology(withTags(meshRaw, { serial: 4 }), 'mesh.json')).not.toThrow();
  });

  it('4-byte CAN tags shrink the frame (bytes on the bus) and the loop still writes every frame', async () => {
    const t8 = parseTopology({ ...canRaw, crypto: { tagBytes: 8 } }, 'can.json');
    const t4 = parseTopology(withTags(canRaw, { can: 4 }), 'can.json');
    const bytes = (t: typeof t4) =>
      frameTrafficOf(t, 10_000, 'can').shared.reduce((n, x) => n + x.bytes * x.perFrame, 0);
    expect(bytes(t4)).toBeLessThan(bytes(t8) - 150);
    const r = await virtualCanRun(t4, { rateHz: 25, frames: 40, warmupFrames: 20, bitrate: 1_000_000 });
    expect(r.decisions).toEqual({ write: 40, hold: 0, failsafe: 0 });
    expect(r.counters['replica.rejected.bad-mac'] ?? 0).toBe(0);
    expect(r.sentByKind.request!.largest).toBeLessThan(61 - 4 * 4 + 1);
  }, 30_000);
});
