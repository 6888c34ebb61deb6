/**
 * What an input unit samples each frame, carried as the `op` of its PBFT request. Encoded with the same
 * canonical schema machinery as the wire messages, so every channel decodes identical bytes identically.
 * A dead sensor has no value (NaN has no encoding, on purpose).
 */
import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import { bool, f64, type Infer, struct, uvar } from '../../core/codec/schema.ts';
import { DecodeFailure, Reader, Writer } from '../../core/codec/wire.ts';

export const inputSampleSchema = struct({
  frame: uvar,
  unit: uvar,
  /** Pilot pitch-attitude command from this unit's stick sensor, rad. */
  stick: f64,
  pitchValid: bool,
  /** This unit's pitch-angle sensor reading, rad (0 when not valid). */
  pitch: f64,
});

export type InputSample = Infer<typeof inputSampleSchema>;

export function encodeInputSample(s: InputSample): Uint8Array {
  const w = new Writer(32);
  inputSampleSchema.write(w, s);
  return w.finish();
}

/** Total: a malformed op (a faulty client's) is `undefined`, never an exception. */
export function decodeInputSample(bytes: Uint8Array): InputSample | undefined {
  const r = new Reader(bytes);
  try {
    const s = inputSampleSchema.read(r, DEFAULT_LIMITS, 'sample');
    return r.remaining === 0 ? s : undefined;
  } catch (e) {
    if (e instanceof DecodeFailure) return undefined;
    throw e;
  }
}
