import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeInputSample,
  encodeInputSample,
  INPUT_SAMPLE_MAX_BYTES,
} from '../../../src/core/frame/sample.ts';
import * as runtime from '../../../src/runtime/loop/input-sample.ts';

const sampleArb = fc.record({
  frame: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  unit: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  stick: fc.double({ noNaN: true, noDefaultInfinity: true }),
  pitchValid: fc.boolean(),
  pitch: fc.double({ noNaN: true, noDefaultInfinity: true }),
});

describe('input sample (core home of the runtime encoding)', () => {
  it('property: the same bytes as the runtime encoding, and a round trip', () => {
    fc.assert(
      fc.property(sampleArb, (s) => {
        const bytes = encodeInputSample(s);
        expect(bytes).toEqual(runtime.encodeInputSample(s));
        expect(bytes.length).toBeLessThanOrEqual(INPUT_SAMPLE_MAX_BYTES);
        expect(decodeInputSample(bytes)).toEqual(s);
      }),
      { seed: 0x5a3b1e, numRuns: 500 },
    );
  });

  it('property: any bytes decode to a sample or undefined, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const s = decodeInputSample(bytes);
        if (s !== undefined) expect(encodeInputSample(s)).toEqual(bytes);
      }),
      { seed: 0x5a3b1f, numRuns: 2000 },
    );
  });

  it('refuses trailing bytes, a bad bool and a non-finite float', () => {
    const ok = encodeInputSample({ frame: 1, unit: 0, stick: 0, pitchValid: true, pitch: 0 });
    expect(decodeInputSample(new Uint8Array([...ok, 0]))).toBeUndefined();
    const badBool = ok.slice();
    badBool[10] = 2;
    expect(decodeInputSample(badBool)).toBeUndefined();
    const nan = ok.slice();
    nan.set([0x7f, 0xf8, 0, 0, 0, 0, 0, 0], 2);
    expect(decodeInputSample(nan)).toBeUndefined();
  });
});
