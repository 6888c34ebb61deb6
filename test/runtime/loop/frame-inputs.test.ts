/** From a committed batch to one frame's control-law inputs: the same batch gives every channel the same inputs. */
import { describe, expect, it } from 'vitest';
import { batchFrame } from '../../../src/runtime/loop/frame-inputs.ts';
import { executed, sampleOp } from './fixtures.ts';

describe('batchFrame', () => {
  it('takes the median stick and each unit sensor of the frame', () => {
    const bf = batchFrame(
      [
        executed(0, sampleOp(0, 7, 0.1, 0.01)),
        executed(1, sampleOp(1, 7, 0.3, 0.02)),
        executed(2, sampleOp(2, 7, 0.2, null)),
      ],
      3,
    );
    expect(bf).toEqual({
      frame: 7,
      inputs: { pitchCommand: 0.2, pitchSensors: [0.01, 0.02, null] },
      units: [0, 1, 2],
      malformed: 0,
    });
  });

  it('stands for the newest frame in the batch; older (late) samples are superseded', () => {
    const bf = batchFrame([executed(0, sampleOp(0, 6, 0.9, 0.5)), executed(1, sampleOp(1, 7, 0.1, 0.02))], 3);
    expect(bf?.frame).toBe(7);
    expect(bf?.units).toEqual([1]);
    expect(bf?.inputs).toEqual({ pitchCommand: 0.1, pitchSensors: [null, 0.02, null] });
  });

  it('averages the middle two sticks of an even count', () => {
    const bf = batchFrame([executed(0, sampleOp(0, 1, 0.1, 0)), executed(1, sampleOp(1, 1, 0.2, 0))], 3);
    expect(bf?.inputs.pitchCommand).toBeCloseTo(0.15, 12);
  });

  it('ignores a sample whose unit is not its authenticated sender, or beyond the unit count', () => {
    const bf = batchFrame(
      [
        executed(0, sampleOp(0, 3, 0.1, 0.01)),
        executed(1, sampleOp(1, 3, 0.9, 0.9, 2)), // unit 1 speaking for unit 2
        executed(5, sampleOp(5, 3, 0.9, 0.9)), // no unit 5 in a topology of 3
        executed(2, new Uint8Array([1, 2, 3])), // not a sample at all
      ],
      3,
    );
    expect(bf?.units).toEqual([0]);
    expect(bf?.malformed).toBe(3);
    expect(bf?.inputs.pitchCommand).toBe(0.1);
  });

  it('a batch with no usable sample stands for no frame', () => {
    expect(batchFrame([], 3)).toBeUndefined();
    expect(batchFrame([executed(0, new Uint8Array(0))], 3)).toBeUndefined();
  });
});
