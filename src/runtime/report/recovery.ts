/**
 * The HTML report's recovery section: a timeline (one lane per board, a bar per restart from its start to the
 * moment every role counted again; a planned view change marked) and the table of restarts, from
 * `summary.recovery` (src/runtime/recovery/summary.ts).
 */
import type { RecoverySummaryRow } from '../recovery/summary.ts';
import { esc } from './svg.ts';

/** A row of `summary.recovery.rows`, as far as this section reads it. */
type Row = Omit<RecoverySummaryRow, 'period'>;

/** Rows drawn and listed (the summary holds at most this many anyway). */
const MAX_ROWS = 400;

export function recoveryHtml(recovery: unknown, durationS: number): string {
  if (recovery === undefined || recovery === null || typeof recovery !== 'object') return '';
  const r = recovery as { rows?: Row[]; statement?: string; perBoard?: Record<string, number> };
  const rows = (Array.isArray(r.rows) ? r.rows : []).slice(0, MAX_ROWS);
  const boards = [...new Set(rows.map((x) => x.board))];
  const width = 1100;
  const lane = 18;
  const left = 60;
  const span = Math.max(durationS, ...rows.map((x) => x.atS + (x.rejoinMs ?? 0) / 1000), 1);
  const xOf = (s: number): number => left + ((width - left - 10) * s) / span;
  const bars = rows.map((x) => {
    const y = 6 + boards.indexOf(x.board) * lane;
    const x0 = xOf(x.atS);
    const w = Math.max(2, xOf(x.atS + (x.rejoinMs ?? 500) / 1000) - x0);
    const fill = x.rejoinMs === undefined ? '#c0392b' : x.cause === 'crash' ? '#c98a00' : '#2a7a2a';
    const mark = x.handover !== undefined ? `<circle cx="${x0}" cy="${y + 6}" r="3" fill="#1f77b4"/>` : '';
    const title = `${x.board} ${x.cause} at ${x.atS} s: ${x.roles.join(', ')}${x.handover ? `; handover ${x.handover}` : ''}; rejoined ${x.rejoinMs ?? 'never'} ms`;
    return `<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="12" fill="${fill}"><title>${esc(title)}</title></rect>${mark}`;
  });
  const labels = boards.map((b, i) => `<text x="4" y="${16 + i * lane}" font-size="12">${esc(b)}</text>`);
  const height = 12 + boards.length * lane;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 ${width} ${height}" role="img" aria-label="recovery timeline">${labels.join('')}${bars.join('')}</svg>`;
  const table = rows
    .map(
      (x) =>
        `<tr><td class="n">${x.atS}</td><td>${esc(x.board)}</td><td>${esc(x.cause)}</td><td>${esc(x.roles.join(', '))}</td>` +
        `<td>${esc(x.handover ?? '-')}</td><td class="n">${x.rejoinMs ?? 'never'}</td><td>${esc(x.epochs.join(', '))}</td><td>${esc(x.rebuilt ?? '-')}</td></tr>`,
    )
    .join('');
  const per = Object.entries(r.perBoard ?? {})
    .map(([b, n]) => `${esc(b)} ${n}`)
    .join(', ');
  return `<p class="facts">${esc(r.statement ?? '')}</p><p class="facts">Restarts completed per board: ${per || 'none'}. Green: proactive; amber: after a crash; red: did not rejoin; blue dot: planned view change first.</p>
<figure><figcaption>Recovery timeline</figcaption>${svg}</figure>
<div class="scroll"><table><tr><th>at s</th><th>board</th><th>cause</th><th>roles</th><th>handover</th><th>rejoined after ms</th><th>key epochs</th><th>channel rebuilt</th></tr>${table}</table></div>`;
}
