import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { SerialPort } from 'serialport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CanFrame, canDataFrame } from '../../src/io/can-frame.ts';
import { PtyPair } from '../../src/io/pty.ts';
import { SlcanHost } from '../../src/io/slcan.ts';
import type { LinkState } from '../../src/io/transport.ts';

/** The far end of the pty, scripted by the test: records lines from the host and answers via `respond`. */
class ScriptedAdapter {
  readonly lines: string[] = [];
  respond: (line: string) => string | undefined = () => '\r';
  private buf = '';
  private waiters: (() => void)[] = [];

  constructor(readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      this.buf += chunk.toString('latin1');
      for (let i = this.buf.indexOf('\r'); i >= 0; i = this.buf.indexOf('\r')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.lines.push(line);
        const reply = this.respond(line);
        if (reply !== undefined) port.write(reply);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  write(s: string): void {
    this.port.write(Buffer.from(s, 'latin1'));
  }

  async waitFor(pred: (lines: string[]) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.lines)) {
      if (Date.now() > deadline) throw new Error(`timed out; lines so far: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

/** Replies as a CANable 2.0 would, to the host's init and to frames. */
function canableReply(line: string): string {
  if (line === 'C') return '\x07'; // not open yet
  if (line === 'V') return 'V1013\r';
  if (line === 'F') return 'F08\r';
  return '\r';
}

const dir = mkdtempSync(join(tmpdir(), 'triplex-slcan-'));
let pair: PtyPair;
let adapter: ScriptedAdapter;
let host: SlcanHost;
const received: CanFrame[] = [];

const until = (state: LinkState): Promise<LinkState> =>
  firstValueFrom(host.state.pipe(filter((s) => s === state)));

beforeAll(async () => {
  pair = await PtyPair.open(join(dir, 'host'), join(dir, 'adapter'));
  const port = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  adapter = new ScriptedAdapter(port);
  adapter.respond = canableReply;
  host = new SlcanHost({
    path: pair.a,
    bitrate: 1_000_000,
    dataBitrate: 2_000_000,
    replyTimeoutMs: 150,
    maxTimeouts: 2,
    reconnect: { initialMs: 50, maxMs: 200 },
  });
  host.onFrame = (f) => received.push(f);
  await host.start();
  await until('up');
});

afterAll(async () => {
  await host?.stop();
  await new Promise<void>((r) => (adapter?.port.isOpen ? adapter.port.close(() => r()) : r()));
  await pair?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SLCAN host against a scripted adapter on a pty', () => {
  it('initializes with C, S8, Y2, O, V and reads the version', () => {
    expect(adapter.lines.slice(0, 5)).toEqual(['C', 'S8', 'Y2', 'O', 'V']);
    expect(host.version).toBe('1013');
    expect(host.counters.snapshot().errors['slcan-error-reply']).toBe(1); // the C before O
  });

  it('sends every frame kind as its SLCAN line', async () => {
    const before = adapter.lines.length;
    const frames: CanFrame[] = [
      canDataFrame(0x123, Uint8Array.of(0xde, 0xad)),
      canDataFrame(0x1abcdef0, Uint8Array.of(1), { extended: true }),
      { ...canDataFrame(0x7ff, new Uint8Array(0), { remote: true }), dlc: 8 },
      { ...canDataFrame(0x10, new Uint8Array(0), { remote: true, extended: true }), dlc: 2 },
      canDataFrame(0x42, new Uint8Array(12).fill(0x11), { fd: true }),
      canDataFrame(0x42, new Uint8Array(64).fill(0x22), { fd: true, brs: true, extended: true }),
    ];
    for (const f of frames) expect(host.send(f)).toBe(true);
    await adapter.waitFor((l) => l.length >= before + frames.length);
    expect(adapter.lines.slice(before)).toEqual([
      't1232DEAD',
      'T1ABCDEF0101',
      'r7FF8',
      'R000000102',
      `d0429${'11'.repeat(12)}`,
      `B00000042F${'22'.repeat(64)}`,
    ]);
    // Refused before reaching the adapter: oversize classic frame.
    expect(host.send(canDataFrame(1, new Uint8Array(9)))).toBe(false);
    expect(host.counters.snapshot().errors['bad-frame']).toBe(1);
  });

  it('receives every frame kind, and counts malformed lines without losing the frames after them', async () => {
    received.length = 0;
    const errorsBefore = host.counters.snapshot().errors['slcan-malformed'] ?? 0;
    adapter.write('t1232BEEF\r');
    adapter.write('T000007FF0\r');
    adapter.write('r1233\r');
    adapter.write('R1FFFFFFF0\r');
    adapter.write('t12\rt1239000000000000000000\rQQQ\rt1232BE\r'); // short, dlc 9, unknown, length mismatch
    adapter.write(`d0FFF${'33'.repeat(64)}\r`);
    adapter.write(`b0018${'44'.repeat(8)}\r`);
    adapter.write('t0011AA1234\r'); // with timestamp
    await new Promise((r) => setTimeout(r, 200));
    expect(
      received.map((f) => [
        f.id,
        f.extended,
        f.remote,
        f.fd,
        f.brs,
        f.dlc,
        Buffer.from(f.data).toString('hex'),
      ]),
    ).toEqual([
      [0x123, false, false, false, false, 2, 'beef'],
      [0x7ff, true, false, false, false, 0, ''],
      [0x123, false, true, false, false, 3, ''],
      [0x1fffffff, true, true, false, false, 0, ''],
      [0x0ff, false, false, true, false, 64, '33'.repeat(64)],
      [0x001, false, false, true, true, 8, '44'.repeat(8)],
      [0x001, false, false, false, false, 1, 'aa'],
    ]);
    expect(host.counters.snapshot().errors['slcan-malformed']).toBe(errorsBefore + 4);
  });

  it('reads status flags with F and counts a BEL reply to a transmit', async () => {
    expect(await host.status()).toBe(0x08);
    adapter.respond = (line) => (line.startsWith('t') ? '\x07' : canableReply(line));
    host.send(canDataFrame(0x5, Uint8Array.of(5)));
    await adapter.waitFor((l) => l.at(-1) === 't005105');
    await new Promise((r) => setTimeout(r, 50));
    expect(host.counters.snapshot().errors['slcan-tx-refused']).toBe(1);
    adapter.respond = canableReply;
  });

  it('declares a device that stops answering down, then re-initializes when it answers again', async () => {
    adapter.respond = () => undefined; // hung
    for (let i = 0; i < 3; i++) host.send(canDataFrame(0x10 + i, Uint8Array.of(i)));
    await until('down');
    expect(host.lastError).toMatch(/not answering/);
    expect(host.counters.snapshot().errors.timeout).toBeGreaterThanOrEqual(2);
    expect(host.send(canDataFrame(0x20, Uint8Array.of(1)))).toBe(false);
    const mark = adapter.lines.length;
    adapter.respond = canableReply; // it comes back
    await until('up');
    expect(adapter.lines.slice(mark)).toEqual(expect.arrayContaining(['S8', 'Y2', 'O']));
    expect(host.send(canDataFrame(0x21, Uint8Array.of(2)))).toBe(true);
  });
});
