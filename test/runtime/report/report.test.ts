import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { niceTicks, tickLabel } from '../../../src/runtime/report/ticks.ts';
import { writeReport } from '../../../src/runtime/report/write.ts';
import { reportFixture, STALL } from './fixture.ts';

const fixture = reportFixture();

function page(html: string, section: string): string {
  const start = html.indexOf(`<h2>${section}`);
  const end = html.indexOf('<h2>', start + 4);
  return html.slice(start, end < 0 ? undefined : end);
}

describe('report', () => {
  it('writes summary.json, trace.csv with the per-frame samples, and report.html, nothing else left behind', async () => {
    const input = await fixture;
    const dir = join(mkdtempSync(join(tmpdir(), 'triplex-report-')), 'run');
    const files = writeReport(dir, input);
    expect(readdirSync(dir).sort()).toEqual(['report.html', 'summary.json', 'trace.csv']); // no temp files
    const summary = JSON.parse(readFileSync(files.summary, 'utf8'));
    expect(summary.verdict.state).toBe('failed');
    expect(summary.episodes[0].causes[0].kind).toBe('host');
    expect(summary.events.length).toBe(input.events.length);
    const csv = readFileSync(files.csv, 'utf8').trim().split('\n');
    expect(csv).toHaveLength(input.frames.length + 1);
    expect(csv[0]).toBe(
      'frame,t,reference,theta,elevator,voted,outcome,channel0,channel1,channel2,view,primary,latency_ms,' +
        'loop_delay_ms,lag_ms,cpu_wait_ms,channel0_strikes,channel0_state,channel1_strikes,channel1_state,channel2_strikes,channel2_state',
    );
    expect(csv[STALL.first]!.split(',')[13]).toBe(STALL.delayMs.toFixed(3)); // the stall at frame 59 (row 60)
  });

  it('opens with the verdict and the first failed assertion, then why frames were not written', async () => {
    const input = await fixture;
    const html = writeReportHtml(input);
    const verdict = html.indexOf('<div class="verdict failed">FAILED: no-failsafe: 6 failsafe frames</div>');
    expect(verdict).toBeGreaterThan(0);
    expect(verdict).toBeLessThan(html.indexOf('<h2>'));
    const episodes = page(html, 'Why frames were not written');
    expect(episodes).toContain(
      '<td class="n"><span class="fail">failsafe</span></td><td class="n">60–75</td>',
    );
    expect(episodes).toContain('<span class="cause host">host</span>');
    expect(episodes).toContain(`event-loop delay ${STALL.delayMs} ms at frame ${STALL.first - 1}`);
    expect(episodes).toContain('<span class="cause protocol">protocol</span>');
    expect(episodes).toMatch(
      /board-crashed \(primary r0 \(board mon\)\) at frame \d+; view change 0 -&gt; 1/,
    );
  });

  it('labels event markers with numbers that the events table explains', async () => {
    const input = await fixture;
    const html = writeReportHtml(input);
    const legend = page(html, 'Events');
    input.events.forEach((e, i) => {
      expect(legend).toContain(
        `${i + 1}</span></td><td>${e.t.toFixed(2)}</td><td>${e.frame}</td><td>${e.kind}</td>`,
      );
    });
    // Every chart marks every event with its number.
    const charts = html.split('<figure>').slice(1);
    expect(charts.length).toBeGreaterThanOrEqual(9);
    for (const c of charts) expect(c.match(/<circle /g)).toHaveLength(input.events.length);
  });

  it('draws responsive charts: viewBox, no fixed pixel width, round ticks, steps for integer series', async () => {
    const html = writeReportHtml(await fixture);
    expect(html).not.toMatch(/<svg [^>]*width="\d+"[^>]*role="img"/); // only width="100%"
    expect(html.match(/<svg viewBox="0 0 1000 \d+" width="100%"/g)!.length).toBeGreaterThanOrEqual(9);
    const yTicks = [...html.matchAll(/text-anchor="end">(-?[\d.]+)<\/text>/g)].map((m) => m[1]!);
    expect(yTicks.length).toBeGreaterThan(20);
    for (const t of yTicks) expect(t).toMatch(/^-?\d+(\.\d{1,2})?$/); // 0.05, 250: never 0.0444
    const decision = html.split('<figure>').find((f) => f.includes('Voter decision per frame'))!;
    expect(decision).toContain('>failsafe</text>');
    expect(decision).toMatch(/ d="M[\d.,]+(H[\d.]+V[\d.]+)+/); // a step path
    const view = html.split('<figure>').find((f) => f.includes('PBFT view and primary'))!;
    const viewTicks = [...view.matchAll(/text-anchor="end">([\d.]+)<\/text>/g)].map((m) => m[1]);
    expect(viewTicks).toEqual(['0', '1']); // integer ticks only
  });

  it('keeps channels distinguishable, adds timing and health plots, and shows the summary as tables', async () => {
    const html = writeReportHtml(await fixture);
    const channels = html.split('<figure>').find((f) => f.includes("Each channel's elevator command"))!;
    const strokes = [
      ...channels.matchAll(
        /<path d="[^"]*" fill="none" stroke="([^"]+)" stroke-width="([\d.]+)"( stroke-dasharray="([^"]+)")?/g,
      ),
    ];
    expect(new Set(strokes.map((m) => m[1])).size).toBe(3); // three colours
    expect(new Set(strokes.map((m) => m[4] ?? 'solid')).size).toBe(3); // three dash patterns
    const widths = strokes.map((m) => Number(m[2]));
    expect(widths).toEqual([...widths].sort((a, b) => b - a)); // widest first, so none hides another
    for (const title of [
      'Input-to-actuator latency per frame',
      "This host's event-loop delay per frame",
      'Channel health as the voter saw it',
      'Strikes per channel',
    ]) {
      expect(html).toContain(`<figcaption>${title}`);
    }
    const health = html.split('<figure>').find((f) => f.includes('Channel health'))!;
    expect(health).toContain('c1: latched');
    expect(health).toContain('c1: probation');
    expect(health).toContain('c2: down');
    const summary = page(html, 'Summary');
    expect(summary).toContain('<tr><th>write</th><td>580</td></tr>');
    expect(summary).not.toContain('{"'); // no raw JSON
  });

  it('escapes text and fetches nothing', async () => {
    const input = await fixture;
    const html = writeReportHtml({
      ...input,
      events: [...input.events, { frame: 5, t: 0.1, kind: 'view-change', detail: 'view 1 <script>' }],
    });
    expect(html).not.toMatch(/<script|src=|href=/);
    expect(html).toContain('view 1 &lt;script&gt;');
    // Decimation keeps each path bounded however long the run.
    const longest = Math.max(...[...html.matchAll(/ d="([^"]*)"/g)].map((m) => m[1]!.split(/[MLHV]/).length));
    expect(longest).toBeLessThan(3300);
  });
});

describe('round ticks', () => {
  it('ticks on 1, 2 or 5 times a power of ten, with labels of the digits the step needs', () => {
    expect(niceTicks(0.00181, 0.0444)).toEqual({
      lo: 0,
      hi: 0.05,
      step: 0.01,
      ticks: [0, 0.01, 0.02, 0.03, 0.04, 0.05],
    });
    expect(niceTicks(-0.43, 0.41).ticks).toEqual(
      [-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6].filter((x) => x >= -0.6),
    );
    expect(niceTicks(0, 2, { integer: true }).ticks).toEqual([0, 1, 2]);
    expect(niceTicks(0, 1, { integer: true, target: 5 }).ticks).toEqual([0, 1]); // never 0.2, 0.4, ...
    expect(niceTicks(3, 3, { integer: true }).ticks).toEqual([2, 3, 4]);
    expect(tickLabel(0.30000000000000004, 0.1)).toBe('0.3');
    expect(tickLabel(-0, 1)).toBe('0');
    expect(tickLabel(250, 50)).toBe('250');
  });
});

function writeReportHtml(input: Awaited<typeof fixture>): string {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-report-html-'));
  return readFileSync(writeReport(dir, input).html, 'utf8');
}
