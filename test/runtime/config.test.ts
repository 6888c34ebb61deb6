import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, faultBudget, loadTopology } from '../../src/runtime/config.ts';

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
      [{ ...laptop, frameRateHz: -5 }, 'frameRateHz', /too small|>0/i],
      [
        { ...laptop, boards: [{ ...laptop.boards[0], roles: ['pilot'] }] },
        'boards.0.roles.0',
        /Invalid option|expected one of/,
      ],
      [
        {
          ...laptop,
          links: [{ type: 'serial', between: ['b0', 'zz'], devices: { b0: '/dev/a' }, baud: 9600 }],
        },
        'links.0.between.1',
        /unknown board 'zz'/,
      ],
      [{ ...laptop, surprise: 1 }, '(root)', /surprise/],
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
    }
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
