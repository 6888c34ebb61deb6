import { describe, expect, it } from 'vitest';
import { CanBusModel } from '../../src/io/can-bus-model.ts';
import { CanAddressing, canDataFrame, canFrameBits, canFrameTimeUs } from '../../src/io/can-frame.ts';

const f = (id: number, n = 8) => canDataFrame(id, new Uint8Array(n));

describe('CAN frame timing', () => {
  it('counts bits with a worst-case stuffing estimate', () => {
    // 8-byte standard frame: 98 stuffable bits, 24 stuff bits, 13 fixed tail bits (incl. IFS).
    expect(canFrameBits(f(1, 8))).toEqual({ nominal: 135, data: 0 });
    expect(canFrameBits(f(1, 0))).toEqual({ nominal: 55, data: 0 });
    expect(canFrameBits(canDataFrame(1, new Uint8Array(8), { extended: true })).nominal).toBe(160);
    expect(canFrameTimeUs(f(1, 8), 1_000_000)).toBeCloseTo(135);
    const fd = canDataFrame(1, new Uint8Array(64), { fd: true, brs: true });
    const bits = canFrameBits(fd);
    expect(bits.nominal).toBe(34); // 17 arbitration bits + 4 stuff bits + 13 tail bits at 1 Mbit/s
    expect(bits.data).toBeGreaterThan(64 * 8);
    // 64 bytes at 2 Mbit/s data phase take far less than 8 classic frames at 1 Mbit/s.
    expect(canFrameTimeUs(fd, 1_000_000, 2_000_000)).toBeLessThan(8 * 135 * 0.5);
  });

  it('puts priority, destination and source into the id', () => {
    const a = new CanAddressing({ x: 1, y: 2 });
    expect(a.id(3, 2, 1)).toBe(0x321);
    expect(a.parse(0x3f1)).toEqual({ priority: 3, dst: 15, src: 1 });
    expect(() => new CanAddressing({ x: 15 })).toThrow(RangeError);
    expect(() => new CanAddressing({ x: 1, y: 1 })).toThrow(/twice/);
    const e = new CanAddressing({ x: 200 }, true);
    expect(e.parse(e.id(7, 255, 200))).toEqual({ priority: 7, dst: 255, src: 200 });
  });
});

describe('CAN bus model', () => {
  it('delivers contending frames lowest id first, each after its frame time', () => {
    const bus = new CanBusModel({ bitrate: 1_000_000 });
    const [a, b, c] = [bus.addNode(), bus.addNode(), bus.addNode()];
    bus.enqueue(a!, f(0x300), 0);
    bus.enqueue(b!, f(0x100), 0);
    bus.enqueue(c!, f(0x200), 0);
    expect(bus.advance(0.1)).toEqual([]); // first frame still on the wire at 100 us
    expect(bus.nextEventAt()).toBeCloseTo(0.135);
    const out = bus.advance(10);
    expect(out.map((d) => d.frame.id)).toEqual([0x100, 0x200, 0x300]);
    expect(out.map((d) => d.at)).toEqual([0.135, 0.27, 0.405].map((t) => expect.closeTo(t, 9)));
    expect(bus.busyMs()).toBeCloseTo(0.405);
  });

  it('never preempts a frame on the wire; a later lower id wins the next arbitration', () => {
    const bus = new CanBusModel({ bitrate: 500_000 });
    const [a, b, c] = [bus.addNode(), bus.addNode(), bus.addNode()];
    bus.enqueue(a!, f(0x700), 0);
    bus.enqueue(b!, f(0x600), 0.01); // arrives while 0x700 is on the wire
    bus.enqueue(c!, f(0x001), 0.1);
    expect(bus.advance(100).map((d) => d.frame.id)).toEqual([0x700, 0x001, 0x600]);
  });

  it('keeps each node FIFO: a node cannot reorder its own frames', () => {
    const bus = new CanBusModel({ bitrate: 1_000_000 });
    const a = bus.addNode();
    bus.enqueue(a, f(0x500), 0);
    bus.enqueue(a, f(0x001), 0);
    expect(bus.advance(1).map((d) => d.frame.id)).toEqual([0x500, 0x001]);
  });

  it('leaves the bus idle between bursts and bounds each queue', () => {
    const bus = new CanBusModel({ bitrate: 1_000_000 }, 2);
    const a = bus.addNode();
    expect(bus.enqueue(a, f(1), 5)).toBe(true);
    expect(bus.enqueue(a, f(2), 5)).toBe(true);
    expect(bus.enqueue(a, f(3), 5)).toBe(false);
    const out = bus.advance(100);
    expect(out[0]!.at).toBeCloseTo(5.135);
    expect(bus.pending()).toBe(0);
    expect(bus.nextEventAt()).toBeUndefined();
  });
});
