/**
 * Charts for the self-contained HTML report: inline SVG, no scripts, no network. Each chart is a <figure> with
 * a caption, an HTML legend (it wraps on a narrow page) and an SVG that scales to the page's width (viewBox).
 * Axes tick on round numbers; integer series are step plots with integer ticks; event markers carry a number
 * that the report's event legend explains. Long series are decimated so that a path stays bounded: min and max
 * per bucket for lines (spikes stay visible), the change points for steps.
 */
import { niceTicks, tickLabel } from './ticks.ts';

/** Drawing width in SVG units; the page scales it (viewBox), so it is not a pixel width. */
export const CHART_WIDTH = 1000;

export interface Series {
  readonly label: string;
  readonly color: string;
  /** y per x; null leaves a gap. */
  readonly ys: readonly (number | null)[];
  /** SVG dash pattern ("6 3"); absent: solid. */
  readonly dash?: string;
  readonly width?: number;
  readonly opacity?: number;
  /** Hold each value until the next (integer series: outcome, view, strikes). */
  readonly step?: boolean;
}

/** A numbered vertical marker (a scenario event); the number is explained in the report's event legend. */
export interface Marker {
  readonly x: number;
  readonly n: number;
  readonly color: string;
  readonly label: string;
}

/** A horizontal reference line (a deadline). */
export interface RefLine {
  readonly y: number;
  readonly label: string;
  readonly color: string;
}

export interface ChartSpec {
  readonly title: string;
  readonly xs: readonly number[];
  readonly series: readonly Series[];
  readonly yLabel: string;
  readonly markers?: readonly Marker[];
  readonly refLines?: readonly RefLine[];
  readonly height?: number;
  /** Integer ticks (and step plots are expected). */
  readonly integer?: boolean;
  /** Names for the integer values 0..n-1 (voter outcome); implies integer ticks. */
  readonly categories?: readonly string[];
  /** Include this value in the y range (0 for latencies). */
  readonly yInclude?: number;
  readonly maxPoints?: number;
}

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Frame {
  readonly left: number;
  readonly top: number;
  readonly w: number;
  readonly h: number;
  readonly height: number;
  sx(x: number): number;
  sy(y: number): number;
}

function range(values: Iterable<number>): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

/** Indices to draw for a line: the first, min and max of each bucket, and the last. */
export function decimate(ys: readonly (number | null)[], maxPoints: number): number[] {
  if (ys.length <= maxPoints) return ys.map((_, i) => i);
  const bucket = Math.ceil(ys.length / (maxPoints / 2));
  const keep: number[] = [];
  for (let start = 0; start < ys.length; start += bucket) {
    let lo = -1;
    let hi = -1;
    let gap = -1;
    for (let i = start; i < Math.min(ys.length, start + bucket); i++) {
      const y = ys[i];
      if (y === null || y === undefined || !Number.isFinite(y)) {
        if (gap < 0) gap = i;
        continue;
      }
      if (lo < 0 || y < ys[lo]!) lo = i;
      if (hi < 0 || y > ys[hi]!) hi = i;
    }
    for (const i of [lo, hi, gap].filter((i) => i >= 0).sort((a, b) => a - b)) keep.push(i);
  }
  return [...new Set(keep)];
}

/** Indices where a step series changes (plus the ends); falls back to `decimate` when it changes too often. */
function changePoints(ys: readonly (number | null)[], maxPoints: number): number[] {
  const keep: number[] = [];
  for (let i = 0; i < ys.length; i++) {
    if (i === 0 || i === ys.length - 1 || ys[i] !== ys[i - 1]) keep.push(i);
    if (keep.length > maxPoints) return decimate(ys, maxPoints);
  }
  return keep;
}

function pathOf(s: Series, xs: readonly number[], f: Frame, maxPoints: number): string {
  const idx = s.step ? changePoints(s.ys, maxPoints) : decimate(s.ys, maxPoints);
  let d = '';
  let pen = false;
  for (const i of idx) {
    const y = s.ys[i];
    const x = xs[i];
    if (y === null || y === undefined || !Number.isFinite(y) || x === undefined) {
      pen = false;
      continue;
    }
    const px = f.sx(x).toFixed(1);
    const py = f.sy(y).toFixed(1);
    if (!pen) d += `M${px},${py}`;
    else if (s.step) d += `H${px}V${py}`;
    else d += `L${px},${py}`;
    pen = true;
  }
  if (s.step && pen && xs.length > 0) d += `H${f.sx(xs.at(-1)!).toFixed(1)}`;
  return d;
}

/** Rows for marker numbers so that close markers do not print over each other (at most 3 rows). */
function markerRows(markers: readonly Marker[], sx: (x: number) => number): number[] {
  const lastX: number[] = [];
  return markers.map((mk) => {
    const x = sx(mk.x);
    let row = lastX.findIndex((lx) => x - lx >= 18);
    if (row < 0) row = lastX.length < 3 ? lastX.length : 0;
    lastX[row] = x;
    return row;
  });
}

