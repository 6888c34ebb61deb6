/**
 * A board process restarted make-before-break (held for the parent's go, TRIPLEX_HOLD_LINKS) is a real `triplex
 * node` child here: it loads, warms up and reports 'loaded' while the process it replaces would still fly. Its
 * full garbage collection runs before it asks for real-time scheduling, at the ordinary scheduling it loaded at,
 * not after: a 15-25 ms collection at the boards' SCHED_FIFO priority holds a CPU against the boards that fly.
 * The order is read from the child's own debug log. Where real-time scheduling is permitted, what it asks for is
 * ROLE_PRIORITY.rejoining (below every thread of the boards that fly) until it has rejoined, not the boards'
 * priority.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../../src/io/pty.ts';
import { loadTopology } from '../../../src/runtime/config.ts';
import { generateKeySet } from '../../../src/runtime/keyfiles.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { parseFromBoard } from '../../../src/runtime/node/ipc.ts';
import { currentPolicy, ROLE_PRIORITY } from '../../../src/runtime/node/realtime.ts';
import { ChildProc, triplexCommand } from '../../../src/runtime/process/child.ts';
import { ENV_HOLD_LINKS, ENV_RECOVERY_POINT, ENV_STATE_DIR } from '../../../src/runtime/recovery/env.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-held-'));
const pairs: PtyPair[] = [];

afterAll(async () => {
  await Promise.all(pairs.map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** config/serial-mesh.json with b0's links on pty pairs (socat): devices that exist, opened only at the go. */
let configFile: Promise<{ file: string; keys: string }> | undefined;
function config(): Promise<{ file: string; keys: string }> {
  configFile ??= makeConfig();
  return configFile;
}

async function makeConfig(): Promise<{ file: string; keys: string }> {
  const raw = JSON.parse(readFileSync('config/serial-mesh.json', 'utf8')) as {
    links: { between: [string, string]; devices: Record<string, string> }[];
  };
  for (const [i, l] of raw.links.entries()) {
    const [a, b] = l.between;
    const pair = await PtyPair.open(join(dir, `l${i}-${a}`), join(dir, `l${i}-${b}`));
    pairs.push(pair);
    l.devices = { [a]: pair.a, [b]: pair.b };
  }
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(raw));
  const keys = join(dir, 'keys');
  await generateKeySet(keys, topologyPrincipals(loadTopology(file)));
  return { file, keys };
}

/** A `triplex node` for b0 started as a held restart; resolves once it reported 'loaded' (the child running). */
async function heldChild(
  name: string,
  env: NodeJS.ProcessEnv,
  idle = false,
): Promise<{ child: ChildProc; log: string }> {
  const { file, keys } = await config();
  const log = join(dir, `node-${name}.log`);
  const cmd = triplexCommand([
    'node',
    '--config',
    file,
    '--board',
    'b0',
    '--keys',
    keys,
    '--log-level',
    'debug',
    '--log-file',
    log,
  ]);
  // As ProcessCluster starts a replacement while the rig runs real-time (child-scheduling.ts).
  const started = idle ? { command: 'chrt', args: ['--idle', '0', cmd.command, ...cmd.args] } : cmd;
  const child = ChildProc.spawn({
    ...started,
    label: `held b0 (${name})`,
    ipc: true,
    env: {
      ...process.env,
      ...env,
      [ENV_HOLD_LINKS]: '1',
      [ENV_STATE_DIR]: join(dir, `key-state-${name}`),
      [ENV_RECOVERY_POINT]: '0',
    },
  });
  let loaded = false;
  child.process.on('message', (raw) => {
    if (parseFromBoard(raw)?.type === 'loaded') loaded = true;
  });
  for (let i = 0; i < 12_000 && !loaded && !child.exited; i++) await sleep(10);
  expect(child.exited ? child.stderr : 'running').toBe('running');
  expect(loaded).toBe(true);
  return { child, log };
}

async function stopHeld(child: ChildProc): Promise<void> {
  child.process.send({ type: 'stop' });
  expect(await child.exit).toEqual({ code: 0, signal: null });
}

describe('a board process held for the go', () => {
  it('collects its garbage before it takes real-time scheduling, then reports loaded', async () => {
    // Real time left off: the order of the collection and the request is the same either way (the request is
    // then refused), and this child competes with nothing else that runs here.
    const { child, log } = await heldChild(
      'order',
      { TRIPLEX_REALTIME: 'off' },
      process.platform === 'linux',
    );
    try {
      // Started at SCHED_IDLE and refused real time: back at SCHED_OTHER before its go, not flying idle.
      if (process.platform === 'linux') expect(currentPolicy(child.process.pid!)?.policy).toBe('other');
      await stopHeld(child);
    } finally {
      await child.stop(3000);
    }
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { msg: string; held?: boolean; gcMs?: number });
    const gc = lines.findIndex((l) => l.msg.startsWith('full collection'));
    const scheduling = lines.findIndex((l) => l.msg.startsWith('scheduling:'));
    expect(gc).toBeGreaterThanOrEqual(0);
    expect(scheduling).toBeGreaterThanOrEqual(0);
    expect(lines[gc]).toMatchObject({ msg: 'full collection before real-time scheduling (held for the go)' });
    expect(lines[gc]!.held).toBe(true);
    expect(gc).toBeLessThan(scheduling);
  }, 150_000);

  it.skipIf(process.platform !== 'linux')(
    'asks for the rejoining priority, below the flying boards, not theirs',
    async () => {
      const { child } = await heldChild('priority', { TRIPLEX_REALTIME: 'fifo' }, true);
      try {
        const pid = child.process.pid!;
        const main = currentPolicy(pid);
        if (main?.policy !== 'fifo') {
          console.log(`skipped: real-time scheduling not permitted here (${JSON.stringify(main)})`);
          return;
        }
        expect(main.priority).toBe(ROLE_PRIORITY.rejoining.priority);
        expect(ROLE_PRIORITY.rejoining.priority).toBeLessThan(ROLE_PRIORITY.board.helpers);
        // Its other threads below its main thread, as a board's.
        const tasks = readdirSync(`/proc/${pid}/task`).filter((t) => t !== String(pid));
        const priorities = tasks.map((t) => currentPolicy(Number(t))?.priority);
        expect(priorities.length).toBeGreaterThan(0);
        // (A thread started after the request inherits the main thread's priority.)
        for (const p of priorities)
          expect([ROLE_PRIORITY.rejoining.helpers, ROLE_PRIORITY.rejoining.priority]).toContain(p);
        expect(priorities).toContain(ROLE_PRIORITY.rejoining.helpers);
        await stopHeld(child);
      } finally {
        await child.stop(3000);
      }
    },
    150_000,
  );
});
