/**
 * The self-contained HTML report: inline SVG plots and tables, no scripts and no network, so it opens from a
 * report folder on any machine.
 */
import { lineChart, type Marker } from './svg.ts';
import type { EventRecord, FrameRecord } from './trace.ts';

const CHANNEL_COLORS = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function eventMarkers(events: readonly EventRecord[]): Marker[] {
  const color = (kind: string): string =>
    kind.includes('view') ? '#d62728' : kind.includes('latch') ? '#ff7f0e' : '#7f7f7f';
  return events.map((e) => ({ x: e.t, label: `${e.kind}: ${e.detail}`, color: color(e.kind) }));
}

export interface HtmlReportInput {
  readonly title: string;
  readonly summary: Record<string, unknown>;
  readonly frames: readonly FrameRecord[];
  readonly events: readonly EventRecord[];
  readonly channelNames: readonly string[];
}

export function htmlReport(input: HtmlReportInput): string {
  const { frames, events } = input;
  const xs = frames.map((f) => f.t);
  const markers = eventMarkers(events);
  const outcomeLevel = { write: 0, hold: 1, failsafe: 2 } as const;
  const charts = [
    lineChart({
      title: 'Pitch angle and command',
      xs,
      yLabel: 'rad',
      markers,
      series: [
        { label: 'pilot command', color: '#7f7f7f', ys: frames.map((f) => f.reference), dashed: true },
        { label: 'pitch angle θ', color: '#1f77b4', ys: frames.map((f) => f.theta) },
      ],
    }),
    lineChart({
      title: 'Elevator: voted command and actuator position',
      xs,
      yLabel: 'rad',
      markers,
      series: [
        { label: 'voted', color: '#d62728', ys: frames.map((f) => f.voted) },
        { label: 'actuator', color: '#000000', ys: frames.map((f) => f.elevator), dashed: true },
      ],
    }),
    lineChart({
      title: "Each channel's elevator command",
      xs,
      yLabel: 'rad',
      markers,
      series: input.channelNames.map((name, i) => ({
        label: name,
        color: CHANNEL_COLORS[i % CHANNEL_COLORS.length]!,
        ys: frames.map((f) => f.channels[i] ?? null),
      })),
    }),
    lineChart({
      title: 'Voter decisions (0 write, 1 hold, 2 failsafe)',
      xs,
      yLabel: 'outcome',
      markers,
      height: 160,
      series: [{ label: 'outcome', color: '#ff7f0e', ys: frames.map((f) => outcomeLevel[f.outcome]) }],
    }),
    lineChart({
      title: 'PBFT view and primary',
      xs,
      yLabel: 'number',
      markers,
      height: 160,
      series: [
        { label: 'view', color: '#d62728', ys: frames.map((f) => f.view) },
        { label: 'primary', color: '#2ca02c', ys: frames.map((f) => f.primary), dashed: true },
      ],
    }),
  ];
  const assertions = Array.isArray(input.summary.assertions)
    ? (input.summary.assertions as { name: string; passed: boolean; detail: string }[])
    : [];
  const assertionRows = assertions
    .map(
      (a) =>
        `<tr><td class="${a.passed ? 'ok' : 'fail'}">${a.passed ? 'ok' : 'FAIL'}</td><td>${esc(a.name)}</td><td>${esc(a.detail)}</td></tr>`,
    )
    .join('');
  const summaryRows = Object.entries(input.summary)
    .filter(([k]) => k !== 'assertions')
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`,
    )
    .join('');
  const eventRows = events
    .map(
      (e) =>
        `<tr><td>${e.t.toFixed(2)}</td><td>${e.frame}</td><td>${esc(e.kind)}</td><td>${esc(e.detail)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}
th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;vertical-align:top}th{background:#f4f4f4}
svg{display:block;margin:12px 0}.ok{color:#2a7a2a;font-weight:bold}.fail{color:#c00;font-weight:bold}</style></head>
<body><h1>${esc(input.title)}</h1>
<h2>Assertions</h2><table><tr><th></th><th>assertion</th><th>measured</th></tr>${assertionRows}</table>
<h2>Summary</h2><table>${summaryRows}</table>
<h2>Plots</h2>${charts.join('\n')}
<h2>Events</h2><table><tr><th>t (s)</th><th>frame</th><th>kind</th><th>detail</th></tr>${eventRows}</table>
</body></html>
`;
}
