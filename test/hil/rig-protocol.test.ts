/**
 * The rig protocol's hello (docs/RIG-PROTOCOL.md): the codec is total on any bytes; a board behind the responder
 * answers with its name, versions, key set id and a MAC the rig checks; the board's roles never see a rig message;
 * discovery over real pseudo-terminals tells present, silent and missing ports apart and refuses crossed cables.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { discover } from '../../hil/bench/discovery.ts';
import {
  answerRigHello,
  HelloRateLimit,
  MAX_ANSWERS_PER_SECOND,
  MAX_HELLO_SOURCES,
  probeHello,
  TRIPLEX_VERSION,
} from '../../hil/link/hello.ts';
import {
  ackSignedPart,
  decodeRigMessage,
  encodeAck,
  encodeHello,
  keySetId,
  RIG_MAGIC,
} from '../../hil/link/rig-protocol.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import { PtyPair } from '../../src/io/pty.ts';
import { SerialTransport } from '../../src/io/serial.ts';
import { loadTopology, parseTopology, type Topology } from '../../src/runtime/config.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { requireSocat } from '../../src/runtime/node/cluster.ts';

const topology = loadTopology('config/laptop.json');
const SEED = 20_241;

describe('rig protocol codec', () => {
  it('round-trips HELLO and HELLO-ACK', () => {
    expect(decodeRigMessage(encodeHello({ nonce: 0xdeadbeef, rig: 'aiu' }))).toEqual({
      ok: true,
      message: { type: 'hello', nonce: 0xdeadbeef, rig: 'aiu' },
      signed: expect.any(Uint8Array),
    });
    const signed = ackSignedPart({
      nonce: 9,
      board: 'b0',
      version: '0.1.0',
      wire: 1,
      keyId: '0011223344556677',
      principal: 1,
    });
    const d = decodeRigMessage(encodeAck(signed, Uint8Array.of(1, 2, 3)));
    expect(d.ok && d.message).toEqual({
      type: 'hello-ack',
      nonce: 9,
      board: 'b0',
      version: '0.1.0',
      wire: 1,
      keyId: '0011223344556677',
      principal: 1,
      tag: Uint8Array.of(1, 2, 3),
    });
    expect(d.ok && d.signed).toEqual(signed);
  });

  it('is total: any bytes decode to a message or a typed rejection, never an exception', () => {
    const seed = 424_242;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, magic) => {
        const b = magic && bytes.length > 0 ? Uint8Array.from([RIG_MAGIC, 1, ...bytes]) : bytes;
        const d = decodeRigMessage(b);
        expect(typeof d.ok).toBe('boolean');
      }),
      { seed, numRuns: 2000 },
    );
    expect(decodeRigMessage(Uint8Array.of(1, 2, 3))).toEqual({ ok: false, reason: 'not-rig' });
    expect(decodeRigMessage(Uint8Array.of(RIG_MAGIC, 9, 1))).toEqual({ ok: false, reason: 'version' });
    expect(decodeRigMessage(Uint8Array.of(RIG_MAGIC, 1, 1, 0, 0))).toEqual({
      ok: false,
      reason: 'truncated',
    });
    expect(decodeRigMessage(Uint8Array.of(RIG_MAGIC, 1, 7))).toEqual({ ok: false, reason: 'type' });
  });
});

describe('hello over a board transport', () => {
  const keys = seededKeys(topology, SEED);

  it('the board answers; the rig checks its MAC and key set id; the roles never see rig messages', async () => {
    const hub = new MemoryHub();
    const rig = hub.join('aiu');
    const counters = new Counters();
    const board = answerRigHello(hub.join('b0'), { topology, board: 'b0', keys, counters });
    const seen: Uint8Array[] = [];
    board.received$.subscribe((r) => seen.push(r.bytes));
    await Promise.all([rig.start(), board.start()]);
    const answer = await probeHello(rig, 'b0', { rig: 'aiu', timeoutMs: 2000, nonce: 77, keys });
    expect(answer.answered).toBe(true);
    if (!answer.answered) return;
    expect(answer.ack).toEqual(
      expect.objectContaining({ board: 'b0', version: TRIPLEX_VERSION, wire: 1, nonce: 77 }),
    );
    expect(answer.ack.keyId).toBe(keySetId(keys.replicaPublicKeys));
    expect(answer.authentic).toBe(true);
    expect(seen).toEqual([]);
    rig.send('b0', Uint8Array.of(1, 2, 3));
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toHaveLength(1);
    expect(counters.get('rig.hello-answered')).toBeGreaterThanOrEqual(1);
  });

  it('a board with another key set is told apart: other key id, MAC does not check', async () => {
    const hub = new MemoryHub();
    const rig = hub.join('aiu');
    const other = seededKeys(topology, SEED + 1);
    const board = answerRigHello(hub.join('b1'), {
      topology,
      board: 'b1',
      keys: other,
      counters: new Counters(),
    });
    await Promise.all([rig.start(), board.start()]);
    const answer = await probeHello(rig, 'b1', { rig: 'aiu', timeoutMs: 2000, nonce: 5, keys });
    expect(answer.answered && answer.authentic).toBe(false);
    expect(answer.answered && answer.ack.keyId).not.toBe(keySetId(keys.replicaPublicKeys));
  });

  it('a peer flooding hellos spends its own answers only: the rig is still answered', async () => {
    const hub = new MemoryHub({ delivery: 'sync' });
    const rig = hub.join('aiu');
    const faulty = hub.join('b1');
    const counters = new Counters();
    let t = 0;
    const board = answerRigHello(hub.join('b0'), { topology, board: 'b0', keys, counters, now: () => t });
    await Promise.all([rig.start(), faulty.start(), board.start()]);
    const answers: number[] = [];
    rig.received$.subscribe((r) => {
      const d = decodeRigMessage(r.bytes);
      if (d.ok && d.message.type === 'hello-ack') answers.push(d.message.nonce);
    });
    for (let ms = 0; ms < 3000; ms++) {
      t = ms;
      for (let i = 0; i < 3; i++) faulty.send('b0', encodeHello({ nonce: i, rig: 'b1' })); // 3,000 a second
      if (ms % 250 === 0) rig.send('b0', encodeHello({ nonce: 1000 + ms, rig: 'aiu' }));
    }
    expect(answers).toEqual(Array.from({ length: 12 }, (_, i) => 1000 + i * 250));
    expect(counters.get('rig.hello-answered')).toBe(12 + 3 * MAX_ANSWERS_PER_SECOND);
    expect(counters.get('rig.hello-not-answered.rate-limited')).toBe(9_000 - 3 * MAX_ANSWERS_PER_SECOND);
  });

  it('keeps at most 64 sources, evicting the least recently heard, and counts evictions', () => {
    const limit = new HelloRateLimit(2, MAX_HELLO_SOURCES);
    for (let i = 0; i < 1000; i++) {
      expect(limit.allow(`s${i}`, 0)).toBe(true);
      expect(limit.allow('rig', 0)).toBe(i < 2);
      expect(limit.size).toBeLessThanOrEqual(MAX_HELLO_SOURCES);
    }
    expect(limit.evictions).toBe(1000 - (MAX_HELLO_SOURCES - 1));
    // The rig, heard from all along, was never evicted: its window still refuses until the second passes.
    expect(limit.allow('rig', 999)).toBe(false);
    expect(limit.allow('rig', 1000)).toBe(true);
  });

  it('answers at most 20 hellos a second and counts the rest', async () => {
    const hub = new MemoryHub({ delivery: 'sync' });
    const rig = hub.join('aiu');
    const counters = new Counters();
    const board = answerRigHello(hub.join('b0'), { topology, board: 'b0', keys, counters, now: () => 0 });
    await Promise.all([rig.start(), board.start()]);
    for (let i = 0; i < 100; i++) rig.send('b0', encodeHello({ nonce: i, rig: 'aiu' }));
    expect(counters.get('rig.hello-answered')).toBe(20);
    expect(counters.get('rig.hello-not-answered')).toBe(80);
  });

  it('a silent peer times out with the reason', async () => {
    const hub = new MemoryHub();
    const rig = hub.join('aiu');
    const mute = hub.join('b2');
    await Promise.all([rig.start(), mute.start()]);
    const answer = await probeHello(rig, 'b2', { rig: 'aiu', timeoutMs: 150, nonce: 1 });
    expect(answer).toEqual({ answered: false, reason: 'no answer to the rig hello within 150 ms' });
  });
});

let socatProblem: string | undefined;
try {
  requireSocat();
} catch (e) {
  socatProblem = (e as Error).message;
  console.warn(`skipping discovery over ptys: ${socatProblem}`);
}

describe.skipIf(socatProblem !== undefined)('discovery over pseudo-terminals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-discover-'));
  const pairs: PtyPair[] = [];
  afterAll(async () => {
    await Promise.all(pairs.map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** config/serial-mesh.json with the rig's (aiu's) ends of its links rewritten. */
  function mesh(devices: Record<string, { aiu: string; other: string }>): Topology {
    const raw = JSON.parse(readFileSync('config/serial-mesh.json', 'utf8'));
    for (const l of raw.links) {
      const peer = l.between.find((b: string) => b !== 'aiu');
      if (!l.between.includes('aiu') || devices[peer] === undefined) continue;
      l.devices = { aiu: devices[peer].aiu, [peer]: devices[peer].other };
    }
    return parseTopology(raw, join(dir, 'mesh.json'));
  }

  it('present and answering: real; present and silent: emulated; missing: emulated naming the port; crossed: an error', async () => {
    const pb0 = await PtyPair.open(join(dir, 'aiu-b0'), join(dir, 'b0-aiu'));
    const pb1 = await PtyPair.open(join(dir, 'aiu-b1'), join(dir, 'b1-aiu'));
    const pb2 = await PtyPair.open(join(dir, 'aiu-b2'), join(dir, 'b2-aiu'));
    pairs.push(pb0, pb1, pb2);
    const t = mesh({
      b0: { aiu: pb0.a, other: pb0.b },
      b1: { aiu: pb1.a, other: pb1.b },
      b2: { aiu: pb2.a, other: pb2.b },
      mon: { aiu: join(dir, 'no-such-port'), other: '/dev/null' },
    });
    const keys = seededKeys(t, SEED);
    const boardEnd = (path: string, peer: string) =>
      new SerialTransport({
        self: peer,
        links: { aiu: { path, baudRate: 921600, pace: false } },
        maxMessage: 4096,
      });
    const b0 = answerRigHello(boardEnd(pb0.b, 'b0'), {
      topology: t,
      board: 'b0',
      keys,
      counters: new Counters(),
    });
    // Crossed cables: the board on b2's port says it is b1.
    const crossed = answerRigHello(boardEnd(pb2.b, 'b2'), {
      topology: t,
      board: 'b1',
      keys,
      counters: new Counters(),
    });
    await Promise.all([b0.start(), crossed.start()]);
    try {
      const d = await discover(t, { timeoutMs: 1200, pace: false, keys });
      const by = Object.fromEntries(d.boards.map((b) => [b.board, b]));
      expect(by.aiu!.kind).toBe('rig');
      expect(by.b0!.kind).toBe('real');
      expect(by.b0!.hello).toEqual({
        version: TRIPLEX_VERSION,
        wire: 1,
        keyId: keySetId(keys.replicaPublicKeys),
      });
      expect(by.b0!.why).toContain('MAC checked');
      expect(by.b1!.kind).toBe('emulated');
      expect(by.b1!.why).toMatch(/opens but no answer to the rig hello within 1200 ms/);
      expect(by.mon!.kind).toBe('emulated');
      expect(by.mon!.why).toBe(`port ${join(dir, 'no-such-port')} (links.9.devices.aiu) does not exist`);
      expect(by.mon!.missing).toBe(join(dir, 'no-such-port'));
      expect(d.errors).toEqual([
        expect.stringContaining("answers as board 'b1', expected 'b2': check the wiring"),
      ]);
    } finally {
      await Promise.all([b0.close(), crossed.close()]);
    }
  }, 30_000);
});
