/**
 * The pilot profile: what the stick commands over time. Steps set a level (the last step at or before t wins);
 * doublets and sine sweeps add to it; a recorded CSV replaces the steps' level with the recording (linearly
 * interpolated, held before its first and after its last sample).
 *
 * @example
 * const p = PilotProfile.from([{ step: { at: 1, to: 0.2 } }, { doublet: { at: 5, amplitude: 0.05, width: 1 } }]);
 * p.at(5.2); // 0.25
 */
import { readFileSync } from 'node:fs';
import type { PilotSegment } from './schema.ts';

/** A recorded profile: sorted times and the values at them. */
export interface Recording {
  readonly t: readonly number[];
  readonly v: readonly number[];
}

/** Most rows a recorded profile may have (a day at 1 kHz would not fit in a scenario anyway). */
const MAX_CSV_ROWS = 1_000_000;

export class CsvError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }
}

/** Reads a recorded pilot profile: a header row naming the columns, then numbers; times strictly increasing. */
export function readRecording(file: string, timeColumn: string, valueColumn: string): Recording {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CsvError(file, 0, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((s) => s.trim());
  const ti = header.indexOf(timeColumn);
  const vi = header.indexOf(valueColumn);
  if (ti < 0 || vi < 0) {
    const missing = ti < 0 ? timeColumn : valueColumn;
    throw new CsvError(file, 1, `no column '${missing}' in the header (${header.join(', ')})`);
  }
  const t: number[] = [];
  const v: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (t.length >= MAX_CSV_ROWS) throw new CsvError(file, i + 1, `more than ${MAX_CSV_ROWS} rows`);
    const cells = line.split(',');
    const time = Number(cells[ti]);
    const value = Number(cells[vi]);
    if (!Number.isFinite(time) || !Number.isFinite(value)) {
      throw new CsvError(file, i + 1, `'${timeColumn}' and '${valueColumn}' must be numbers`);
    }
    if (t.length > 0 && time <= t.at(-1)!) throw new CsvError(file, i + 1, 'times must increase');
    if (Math.abs(value) > Math.PI) throw new CsvError(file, i + 1, `pitch ${value} rad is beyond +-pi`);
    t.push(time);
    v.push(value);
  }
  if (t.length === 0) throw new CsvError(file, 2, 'no samples');
  return { t, v };
}

function interpolate(r: Recording, time: number): number {
  if (time <= r.t[0]!) return r.v[0]!;
  if (time >= r.t.at(-1)!) return r.v.at(-1)!;
  let lo = 0;
  let hi = r.t.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (r.t[mid]! <= time) lo = mid;
    else hi = mid;
  }
  const f = (time - r.t[lo]!) / (r.t[hi]! - r.t[lo]!);
  return r.v[lo]! + f * (r.v[hi]! - r.v[lo]!);
}

export class PilotProfile {
  private constructor(
    private readonly steps: readonly { readonly at: number; readonly to: number }[],
    private readonly segments: readonly PilotSegment[],
    private readonly recording: Recording | undefined,
  ) {}

  /** `resolveFile` maps a CSV file name to a path (scenario files name it relative to themselves). */
  static from(
    segments: readonly PilotSegment[],
    resolveFile: (f: string) => string = (f) => f,
  ): PilotProfile {
    const steps = segments.flatMap((s) => ('step' in s ? [s.step] : [])).sort((a, b) => a.at - b.at);
    const csv = segments.find((s): s is Extract<PilotSegment, { csv: unknown }> => 'csv' in s);
    const recording = csv
      ? readRecording(resolveFile(csv.csv.file), csv.csv.time, csv.csv.column)
      : undefined;
    return new PilotProfile(steps, segments, recording);
  }

  /** Commanded pitch angle at time t (s), rad. */
  at(t: number): number {
    let level = 0;
    if (this.recording !== undefined) level = interpolate(this.recording, t);
    else for (const s of this.steps) if (t >= s.at) level = s.to;
    for (const s of this.segments) {
      if ('doublet' in s) {
        const d = s.doublet;
        if (t >= d.at && t < d.at + d.width / 2) level += d.amplitude;
        else if (t >= d.at + d.width / 2 && t < d.at + d.width) level -= d.amplitude;
      } else if ('sweep' in s) {
        const w = s.sweep;
        const tau = t - w.at;
        if (tau >= 0 && tau < w.duration) {
          const phase = 2 * Math.PI * (w.from * tau + ((w.to - w.from) * tau * tau) / (2 * w.duration));
          level += w.amplitude * Math.sin(phase);
        }
      }
    }
    return level;
  }

  /** Times at which the command changes shape (steps, starts and ends of doublets and sweeps), sorted. */
  changes(): number[] {
    const out: number[] = [];
    for (const s of this.segments) {
      if ('step' in s) out.push(s.step.at);
      else if ('doublet' in s) out.push(s.doublet.at, s.doublet.at + s.doublet.width);
      else if ('sweep' in s) out.push(s.sweep.at, s.sweep.at + s.sweep.duration);
    }
    return [...new Set(out)].sort((a, b) => a - b);
  }
}
