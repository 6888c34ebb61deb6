/**
 * From one committed batch to one control frame's inputs. Every channel runs this on the same batch, so every
 * channel derives the same inputs (interactive consistency); it must therefore be a pure function of the
 * batch. A batch stands for the newest frame any of its samples carries; older samples in it (late arrivals)
 * are superseded. A sample whose unit field does not match its authenticated sender is ignored: a unit cannot
 * speak for another.
 */
import type { FrameInputs } from '../../core/control/spec.ts';
import type { ExecutedRequest } from '../../core/pbft/types.ts';
import { decodeInputSample, type InputSample } from './input-sample.ts';
import { INPUT_BASE } from './principals.ts';

export interface BatchFrame {
  readonly frame: number;
  readonly inputs: FrameInputs;
  /** Units whose sample for this frame was in the batch. */
  readonly units: readonly number[];
  /** Requests that did not carry a valid sample (counted by the caller). */
  readonly malformed: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The frame a batch stands for, or undefined when it carries no usable sample. */
export function batchFrame(requests: readonly ExecutedRequest[], unitCount: number): BatchFrame | undefined {
  let malformed = 0;
  const samples: InputSample[] = [];
  for (const r of requests) {
    const s = decodeInputSample(r.op);
    if (s === undefined || s.unit !== r.client - INPUT_BASE || s.unit >= unitCount) {
      malformed++;
      continue;
    }
    samples.push(s);
  }
  if (samples.length === 0) return undefined;
  const frame = Math.max(...samples.map((s) => s.frame));
  const current = samples.filter((s) => s.frame === frame);
  const sensors: (number | null)[] = [null, null, null];
  for (const s of current) if (s.unit < 3) sensors[s.unit] = s.pitchValid ? s.pitch : null;
  return {
    frame,
    inputs: {
      pitchCommand: median(current.map((s) => s.stick)),
      pitchSensors: [sensors[0]!, sensors[1]!, sensors[2]!] as FrameInputs['pitchSensors'],
    },
    units: current.map((s) => s.unit).sort((a, b) => a - b),
    malformed,
  };
}
