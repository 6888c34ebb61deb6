/**
 * Writes a report folder. Every file is written whole or not at all: into a temporary file next to it, flushed,
 * then renamed over the final name (a rename is atomic on POSIX file systems), so a run killed while it writes
 * never leaves half a report.html. report.html goes last: its presence means the folder is complete.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { traceCsv } from './csv.ts';
import { type HtmlReportInput, htmlReport } from './html.ts';

export interface ReportFiles {
  readonly dir: string;
  readonly summary: string;
  readonly csv: string;
  readonly html: string;
}

/** Writes `text` to `file` atomically: a temporary file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const bytes = Buffer.from(text, 'utf8');
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

/**
 * Writes summary.json (the summary and the events), trace.csv (a row per frame, with the flight's per-frame
 * samples when there are) and report.html into `dir` (created if missing).
 */
export function writeReport(dir: string, input: HtmlReportInput): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const files = {
    dir,
    summary: join(dir, 'summary.json'),
    csv: join(dir, 'trace.csv'),
    html: join(dir, 'report.html'),
  };
  writeFileAtomic(files.summary, `${JSON.stringify({ ...input.summary, events: input.events }, null, 2)}\n`);
  writeFileAtomic(files.csv, traceCsv(input.frames, input.channelNames.length, input.samples));
  writeFileAtomic(files.html, htmlReport(input));
  return files;
}
