import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectNow } from '../../../src/runtime/node/gc.ts';
import { HostProbe, SchedStat } from '../../../src/runtime/node/host-probe.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function schedFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-schedstat-'));
  dirs.push(dir);
  const path = join(dir, 'schedstat');
  writeFileSync(path, text);
  return path;
}

describe('SchedStat', () => {
  it('returns the run and wait time since the previous read, ms', () => {
    const path = schedFile('1000000 2000000 5\n');
    const s = new SchedStat(path);
    writeFileSync(path, '4000000 12000000 9\n');
    expect(s.read()).toEqual({ runMs: 3, waitMs: 10 });
    writeFileSync(path, '4000000 12500000 10\n');
    expect(s.read()).toEqual({ runMs: 0, waitMs: 0.5 });
    s.close();
    expect(s.read()).toBeUndefined();
  });

  it('is undefined where the file does not exist or does not parse', () => {
    expect(new SchedStat('/nonexistent/schedstat').read()).toBeUndefined();
    const path = schedFile('garbage\n');
    const s = new SchedStat(path);
    expect(s.read()).toBeUndefined();
    s.close();
  });
});

describe('HostProbe', () => {
  it('sees a full collection as a GC pause in its window, and totals it by kind', async () => {
    const probe = new HostProbe();
    try {
      probe.window();
      const ms = collectNow();
      if (ms === undefined) {
        console.log('skipped: this V8 would not expose gc() at run time');
        return;
      }
      // GC entries reach the observer asynchronously: poll a bounded number of turns.
      let w = probe.window();
      for (let i = 0; i < 200 && w.gcCount === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
        w = probe.window();
      }
      expect(w.gcCount).toBeGreaterThanOrEqual(1);
      expect(w.gcMaxMs).toBeGreaterThan(0);
      expect(w.gcMs).toBeGreaterThanOrEqual(w.gcMaxMs);
      const totals = probe.totals();
      expect(totals.gc['mark-sweep-compact']?.count ?? 0).toBeGreaterThanOrEqual(1);
      // The next window starts empty.
      expect(probe.window().gcCount).toBe(0);
    } finally {
      probe.close();
    }
  });

  it('leaves out of its windows a collection that started before restart()', async () => {
    const probe = new HostProbe();
    try {
      if (collectNow() === undefined) {
        console.log('skipped: this V8 would not expose gc() at run time');
        return;
      }
      probe.restart();
      await new Promise((r) => setTimeout(r, 50));
      probe.window();
      // A scavenge may happen meanwhile; the full collection before restart() is not counted.
      expect(probe.totals().gc['mark-sweep-compact']).toBeUndefined();
    } finally {
      probe.close();
    }
  });
});
