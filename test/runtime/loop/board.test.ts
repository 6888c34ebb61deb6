import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import type { Message } from '../../../src/core/codec/messages.ts';
import { MemoryHub } from '../../../src/io/memory.ts';
import { Board } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
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
    const board = new Board({ name, index, transport, scheduler, limits: DEFAULT_LIMITS, counters });
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