/** Rows the marker numbers need (at least one, so every chart has the same top margin without markers too). */
function markerRowCount(markers: readonly Marker[], xs: readonly number[]): number {
  if (markers.length === 0) return 1;
  const { sx } = frameOf(xs, 0, 1, 100, 0); // x scaling does not depend on the height
  return Math.max(...markerRows(markers, sx)) + 1;
}

function markersSvg(markers: readonly Marker[], f: Frame): string {
  const rows = markerRows(markers, f.sx);
  return markers
    .map((mk, i) => {
      const x = f.sx(mk.x).toFixed(1);
      const cy = 10 + rows[i]! * 15;
      return (
        `<line x1="${x}" x2="${x}" y1="${cy + 6}" y2="${f.top + f.h}" stroke="${mk.color}" stroke-dasharray="3 3" stroke-width="1"/>` +
        `<circle cx="${x}" cy="${cy}" r="7" fill="${mk.color}"><title>${esc(`${mk.n}: ${mk.label}`)}</title></circle>` +
        `<text x="${x}" y="${cy + 3.5}" font-size="10" fill="#fff" text-anchor="middle" font-weight="bold">${mk.n}</text>`
      );
    })
    .join('');
}

function frameOf(xs: readonly number[], y0: number, y1: number, height: number, top: number): Frame {
  const left = 64;
  const right = 12;
  const bottom = 34;
  const w = CHART_WIDTH - left - right;
  const h = height - top - bottom;
  const [x0, x1raw] = range(xs);
  const x1 = x1raw > x0 ? x1raw : x0 + 1;
  return {
    left,
    top,
    w,
    h,
    height,
    sx: (x) => left + ((x - x0) / (x1 - x0)) * w,
    sy: (y) => top + h - ((y - y0) / (y1 - y0)) * h,
  };
}

function xAxis(xs: readonly number[], f: Frame): string {
  const [x0, x1] = range(xs);
  const t = niceTicks(x0, x1, { target: 8 });
  const parts: string[] = [];
  for (const x of t.ticks) {
    if (x < x0 - 1e-9 || x > x1 + 1e-9) continue;
    const px = f.sx(x).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${f.top}" y2="${f.top + f.h}" stroke="#eee"/>`);
    parts.push(
      `<text x="${px}" y="${f.top + f.h + 14}" font-size="11" text-anchor="middle">${tickLabel(x, t.step)}</text>`,
    );
  }
  parts.push(
    `<text x="${f.left + f.w / 2}" y="${f.height - 4}" font-size="11" text-anchor="middle">time (s)</text>`,
  );
  return parts.join('');
}

function legendHtml(
  items: readonly { label: string; color: string; dash?: string; width?: number }[],
): string {
  return `<div class="legend">${items
    .map(
      (s) =>
        `<span><svg width="30" height="10" aria-hidden="true"><line x1="1" x2="29" y1="5" y2="5" stroke="${s.color}" stroke-width="${Math.max(2, s.width ?? 2)}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/></svg>${esc(s.label)}</span>`,
    )
    .join('')}</div>`;
}

/** A line or step chart as a <figure>: caption, legend, responsive SVG. */
export function chart(spec: ChartSpec): string {
  const height = spec.height ?? 240;
  const integer = spec.integer === true || spec.categories !== undefined;
  const values = spec.series.flatMap((s) => s.ys.filter((y): y is number => y !== null));
  let [lo, hi] = range([...values, ...(spec.refLines ?? []).map((r) => r.y)]);
  if (spec.yInclude !== undefined) [lo, hi] = [Math.min(lo, spec.yInclude), Math.max(hi, spec.yInclude)];
  if (spec.categories) [lo, hi] = [0, spec.categories.length - 1];
  const ticks = niceTicks(lo, hi, { integer, target: integer ? Math.min(5, Math.max(1, hi - lo)) : 5 });
  const markers = spec.markers ?? [];
  const top = 8 + markerRowCount(markers, spec.xs) * 15;
  const f = frameOf(spec.xs, ticks.lo, ticks.hi, height, top);
  const parts: string[] = [];
  parts.push(
    `<svg viewBox="0 0 ${CHART_WIDTH} ${height}" width="100%" role="img" aria-label="${esc(spec.title)}" preserveAspectRatio="xMinYMin meet">`,
  );
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${f.w}" height="${f.h}" fill="#fff" stroke="#999"/>`);
  for (const y of ticks.ticks) {
    const py = f.sy(y).toFixed(1);
    const label = spec.categories ? (spec.categories[y] ?? '') : tickLabel(y, ticks.step);
    parts.push(`<line x1="${f.left}" x2="${f.left + f.w}" y1="${py}" y2="${py}" stroke="#e4e4e4"/>`);
    parts.push(
      `<text x="${f.left - 6}" y="${Number(py) + 4}" font-size="11" text-anchor="end">${esc(label)}</text>`,
    );
  }
  parts.push(xAxis(spec.xs, f));
  parts.push(
    `<text x="12" y="${f.top + f.h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${f.top + f.h / 2})">${esc(spec.yLabel)}</text>`,
  );
  (spec.refLines ?? []).forEach((r, i) => {
    const py = f.sy(r.y).toFixed(1);
    parts.push(
      `<line x1="${f.left}" x2="${f.left + f.w}" y1="${py}" y2="${py}" stroke="${r.color}" stroke-width="1.2" stroke-dasharray="8 4"/>`,
    );
    // Alternate ends, so that two close reference lines do not print their labels over each other.
    const [x, anchor] = i % 2 === 0 ? [f.left + f.w - 4, 'end'] : [f.left + 4, 'start'];
    parts.push(
      `<text x="${x}" y="${Number(py) - 4}" font-size="11" fill="${r.color}" text-anchor="${anchor}">${esc(r.label)}</text>`,
    );
  });
  for (const s of spec.series) {
    const d = pathOf(s, spec.xs, f, spec.maxPoints ?? 1600);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const opacity = s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : '';
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}"${dash}${opacity} stroke-linejoin="round"><title>${esc(s.label)}</title></path>`,
    );
  }
  parts.push(markersSvg(markers, f));
  parts.push('</svg>');
  const legend = legendHtml([
    ...spec.series,
    ...(spec.refLines ?? []).map((r) => ({ label: r.label, color: r.color, dash: '8 4' })),
  ]);
  return `<figure><figcaption>${esc(spec.title)}</figcaption>${legend}${parts.join('')}</figure>`;
}

