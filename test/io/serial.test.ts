import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { SerialPort } from 'serialport';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeSerialFrame, serialFrameLength } from '../../src/core/codec/framing/serial-frame.ts';
import { PtyPair } from '../../src/io/pty.ts';
import { SerialTransport, serialIngressBudget } from '../../src/io/serial.ts';
import { backoffDelay, uartTimeMs } from '../../src/io/serial-device.ts';
import type { LinkState, Transport } from '../../src/io/transport.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-serial-'));
const pairs: PtyPair[] = [];
const transports: Transport[] = [];

async function pair(name: string): Promise<PtyPair> {
  const p = await PtyPair.open(join(dir, `${name}-a`), join(dir, `${name}-b`));
  pairs.push(p);
  return p;
}

function transport(
  self: string,
  peer: string,
  path: string,
  baudRate = 921600,
  pace = true,
): SerialTransport {
  const t = new SerialTransport({
    self,
    links: { [peer]: { path, baudRate, pace } },
    maxMessage: 2048,
    reconnect: { initialMs: 20, maxMs: 200 },
    maxQueueBytes: 1 << 20,
  });
  transports.push(t);
  return t;
}

const until = (t: Transport, state: LinkState): Promise<LinkState> =>
  firstValueFrom(t.state$.pipe(filter((s) => s === state)));

const msg = (i: number, n = 40): Uint8Array => Uint8Array.from({ length: n }, (_, k) => (i * 7 + k) & 0xff);

