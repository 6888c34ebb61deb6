import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, FRAME_RATE_HZ, faultBudget, loadTopology, nearest } from '../../src/runtime/config.ts';
import { lineColumn, scanJson } from '../../src/runtime/json-scan.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-config-'));
const laptop = JSON.parse(readFileSync('config/laptop.json', 'utf8'));

function writeConfig(name: string, body: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

function errorOf(file: string): ConfigError {
  try {
    loadTopology(file);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`expected ${file} to be refused`);
}

describe('topology config', () => {
  it('loads every shipped config and assigns role ids in board order', () => {
    for (const f of readdirSync('config').filter((x) => x.endsWith('.json'))) {
      const t = loadTopology(join('config', f));
      expect(t.replicas.length).toBeGreaterThanOrEqual(3 * t.f + 1);
      expect(t.channels.map((c) => c.id)).toEqual(t.channels.map((_, i) => i));
    }
    const t = loadTopology('config/laptop.json');
    expect(t.replicas.map((r) => r.board)).toEqual(['mon', 'b0', 'b1', 'b2']);
    expect(t.channels.map((c) => c.impl)).toEqual(['float64', 'fixed-q24', 'modal']);
  });

  it('names the file, the field and the problem', () => {
    const cases: [unknown, string, RegExp][] = [
      ['{ not json', '(file)', /not valid JSON/],
      [{ ...laptop, f: 'one' }, 'f', /number/],
      [{ ...laptop, frameRateHz: -5 }, 'frameRateHz', /must be at least 1, got -5/],
      [
        { ...laptop, boards: [{ ...laptop.boards[0], roles: ['pilot'] }] },
        'boards.0.roles.0',
        /must be "replica" or "channel" or "voter" or "input", got "pilot"/,
      ],
      [
        {
          ...laptop,
          links: [{ type: 'serial', between: ['b0', 'zz'], devices: { b0: '/dev/a' }, baud: 9600 }],
        },
        'links.0.between.1',
        /unknown board 'zz'/,
      ],
      [{ ...laptop, surprise: 1 }, 'surprise', /unknown key 'surprise'; known keys: name, f, frameRateHz/],
      [
        { ...laptop, timing: { ...laptop.timing, watermarkWindow: 100 } },
        'timing.watermarkWindow',
        /multiple/,
      ],
      [
        { ...laptop, boards: [...laptop.boards, laptop.boards[0]] },
        'boards.5.name',
        /duplicate board name 'mon'/,
      ],
    ];
    for (const [i, [body, field, problem]] of cases.entries()) {
      const file = writeConfig(`bad-${i}.json`, body);
      const e = errorOf(file);
      expect(e.file).toBe(file);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(problem);
      expect(e.message.startsWith(`${file}: ${field}: `)).toBe(true);
      expect(e.issues).toHaveLength(1);
      expect(e.issues[0]!.line).toBeGreaterThanOrEqual(1); // every issue of a file has a position
    }
  });

  it('lists every problem of a file at once, in file order, each with its line and column', () => {
    const text = [
      '{',
      '  "name": "laptop",',
      '  "f": "one",',
      '  "frameRate": 50,',
      '  "boards": [{ "name": "b0", "roles": ["replica", "pilot"] }],',
      '  "links": [{ "type": "udp", "basePrt": 4000 }, { "type": "bus" }],',
      '  "timing": { "deadlineFracton": 0.5 }',
      '}',
    ].join('\n');
    const file = writeConfig('many.json', text);
    const e = errorOf(file);
    const got = e.issues.map((i) => [i.field, i.line, i.column]);
    expect(got).toEqual([
      ['f', 3, 8],
      ['frameRate', 4, 3],
      ['boards.0.roles.1', 5, 51],
      ['links.0.basePrt', 6, 30],
      ['links.1.type', 6, 59],
      ['timing.deadlineFracton', 7, 15],
    ]);
    expect(e.message.split('\n')[0]).toBe(`${file}: 6 problems`);
    expect(e.message).toContain(`${file}: f: must be a number, got "one" (line 3, column 8)`);
    // A misspelt key is said once, as a typo of the missing one (frameRateHz, basePort are not "missing").
    expect(e.message).toContain(
      `frameRate: unknown key 'frameRate'; did you mean 'frameRateHz'? (line 4, column 3)`,
    );
    expect(e.message).toContain(`links.0.basePrt: unknown key 'basePrt'; did you mean 'basePort'?`);
    expect(e.message).not.toMatch(/frameRateHz: is missing|basePort: is missing/);
    expect(e.message).toContain(`links.1.type: "bus" is not a link type`);
    expect(e.message).toContain(`unknown key 'deadlineFracton'; did you mean 'deadlineFraction'?`);
  });

  it('gives a JSON syntax error its line and column and a plain reason', () => {
    const cases: [string, number, number, RegExp][] = [
      ['{\n  "f": 1,\n  "boards": [1, 2,]\n}', 3, 19, /a comma before '\]'/],
      ['{\n  "f": 1\n  "name": "x"\n}', 3, 3, /expected ',' or '}' after the value of "f"/],
      ["{ 'f': 1 }", 1, 3, /expected a key in double quotes/],
      ['{ "name": "x', 1, 11, /a string that is never closed/],
      ['{ "f": 1 }\n}', 2, 1, /after the end of the top-level value/],
      ['', 1, 1, /expected a value, found the end of the file/],
    ];
    for (const [i, [text, line, column, problem]] of cases.entries()) {
      const file = writeConfig(`syntax-${i}.json`, text);
      const e = errorOf(file);
      expect(e.field).toBe('(file)');
      expect([e.issues[0]!.line, e.issues[0]!.column]).toEqual([line, column]);
      expect(e.message).toMatch(problem);
      expect(e.message).toContain(`(line ${line}, column ${column})`);
    }
  });

  it('bounds frameRateHz by what the laws and the scheduler run, and says so', () => {
    for (const rate of [FRAME_RATE_HZ.min, FRAME_RATE_HZ.max]) {
      expect(
        loadTopology(writeConfig(`rate-${rate}.json`, { ...laptop, frameRateHz: rate })).frameRateHz,
      ).toBe(rate);
    }
    const e = errorOf(writeConfig('rate-10000.json', { ...laptop, frameRateHz: 10000 }));
    expect(e.field).toBe('frameRateHz');
    expect(e.message).toMatch(
      /must be at most 1000, got 10000 \(the control laws and the scheduler run 1 to 1000 Hz\)/,
    );
  });

  it('suggests only near keys, and locates keys and values by path', () => {
    expect(nearest('frameRate', ['name', 'f', 'frameRateHz'])).toBe('frameRateHz');
    expect(nearest('bords', ['boards', 'links'])).toBe('boards');
    expect(nearest('surprise', ['name', 'f', 'frameRateHz', 'boards'])).toBeUndefined();
    const text = '{\n  "a": [10, {"b": true}]\n}';
    const scan = scanJson(text);
    if (!scan.ok) throw new Error('valid JSON refused');
    expect(lineColumn(text, scan.locate(['a', 1, 'b'])!)).toEqual({ line: 2, column: 19 });
    expect(lineColumn(text, scan.locate(['a', 1, 'b'], true)!)).toEqual({ line: 2, column: 14 });
    expect(scan.locate(['nope'])).toBeUndefined();
    expect(scanJson('['.repeat(100) + ']'.repeat(100)).ok).toBe(false); // nesting is bounded
  });

  it('refuses a missing file with the path in the message', () => {
    const e = errorOf(join(dir, 'nope.json'));
    expect(e.message).toMatch(/nope\.json: \(file\): cannot read: ENOENT/);
  });

  it('refuses a topology that cannot meet its declared f', () => {
    const e = errorOf(writeConfig('f2.json', { ...laptop, f: 2 }));
    expect(e.field).toBe('boards');
    expect(e.message).toMatch(/4 replicas cannot tolerate f = 2: need 3f\+1 = 7/);
  });

  it('computes the recovery bounds and the window of vulnerability', () => {
    const tight = faultBudget(4, 3, 1, 1, 60);
    expect(tight.orderingLiveDuringRecovery).toBe(false);
    expect(tight.votingLiveDuringRecovery).toBe(false);
    expect(tight.windowOfVulnerability).toBeGreaterThan(0);
    const wide = faultBudget(6, 4, 1, 1, 60);
    expect(wide.orderingLiveDuringRecovery).toBe(true);
    expect(wide.votingLiveDuringRecovery).toBe(true);
    expect(wide.windowOfVulnerability).toBe(0);
  });
});
