/**
 * The ordering group's replicated service: newest frame per unit, the reference channel's abstract state in
 * every snapshot, canonical snapshots, exact restore that hands the certified state to the co-located channel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../../src/core/codec/wire.ts';
import { createPitchLaw } from '../../../src/core/control/index.ts';
import { FrameInputsMachine } from '../../../src/core/frame/inputs.ts';
import { encodeInputSample } from '../../../src/core/frame/sample.ts';
import type { ChannelState } from '../../../src/runtime/loop/channel-state.ts';
import { FrameLogService, loopChannelConfig, maxSnapshotBytes } from '../../../src/runtime/loop/service.ts';
import { wireInput } from '../../../src/runtime/wire-input.ts';
import { executed, sampleOp, topology } from './fixtures.ts';

const ack = (bytes: Uint8Array): number => new Reader(bytes).uvar('ack');
const config = loopChannelConfig(topology);
const units = topology.inputUnits;

/** Frames 0..frames-1: every unit sends a sample; batch seq = frame + 1. Returns the requests per batch. */
function flight(frames: number, pitchOf = (frame: number) => 0.01 * Math.sin(frame / 7)) {
  const batches: { seq: number; requests: ReturnType<typeof executed>[] }[] = [];
  for (let frame = 0; frame < frames; frame++) {
    const requests = [];
    for (let u = 0; u < units; u++) requests.push(executed(u, sampleOp(u, frame, 0.1, pitchOf(frame))));
    batches.push({ seq: frame + 1, requests });
  }
  return batches;
}

function run(service: FrameLogService, batches: ReturnType<typeof flight>): void {
  for (const b of batches) for (const r of b.requests) service.execute(r.client, r.op, b.seq);
}

describe('FrameLogService', () => {
  it('acknowledges each request with the frame of its sample', () => {
    const s = new FrameLogService(config);
    expect(ack(s.execute(100, sampleOp(0, 12, 0, 0), 1))).toBe(12);
    expect(ack(s.execute(101, sampleOp(1, 13, 0, 0), 1))).toBe(13);
  });

  it('snapshots are canonical (units in any order within a batch) and restore exactly', () => {
    const batches = flight(30);
    const a = new FrameLogService(config);
    run(a, batches);
    const b = new FrameLogService(config);
    for (const batch of batches)
      for (const r of [...batch.requests].reverse()) b.execute(r.client, r.op, batch.seq);
    expect(b.snapshot(30)).toEqual(a.snapshot(30));
    const c = new FrameLogService(config);
    run(c, flight(5));
    c.restore(a.snapshot(30));
    expect(c.snapshot(30)).toEqual(a.snapshot(30));
  });

  it('the snapshot carries the abstract state a channel reaches on the same batches', () => {
    const batches = flight(40);
    const service = new FrameLogService(config);
    run(service, batches);
    const machine = new FrameInputsMachine(config.inputs);
    const law = createPitchLaw('float64', config.spec);
    for (const b of batches) {
      const out = machine.step(b.requests);
      if (out.kind === 'frame') law.step(out.inputs);
    }
    const got: { seq: number; state: ChannelState }[] = [];
    const restored = new FrameLogService({
      ...config,
      certified: { certified: (seq, state) => got.push({ seq, state }) },
    });
    restored.restore(service.snapshot(40));
    expect(got).toHaveLength(1);
    expect(got[0]!.seq).toBe(40);
    expect(got[0]!.state.inputs).toEqual(machine.exportState());
    expect(got[0]!.state.state).toEqual(law.exportState());
    expect(got[0]!.state.state.primed).toBe(true);
    expect(got[0]!.state.frame).toBe(39);
  });

  it('the state differs when the batches differ (the checkpoint digest covers the law, not only the frames)', () => {
    const a = new FrameLogService(config);
    run(a, flight(20));
    const b = new FrameLogService(config);
    run(
      b,
      flight(20, () => 0.05),
    );
    expect(b.snapshot(20)).not.toEqual(a.snapshot(20));
  });

  it('the seq of the snapshot is the checkpoint the state is after, even when the last batches executed nothing', () => {
    const s = new FrameLogService(config);
    run(s, flight(8));
    const got: number[] = [];
    const t = new FrameLogService({ ...config, certified: { certified: (seq) => got.push(seq) } });
    t.restore(s.snapshot(16)); // batches 9..16 were empty (no requests reached the service)
    expect(got).toEqual([16]);
  });

  it('a corrupt snapshot is refused with an error, not half-applied, and no state reaches the channel', () => {
    const got: number[] = [];
    const s = new FrameLogService({ ...config, certified: { certified: (seq) => got.push(seq) } });
    run(s, flight(3));
    const before = s.snapshot(3);
    expect(() => s.restore(new Uint8Array([200]))).toThrow(RangeError);
    expect(() => s.restore(before.subarray(0, before.length - 1))).toThrow(RangeError);
    expect(s.snapshot(3)).toEqual(before);
    expect(got).toEqual([]);
  });

  it('the budget bound covers every snapshot up to its counter', () => {
    const s = new FrameLogService(config);
    run(s, flight(200));
    const bound = maxSnapshotBytes(units, config.inputs.voter.fields.length, 2 ** 32);
    expect(s.snapshot(200).length).toBeLessThanOrEqual(bound);
    expect(wireInput(topology).appSnapshotBytes).toBeGreaterThanOrEqual(s.snapshot(200).length);
  });
  it('whatever finite samples the units send, every checkpoint snapshot encodes (a replica never throws on them)', () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, 1, -1, 0.3),
    );
    // Frames near the batch's own, so that units agree on one often and the law steps on the values.
    const sample = fc.record({
      lag: fc.integer({ min: -1, max: 1 }),
      stick: value,
      pitchValid: fc.boolean(),
      pitch: value,
    });
    fc.assert(
      fc.property(
        fc.array(fc.array(sample, { minLength: 0, maxLength: 6 }), { maxLength: 40 }),
        (batches) => {
          const s = new FrameLogService(config);
          batches.forEach((batch, k) => {
            batch.forEach((x, i) => {
              const unit = i % units;
              const { lag, ...rest } = x;
              s.execute(100 + unit, encodeInputSample({ ...rest, frame: Math.max(0, k + lag), unit }), k + 1);
            });
            const got: number[] = [];
            const t = new FrameLogService({ ...config, certified: { certified: (seq) => got.push(seq) } });
            t.restore(s.snapshot(k + 1));
            expect(got).toEqual([k + 1]);
          });
        },
      ),
      { seed: 10, numRuns: 200 },
    );
  });
});
