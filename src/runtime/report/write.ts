import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { traceCsv } from './csv.ts';
import { htmlReport } from './html.ts';
import type { Trace } from './trace.ts';

export interface ReportFiles {
  readonly dir: string;
  readonly summary: string;
  readonly csv: string;
  readonly html: string;
}

/** Writes summary.json, trace.csv and report.html into `dir` (created if missing). */
export function writeReport(
  dir: string,
  title: string,
  summary: Record<string, unknown>,
  trace: Trace,
  channelNames: readonly string[],
): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const files = {
    dir,
    summary: join(dir, 'summary.json'),
    csv: join(dir, 'trace.csv'),
    html: join(dir, 'report.html'),
  };
  writeFileSync(files.summary, `${JSON.stringify({ ...summary, events: trace.events }, null, 2)}\n`);
  writeFileSync(files.csv, traceCsv(trace.frames, channelNames.length));
  writeFileSync(
    files.html,
    htmlReport({ title, summary, frames: trace.frames, events: trace.events, channelNames }),
  );
  return files;
}
