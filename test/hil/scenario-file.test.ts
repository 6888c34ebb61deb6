/**
 * Scenario files: every way a file can be wrong gets an error naming the file, the line (and column) and the
 * field; a good file compiles into the runtime scenario (faults on the grid, profile, sensor models).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile, parseScenarioText, ScenarioError } from '../../hil/scenario/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = `description: channel c1 garbage
duration: 6
pilot:
  - step: { at: 0.5, to: 0.2 }
timeline:
  - at: 2
    until: 4
    fault: channel garbage
    target: 1
assertions:
  noFailsafe: true
`;

/** The ScenarioError `text` raises, written to a file so the message names a real path. */
function errorOf(text: string, name = 'bad.yaml'): ScenarioError {
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    loadScenarioFile(file);
  } catch (e) {
    if (e instanceof ScenarioError) return e;
    throw e;
  }
  throw new Error(`no error for:\n${text}`);
}

describe('scenario files: errors name the file, the line and the field', () => {
  it('a field of the wrong type', () => {
    const e = errorOf(GOOD.replace('    target: 1', "    target: 1\n    severity: 'a lot'"));
    expect(e.file).toBe(join(dir, 'bad.yaml'));
    expect(e.line).toBe(10);
    expect(e.field).toBe('timeline.0.severity');
    expect(e.message).toMatch(/bad\.yaml:10:\d+: timeline\.0\.severity: .*number/);
  });

  it('an unknown field, with the allowed ones', () => {
    const e = errorOf(GOOD.replace('  noFailsafe: true', '  noFailsafe: true\n  noFailsave: true'));
    expect(e.line).toBe(12);
    expect(e.field).toBe('assertions.noFailsave');
    expect(e.problem).toContain('noFailsafe');
  });

  it('an unknown component or type on the grid', () => {
    const c = errorOf(GOOD.replace('fault: channel garbage', 'fault: chanel garbage'));
    expect([c.line, c.field]).toEqual([8, 'timeline.0.fault']);
    expect(c.problem).toContain("unknown component 'chanel'");
    const t = errorOf(GOOD.replace('fault: channel garbage', 'fault: channel rubbish'));
    expect(t.problem).toMatch(/unknown type 'rubbish' for channel \(types: off, stuck, garbage/);
  });

  it('a cell that does not apply says why', () => {
    const e = errorOf(
      GOOD.replace('fault: channel garbage', 'fault: link crash').replace('target: 1', 'target: b0-b1'),
    );
    expect(e.field).toBe('timeline.0.fault');
    expect(e.problem).toContain('link crash does not apply: a link has no process to crash');
  });

  it('a target the config does not have', () => {
    const e = errorOf(GOOD.replace('target: 1', 'target: 7'));
    expect([e.line, e.field]).toEqual([9, 'timeline.0.target']);
    expect(e.problem).toBe('no channel 7 (have 3)');
    const rig = errorOf(
      GOOD.replace('fault: channel garbage', 'fault: board crash')
        .replace('target: 1', 'target: aiu')
        .replace('    until: 4\n', ''),
    );
    expect(rig.problem).toContain('hosts the voter and the rig');
  });

  it('severity where the cell has none, until on a permanent fault, period on a steady one', () => {
    expect(errorOf(GOOD.replace('target: 1', 'target: 1\n    severity: 2')).problem).toBe(
      'severity does not apply to channel garbage',
    );
    const crash = errorOf(GOOD.replace('fault: channel garbage', 'fault: channel crash'));
    expect([crash.field, crash.line]).toEqual(['timeline.0.until', 7]);
    expect(errorOf(GOOD.replace('target: 1', 'target: 1\n    period: 1')).field).toBe('timeline.0.period');
  });

  it('a pilot segment of the wrong shape points into the segment', () => {
    const e = errorOf(GOOD.replace('step: { at: 0.5, to: 0.2 }', 'step: { at: 0.5, too: 0.2 }'));
    expect(e.line).toBe(4);
    expect(e.field).toMatch(/^pilot\.0\.step/);
  });

  it('a YAML syntax error has its position', () => {
    const e = errorOf('description: x\nduration: [6\n');
    expect(e.field).toBe('(syntax)');
    expect(e.line).toBeGreaterThanOrEqual(2);
  });

  it('JSON files get positions too', () => {
    const e = errorOf('{\n  "description": "x",\n  "duration": "six"\n}\n', 'bad.json');
    expect(e.message).toMatch(/bad\.json:3:\d+: duration: /);
  });

  it('a config error is reported at the config field', () => {
    const e = errorOf(`config: ./nope.json\n${GOOD}`);
    expect([e.line, e.field]).toEqual([1, 'config']);
    expect(e.problem).toContain('cannot read');
  });

  it('a recorded pilot profile with a bad row names the CSV line', () => {
    writeFileSync(join(dir, 'pilot.csv'), 't,pitch\n0,0\n1,0.1\n1,0.2\n');
    const e = errorOf(GOOD.replace('  - step: { at: 0.5, to: 0.2 }', '  - csv: { file: pilot.csv }'));
    expect(e.field).toBe('pilot.0.csv.file');
    expect(e.problem).toMatch(/pilot\.csv:4: times must increase/);
  });
});

describe('scenario files: a good file compiles', () => {
  it('faults on the grid, profile, sensors, defaults', () => {
    const { scenario, topology } = parseScenarioText(
      `${GOOD}sensors:\n  - { noise: 0.001 }\npilot:\n  - step: { at: 0.5, to: 0.2 }\n  - doublet: { at: 3, amplitude: 0.05, width: 1 }\n`.replace(
        'pilot:\n  - step: { at: 0.5, to: 0.2 }\ntimeline',
        'timeline',
      ),
      join(dir, 'good.yaml'),
    );
    expect(topology.name).toBe('laptop');
    expect(scenario.name).toBe('good');
    expect(scenario.faults).toEqual([
      expect.objectContaining({
        component: 'channel',
        type: 'garbage',
        target: 1,
        atS: 2,
        untilS: 4,
        source: `${join(dir, 'good.yaml')}:4`,
      }),
    ]);
    expect(scenario.sensors?.[0]).toEqual({ noiseStd: 0.001, bias: 0 });
    expect(scenario.profile?.at(1)).toBeCloseTo(0.2);
    expect(scenario.profile?.at(3.2)).toBeCloseTo(0.25);
    expect(scenario.profile?.at(3.7)).toBeCloseTo(0.15);
    expect(scenario.spec?.seed).toBe(1);
  });

  it('a recorded profile is interpolated', () => {
    writeFileSync(join(dir, 'rec.csv'), 't,pitch\n0,0\n2,0.2\n');
    const { scenario } = parseScenarioText(
      'description: recorded\nduration: 3\npilot:\n  - csv: { file: rec.csv }\n',
      join(dir, 'rec.yaml'),
    );
    expect(scenario.profile?.at(1)).toBeCloseTo(0.1);
    expect(scenario.profile?.at(5)).toBeCloseTo(0.2);
  });
});
