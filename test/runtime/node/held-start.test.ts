/**
 * A board process restarted make-before-break (held for the parent's go, TRIPLEX_HOLD_LINKS) is a real `triplex
 * node` child here: it loads, warms up and reports 'loaded' while the process it replaces would still fly. Its
 * full garbage collection runs before it asks for real-time scheduling, at the ordinary scheduling it loaded at,
 * not after: a 15-25 ms collection at the boards' SCHED_FIFO priority holds a CPU against the boards that fly.
 * The order is read from the child's own debug log.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../../src/io/pty.ts';
import { loadTopology } from '../../../src/runtime/config.ts';
import { generateKeySet } from '../../../src/runtime/keyfiles.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { parseFromBoard } from '../../../src/runtime/node/ipc.ts';
import { ChildProc, triplexCommand } from '../../../src/runtime/process/child.ts';
import { ENV_HOLD_LINKS, ENV_RECOVERY_POINT, ENV_STATE_DIR } from '../../../src/runtime/recovery/env.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-held-'));
const pairs: PtyPair[] = [];

afterAll(async () => {
  await Promise.all(pairs.map((p) => p.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** config/serial-mesh.json with b0's links on pty pairs (socat): devices that exist, opened only at the go. */
async function config(): Promise<string> {
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
  return file;
}

describe('a board process held for the go', () => {
  it('collects its garbage before it takes real-time scheduling, then reports loaded', async () => {
    const CONFIG = await config();
    const keys = join(dir, 'keys');
    await generateKeySet(keys, topologyPrincipals(loadTopology(CONFIG)));
    const log = join(dir, 'node-b0.log');
    const child = ChildProc.spawn({
      ...triplexCommand([
        'node',
        '--config',
        CONFIG,
        '--board',
        'b0',
        '--keys',
        keys,
        '--log-level',
        'debug',
        '--log-file',
        log,
      ]),
      label: 'held b0',
      ipc: true,
      // Real time left off: this test's child must not compete with whatever else runs here at real-time
      // priority; the order of the collection and the request is the same either way (the request is refused).
      env: {
        ...process.env,
        TRIPLEX_REALTIME: 'off',
        [ENV_HOLD_LINKS]: '1',
        [ENV_STATE_DIR]: join(dir, 'key-state'),
        [ENV_RECOVERY_POINT]: '0',
      },
    });
    let loaded = false;
    child.process.on('message', (raw) => {
      if (parseFromBoard(raw)?.type === 'loaded') loaded = true;
    });
    try {
      for (let i = 0; i < 12_000 && !loaded && !child.exited; i++) await sleep(10);
      expect(child.exited ? child.stderr : 'running').toBe('running');
      expect(loaded).toBe(true);
      child.process.send({ type: 'stop' });
      expect(await child.exit).toEqual({ code: 0, signal: null });
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
});
