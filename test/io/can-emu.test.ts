import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { CanTransport } from '../../src/io/can.ts';
import { type EmulatedBusSetup, startEmulatedCanBus } from '../../src/io/can-emu.ts';
import { SlcanHost } from '../../src/io/slcan.ts';
import type { LinkState, Received } from '../../src/io/transport.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-canemu-'));
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function board(
  setup: EmulatedBusSetup,
  name: string,
  nodes: Record<string, number>,
  fd: boolean,
): Promise<{ t: CanTransport; host: SlcanHost }> {
  const host = new SlcanHost({
    path: setup.paths[name]!,
    bitrate: 1_000_000,
    dataBitrate: fd ? 2_000_000 : undefined,
    replyTimeoutMs: 200,
    maxTimeouts: 2,
    reconnect: { initialMs: 30, maxMs: 200 },
  });
  const t = new CanTransport({ self: name, nodes, driver: host });
  cleanups.push(() => t.close());
  await t.start();
  await firstValueFrom(t.state$.pipe(filter((s: LinkState) => s === 'up')));
  return { t, host };
}

const msg = (seed: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 17 + i) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('emulated CAN bus with SLCAN adapters on pseudo-terminals', () => {
  it('carries unicast and broadcast messages of any size between three boards (classic CAN)', async () => {
    const nodes = { a: 0, b: 1, c: 2 };
    const setup = await startEmulatedCanBus(join(dir, 'classic'), ['a', 'b', 'c'], { bitrate: 1_000_000 });
    cleanups.push(() => setup.close());
    const [A, B, C] = await Promise.all(['a', 'b', 'c'].map((n) => board(setup, n, nodes, false)));
    const atB = firstValueFrom(B!.t.received$.pipe(take(3), toArray()));
    const atC = firstValueFrom(C!.t.received$.pipe(take(1), toArray()));
    expect(A!.t.send('b', msg(1, 5))).toBe(true); // single frame
    expect(A!.t.send('b', msg(2, 300))).toBe(true); // 44 frames
    expect(A!.t.broadcast(msg(3, 40))).toBe(true);
    expect(C!.t.send('c', msg(9, 3))).toBe(false); // to itself: not a peer
    const gotB = await atB;
    expect(gotB.map((r: Received) => [r.from, hex(r.bytes)])).toEqual([
      ['a', hex(msg(1, 5))],
      ['a', hex(msg(2, 300))],
      ['a', hex(msg(3, 40))],
    ]);
    const gotC = await atC;
    expect(gotC.map((r) => [r.from, hex(r.bytes)])).toEqual([['a', hex(msg(3, 40))]]);
    const atA = firstValueFrom(A!.t.received$.pipe(take(1)));
    C!.t.send('a', msg(4, 10));
    expect(hex((await atA).bytes)).toBe(hex(msg(4, 10)));
    expect(A!.host.version).toBe('1013');
    const s = B!.t.stats();
    expect(s.framesIn).toBe(3);
    expect(Object.keys(s.errors).filter((k) => k !== 'slcan-error-reply')).toEqual([]);
    expect(setup.bus.stats().frames).toBeGreaterThan(44);
    expect(setup.bus.stats().load).toBeGreaterThan(0);
  });

  it('carries CAN FD messages with 64-byte frames', async () => {
    const nodes = { p: 3, q: 4 };
    const setup = await startEmulatedCanBus(join(dir, 'fd'), ['p', 'q'], {
      bitrate: 1_000_000,
      dataBitrate: 2_000_000,
    });
    cleanups.push(() => setup.close());
    const [P, Q] = await Promise.all(['p', 'q'].map((n) => board(setup, n, nodes, true)));
    const atQ = firstValueFrom(Q!.t.received$.pipe(take(2), toArray()));
    P!.t.send('q', msg(5, 1000));
    P!.t.send('q', msg(6, 62));
    expect((await atQ).map((r) => hex(r.bytes))).toEqual([hex(msg(5, 1000)), hex(msg(6, 62))]);
    expect(P!.t.busStats().framesOut).toBe(Math.ceil((1000 - 58) / 63) + 1 + 1);
  });

  it('carries a view change burst: every board broadcasts thousands of frames at once, none refused', async () => {
    // Each message is past the old 4,095-byte segmentation limit and far past the adapter's queue
    // (256 frames): the transport feeds frames as the adapter acknowledges them from the bus.
    const names = ['v0', 'v1', 'v2', 'v3'];
    const nodes = Object.fromEntries(names.map((n, i) => [n, i]));
    for (const fd of [false, true]) {
      const setup = await startEmulatedCanBus(
        join(dir, fd ? 'burst-fd' : 'burst'),
        names,
        fd ? { bitrate: 1_000_000, dataBitrate: 2_000_000 } : { bitrate: 1_000_000 },
      );
      cleanups.push(() => setup.close());
      const boards = await Promise.all(names.map((n) => board(setup, n, nodes, fd)));
      const size = fd ? 30_000 : 5_000; // 477 FD frames or 715 classic frames each
      const arrivals = boards.map((b) =>
        firstValueFrom(b.t.received$.pipe(take(names.length - 1), toArray())),
      );
      boards.forEach((b, i) => {
        expect(b.t.broadcast(msg(i, size))).toBe(true);
      });
      const got = await Promise.all(arrivals);
      got.forEach((rs, i) => {
        const expected = names
          .filter((_, j) => j !== i)
          .map((n, _k) => [n, hex(msg(names.indexOf(n), size))]);
        expect(rs.map((r) => [r.from, hex(r.bytes)]).sort()).toEqual(expected.sort());
      });
      for (const b of boards) {
        const errors = Object.keys(b.t.stats().errors).filter((k) => k !== 'slcan-error-reply');
        expect(errors).toEqual([]);
        expect(b.t.queued()).toBe(0);
      }
    }
  }, 60_000);

  it('answers SLCAN commands like a CANable, and a hung adapter is detected and recovered', async () => {
    const nodes = { m: 5, n: 6 };
    const setup = await startEmulatedCanBus(join(dir, 'cmd'), ['m', 'n'], { bitrate: 1_000_000 });
    cleanups.push(() => setup.close());
    const [M, N] = await Promise.all(['m', 'n'].map((x) => board(setup, x, nodes, false)));
    expect(await M!.host.command('N', 'serial')).toEqual({ kind: 'serial', text: 'EMU1' });
    expect(await M!.host.command('v', 'version')).toEqual({ kind: 'version', which: 'v', text: 'EMU1' });
    expect(await M!.host.command('S4', 'ok')).toEqual({ kind: 'error' }); // bit rate only while closed
    expect(await M!.host.command('Q', 'ok')).toEqual({ kind: 'error' });
    expect(await M!.host.status()).toBe(0);
    setup.adapters.m!.inject('garbage\rt12\r');
    setup.adapters.m!.muted = true;
    for (let i = 0; i < 3; i++) M!.t.send('n', msg(i, 20));
    await firstValueFrom(M!.t.state$.pipe(filter((s) => s === 'down')));
    expect(M!.host.lastError).toMatch(/not answering/);
    setup.adapters.m!.muted = false;
    await firstValueFrom(M!.t.state$.pipe(filter((s) => s === 'up')));
    const atN = firstValueFrom(N!.t.received$.pipe(take(1)));
    M!.t.send('n', msg(8, 20));
    expect(hex((await atN).bytes)).toBe(hex(msg(8, 20)));
  });
});
