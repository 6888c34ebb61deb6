/**
 * Why the serial mesh wrote nothing in bench:links' virtualBus part (bench/links/virtual-can.ts, medium 'serial'):
 * at 122 Hz, 0.9 of the 50%-line-load bound of 921600 baud, every OUTPUT reached the voter after its deadline
 * while no line was half busy. A frame's path on a mesh is five hops in sequence (three REQUESTs in turn on the
 * input board's line, the PRE-PREPARE carrying them, a PREPARE, a COMMIT, an OUTPUT), each a whole message's wire
 * time: about 7.3 ms whatever the rate, so the rate is bound by the voter's deadline (0.8 of the period), not by
 * the load. The run reports that path (outputLatencyMs) and the deadline, and the rate limit follows from them.
 */
import { describe, expect, it } from 'vitest';
import { type VirtualCanOptions, virtualCanRun } from '../../bench/links/virtual-can.ts';
import { loadTopology } from '../../src/runtime/config.ts';

const shipped = loadTopology('config/serial-mesh.json');
// The measurement below is of 8-byte tags on every line (serial-mesh.json ships 4-byte ordering tags on serial
// since; the last test is of those).
const mesh = { ...shipped, crypto: { ...shipped.crypto, linkTagBytes: {} } };

// Past frame 127 (the frame number and sequence fields are two-byte varints from 128 on, as in a long flight).
const run = (rateHz: number, o: Partial<VirtualCanOptions> = {}) =>
  virtualCanRun(mesh, { rateHz, frames: 40, warmupFrames: 130, bitrate: 921_600, medium: 'serial', ...o });

describe('the loop on a virtual serial mesh: latency, not load, bounds the rate', () => {
  it('the majority of OUTPUTs reaches the voter the same time after the frame starts at any rate', async () => {
    const slow = await run(20);
    const fast = await run(122);
    const explain = JSON.stringify({
      slow: { ...slow, counters: undefined },
      fast: { ...fast, counters: undefined },
    });
    expect(slow.outputLatencyMs?.frames, explain).toBe(40);
    expect(fast.outputLatencyMs?.frames, explain).toBe(40);
    // Wire time of the path at 921600 baud (10 bits a byte): 3 x 70-byte REQUEST frames, a 259-byte PRE-PREPARE
    // frame, 73-byte PREPARE and COMMIT frames, a 33-byte OUTPUT frame (648 bytes, 7.03 ms), plus 5 x 0.05 ms.
    expect(slow.outputLatencyMs!.max, explain).toBeGreaterThan(6.8);
    expect(slow.outputLatencyMs!.max, explain).toBeLessThan(7.8);
    expect(fast.outputLatencyMs!.p50, explain).toBeCloseTo(slow.outputLatencyMs!.p50, 1);
    expect(fast.outputLatencyMs!.max, explain).toBeCloseTo(slow.outputLatencyMs!.max, 1);
    // At 122 Hz the lines are less than half busy, yet the deadline (6.56 ms) comes before the path ends.
    expect(fast.busLoadPercent, explain).toBeLessThan(50);
    expect(fast.deadlineMs, explain).toBeCloseTo(6.56, 2);
    expect(fast.outputLatencyMs!.p50, explain).toBeGreaterThan(fast.deadlineMs);
    expect(fast.decisions.write, explain).toBe(0);
  }, 30_000);

  it('every frame is written below the rate whose deadline the path meets, none a little above it', async () => {
    const path = (await run(20)).outputLatencyMs!.max;
    const fraction = mesh.timing.deadlineFraction;
    const fits = Math.floor((1000 * fraction) / (path + 0.05)); // deadline 0.05 ms or more past the path: 108 Hz
    const late = Math.ceil((1000 * fraction) / (path - 0.05)); // deadline 0.05 ms or more short of it: 111 Hz
    const ok = await run(fits);
    const miss = await run(late);
    const explain = JSON.stringify({ path, fits, late, ok: ok.decisions, miss: miss.decisions });
    expect(ok.decisions, explain).toEqual({ write: 40, hold: 0, failsafe: 0 });
    expect(ok.outputLatencyMs!.max, explain).toBeLessThan(ok.deadlineMs);
    expect(miss.decisions.write, explain).toBe(0);
    expect(miss.outputLatencyMs!.p50, explain).toBeGreaterThan(miss.deadlineMs);
  }, 30_000);

  it('with the shipped 4-byte ordering tags on serial the path is shorter and 122 Hz writes every frame', async () => {
    expect(shipped.crypto.linkTagBytes?.serial).toBe(4);
    const eight = (await run(20)).outputLatencyMs!.max;
    const four = await virtualCanRun(shipped, {
      rateHz: 122,
      frames: 40,
      warmupFrames: 130,
      bitrate: 921_600,
      medium: 'serial',
    });
    const explain = JSON.stringify({ eight, four: { ...four, counters: undefined } });
    // Every ordering message of the path is shorter by (receivers x 4) bytes: about 1.4 ms less wire time.
    expect(four.outputLatencyMs!.max, explain).toBeLessThan(eight - 1);
    expect(four.outputLatencyMs!.max, explain).toBeLessThan(four.deadlineMs);
    expect(four.decisions, explain).toEqual({ write: 40, hold: 0, failsafe: 0 });
  }, 30_000);
});
