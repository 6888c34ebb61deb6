import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FrameRecord } from '../../src/runtime/report/trace.ts';
import { writeReport } from '../../src/runtime/report/write.ts';

function frames(n: number): FrameRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    frame: i,
    t: i / 50,
    reference: i > 50 ? 0.2 : 0,
    theta: Math.sin(i / 100),
    elevator: 0.01 * i,
    voted: 0.01 * i,
    outcome: i === 7 ? 'hold' : 'write',
    channels: [0.01 * i, i === 3 ? null : 0.01 * i, 0.5],
    view: i > 100 ? 1 : 0,
    primary: i > 100 ? 1 : 0,
    latencyMs: 0.3,
  }));
}

describe('report', () => {
  it('writes a JSON summary, a CSV trace and a self-contained HTML page with plots', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'triplex-report-')), 'run');
    const trace = {
      frames: frames(5000),
      events: [{ frame: 101, t: 2.02, kind: 'view-change', detail: 'view 1 <script>' }],
    };
    const assertions = [
      { name: 'no-failsafe', passed: true, detail: '0 failsafe frames' },
      { name: 'tracks-step-0', passed: false, detail: 'off by 0.3 rad' },
    ];
    const files = writeReport(dir, 'test run', { passed: true, frames: 5000, assertions }, trace, [
      'c0',
      'c1',
      'c2',
    ]);
    const summary = JSON.parse(readFileSync(files.summary, 'utf8'));
    expect(summary.passed).toBe(true);
    expect(summary.events).toHaveLength(1);
    const csv = readFileSync(files.csv, 'utf8').trim().split('\n');
    expect(csv).toHaveLength(5001);
    expect(csv[0]).toBe(
      'frame,t,reference,theta,elevator,voted,outcome,channel0,channel1,channel2,view,primary,latency_ms',
    );
    expect(csv[4]!.split(',')[8]).toBe(''); // channel1 missing at frame 3
    const html = readFileSync(files.html, 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(5);
    expect(html).toContain('Pitch angle and command');
    expect(html).toContain('<td class="fail">FAIL</td><td>tracks-step-0</td><td>off by 0.3 rad</td>');
    expect(html).not.toMatch(/<script|src=|href=/); // no scripts, nothing fetched
    expect(html).toContain('view 1 &lt;script&gt;'); // event text is escaped
    // Decimation keeps each path bounded however long the run.
    const longest = Math.max(...[...html.matchAll(/ d="([^"]*)"/g)].map((m) => m[1]!.split(/[ML]/).length));
    expect(longest).toBeLessThan(2000);
  });
});