export interface Lane {
  readonly label: string;
  /** State per x (same length as xs). */
  readonly states: readonly string[];
}

export interface LaneSpec {
  readonly title: string;
  readonly xs: readonly number[];
  readonly lanes: readonly Lane[];
  /** Colour of each state, in order of severity (the worst state of a pixel is the one drawn). */
  readonly states: readonly { readonly state: string; readonly color: string }[];
  readonly markers?: readonly Marker[];
}

/**
 * A timeline with one lane per channel, coloured by state (ok, striking, latched, probation, ...). Each lane
 * is drawn in at most one rectangle per pixel column, showing the worst state in it, so a run of any length
 * stays small and a one-frame strike is still visible.
 */
export function laneChart(spec: LaneSpec): string {
  const laneH = 22;
  const markers = spec.markers ?? [];
  const top = 8 + markerRowCount(markers, spec.xs) * 15;
  const height = top + spec.lanes.length * (laneH + 6) + 40;
  const f = frameOf(spec.xs, 0, 1, height, top);
  const severity = new Map(spec.states.map((s, i) => [s.state, i]));
  const columns = Math.floor(f.w);
  const fAxis: Frame = { ...f, h: spec.lanes.length * (laneH + 6) - 6 };
  const parts: string[] = [
    `<svg viewBox="0 0 ${CHART_WIDTH} ${height}" width="100%" role="img" aria-label="${esc(spec.title)}" preserveAspectRatio="xMinYMin meet">`,
    xAxis(spec.xs, fAxis),
  ];
  spec.lanes.forEach((lane, li) => {
    const y = top + li * (laneH + 6);
    parts.push(
      `<text x="${f.left - 6}" y="${y + laneH / 2 + 4}" font-size="11" text-anchor="end">${esc(lane.label)}</text>`,
    );
    const worst = new Array<number>(columns).fill(-1);
    lane.states.forEach((st, i) => {
      const x = spec.xs[i];
      if (x === undefined) return;
      const col = Math.min(columns - 1, Math.max(0, Math.floor(f.sx(x) - f.left)));
      worst[col] = Math.max(worst[col]!, severity.get(st) ?? 0);
    });
    // A column between two samples (more pixels than frames) shows the state before it.
    for (let c = 1; c < columns; c++) if (worst[c] === -1) worst[c] = worst[c - 1]!;
    let start = 0;
    for (let c = 1; c <= columns; c++) {
      if (c < columns && worst[c] === worst[start]) continue;
      const sev = worst[start]!;
      if (sev >= 0) {
        const s = spec.states[sev]!;
        parts.push(
          `<rect x="${(f.left + start).toFixed(1)}" y="${y}" width="${(c - start).toFixed(1)}" height="${laneH}" fill="${s.color}" shape-rendering="crispEdges"><title>${esc(`${lane.label}: ${s.state}`)}</title></rect>`,
        );
      }
      start = c;
    }
  });
  parts.push(markersSvg(markers, fAxis));
  parts.push('</svg>');
  const legend = `<div class="legend">${spec.states
    .map((s) => `<span><i class="swatch" style="background:${s.color}"></i>${esc(s.state)}</span>`)
    .join('')}</div>`;
  return `<figure><figcaption>${esc(spec.title)}</figcaption>${legend}${parts.join('')}</figure>`;
}
