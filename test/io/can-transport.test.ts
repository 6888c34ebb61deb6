import fc from 'fast-check';
import { BehaviorSubject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { CanReassembler } from '../../src/core/codec/framing/can-reassembly.ts';
import { CanTransport } from '../../src/io/can.ts';
import type { CanDriver } from '../../src/io/can-driver.ts';
import type { CanFrame } from '../../src/io/can-frame.ts';
import { type LinkState, StatsCounter } from '../../src/io/transport.ts';

/**
 * A CAN controller in memory with a transmit window, as an SLCAN adapter has: `room()` frames may be
 * outstanding; `ack(n)` acknowledges the oldest n (they left the bus) and tells the owner. The real path
 * (SLCAN host, emulated adapter on a pty, bus model) is tested in can-emu.test.ts; this one reaches the
 * transport's flow control and refusals deterministically.
 */
class WindowDriver implements CanDriver {
  readonly state = new BehaviorSubject<LinkState>('up');
  readonly counters = new StatsCounter();
  readonly lastError = undefined;
  onFrame: (frame: CanFrame) => void = () => {};
  onRoom: (() => void) | undefined;
  readonly sent: CanFrame[] = [];
  private inFlight = 0;
  /** Refuse the n-th frame offered (1-based), once. */
  refuseAt = 0;
  constructor(
    readonly fd: boolean,
    private readonly window: number,
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  room(): number {
    return this.window - this.inFlight;
  }
  send(frame: CanFrame): boolean {
    if (this.refuseAt > 0 && --this.refuseAt === 0) return this.counters.drop('refused');
    if (this.inFlight >= this.window) return this.counters.drop('window-overrun');
    this.inFlight++;
    this.sent.push(frame);
    return true;
  }
  ack(n: number): void {
    this.inFlight = Math.max(0, this.inFlight - n);
    this.onRoom?.();
  }
}

const nodes = { a: 0, b: 1 };
const msg = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

function reassemble(frames: readonly CanFrame[], frameData: 8 | 64): Uint8Array[] {
  const r = new CanReassembler({
    frameData,
    maxMessage: 100_000,
    maxPartialsPerSender: 2,
    maxSenders: 4,
    timeout: 1e9,
  });
  const out: Uint8Array[] = [];
  frames.forEach((f, t) => {
    const m = r.push(f.id, f.data, t);
    if (m !== undefined) out.push(m);
  });
  return out;
}

describe('CanTransport flow control', () => {
  it('feeds a long message to the driver as the window frees, never overrunning it', () => {
    const driver = new WindowDriver(false, 16);
    const t = new CanTransport({ self: 'a', nodes, driver });
    const big = msg(5_000, 1);
    expect(t.send('b', big)).toBe(true);
    expect(driver.sent.length).toBe(16);
    expect(t.queued()).toBe(5_000);
    big.fill(0); // the caller reuses its buffer: the queued copy is the transport's own
    for (let i = 0; i < 100 && t.queued() > 0; i++) driver.ack(16);
    expect(t.queued()).toBe(0);
    expect(driver.counters.snapshot().errors).toEqual({});
    expect(reassemble(driver.sent, 8)).toEqual([msg(5_000, 1)]);
    expect(t.stats().framesOut).toBe(1);
  });

  it('keeps messages in order behind a long one and counts a message the driver refuses midway', () => {
    const driver = new WindowDriver(true, 8);
    const t = new CanTransport({ self: 'a', nodes, driver });
    driver.refuseAt = 5; // the 5th frame offered: inside the first message
    t.send('b', msg(1_000, 1)); // 16 FD frames: refused at frame 5, the rest is abandoned
    t.broadcast(msg(40, 2));
    t.send('b', msg(300, 3));
    for (let i = 0; i < 20; i++) driver.ack(8);
    expect(t.stats().errors['frame-refused']).toBe(1);
    expect(t.stats().drops).toBe(2); // the driver's refusal and the transport's abandoned message
    expect(reassemble(driver.sent, 64).map((m) => m.length)).toEqual([40, 300]);
  });

  it('broadcastLatest replaces the waiting message of its key, never one already on the bus nor another key', () => {
    const driver = new WindowDriver(false, 4);
    const t = new CanTransport({ self: 'a', nodes, driver });
    t.send('b', msg(200, 1)); // the head: being cut into frames, 4 of 29 on the bus
    t.broadcastLatest('unit-0', msg(30, 2)); // waits whole behind it...
    t.broadcastLatest('unit-1', msg(30, 3));
    t.broadcastLatest('unit-0', msg(30, 4)); // ...and is replaced by the newer sample of unit 0
    expect(t.stats().errors.superseded).toBe(1);
    for (let i = 0; i < 40; i++) driver.ack(4);
    expect(reassemble(driver.sent, 8)).toEqual([msg(200, 1), msg(30, 3), msg(30, 4)]);
    // The head itself is never replaced: a message whose first frames are out must finish.
    t.broadcastLatest('unit-0', msg(100, 5));
    t.broadcastLatest('unit-0', msg(30, 6));
    for (let i = 0; i < 40; i++) driver.ack(4);
    expect(reassemble(driver.sent, 8).slice(3)).toEqual([msg(100, 5), msg(30, 6)]);
    expect(t.queued()).toBe(0);
  });

  it('refuses, counted, what does not fit its queue budget or its segmentation', () => {
    const driver = new WindowDriver(false, 4);
    const t = new CanTransport({ self: 'a', nodes, driver, maxQueueBytes: 10_000, maxMessage: 8_000 });
    expect(t.send('b', msg(6_000, 1))).toBe(true);
    expect(t.send('b', msg(6_000, 2))).toBe(false);
    expect(t.send('b', msg(8_001, 3))).toBe(false);
    expect(t.send('c', msg(10, 4))).toBe(false);
    expect(t.stats().errors).toMatchObject({ 'queue-full': 1, 'too-long': 1, 'unknown-peer': 1 });
  });
});

describe('CanTransport against a faulty node on the bus (issue 9)', () => {
  const trio = { a: 0, b: 1, x: 2 };

  /** The frames `a` puts on the bus for one message to `b` (from a real sending transport). */
  function framesOf(self: string, to: string, message: Uint8Array, extended = false): CanFrame[] {
    const driver = new WindowDriver(false, 1_000_000);
    const t = new CanTransport({ self, nodes: trio, driver, extended });
    t.send(to, message);
    return driver.sent;
  }

  function receiver(extended = false): { t: CanTransport; driver: WindowDriver; got: Uint8Array[] } {
    const driver = new WindowDriver(false, 64);
    const t = new CanTransport({ self: 'b', nodes: trio, driver, extended });
    const got: Uint8Array[] = [];
    t.received$.subscribe((r) => got.push(r.bytes));
    return { t, driver, got };
  }

  /** A one-frame message from x: a new stream for every priority and destination it cares to use. */
  const junk = (id: number, extended: boolean): CanFrame => ({
    id,
    extended,
    remote: false,
    fd: false,
    brs: false,
    data: Uint8Array.from([0x80, 1, 0xee]),
    dlc: 3,
  });

  it("x cycling its own ids' priority bits does not evict a's long message in progress", () => {
    const { driver, got } = receiver();
    const good = msg(2_000, 5);
    // Every id x can send that b listens to: 8 priorities x (to b, to everyone), source x.
    const xIds = [...Array(8).keys()].flatMap((p) => [(p << 8) | (1 << 4) | 2, (p << 8) | (15 << 4) | 2]);
    for (const f of framesOf('a', 'b', good)) {
      driver.onFrame(f);
      for (const id of xIds) driver.onFrame(junk(id, false));
    }
    // Before: streams were keyed by the whole id, 16 of x's against room for 12, so a's partial was evicted.
    expect(got.filter((m) => m.length === good.length)).toEqual([good]);
  });

  it('a node flooding short messages gets its receive budget only; another node gets every message', () => {
    const driver = new WindowDriver(false, 64);
    const ingress = {
      datagramsPerSecond: 100,
      burstDatagrams: 20,
      bytesPerSecond: 1 << 20,
      burstBytes: 1 << 20,
      maxSources: 4,
    };
    const t = new CanTransport({ self: 'b', nodes: trio, driver, ingress, now: () => 0 });
    const from = new Map<string, number>();
    t.received$.subscribe((r) => from.set(r.from, (from.get(r.from) ?? 0) + 1));
    for (let i = 0; i < 500; i++) {
      for (const f of framesOf('x', 'b', msg(12, i))) driver.onFrame(f);
      if (i % 50 === 0) for (const f of framesOf('a', 'b', msg(40, i))) driver.onFrame(f);
    }
    expect(from.get('x')).toBe(20);
    expect(from.get('a')).toBe(10);
    expect(t.stats().errors['over-rate:datagrams']).toBe(480);
  });

  it('counts frames sent with its own id by someone else (impersonation shows in the status)', () => {
    const { t, driver, got } = receiver();
    const forged = framesOf('b', 'a', msg(30, 1)); // b's id, not sent by b
    for (const f of forged) driver.onFrame(f);
    expect(got).toEqual([]);
    expect(t.stats().errors['own-id-heard']).toBe(forged.length);
  });

  it('refuses extended ids with the reserved bits set (counted), and still takes the canonical ones', () => {
    const { t, driver, got } = receiver(true);
    const good = msg(500, 9);
    for (const f of framesOf('a', 'b', good, true)) {
      driver.onFrame(f);
      // x's frames with each of the 255 junk values in the reserved byte: each was a stream of its own.
      for (let r = 1; r < 256; r += 17) driver.onFrame(junk((4 << 24) | (r << 16) | (1 << 8) | 2, true));
    }
    expect(got.filter((m) => m.length === good.length)).toEqual([good]);
    expect(t.stats().errors['bad-id']).toBeGreaterThan(0);
  });
});

describe('CanTransport on arbitrary bus traffic (issue 9)', () => {
  it('never throws, and passes up messages only from known peers other than itself', () => {
    const seed = 9_2026;
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(
          fc.record({
            id: fc.integer({ min: 0, max: 0x1fffffff }),
            remote: fc.boolean(),
            data: fc.uint8Array({ minLength: 0, maxLength: 64 }),
          }),
          { maxLength: 400 },
        ),
        (extended, frames) => {
          const driver = new WindowDriver(false, 64);
          const t = new CanTransport({ self: 'b', nodes: { a: 0, b: 1, x: 2 }, driver, extended });
          const from = new Set<string>();
          t.received$.subscribe((r) => from.add(r.from));
          for (const f of frames) {
            const id = extended ? f.id : f.id & 0x7ff;
            driver.onFrame({
              id,
              extended,
              remote: f.remote,
              fd: f.data.length > 8,
              brs: false,
              data: f.data,
              dlc: f.data.length,
            });
          }
          for (const peer of from) expect(['a', 'x']).toContain(peer);
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});
