/**
 * The self-contained HTML report: inline SVG plots and tables, no scripts and no network, so it opens from a
 * report folder on any machine. It reads top down as the story of the run: the verdict and the first failed
 * assertion; why frames were not written (hold and failsafe episodes with their causes); the assertions; the
 * numbered events that every plot marks; the plots; the run's figures as tables. It fits the page's width.
 */
import { type ChartsInput, eventColor, reportCharts } from './charts.ts';
import { attribute, type Episode, MAX_EPISODES } from './episodes.ts';
import { recoveryHtml } from './recovery.ts';
import { esc } from './svg.ts';
import { countersHtml, valueHtml } from './tables.ts';
import type { EventRecord, FrameRecord, FrameSample } from './trace.ts';
import { type Verdict, verdictOf } from './verdict.ts';

export interface HtmlReportInput {
  readonly title: string;
  readonly summary: Record<string, unknown>;
  readonly frames: readonly FrameRecord[];
  readonly events: readonly EventRecord[];
  readonly channelNames: readonly string[];
  /** Absent: judged from `summary.assertions` (and `summary.stoppedEarly`). */
  readonly verdict?: Verdict;
  /** Absent: found in `frames`, attributed from the events alone (no host samples). */
  readonly episodes?: readonly Episode[];
  readonly samples?: readonly FrameSample[];
  /** The voter's deadline after each frame's start, ms. */
  readonly deadlineMs?: number;
}

interface AssertionRow {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
  readonly notApplicable?: boolean;
}

/** Summary keys shown in their own sections, not again in the tables at the end. */
const OWN_SECTIONS = new Set(['assertions', 'episodes', 'verdict', 'counters', 'passed', 'recovery']);
/** Episodes listed in the page (all are in summary.json up to MAX_EPISODES). */
const EPISODE_ROWS = 200;

