import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import type { Message } from '../../../src/core/codec/messages.ts';
import { MemoryHub } from '../../../src/io/memory.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { peekKind, Router } from '../../../src/runtime/loop/router.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

const prepare: Message = {
  kind: 'prepare',
  view: 0,
  seq: 1,
  batchDigest: new Uint8Array(32),
  replica: 1,
  auth: [],
};

async function boards(shared: boolean) {
  const hub = new MemoryHub({ delivery: 'sync' });
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const got: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 };
  const all = ['a', 'b', 'c', 'd'].map((name, index) => {
    const transport = hub.join(name);
    if (shared) Object.defineProperty(transport, 'sharedMedium', { value: true });
    const board = new Router({ name, index, transport, scheduler, limits: DEFAULT_LIMITS, counters });
    if (name !== 'd') board.roles.replica = { receive: () => got[name]!++ };
    return { board, transport };
  });
  await Promise.all(all.map((x) => x.board.start()));
  return { all, got, counters, scheduler };
}

describe('board multicast', () => {
  it('sends one message per board on point-to-point links, itself included by loopback', async () => {
    const { all, got, scheduler } = await boards(false);
    all[0]!.board.multicast(['a', 'b', 'c'], encodeMessage(prepare));
    scheduler.runUntil(1);
    expect(got).toEqual({ a: 1, b: 1, c: 1, d: 0 });
    expect(all[0]!.transport.stats().framesOut).toBe(2);
  });

  it('sends one broadcast on a shared medium; a board with no consumer ignores it and counts it', async () => {
    const { all, got, counters, scheduler } = await boards(true);
    all[0]!.board.multicast(['b', 'c'], encodeMessage(prepare));
    scheduler.runUntil(1);
    expect(got).toEqual({ a: 0, b: 1, c: 1, d: 0 });
    expect(counters.get('board.ignored-broadcast')).toBe(1);
  });

  it('a crashed board sends nothing and processes nothing', async () => {
    const { all, got, scheduler } = await boards(false);
    all[1]!.board.crash();
    all[0]!.board.multicast(['b', 'c'], encodeMessage(prepare));
    all[1]!.board.multicast(['c'], encodeMessage(prepare));
    scheduler.runUntil(1);
    expect(got).toEqual({ a: 0, b: 0, c: 1, d: 0 });
  });

  it('counts undecodable bytes by reason instead of passing them on', async () => {
    const { all, got, counters, scheduler } = await boards(false);
    all[0]!.transport.send('b', new Uint8Array([1, 250, 3]));
    scheduler.runUntil(1);
    expect(got.b).toBe(0);
    expect(counters.get('board.rejected.unknown-kind')).toBe(1);
  });
});

describe('board dispatch', () => {
  async function pair() {
    const hub = new MemoryHub({ delivery: 'sync' });
    const scheduler = new VirtualScheduler();
    const counters = new Counters();
    const a = new Router({
      name: 'a',
      index: 0,
      transport: hub.join('a'),
      scheduler,
      limits: DEFAULT_LIMITS,
      counters,
    });
    const tb = hub.join('b');
    const b = new Router({ name: 'b', index: 1, transport: tb, scheduler, limits: DEFAULT_LIMITS, counters });
    b.setBoardIndex(['a', 'b']);
    await Promise.all([a.start(), b.start()]);
    return { a, b, counters, scheduler };
  }

  it('hands replica-bound bytes to the replica undecoded, exactly as received, with the sender index', async () => {
    const { a, b, scheduler } = await pair();
    const got: [number, Uint8Array][] = [];
    b.roles.replica = { receive: (from, bytes) => got.push([from, bytes]) };
    const bytes = encodeMessage(prepare);
    a.send('b', bytes);
    scheduler.runUntil(1);
    expect(got).toEqual([[0, bytes]]);
  });

  it('decodes REPLY and OUTPUT for their inboxes; an undecodable one is counted, a role not hosted is counted', async () => {
    const { a, b, counters, scheduler } = await pair();
    const outputs: number[] = [];
    b.roles.voter = { output: (m) => outputs.push(m.frame) };
    const output: Message = {
      kind: 'output',
      frame: 9,
      channel: 0,
      discrete: [0, 0],
      analog: [0.1],
      tag: new Uint8Array(8),
    };
    const bytes = encodeMessage(output);
    a.send('b', bytes);
    a.send('b', bytes.subarray(0, bytes.length - 3));
    const reply: Message = {
      kind: 'reply',
      view: 0,
      client: 100,
      timestamp: 1,
      replica: 0,
      result: new Uint8Array(0),
      tag: new Uint8Array(8),
    };
    a.send('b', encodeMessage(reply));
    scheduler.runUntil(1);
    expect(outputs).toEqual([9]);
    expect(counters.get('board.rejected.truncated')).toBe(1);
    expect(counters.get('board.misrouted.reply')).toBe(1);
  });

  it('reads the kind from the header alone', () => {
    const bytes = encodeMessage(prepare);
    expect(peekKind(bytes, DEFAULT_LIMITS)).toEqual({ ok: true, kind: 'prepare' });
    expect(peekKind(new Uint8Array(0), DEFAULT_LIMITS)).toEqual({ ok: false, reason: 'empty' });
    expect(peekKind(new Uint8Array([1]), DEFAULT_LIMITS)).toEqual({ ok: false, reason: 'truncated' });
    expect(peekKind(new Uint8Array([2, 0]), DEFAULT_LIMITS)).toEqual({ ok: false, reason: 'bad-version' });
    expect(peekKind(new Uint8Array([1, 250]), DEFAULT_LIMITS)).toEqual({ ok: false, reason: 'unknown-kind' });
    expect(peekKind(new Uint8Array(DEFAULT_LIMITS.maxMessageBytes + 1), DEFAULT_LIMITS)).toEqual({
      ok: false,
      reason: 'too-long',
    });
  });
});
