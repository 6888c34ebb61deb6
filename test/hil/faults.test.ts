/**
 * The rig's fault machinery on its own: link rules on a transport (drop, corrupt, delay, throttle, hold, stall)
 * under virtual time, with their bounds; sensor and input-unit faults on the samples; and the bounded store of
 * channel outputs (issue 9 class 2: frame numbers from the network cannot grow the rig's memory).
 */
import { describe, expect, it } from 'vitest';
import { FaultyTransport, QUEUE_BYTES } from '../../hil/faults/link.ts';
import { SampleFaults } from '../../hil/faults/samples.ts';
import { MAX_OPEN_FRAMES, OUTPUT_BYTE_BUDGET, OutputWindow } from '../../hil/output-window.ts';
import { Prng } from '../../src/core/prng.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

async function pair() {
  const hub = new MemoryHub({ delivery: 'sync' });
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const a = new FaultyTransport(hub.join('a'), scheduler, new Prng(3), counters);
  const b = hub.join('b');
  const atB: { t: number; bytes: Uint8Array }[] = [];
  const atA: { t: number; bytes: Uint8Array }[] = [];
  b.received$.subscribe((r) => atB.push({ t: scheduler.now(), bytes: r.bytes }));
  a.received$.subscribe((r) => atA.push({ t: scheduler.now(), bytes: r.bytes }));
  await Promise.all([a.start(), b.start()]);
  return { a, b, scheduler, counters, atA, atB };
}

const msg = (n: number, size = 10): Uint8Array => Uint8Array.from({ length: size }, () => n);

describe('link rules', () => {
  it('drop both ways, then restore', async () => {
    const { a, b, atA, atB, counters } = await pair();
    const id = a.add({ peer: 'b', dir: 'both', action: { kind: 'drop' } });
    a.send('b', msg(1));
    b.send('a', msg(2));
    expect([atA.length, atB.length]).toEqual([0, 0]);
    expect(counters.get('fault.link.dropped')).toBe(2);
    a.remove(id);
    a.send('b', msg(3));
    expect(atB.map((x) => x.bytes[0])).toEqual([3]);
  });

  it('delay holds order and adds the latency; only matching messages', async () => {
    const { a, atB, scheduler } = await pair();
    a.add({ peer: 'b', dir: 'out', action: { kind: 'delay', ms: 7 }, match: (bytes) => bytes[0] === 1 });
    a.send('b', msg(1));
    a.send('b', msg(2));
    expect(atB.map((x) => x.bytes[0])).toEqual([2]);
    scheduler.runUntil(10);
    expect(atB.map((x) => [x.bytes[0], x.t])).toEqual([
      [2, 0],
      [1, 7],
    ]);
  });

  it('corrupts the given fraction, never the sender copy', async () => {
    const { a, atB } = await pair();
    a.add({ peer: '*', dir: 'out', action: { kind: 'corrupt', fraction: 0.5 } });
    const sent = Array.from({ length: 400 }, (_, i) => msg(i & 0xff, 16));
    for (const m of sent) a.send('b', m);
    const corrupted = atB.filter((x, i) => !x.bytes.every((v, j) => v === sent[i]![j])).length;
    expect(corrupted).toBeGreaterThan(150);
    expect(corrupted).toBeLessThan(250);
    expect(sent.every((m, i) => m.every((v) => v === (i & 0xff)))).toBe(true);
  });

  it('throttle paces at the rate and drops past its queue, counted', async () => {
    const { a, atB, scheduler, counters } = await pair();
    a.add({ peer: 'b', dir: 'out', action: { kind: 'throttle', bytesPerSecond: 1000 } });
    for (let i = 0; i < 20; i++) a.send('b', msg(i, 100));
    scheduler.runUntil(5000);
    expect(atB.map((x) => x.t)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 100));
    const big = QUEUE_BYTES / 16 / 100 + 10;
    for (let i = 0; i < big; i++) a.send('b', msg(i, 100));
    expect(counters.get('fault.link.throttle-overflow')).toBeGreaterThan(0);
  });

  it('hold keeps input until released, bounded; stall releases between stalls', async () => {
    const { a, b, atA, scheduler, counters } = await pair();
    const hold = a.add({ peer: '*', dir: 'in', action: { kind: 'hold' } });
    for (let i = 0; i < 5; i++) b.send('a', msg(i));
    expect(atA).toEqual([]);
    a.remove(hold);
    expect(atA.map((x) => x.bytes[0])).toEqual([0, 1, 2, 3, 4]);
    const h2 = a.add({ peer: '*', dir: 'in', action: { kind: 'hold' } });
    for (let i = 0; i < 11_000; i++) b.send('a', msg(i & 0xff, 1));
    expect(counters.get('fault.link.hold-overflow')).toBe(1000);
    a.remove(h2);
    atA.length = 0;
    a.add({ peer: '*', dir: 'in', action: { kind: 'stall', stallMs: 100, everyMs: 1000 } });
    b.send('a', msg(1));
    scheduler.runUntil(50);
    expect(atA).toEqual([]);
    scheduler.runUntil(150);
    expect(atA.map((x) => x.t)).toEqual([100]);
    scheduler.runUntil(500);
    b.send('a', msg(2));
    expect(atA.map((x) => x.t)).toEqual([100, 500]);
  });
});

