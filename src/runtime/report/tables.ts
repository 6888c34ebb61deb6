/**
 * Summary values as HTML tables, not JSON: an object is a two-column table (nested objects nest), a list of
 * objects is a table with one column per key, a list of plain values a comma list. Depth and rows are bounded,
 * so a summary of any size renders in bounded space; what is cut says how much was cut.
 *
 * @example
 * valueHtml({ write: 993, hold: 7 }); // '<table class="kv"><tr><th>write</th><td>993</td></tr>...</table>'
 */
import { esc } from './svg.ts';

/** Rows shown of one list or object (the full values are in summary.json). */
const MAX_ROWS = 200;
const MAX_DEPTH = 5;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '<span class="muted">-</span>';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return esc(String(v));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function more(n: number): string {
  return n > 0 ? `<tr><td colspan="99" class="muted">${n} more in summary.json</td></tr>` : '';
}

/** One value as HTML (a table for objects and lists of objects). */
export function valueHtml(v: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) return `<code>${esc(JSON.stringify(v).slice(0, 200))}</code>`;
  if (Array.isArray(v)) {
    if (v.length === 0) return '<span class="muted">none</span>';
    if (v.every(isPlainObject)) return listTable(v as Record<string, unknown>[], depth);
    const shown = v.slice(0, MAX_ROWS).map((x) => (isPlainObject(x) ? valueHtml(x, depth + 1) : scalar(x)));
    return shown.join(', ') + (v.length > MAX_ROWS ? `, ... (${v.length - MAX_ROWS} more)` : '');
  }
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '<span class="muted">none</span>';
    const rows = entries
      .slice(0, MAX_ROWS)
      .map(([k, x]) => `<tr><th>${esc(k)}</th><td>${valueHtml(x, depth + 1)}</td></tr>`)
      .join('');
    return `<table class="kv">${rows}${more(entries.length - MAX_ROWS)}</table>`;
  }
  return scalar(v);
}

function listTable(rows: readonly Record<string, unknown>[], depth: number): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows
    .slice(0, MAX_ROWS)
    .map((r) => `<tr>${columns.map((c) => `<td>${valueHtml(r[c], depth + 1)}</td>`).join('')}</tr>`)
    .join('');
  return `<table><tr>${head}</tr>${body}${more(rows.length - MAX_ROWS)}</table>`;
}

/** Counters as a compact grid of name and count, several pairs per row, so a long list stays short. */
export function countersHtml(counters: Record<string, unknown>): string {
  const entries = Object.entries(counters);
  if (entries.length === 0) return '<span class="muted">none</span>';
  const cells = entries
    .slice(0, MAX_ROWS * 3)
    .map(([k, v]) => `<div><span>${esc(k)}</span><b>${scalar(v)}</b></div>`)
    .join('');
  return `<div class="counters">${cells}</div>`;
}
