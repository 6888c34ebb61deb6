/**
 * `triplex hil run` as a user runs it (a child process): a config naming serial ports that do not exist falls back
 * to emulation for those boards and says so, per board, on the console and in the report; with --require-hardware
 * it exits non-zero naming the missing port. `triplex hil list` lists the library one line each.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { libraryFiles } from '../../hil/library.ts';
import { runToExit, triplexCommand } from '../../src/runtime/process/child.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-hil-fallback-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `triplex args...`; past 120 s SIGTERM, as spawnSync's timeout did (SIGKILL 5 s later). */
async function triplex(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const r = await runToExit(triplexCommand(args), {
    timeoutMs: 120_000,
    stopGraceMs: 5000,
    cwd: process.cwd(),
  });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** config/serial-mesh.json with every device path under `dir` (none of which exists). */
function missingPortsConfig(): { file: string; port: string } {
  const raw = JSON.parse(readFileSync('config/serial-mesh.json', 'utf8'));
  for (const [i, l] of raw.links.entries()) {
    for (const b of l.between) l.devices[b] = join(dir, `tty-${b}-${i}`);
  }
  const file = join(dir, 'bench.json');
  writeFileSync(file, JSON.stringify(raw, null, 2));
  return { file, port: join(dir, 'tty-aiu-3') };
}

describe('triplex hil run: per-board fallback', () => {
  const { file, port } = missingPortsConfig();

  it('a serial port that does not exist: that board is emulated, and the console and report say why', async () => {
    const out = join(dir, 'run');
    const r = await triplex(['hil', 'run', 'sensor-stuck', '--config', file, '--lockstep', '--out', out]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `b0 +emulated \\(in this process, lockstep\\): port ${port} \\(links\\.3\\.devices\\.aiu\\) does not exist`,
      ),
    );
    const summary = JSON.parse(readFileSync(join(out, 'sensor-stuck', 'summary.json'), 'utf8'));
    const b0 = summary.boards.find((b: { name: string }) => b.name === 'b0');
    expect(b0).toEqual(
      expect.objectContaining({
        mode: 'in-process',
        why: expect.stringContaining(`port ${port} (links.3.devices.aiu) does not exist`),
      }),
    );
    const html = readFileSync(join(out, 'sensor-stuck', 'report.html'), 'utf8');
    expect(html).toContain('<h2>Boards</h2>');
    expect(html).toContain('emulated (in this process)');
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('sensor-stuck');
  }, 120_000);

  it('with --require-hardware it exits non-zero and names the port', async () => {
    const r = await triplex([
      'hil',
      'run',
      'sensor-stuck',
      '--config',
      file,
      '--require-hardware',
      '--out',
      join(dir, 'req'),
    ]);
    expect(r.code).toBe(2);
    expect(r.out + r.err).toContain(`board b0 not found (port ${port} (links.3.devices.aiu) does not exist)`);
  }, 120_000);

  it('probe says the same without flying', async () => {
    const r = await triplex(['hil', 'probe', '--config', file, '--require-hardware']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/b0 +emulated +port .* does not exist/);
    expect(r.err).toContain(port);
  }, 60_000);
});

describe('triplex hil list', () => {
  it('one line per library scenario, and the grid', async () => {
    const r = await triplex(['hil', 'list']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(libraryFiles().length);
    expect(lines.find((l) => l.startsWith('channel-garbage '))).toContain('->');
    const g = await triplex(['hil', 'list', '--grid']);
    expect(g.out).toMatch(/link crash +does not apply: a link has no process to crash/);
    expect(g.out).toMatch(
      /replica equivocate +in-process: yes; child: no \(a board process takes no Byzantine replica behaviour.*; real: no \(real hardware.*; library: replica-equivocate/,
    );
    expect(g.out).not.toContain('NOT IN THE LIBRARY');
  }, 60_000);
});