afterAll(async () => {
  for (const t of transports) await t.close();
  for (const p of pairs) await p.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('serial transport over pseudo-terminals', () => {
  it('carries messages both ways, intact, with zeros and all byte values', async () => {
    const p = await pair('basic');
    const x = transport('x', 'y', p.a);
    const y = transport('y', 'x', p.b);
    await Promise.all([x.start(), y.start()]);
    expect(await until(x, 'up')).toBe('up');
    const atY = firstValueFrom(y.received$.pipe(take(20), toArray()));
    const atX = firstValueFrom(x.received$.pipe(take(1)));
    for (let i = 0; i < 20; i++) expect(x.send('y', msg(i, 1 + i * 50))).toBe(true);
    y.send(
      'x',
      Uint8Array.from({ length: 256 }, (_, k) => k),
    );
    const got = await atY;
    expect(got.map((r) => r.from)).toEqual(Array(20).fill('x'));
    expect(got.map((r) => Buffer.from(r.bytes).toString('hex'))).toEqual(
      Array.from({ length: 20 }, (_, i) => Buffer.from(msg(i, 1 + i * 50)).toString('hex')),
    );
    expect((await atX).bytes.length).toBe(256);
    const s = y.stats();
    expect(s.framesIn).toBe(20);
    expect(s.errors).toEqual({});
    expect(x.stats().framesOut).toBe(20);
    expect(x.stats().latency?.count).toBe(20);
    expect(x.send('nobody', msg(1))).toBe(false);
    expect(x.send('y', new Uint8Array(4096))).toBe(false);
    expect(x.stats().errors).toMatchObject({ 'unknown-peer': 1, 'too-long': 1 });
  });

  it('counts garbage injected on the line and still delivers the frames after it', async () => {
    const p = await pair('garbage');
    const y = transport('y', 'x', p.b);
    await y.start();
    const raw = new SerialPort({ path: p.a, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => raw.open((e) => (e ? rej(e) : res())));
    const got = firstValueFrom(y.received$.pipe(take(3), toArray()));
    const corrupt = encodeSerialFrame(msg(99));
    corrupt[5]! ^= 0x10;
    const noise = Buffer.from('line noise \x01\x02\xff\xfe', 'binary');
    raw.write(
      Buffer.concat([encodeSerialFrame(msg(1)), noise, Buffer.from(corrupt), encodeSerialFrame(msg(2))]),
    );
    raw.write(Buffer.concat([Buffer.alloc(5000, 0x41), Buffer.from(encodeSerialFrame(msg(3)))]));
    const frames = await got;
    expect(frames.map((f) => f.bytes[0])).toEqual([msg(1)[0], msg(2)[0], msg(3)[0]]);
    const errors = y.stats().errors;
    expect(errors.crc).toBeGreaterThanOrEqual(1);
    expect(errors['too-long']).toBe(1);
    await new Promise<void>((res) => raw.close(() => res()));
  });

  it('a peer writing at memory speed gets what its wire would carry, no more (issue 9)', async () => {
    const p = await pair('flood');
    const baud = 115200;
    const y = transport('y', 'x', p.b, baud, true);
    await y.start();
    const raw = new SerialPort({ path: p.a, baudRate: baud, autoOpen: false });
    await new Promise<void>((res, rej) => raw.open((e) => (e ? rej(e) : res())));
    const frame = encodeSerialFrame(msg(1, 1)); // the smallest frame: the most work per byte
    const flood = Buffer.alloc(frame.length * 400_000);
    for (let i = 0; i < 400_000; i++) flood.set(frame, i * frame.length);
    let received = 0;
    const sub = y.received$.subscribe(() => received++);
    const started = performance.now();
    await new Promise<void>((res) => raw.write(flood, () => raw.drain(() => res())));
    // Everything written has been read once the byte count says so (pty reads can lag the write).
    for (let i = 0; i < 500 && y.stats().bytesIn < flood.length; i++)
      await new Promise((r) => setTimeout(r, 10));
    const elapsedS = (performance.now() - started) / 1000;
    const s = y.stats();
    expect(s.bytesIn).toBe(flood.length);
    // Before: all 400,000 frames (3.6 MB) were deframed and passed up, as fast as the pty carried them.
    // The wire's share: one largest frame and 4 s of line rate at once, then the line rate with 25% slack.
    const lineRate = baud / 10;
    const allowed = serialFrameLength(2048) + 4 * lineRate + 1.25 * lineRate * elapsedS;
    expect(serialIngressBudget(baud, 2048, () => 0).available()).toBe(serialFrameLength(2048) + 4 * lineRate);
    expect(received * frame.length).toBeLessThanOrEqual(allowed + frame.length);
    expect(s.errors['over-rate']).toBeGreaterThan(flood.length - allowed - 64 * 1024);
    // Once the flood stops, the link carries frames again (the budget refills at the line rate).
    await new Promise((r) => setTimeout(r, 50));
    const after = firstValueFrom(y.received$.pipe(filter((r) => r.bytes.length === 40)));
    raw.write(Buffer.from(encodeSerialFrame(msg(7))));
    expect((await after).bytes).toEqual(msg(7));
    sub.unsubscribe();
    await new Promise<void>((res) => raw.close(() => res()));
  });

  it('honours back-pressure: a burst far larger than the pty buffer arrives complete', async () => {
    const p = await pair('burst');
    const x = transport('x', 'y', p.a, 4_000_000, false);
    // Both ends of a link share its config: unpaced, so the receiver takes the burst as fast as it comes.
    const y = transport('y', 'x', p.b, 4_000_000, false);
    await Promise.all([x.start(), y.start()]);
    const n = 400;
    const got = firstValueFrom(y.received$.pipe(take(n), toArray()));
    for (let i = 0; i < n; i++) expect(x.send('y', msg(i, 1000))).toBe(true);
    const frames = await got;
    expect(frames.every((f, i) => f.bytes[0] === msg(i, 1000)[0] && f.bytes.length === 1000)).toBe(true);
    expect(y.stats().errors).toEqual({});
  });

  it('paces writes at the configured baud rate (pseudo-terminals ignore baud)', async () => {
    const p = await pair('pace');
    const baud = 38400;
    const x = transport('x', 'y', p.a, baud, true);
    const y = transport('y', 'x', p.b);
    await Promise.all([x.start(), y.start()]);
    const n = 10;
    const got = firstValueFrom(y.received$.pipe(take(n), toArray()));
    const started = performance.now();
    for (let i = 0; i < n; i++) x.send('y', msg(i, 200));
    await got;
    const elapsed = performance.now() - started;
    const wireBytes = x.stats().bytesOut;
    // A lower bound only: the link must not be faster than the wire it emulates.
    expect(elapsed).toBeGreaterThanOrEqual(uartTimeMs(wireBytes, baud) * 0.95);
  });

  it('reports a missing port as down with a clear error, never throws, and comes up when it appears', async () => {
    const a = join(dir, 'late-a');
    const b = join(dir, 'late-b');
    const x = transport('x', 'y', a);
    await x.start();
    expect(await until(x, 'down')).toBe('down');
    expect(x.peerStats().y?.lastError).toMatch(/late-a/);
    expect(x.send('y', msg(1))).toBe(false);
    expect(x.stats().errors['link-down']).toBe(1);
    const p = await pair('late'); // now the device exists
    expect([p.a, p.b]).toEqual([a, b]);
    await until(x, 'up');
    const y = transport('y', 'x', b);
    await y.start();
    const got = firstValueFrom(y.received$.pipe(take(1)));
    x.send('y', msg(5));
    expect((await got).bytes[0]).toBe(msg(5)[0]);
  });

  it('reconnects with back-off after the device disappears and comes back', async () => {
    const a = join(dir, 'flap-a');
    const b = join(dir, 'flap-b');
    let p = await PtyPair.open(a, b);
    pairs.push(p);
    const x = transport('x', 'y', a);
    const y = transport('y', 'x', b);
    await Promise.all([x.start(), y.start()]);
    await Promise.all([until(x, 'up'), until(y, 'up')]);
    const seen: LinkState[] = [];
    x.state$.subscribe((s) => seen.push(s));
    await p.close(); // cable pulled
    await Promise.all([until(x, 'down'), until(y, 'down')]);
    p = await PtyPair.open(a, b); // cable back
    pairs.push(p);
    await Promise.all([until(x, 'up'), until(y, 'up')]);
    const got = firstValueFrom(y.received$.pipe(take(1)));
    x.send('y', msg(7));
    expect((await got).bytes[0]).toBe(msg(7)[0]);
    expect(seen).toContain('down');
    expect(seen.at(-1)).toBe('up');
    expect(x.stats().errors.disconnected).toBeGreaterThanOrEqual(1);
  });

  it('computes back-off and wire time', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, { initialMs: 100, maxMs: 1000 }))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(uartTimeMs(11520, 115200)).toBe(1000);
  });
});
