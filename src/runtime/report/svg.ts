/**
 * A minimal SVG line chart, so the HTML report is self-contained (no scripts, no network). Series are
 * decimated to at most `maxPoints` per line by min/max per bucket, which keeps spikes visible.
 */

export interface Series {
  readonly label: string;
  readonly color: string;
  /** y per x; null leaves a gap. */
  readonly ys: readonly (number | null)[];
  readonly dashed?: boolean;
}

export interface Marker {
  readonly x: number;
  readonly label: string;
  readonly color: string;
}

export interface ChartSpec {
  readonly title: string;
  readonly xs: readonly number[];
  readonly series: readonly Series[];
  readonly markers?: readonly Marker[];
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  readonly maxPoints?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function extent(values: Iterable<number>, pad = true): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  const margin = pad ? (hi - lo) * 0.05 : 0;
  return [lo - margin, hi + margin];
}

/** Indices to draw: the first, min and max of each bucket, and the last. */
function decimate(ys: readonly (number | null)[], maxPoints: number): number[] {
  if (ys.length <= maxPoints) return ys.map((_, i) => i);
  const bucket = Math.ceil(ys.length / (maxPoints / 2));
  const keep: number[] = [];
  for (let start = 0; start < ys.length; start += bucket) {
    let lo = -1;
    let hi = -1;
    for (let i = start; i < Math.min(ys.length, start + bucket); i++) {
      const y = ys[i];
      if (y === null || y === undefined) continue;
      if (lo < 0 || y < ys[lo]!) lo = i;
      if (hi < 0 || y > ys[hi]!) hi = i;
    }
    for (const i of [lo, hi].filter((i) => i >= 0).sort((a, b) => a - b)) keep.push(i);
  }
  return [...new Set(keep)];
}

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 900;
  const height = spec.height ?? 240;
  const m = { left: 60, right: 150, top: 28, bottom: 32 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const [x0, x1] = extent(spec.xs, false);
  const [y0, y1] = extent(spec.series.flatMap((s) => s.ys.filter((y): y is number => y !== null)));
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * w;
  const sy = (y: number): number => m.top + h - ((y - y0) / (y1 - y0)) * h;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(spec.title)}">`,
  );
  parts.push(`<text x="${m.left}" y="18" font-size="14" font-weight="bold">${esc(spec.title)}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    const x = x0 + ((x1 - x0) * i) / 4;
    parts.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${sy(y)}" y2="${sy(y)}" stroke="#eee"/>`);
    parts.push(
      `<text x="${m.left - 6}" y="${sy(y) + 4}" font-size="10" text-anchor="end">${y.toPrecision(3)}</text>`,
    );
    parts.push(
      `<text x="${sx(x)}" y="${m.top + h + 14}" font-size="10" text-anchor="middle">${x.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<text x="${m.left + w / 2}" y="${height - 4}" font-size="11" text-anchor="middle">time (s)</text>`,
  );
  parts.push(
    `<text x="14" y="${m.top + h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 14 ${m.top + h / 2})">${esc(spec.yLabel)}</text>`,
  );
  for (const mk of spec.markers ?? []) {
    const x = sx(mk.x);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + h}" stroke="${mk.color}" stroke-dasharray="4 3"><title>${esc(mk.label)}</title></line>`,
    );
  }
  spec.series.forEach((s, si) => {
    const idx = decimate(s.ys, spec.maxPoints ?? 1600);
    let d = '';
    let pen = false;
    for (const i of idx) {
      const y = s.ys[i];
      if (y === null || y === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(spec.xs[i]!).toFixed(1)},${sy(y).toFixed(1)}`;
      pen = true;
    }
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.4"${dash}/>`);
    const ly = m.top + 12 + si * 16;
    parts.push(
      `<line x1="${m.left + w + 10}" x2="${m.left + w + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${m.left + w + 34}" y="${ly}" font-size="11">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