describe('sensor and input-unit faults', () => {
  const healthy = (k: number): number[] => [0.01 * k, 0.01 * k + 0.001, 0.01 * k + 0.002];

  it('compose per target, end cleanly, and keep the other targets untouched', () => {
    const f = new SampleFaults(3, new Prng(1), 5);
    for (let k = 0; k < 10; k++) f.frame(k, healthy(k), 0.1);
    const stop = f.add('sensor', 1, 'wrong', 0.05, 10);
    const dead = f.add('input-unit', 2, 'off', undefined, 10);
    const r = f.frame(10, healthy(10), 0.1);
    expect(r.readings[1]).toBeCloseTo(0.151);
    expect(r.readings[0]).toBeCloseTo(0.1);
    expect(r.samples[2]).toBeNull();
    expect(r.samples[1]?.pitch).toBeCloseTo(0.151);
    stop();
    dead();
    const after = f.frame(11, healthy(11), 0.1);
    expect(after.readings[1]).toBeCloseTo(0.111);
    expect(after.samples[2]).not.toBeNull();
  });

  it('stuck, delayed, slow and late samples', () => {
    const f = new SampleFaults(3, new Prng(1), 5);
    for (let k = 0; k < 10; k++) f.frame(k, healthy(k), 0.1);
    f.add('sensor', 0, 'stuck', undefined, 10);
    f.add('sensor', 1, 'delayed', 5, 10);
    f.add('sensor', 2, 'slow', 3, 10);
    f.add('input-unit', 0, 'slow', 7, 10);
    const r = [10, 11, 12, 13].map((k) => f.frame(k, healthy(k), 0.1));
    expect(r.map((x) => x.readings[0])).toEqual([0.09, 0.09, 0.09, 0.09].map((v) => expect.closeTo(v, 9)));
    expect(r[0]!.readings[1]).toBeCloseTo(0.051);
    expect(r.map((x) => x.readings[2])).toEqual(
      [0.102, 0.102, 0.102, 0.132].map((v) => expect.closeTo(v, 9)),
    );
    expect(r[0]!.samples[0]?.lateMs).toBe(7);
  });
});

describe('channel outputs kept by the rig (bounded)', () => {
  it('keeps only frames in flight, counts the rest by reason', () => {
    const counters = new Counters();
    const w = new OutputWindow(3, counters);
    w.started(0);
    w.offer(1, 0, 0.02);
    w.offer(1, 1_000_000, 0.5);
    w.offer(7, 0, 0.5);
    expect(w.take(0)).toEqual([null, 0.02, null]);
    w.offer(2, 0, 0.1);
    expect(counters.toJSON()).toEqual({
      'rig.output-dropped.ahead': 1,
      'rig.output-dropped.channel': 1,
      'rig.output-dropped.late': 1,
    });
  });

  it('a faulty channel naming every frame number it likes cannot grow the store past its bounds', () => {
    const counters = new Counters();
    const w = new OutputWindow(3, counters);
    // The rig started many frames without closing them (a stalled loop): still bounded by rows and bytes.
    w.started(1_000_000);
    const rng = new Prng(9);
    for (let i = 0; i < 200_000; i++) w.offer(0, rng.int(1_000_001), 0.1);
    expect(w.size).toBeLessThanOrEqual(MAX_OPEN_FRAMES);
    expect(w.usedBytes).toBeLessThanOrEqual(OUTPUT_BYTE_BUDGET);
    expect(counters.get('rig.output-dropped.budget')).toBeGreaterThan(199_000);
  });
});
