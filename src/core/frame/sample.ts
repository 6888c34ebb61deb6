/**
 * What an input unit samples each frame, carried as the `op` of its PBFT request. Encoded with the same
 * canonical schema machinery as the wire messages, so every channel decodes identical bytes identically.
 * A dead sensor has no value (NaN has no encoding, on purpose). The encoding is the one the runtime has used
 * since the first loop (src/runtime/loop/input-sample.ts): uvar frame, uvar unit, f64 stick, bool
 * pitchValid, f64 pitch.
 *
 * @example
 * const op = encodeInputSample({ frame: 7, unit: 1, stick: 0.1, pitchValid: true, pitch: 0.02 });
 * decodeInputSample(op); // the same sample; a malformed op decodes to undefined
 */
import { DEFAULT_LIMITS } from '../codec/limits.ts';
import { bool, f64, type Infer, struct, uvar } from '../codec/schema.ts';
import { DecodeFailure, Reader, Writer } from '../codec/wire.ts';

export const inputSampleSchema = struct({
  /** The frame the unit sampled for, by its own count: a claim, voted by window.ts, never trusted alone. */
  frame: uvar,
  unit: uvar,
  /** Pilot pitch-attitude command from this unit's stick sensor, rad. */
  stick: f64,
  pitchValid: bool,
  /** This unit's pitch-angle sensor reading, rad (0 when not valid). */
  pitch: f64,
});

export type InputSample = Infer<typeof inputSampleSchema>;

/** Largest encoded sample: two 8-byte varints, two f64, one bool. */
export const INPUT_SAMPLE_MAX_BYTES = 8 + 8 + 8 + 1 + 8;

/** Encode a sample (a caller bug, such as a non-finite stick, throws RangeError). */
export function encodeInputSample(s: InputSample): Uint8Array {
  const w = new Writer(32);
  inputSampleSchema.write(w, s);
  return w.finish();
}

/** Total: a malformed op (a faulty client's) is `undefined`, never an exception. */
export function decodeInputSample(bytes: Uint8Array): InputSample | undefined {
  if (bytes.length > INPUT_SAMPLE_MAX_BYTES) return undefined;
  const r = new Reader(bytes);
  try {
    const s = inputSampleSchema.read(r, DEFAULT_LIMITS, 'sample');
    return r.remaining === 0 ? s : undefined;
  } catch (e) {
    if (e instanceof DecodeFailure) return undefined;
    throw e;
  }
}
