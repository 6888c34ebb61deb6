/**
 * The unit as a board on its link: it boots and says so (a heartbeat tagged with its heartbeat key), refuses
 * to vote when its provisioning record is missing or corrupt (and says why), answers malformed or bogus
 * requests with a counted error instead of acting on them, and declines the early decision that closeDue makes
 * unready (it latches an early supporter) and lets the deadline decide, as voter.ts now does too (it used to
 * throw an InvariantError there): both voter hosts agree on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRuns } from '../../bench/firmware/compare.ts';
import {
  type Corpus,
  type CorpusEvent,
  generateCorpus,
  SETUPS,
  voterConfigOf,
} from '../../bench/firmware/corpus.ts';
import { provisionFor, runFirmware, runReference } from '../../bench/firmware/harness.ts';
import { authPayload, decodeMessage, encodeMessage } from '../../src/core/codec/encode.ts';
import { encodeSerialFrame } from '../../src/core/codec/framing/serial-frame.ts';
import type { Output } from '../../src/core/codec/messages.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { firmwareConfigForCommand, provisionRecord } from '../../src/runtime/firmware/provision.ts';
import { BUILD_TIMEOUT_MS, buildFor, hostToolchain } from '../../src/runtime/firmware/toolchain.ts';
import { FirmwareUnit, type Reply } from '../../src/runtime/firmware/unit.ts';

const host = hostToolchain();
if (!host.ok) console.warn(`firmware unit test skipped: ${host.reason}`);
const work = mkdtempSync(join(tmpdir(), 'triplex-fw-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const shape = { channels: 3, discrete: 2, analog: 1 };
let n = 0;
const start = (provision: Uint8Array, channels = 3) =>
  FirmwareUnit.start({
    target: 'host',
    mode: 'sync',
    provision,
    shape: { ...shape, channels },
    workDir: join(work, `u${n++}`),
  });
const ask = (unit: FirmwareUnit, r: Parameters<FirmwareUnit['requestSync']>[0]): Reply => {
  const a = unit.requestSync(r);
  if (a === 'lost') throw new Error('unit lost');
  return a;
};

beforeAll(() => buildFor(['host']), BUILD_TIMEOUT_MS);
describe.skipIf(!host.ok)('the firmware unit on its link', () => {
  it('boots provisioned, with a heartbeat tagged by its heartbeat key', async () => {
    const corpus = generateCorpus(SETUPS[0]!, 0, 3);
    const unit = await start(provisionFor(corpus));
    try {
      const boot = unit.boots[0]!;
      expect(boot).toMatchObject({ provision: 'ok', resetCause: 'power-on', bootCount: 0 });
      const hb = decodeMessage(boot.heartbeat);
      expect(hb.ok && hb.message.kind).toBe('heartbeat');
      if (!hb.ok || hb.message.kind !== 'heartbeat') return;
      expect(hb.message).toMatchObject({ node: 300, role: 2, counter: 0, status: 0 });
      const tag = keyedMac(corpus.heartbeatKey).mac(authPayload(hb.message), corpus.setup.tagLength);
      expect(hb.message.tag).toEqual(tag);
      const pong = ask(unit, { type: 'ping' });
      expect(pong.type).toBe('pong');
    } finally {
      await unit.close();
    }
  });

  it('async: at most maxPending requests await an answer; the next is not sent and is lost at once', async () => {
    const unit = await FirmwareUnit.start({
      target: 'host',
      mode: 'async',
      provision: provisionFor(generateCorpus(SETUPS[0]!, 0, 3)),
      shape,
      workDir: join(work, `u${n++}`),
      maxPending: 2,
    });
    try {
      // No answer can arrive before the event loop turns: three requests in a row find two pending.
      const answers = [
        unit.request({ type: 'ping' }),
        unit.request({ type: 'ping' }),
        unit.request({ type: 'ping' }),
      ];
      const kinds = (await Promise.all(answers)).map((a) => (a === 'lost' ? a : a.type));
      expect(kinds).toEqual(['pong', 'pong', 'lost']);
      expect(unit.refused).toBe(1);
      const again = await unit.request({ type: 'ping' }); // room again once answered
      expect(again !== 'lost' && again.type).toBe('pong');
    } finally {
      await unit.close();
    }
  });

  it('refuses to vote with a corrupt or missing provisioning record, and says why', async () => {
    const good = provisionFor(generateCorpus(SETUPS[0]!, 0, 3));
    const corrupt = good.slice();
    corrupt[20]! ^= 1;
    const unit = await start(corrupt);
    try {
      expect(unit.boots[0]?.provision).toBe('bad-crc');
      expect(ask(unit, { type: 'tick', time: 16, frame: 0 })).toMatchObject({
        type: 'error',
        error: 'not-provisioned',
      });
      expect(ask(unit, { type: 'ping' }).type).toBe('pong'); // still alive and answering
    } finally {
      await unit.close();
    }
    const bad = provisionRecord(
      { ...firmwareConfigForCommand(voterConfigOf(SETUPS[0]!)), tolerances: [-1] },
      {
        selfPrincipal: 300,
        channelIds: [0, 1, 2],
        channelKeys: [0, 1, 2].map(() => new Uint8Array(32)),
        heartbeatKey: new Uint8Array(32),
        tagLength: 8,
      },
    );
    const unit2 = await start(bad);
    try {
      expect(unit2.boots[0]?.provision).toBe('bad-config');
    } finally {
      await unit2.close();
    }
  });

  it('answers malformed and bogus requests with counted errors, and drops line noise', async () => {
    const unit = await start(provisionFor(generateCorpus(SETUPS[0]!, 0, 3)));
    try {
      unit.writeRaw(new Uint8Array([0, 0x55, 0x13, 0x00, 0x00])); // noise: a frame that fails its CRC
      unit.writeRaw(encodeSerialFrame(new Uint8Array([0x09, 0x7f]))); // unknown request type (seq 127)
      unit.writeRaw(encodeSerialFrame(new Uint8Array([0x02, 0x7e, 0x01]))); // TICK cut short (seq 126)
      // A TICK before the frame's deadline is not a deadline: nothing decided, a link error counted.
      expect(ask(unit, { type: 'tick', time: 1, frame: 0 })).toMatchObject({ type: 'tick', decision: null });
      const s = await unit.status();
      expect(s.deframer.crc + s.deframer.cobs).toBeGreaterThanOrEqual(1);
      expect(s.linkErrors).toBe(3);
      expect(s.nextFrame).toBe(0);
      expect(unit.badResponses).toBe(2); // the two ERROR answers to requests nobody waited for
    } finally {
      await unit.close();
    }
  });

  it('declines the early decision closeDue makes unready, and decides the frame at its deadline, as voter.ts', async () => {
    // m = 7, f = 3, one strike latches. Frame 1 is written early by a b c d; e answers far off, g stays silent,
    // so frame 1 is judged only later. Frame 2 is ready by a b c e; deciding it first judges frame 1, which
    // latches e, an early supporter of frame 2: frame 2 is no longer ready.
    const setup = {
      ...SETUPS[0]!,
      name: 'm7',
      channelIds: [0, 1, 2, 3, 4, 5, 6],
      f: 3,
      strikeThreshold: 1,
      probationFrames: 100,
      periodMs: 10,
      deadlineFraction: 0.8,
    };
    const corpus = generateCorpus(setup, 0, 4);
    const unit = await start(provisionFor(corpus), 7);
    const macs = corpus.keys.map((k) => keyedMac(k));
    const out = (frame: number, c: number, elevator: number): Uint8Array => {
      const o: Output = {
        kind: 'output',
        frame,
        channel: c,
        discrete: [0, 0],
        analog: [elevator],
        tag: new Uint8Array(0),
      };
      return encodeMessage({ ...o, tag: macs[c]!.mac(authPayload(o), setup.tagLength) });
    };
    try {
      const first = [0, 1, 2, 3, 4, 5, 6].map((c) =>
        ask(unit, { type: 'deliver', time: 1, message: out(0, c, c === 6 ? 1 : 0) }),
      );
      // Written early by the first four; judged once all seven are in, which latches channel 6 (far off).
      expect(first[3]).toMatchObject({ decision: { frame: 0, kind: 'write', earlyRound: true } });
      expect(
        first[6]?.judgmentFrames.map((j) => [j.frame, j.dissenters, j.events.map((e) => e.kind)]),
      ).toEqual([[0, [6], ['strike', 'latched']]]);
      const early = [0, 1, 2, 3].map((c) => ask(unit, { type: 'deliver', time: 11, message: out(1, c, 0) }));
      expect(early[3]).toMatchObject({ decision: { frame: 1, kind: 'write', earlyRound: true } });
      ask(unit, { type: 'deliver', time: 12, message: out(1, 4, 1) });
      const second = [0, 1, 2, 4].map((c) => ask(unit, { type: 'deliver', time: 21, message: out(2, c, 0) }));
      const last = second[3]!;
      expect(last.type === 'offer' && last.ready).toBe(true);
      expect(last.type === 'offer' && last.decision).toBeNull(); // declined...
      expect(last.judgmentFrames.map((j) => [j.frame, j.dissenters])).toEqual([[1, [4]]]); // ...after judging frame 1
      expect((await unit.status()).declined).toBe(1);
      // The deadline decides frame 2 with the standard round: e is latched now, so a b c are too few (f + 1 = 4).
      expect(ask(unit, { type: 'tick', time: 28, frame: 2 })).toMatchObject({
        decision: { frame: 2, kind: 'hold', reason: 'too-few-outputs', earlyRound: false, latched: [4, 6] },
      });
    } finally {
      await unit.close();
    }

    // voter.ts declines it too now: the same sequence through VoterHost and FirmwareVoterHost is identical
    // (decisions, channel events, counters with voter.declined, health).
    const events: CorpusEvent[] = [0, 1, 2, 3].map((k) => ({ kind: 'arm', time: k * 10, frame: k }));
    const deliver = (time: number, frame: number, c: number, e: number): CorpusEvent => ({
      kind: 'deliver',
      time,
      bytes: out(frame, c, e),
    });
    for (const c of [0, 1, 2, 3, 4, 5, 6]) events.push(deliver(1, 0, c, c === 6 ? 1 : 0));
    for (const c of [0, 1, 2, 3]) events.push(deliver(11, 1, c, 0));
    events.push(deliver(12, 1, 4, 1));
    for (const c of [0, 1, 2, 4]) events.push(deliver(21, 2, c, 0));
    const directed: Corpus = { ...corpus, frames: 3, events };
    const reference = runReference(directed);
    expect(reference.counters['voter.declined']).toBe(1);
    expect(reference.decisions.map((d) => [d.frame, d.kind])).toEqual([
      [0, 'write'],
      [1, 'write'],
      [2, 'hold'],
      [3, 'hold'],
    ]);
    const again = await start(provisionFor(corpus), 7);
    try {
      const run = await runFirmware(directed, again);
      expect(compareRuns(reference, run, directed)).toBeUndefined();
      expect(run.status.declined).toBe(1);
    } finally {
      await again.close();
    }
  });
});