const STYLE = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#222;line-height:1.35;max-width:1600px}
h1{font-size:20px;margin:0 0 10px}h2{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #ddd;padding-bottom:3px}
h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:6px 0;max-width:100%}
th,td{border:1px solid #d0d0d0;padding:3px 7px;font-size:13px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4;font-weight:600;white-space:nowrap}
table.kv th{width:1%;white-space:nowrap}
td.n{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
.verdict{padding:12px 16px;border-radius:6px;font-size:17px;font-weight:700;margin:8px 0 4px;overflow-wrap:anywhere}
.verdict.passed{background:#e3f4e1;border:2px solid #2a7a2a;color:#1d5c1d}
.verdict.failed{background:#fde4e1;border:2px solid #c0392b;color:#8e1c12}
.verdict.interrupted{background:#fff3d6;border:2px solid #c98a00;color:#6b4a00}
.facts{font-size:13px;color:#444;margin:4px 0 0}
.ok{color:#2a7a2a;font-weight:bold}.fail{color:#c0392b;font-weight:bold}.muted{color:#888}
.cause{display:inline-block;white-space:nowrap;border-radius:3px;padding:0 5px;margin:1px 3px 1px 0;font-size:12px;font-weight:600;color:#fff}
.cause.host{background:#8c564b}.cause.link{background:#1f77b4}.cause.protocol{background:#9467bd}.cause.unexplained{background:#7f7f7f}
figure{margin:14px 0 6px;max-width:1150px}figcaption{font-weight:600;font-size:14px}
svg{display:block;max-width:100%;height:auto}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;margin:3px 0}
.legend span{display:inline-flex;align-items:center;gap:4px}
.legend svg{display:inline-block}
.swatch{display:inline-block;width:14px;height:10px;border:1px solid #999}
.num{display:inline-block;min-width:18px;height:18px;border-radius:9px;color:#fff;font-size:11px;font-weight:bold;text-align:center;line-height:18px}
.tables{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}
.tables>div{min-width:0;max-width:100%}
.counters{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:0 16px;font-size:13px}
.counters div{display:flex;justify-content:space-between;border-bottom:1px solid #eee;padding:1px 0;gap:8px}
.counters span{overflow-wrap:anywhere}
code{white-space:pre-wrap;word-break:break-all;font-size:12px}
`;

function verdictHtml(v: Verdict, s: Record<string, unknown>, episodes: readonly Episode[]): string {
  const voter = s['voter'] as { write?: number; hold?: number; failsafe?: number } | undefined;
  const facts = [
    `${s['framesFlown'] ?? '?'} of ${s['framesPlanned'] ?? '?'} frames at ${s['frameRateHz'] ?? '?'} Hz`,
    `seed ${s['seed'] ?? '?'}`,
    voter
      ? `voter: ${voter.write ?? 0} written, ${voter.hold ?? 0} held, ${voter.failsafe ?? 0} failsafe`
      : '',
    episodes.length === 0
      ? 'every frame written'
      : `${episodes.length} episode${episodes.length === 1 ? '' : 's'} without a write (below, with causes)`,
  ].filter((x) => x !== '');
  return `<div class="verdict ${v.state}">${esc(v.headline)}</div><p class="facts">${esc(facts.join(' · '))}</p>`;
}

function episodesHtml(episodes: readonly Episode[], cut: number): string {
  if (episodes.length === 0) return '<p>Every frame was written: no hold or failsafe episode.</p>';
  const rows = episodes
    .slice(0, EPISODE_ROWS)
    .map((e, i) => {
      const causes = e.causes.map((c) => `<span class="cause ${c.kind}">${esc(c.kind)}</span>`).join('');
      const detail = e.causes.map((c) => esc(c.detail)).join('<br>');
      const frames = e.first === e.last ? `${e.first}` : `${e.first}–${e.last}`;
      const kind = e.kind === 'failsafe' ? '<span class="fail">failsafe</span>' : 'hold';
      return `<tr><td class="n">${i + 1}</td><td class="n">${kind}</td><td class="n">${frames}</td><td class="n">${e.startS.toFixed(2)}</td><td class="n">${e.length}</td><td>${causes}</td><td>${detail}</td></tr>`;
    })
    .join('');
  const more = episodes.length - EPISODE_ROWS + cut;
  const tail =
    more > 0 ? `<tr><td colspan="7" class="muted">${more} more episodes in summary.json</td></tr>` : '';
  return `<div class="scroll"><table><tr><th>#</th><th>kind</th><th>frames</th><th>t (s)</th><th>length (frames)</th><th>cause</th><th>what was measured</th></tr>${rows}${tail}</table></div>`;
}

function assertionsHtml(assertions: readonly AssertionRow[]): string {
  const rows = assertions
    .map(
      (a) =>
        `<tr><td class="${a.notApplicable ? 'muted' : a.passed ? 'ok' : 'fail'}">${a.notApplicable ? 'n/a' : a.passed ? 'ok' : 'FAIL'}</td><td>${esc(a.name)}</td><td>${esc(a.detail)}</td></tr>`,
    )
    .join('');
  return `<div class="scroll"><table><tr><th></th><th>assertion</th><th>measured</th></tr>${rows}</table></div>`;
}

/** The events, numbered as the plots' markers are: this table is their legend. */
function eventsHtml(events: readonly EventRecord[]): string {
  if (events.length === 0) return '<p>No scenario events.</p>';
  const rows = events
    .map(
      (e, i) =>
        `<tr><td><span class="num" style="background:${eventColor(e.kind)}">${i + 1}</span></td><td>${e.t.toFixed(2)}</td><td>${e.frame}</td><td>${esc(e.kind)}</td><td>${esc(e.detail)}</td></tr>`,
    )
    .join('');
  return `<div class="scroll"><table><tr><th>marker</th><th>t (s)</th><th>frame</th><th>event</th><th>detail</th></tr>${rows}</table></div>`;
}

function summaryHtml(s: Record<string, unknown>): string {
  const groups: string[] = [];
  const run: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (OWN_SECTIONS.has(k)) continue;
    if (v !== null && typeof v === 'object') groups.push(`<div><h3>${esc(k)}</h3>${valueHtml(v)}</div>`);
    else run[k] = v;
  }
  const counters = s['counters'];
  const countersPart =
    counters !== null && typeof counters === 'object'
      ? `<h3>counters</h3>${countersHtml(counters as Record<string, unknown>)}`
      : '';
  return `<div class="tables"><div><h3>run</h3>${valueHtml(run)}</div>${groups.join('')}</div>${countersPart}`;
}

/** The verdict a caller did not give: from the summary's assertions and whether the run stopped early. */
function verdictFrom(summary: Record<string, unknown>, assertions: readonly AssertionRow[]): Verdict {
  const flown = typeof summary['framesFlown'] === 'number' ? summary['framesFlown'] : 0;
  const planned = typeof summary['framesPlanned'] === 'number' ? summary['framesPlanned'] : flown;
  return verdictOf({
    assertions,
    interrupted: summary['stoppedEarly'] === true,
    framesFlown: flown,
    framesPlanned: planned,
  });
}

/** Episodes a caller did not give, attributed at the config defaults (deadline at 0.8 of the period). */
function episodesFrom(input: HtmlReportInput): Episode[] {
  const rate = typeof input.summary['frameRateHz'] === 'number' ? input.summary['frameRateHz'] : 50;
  const periodMs = 1000 / rate;
  const deadlineMs = input.deadlineMs ?? periodMs * 0.8;
  return attribute({
    frames: input.frames,
    events: input.events,
    ...(input.samples ? { samples: input.samples } : {}),
    timing: { periodMs, deadlineMs, viewChangeTimeoutFrames: 25 },
  });
}

function durationOf(frames: readonly FrameRecord[]): number {
  return frames.at(-1)?.t ?? 0;
}

export function htmlReport(given: HtmlReportInput): string {
  const assertions = Array.isArray(given.summary['assertions'])
    ? (given.summary['assertions'] as AssertionRow[])
    : [];
  const input = {
    ...given,
    verdict: given.verdict ?? verdictFrom(given.summary, assertions),
    episodes: given.episodes ?? episodesFrom(given),
  };
  const total = typeof input.summary['episodesTotal'] === 'number' ? input.summary['episodesTotal'] : 0;
  const cut = Math.max(0, total - Math.min(total, MAX_EPISODES));
  const charts: ChartsInput = {
    frames: input.frames,
    events: input.events,
    channelNames: input.channelNames,
    ...(input.samples ? { samples: input.samples } : {}),
    ...(input.deadlineMs !== undefined ? { deadlineMs: input.deadlineMs } : {}),
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(input.title)}</title><style>${STYLE}</style></head>
<body><h1>${esc(input.title)}</h1>
${verdictHtml(input.verdict, input.summary, input.episodes)}
<h2>Why frames were not written</h2>${episodesHtml(input.episodes, cut)}
<h2>Assertions</h2>${assertionsHtml(assertions)}
<h2>Events (the numbered markers on every plot)</h2>${eventsHtml(input.events)}
<h2>Plots</h2>${reportCharts(charts).join('\n')}
${input.summary['recovery'] !== undefined ? `<h2>Proactive recovery</h2>${recoveryHtml(input.summary['recovery'], durationOf(input.frames))}` : ''}
<h2>Summary</h2>${summaryHtml(input.summary)}
</body></html>
`;
}
