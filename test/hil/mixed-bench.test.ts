/**
 * A mixed bench in real time: boards b0 and b1 are `triplex hil board` processes on socat pty pairs standing for
 * real hardware (discovered and probed as real: they answer the rig hello), mon and b2 have no port on the rig's
 * host and are emulated as board processes the rig starts. One scenario passes, and the report's board table shows
 * which board was which. Every process this test starts is stopped in afterAll, also when the test fails.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../src/io/pty.ts';
import { parseTopology } from '../../src/runtime/config.ts';
import { generateKeySet } from '../../src/runtime/keyfiles.ts';
import { topologyPrincipals } from '../../src/runtime/loop/keys.ts';
import { requireSocat } from '../../src/runtime/node/cluster.ts';
import { ChildProc, ChildSet, runToExit, triplexCommand } from '../../src/runtime/process/child.ts';

let socatProblem: string | undefined;
try {
  requireSocat();
} catch (e) {
  socatProblem = (e as Error).message;
  console.warn(`skipping the mixed bench: ${socatProblem}`);
}

const dir = mkdtempSync(join(tmpdir(), 'triplex-mixed-'));
const pairs: PtyPair[] = [];
const boards = new ChildSet();
const REAL = ['b0', 'b1'];

afterAll(async () => {
  await boards.stopAll(500);
  await Promise.all(pairs.map((p) => p.close()));
  if (process.env.TRIPLEX_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else console.warn(`kept ${dir}`);
});

/** The serial mesh at 5 Hz (slack for a loaded machine: real processes, real timers): a socat pair for every link of a real board, nothing for the others' links. */
async function bench(): Promise<string> {
  const raw = JSON.parse(readFileSync('config/serial-mesh.json', 'utf8'));
  raw.frameRateHz = 5;
  for (const [i, l] of raw.links.entries()) {
    const [a, b] = l.between as [string, string];
    if (REAL.includes(a) || REAL.includes(b)) {
      const pair = await PtyPair.open(join(dir, `l${i}-${a}`), join(dir, `l${i}-${b}`));
      pairs.push(pair);
      l.devices = { [a]: pair.a, [b]: pair.b };
    } else {
      l.devices = { [a]: join(dir, `absent-${i}-${a}`), [b]: join(dir, `absent-${i}-${b}`) };
    }
  }
  const file = join(dir, 'bench.json');
  writeFileSync(file, JSON.stringify(raw, null, 2));
  await generateKeySet(join(dir, 'keys'), topologyPrincipals(parseTopology(raw, file)));
  return file;
}

/** A bench board process; resolves once its links are up (it says so over IPC). */
async function realBoard(config: string, board: string): Promise<void> {
  const child = boards.add(
    ChildProc.spawn({
      ...triplexCommand([
        'hil',
        'board',
        '--config',
        config,
        '--board',
        board,
        '--keys',
        join(dir, 'keys'),
        '--no-pace',
        '--log-level',
        'warn',
        '--log-file',
        join(dir, `real-${board}.log`),
      ]),
      label: `board ${board}`,
      cwd: process.cwd(),
      ipc: true,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${board} not ready: ${child.stderr}`)), 60_000);
    child.process.on('message', (m) => {
      if ((m as { type?: string }).type === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.exit.then(({ code }) => reject(new Error(`${board} exited ${code}: ${child.stderr}`)));
  });
}

describe.skipIf(socatProblem !== undefined)('a mixed bench: real board processes and emulated ones', () => {
  it('discovers b0 and b1 as real, emulates mon and b2, passes the scenario, and the board table says which', async () => {
    const config = await bench();
    await Promise.all(REAL.map((b) => realBoard(config, b)));
    const out = join(dir, 'out');
    const args = [
      'hil',
      'run',
      'test/hil/fixtures/mixed-bench.yaml',
      '--config',
      config,
      '--keys',
      join(dir, 'keys'),
      '--realtime',
      '--no-pace',
      '--out',
      out,
      '--junit',
      join(out, 'junit.xml'),
    ];
    // Past its time: SIGTERM (as spawnSync's timeout did), SIGKILL 5 s later.
    const r = await runToExit(triplexCommand(args), {
      timeoutMs: 150_000,
      stopGraceMs: 5000,
      cwd: process.cwd(),
    });
    const log = `${r.stdout}\n${r.stderr}`;
    expect(r.code, log).toBe(0);
    expect(r.stdout).toMatch(/b0 +real: answered the rig hello on .*l3-aiu .* \(MAC checked\)/);
    expect(r.stdout).toMatch(/b1 +real: answered the rig hello/);
    expect(r.stdout).toMatch(/b2 +emulated: port .*absent-8-aiu \(links\.8\.devices\.aiu\) does not exist/);
    expect(r.stdout).toMatch(/mon +emulated: port .*absent-9-aiu \(links\.9\.devices\.aiu\) does not exist/);
    const summary = JSON.parse(readFileSync(join(out, 'mixed-bench', 'summary.json'), 'utf8'));
    const by = Object.fromEntries(summary.boards.map((b: { name: string }) => [b.name, b]));
    expect(by.b0).toEqual(
      expect.objectContaining({ mode: 'real', hello: expect.objectContaining({ wire: 1 }) }),
    );
    expect(by.b1.mode).toBe('real');
    expect(by.b2).toEqual(expect.objectContaining({ mode: 'child', pid: expect.any(Number) }));
    expect(by.mon.mode).toBe('child');
    expect(by.aiu.mode).toBe('rig');
    const faults = Object.fromEntries(summary.faults.map((f: { fault: string }) => [f.fault, f]));
    expect(faults['sensor wrong'].status).toBe('applied');
    expect(faults['voter-link delayed'].status).toBe('applied');
    expect(faults['board hang'].detail).toContain('SIGSTOP');
    expect(faults['replica equivocate']).toEqual(
      expect.objectContaining({ status: 'not-applied', detail: expect.stringContaining('board process') }),
    );
    const html = readFileSync(join(out, 'mixed-bench', 'report.html'), 'utf8');
    const table = html.slice(html.indexOf('<h2>Boards</h2>'), html.indexOf('<h2>Faults</h2>'));
    expect(table).toMatch(/<td>b0<\/td><td>[^<]*<\/td><td class="mode-real">real<\/td>/);
    expect(table).toMatch(
      /<td>b2<\/td><td>[^<]*<\/td><td class="mode-child">emulated \(board process\)<\/td>/,
    );
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('name="mixed-bench"');
  }, 200_000);
});
