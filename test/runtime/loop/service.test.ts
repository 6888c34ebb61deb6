/** The ordering group's replicated service: newest frame per unit, canonical snapshots, exact restore. */
import { describe, expect, it } from 'vitest';
import { Reader } from '../../../src/core/codec/wire.ts';
import { FrameLogService } from '../../../src/runtime/loop/service.ts';
import { sampleOp } from './fixtures.ts';

const ack = (bytes: Uint8Array): number => new Reader(bytes).uvar('ack');

describe('FrameLogService', () => {
  it('acknowledges each request with the frame of its sample', () => {
    const s = new FrameLogService();
    expect(ack(s.execute(100, sampleOp(0, 12, 0, 0)))).toBe(12);
    expect(ack(s.execute(101, sampleOp(1, 13, 0, 0)))).toBe(13);
  });

  it('acknowledges a malformed op with frame 0, recorded as a sample of frame 0 (one entry per client)', () => {
    const s = new FrameLogService();
    const empty = s.snapshot();
    expect(ack(s.execute(100, new Uint8Array([9, 9])))).toBe(0);
    const t = new FrameLogService();
    t.execute(100, sampleOp(0, 0, 0, 0));
    expect(s.snapshot()).toEqual(t.snapshot());
    expect(s.snapshot()).not.toEqual(empty);
  });

  it('keeps the newest frame per unit: an older one does not lower it', () => {
    const a = new FrameLogService();
    a.execute(100, sampleOp(0, 5, 0, 0));
    a.execute(100, sampleOp(0, 3, 0, 0));
    const b = new FrameLogService();
    b.execute(100, sampleOp(0, 5, 0, 0));
    expect(a.snapshot()).toEqual(b.snapshot());
  });

  it('snapshots are canonical (independent of execution order across units) and restore exactly', () => {
    const a = new FrameLogService();
    a.execute(100, sampleOp(0, 5, 0, 0));
    a.execute(102, sampleOp(2, 4, 0, 0));
    const b = new FrameLogService();
    b.execute(102, sampleOp(2, 4, 0, 0));
    b.execute(100, sampleOp(0, 5, 0, 0));
    expect(a.snapshot()).toEqual(b.snapshot());
    const c = new FrameLogService();
    c.execute(101, sampleOp(1, 99, 0, 0));
    c.restore(a.snapshot());
    expect(c.snapshot()).toEqual(a.snapshot());
  });

  it('a corrupt snapshot is refused with an error, not half-applied', () => {
    const s = new FrameLogService();
    s.execute(100, sampleOp(0, 5, 0, 0));
    const before = s.snapshot();
    expect(() => s.restore(new Uint8Array([200]))).toThrow();
    expect(s.snapshot()).toEqual(before);
  });
});
