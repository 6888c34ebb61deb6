/**
 * The report folder of one scenario: the shared report (src/runtime/report: summary.json, trace.csv and the HTML
 * page with plots, assertions and events) plus what the HIL rig adds to the page: the board table (each board
 * real or emulated, and why) and the fault table (each fault applied or not, and why); and the index page across
 * scenarios with a pass/fail table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { traceCsv } from '../../src/runtime/report/csv.ts';
import { htmlReport } from '../../src/runtime/report/html.ts';
import type { Trace } from '../../src/runtime/report/trace.ts';
import type { BoardInfo } from '../bench/bench.ts';
import type { FaultOutcome } from '../fault-timeline.ts';
import type { ScenarioOutcome } from './outcome.ts';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The board table: one row per board of the config. */
export function boardTable(boards: readonly BoardInfo[]): string {
  if (boards.length === 0) return '';
  const rows = boards
    .map(
      (b) =>
        `<tr><td>${esc(b.name)}</td><td>${esc(b.roles.join(', '))}</td><td class="mode-${esc(b.mode)}">${esc(modeLabel(b.mode))}</td>` +
        `<td>${esc(b.link)}</td><td>${esc(b.why)}</td><td>${b.hello ? esc(`triplex ${b.hello.version}, wire ${b.hello.wire}, key ${b.hello.keyId}`) : ''}</td>` +
        `<td>${b.pid ?? ''}</td></tr>`,
    )
    .join('');
  return `<h2>Boards</h2><table class="boards"><tr><th>board</th><th>roles</th><th>runs as</th><th>link</th><th>why</th><th>hello</th><th>pid</th></tr>${rows}</table>`;
}

export function modeLabel(mode: BoardInfo['mode']): string {
  switch (mode) {
    case 'real':
      return 'real';
    case 'child':
      return 'emulated (board process)';
    case 'in-process':
      return 'emulated (in this process)';
    case 'rig':
      return 'rig (this process)';
  }
}

export function faultTable(faults: readonly FaultOutcome[]): string {
  if (faults.length === 0) return '';
  const rows = faults
    .map(
      (f) =>
        `<tr><td>${esc(f.fault)}</td><td>${esc(f.target)}</td><td>${f.atS}</td><td>${f.untilS ?? ''}</td>` +
        `<td class="${f.status === 'applied' ? 'ok' : 'fail'}">${esc(f.status)}</td><td>${esc(f.detail)}</td><td>${esc(f.source)}</td></tr>`,
    )
    .join('');
  return `<h2>Faults</h2><table><tr><th>fault</th><th>target</th><th>at (s)</th><th>until (s)</th><th>status</th><th>detail</th><th>written at</th></tr>${rows}</table>`;
}

export interface ScenarioReportInput {
  readonly dir: string;
  readonly title: string;
  readonly summary: Record<string, unknown>;
  readonly trace: Trace;
  readonly channelNames: readonly string[];
  readonly boards: readonly BoardInfo[];
  readonly faults: readonly FaultOutcome[];
}

export interface ScenarioReportFiles {
  readonly summary: string;
  readonly csv: string;
  readonly html: string;
}

/** Writes summary.json, trace.csv and report.html (with the board and fault tables) into `dir`. */
export function writeScenarioReport(i: ScenarioReportInput): ScenarioReportFiles {
  mkdirSync(i.dir, { recursive: true });
  const files = {
    summary: join(i.dir, 'summary.json'),
    csv: join(i.dir, 'trace.csv'),
    html: join(i.dir, 'report.html'),
  };
  writeFileSync(files.summary, `${JSON.stringify({ ...i.summary, events: i.trace.events }, null, 2)}\n`);
  writeFileSync(files.csv, traceCsv(i.trace.frames, i.channelNames.length));
  const page = htmlReport({
    title: i.title,
    summary: i.summary,
    frames: i.trace.frames,
    events: i.trace.events,
    channelNames: i.channelNames,
  });
  const extra = `${boardTable(i.boards)}${faultTable(i.faults)}`;
  // The shared page has no slot for extra sections: ours go before its summary table.
  const marker = '<h2>Summary</h2>';
  writeFileSync(files.html, page.includes(marker) ? page.replace(marker, `${extra}${marker}`) : page + extra);
  return files;
}

const VERDICT_CLASS: Record<string, string> = {
  pass: 'ok',
  'unexpected-pass': 'ok',
  fail: 'fail',
  error: 'fail',
  'known-failure': 'known',
};

/** The index page across scenarios: a pass/fail table linking each scenario's report. */
export function writeIndex(dir: string, outcomes: readonly ScenarioOutcome[], title = 'triplex hil'): string {
  mkdirSync(dir, { recursive: true });
  const counts = (v: string): number => outcomes.filter((o) => o.verdict === v).length;
  const rows = outcomes
    .map((o) => {
      const link = o.html ? `<a href="${esc(relative(dir, o.html))}">${esc(o.name)}</a>` : esc(o.name);
      const failed = o.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`);
      const unapplied = o.faults.filter((f) => f.status !== 'applied').length;
      const boards = o.boards.filter((b) => b.mode === 'real').length;
      return (
        `<tr><td class="${VERDICT_CLASS[o.verdict]}">${esc(o.verdict)}</td><td>${link}</td><td>${esc(o.description)}</td>` +
        `<td>${o.assertions.filter((a) => a.passed && !a.notApplicable).length}/${o.assertions.length}</td>` +
        `<td>${unapplied}</td><td>${boards}</td><td>${esc(o.timing)}</td><td>${o.wallSeconds.toFixed(1)}</td>` +
        `<td>${esc(o.error ?? o.knownIssue ?? failed.join('; '))}</td></tr>`
      );
    })
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.ok{color:#2a7a2a;font-weight:bold}.fail{color:#c00;font-weight:bold}.known{color:#a60;font-weight:bold}</style></head>
<body><h1>${esc(title)}</h1>
<p>${outcomes.length} scenarios: ${counts('pass')} passed, ${counts('fail')} failed, ${counts('error')} errors, ${counts('known-failure')} known failures, ${counts('unexpected-pass')} unexpected passes.</p>
<table><tr><th>verdict</th><th>scenario</th><th>what happens</th><th>assertions held</th><th>faults not applied</th><th>real boards</th><th>timing</th><th>wall (s)</th><th>why</th></tr>
${rows}
</table></body></html>
`;
  const file = join(dir, 'index.html');
  writeFileSync(file, html);
  return file;
}
