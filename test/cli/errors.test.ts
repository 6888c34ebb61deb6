/**
 * Every bad input a user can give the real command: the message names the option or the file with its line and
 * column and field, says what is wrong, shows no stack trace, and the exit code is 2; nothing is flown and no
 * report folder is left behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { triplex } from './run.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const laptop = readFileSync('config/laptop.json', 'utf8');

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A usage error: exit 2, the message, no stack trace, no report folder. */
async function refused(args: string[], message: string | RegExp): Promise<string> {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const r = await triplex([...args, ...(args[0] === 'sim' ? ['--out', out] : [])]);
  expect(r.code, r.stderr).toBe(2);
  if (typeof message === 'string') expect(r.stderr).toContain(message);
  else expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+|RangeError|TypeError|ambiguous/);
  expect(existsSync(out), 'a refused run must not leave a report folder').toBe(false);
  return r.stderr;
}

describe('triplex: bad options (the real command)', () => {
  it('a rate the code cannot run, a negative number, an unknown option: exit 2, a plain message', async () => {
    await refused(
      ['sim', '--rate', '20000'],
      "triplex sim: --rate must be a number from 1 to 1000 (Hz), got '20000'",
    );
    await refused(
      ['sim', '--rate', '-5'],
      "triplex sim: --rate must be a number from 1 to 1000 (Hz), got '-5'",
    );
    await refused(['sim', '--bogus'], "triplex sim: unknown option '--bogus'");
    await refused(
      ['node', '--config', 'config/serial-mesh.json', '--board', 'b0', '--status-every', '-1'],
      "triplex node: --status-every must be a number from 0 to 86400 (s), got '-1'",
    );
  }, 120_000);
});

describe('triplex: bad config files', () => {
  it('a rate the laws cannot run: file, line and column, field, bound; no stack trace', async () => {
    const file = config('rate.json', laptop.replace('"frameRateHz": 50', '"frameRateHz": 10000'));
    await refused(
      ['sim', '--config', file],
      `${file}: frameRateHz: must be at most 1000, got 10000 (the control laws and the scheduler run 1 to 1000 Hz) (line 4, column 18)`,
    );
  }, 60_000);

  it('a JSON syntax error: line and column and a plain reason', async () => {
    const file = config('syntax.json', laptop.replace('"f": 1,', '"f": 1,,'));
    await refused(
      ['sim', '--config', file],
      `${file}: (file): not valid JSON: expected a key in double quotes, found ',' (line 3, column 10)`,
    );
  }, 60_000);

  it('every problem at once, and a misspelt key as a typo of the known one', async () => {
    const text = laptop
      .replace('"frameRateHz": 50', '"frameRate": 50')
      .replace('"f": 1', '"f": 0')
      .replace('"persistence": 3', '"persistense": 3');
    const stderr = await refused(['sim', '--config', config('many.json', text)], /many\.json: 3 problems/);
    expect(stderr).toContain('f: must be at least 1, got 0 (line 3, column 8)');
    expect(stderr).toContain(
      "frameRate: unknown key 'frameRate'; did you mean 'frameRateHz'? (line 4, column 3)",
    );
    expect(stderr).toMatch(
      /voter\.persistense: unknown key 'persistense'; did you mean 'persistence'\? \(line \d+, column 5\)/,
    );
    expect(stderr).not.toContain('frameRateHz: is missing');
  }, 60_000);

  it('a missing file says so', async () => {
    await refused(['sim', '--config', join(dir, 'nope.json')], /nope\.json: \(file\): cannot read: ENOENT/);
  }, 60_000);
});
