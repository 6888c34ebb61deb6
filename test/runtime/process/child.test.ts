/** Child processes: real ones (node -e), started and stopped the one way the clusters, benches and tests share. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ChildProc, ChildSet, runToExit } from '../../../src/runtime/process/child.ts';

const node = (script: string) => ({ command: process.execPath, args: ['-e', script] });

/** Waits (bounded) until the child printed `line`: it is then past its set-up. */
async function printed(child: ChildProc, line: string): Promise<void> {
  for (let i = 0; i < 500 && !child.stdout.includes(line) && !child.exited; i++) await sleep(10);
  expect(child.stdout).toContain(line);
}

describe('child processes', () => {
  it('runToExit returns the exit code and both streams', async () => {
    const r = await runToExit(node('console.log("out"); console.error("err"); process.exit(3)'), {
      timeoutMs: 20_000,
    });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('runToExit kills a command that runs past its timeout, and says so', async () => {
    const r = await runToExit(node('setInterval(() => {}, 1000)'), { timeoutMs: 300 });
    expect(r).toMatchObject({ signal: 'SIGKILL', timedOut: true });
  });

  it('a command that cannot start is an exit with its error, not a throw', async () => {
    const r = await runToExit({ command: '/nonexistent/triplex-x', args: [] }, { timeoutMs: 5000 });
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(/ENOENT/);
  });

  it('stop: SIGTERM ends a well-behaved child; one that ignores it is killed after the grace period', async () => {
    const polite = ChildProc.spawn({
      ...node('console.log("up"); setInterval(() => {}, 1000)'),
      label: 'polite',
      stdout: true,
    });
    await printed(polite, 'up');
    expect(await polite.stop(5000)).toEqual({ code: null, signal: 'SIGTERM' });

    const stubborn = ChildProc.spawn({
      ...node(
        'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)',
      ),
      label: 'stubborn',
      stdout: true,
    });
    await printed(stubborn, 'up');
    expect(await stubborn.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stubborn.exited).toBe(true);
  });

  it('stop asks over IPC first when told how; the child can leave cleanly', async () => {
    const child = ChildProc.spawn({
      ...node(
        'process.on("message", (m) => { if (m === "stop") process.exit(0); }); process.on("SIGTERM", () => {}); process.send("up")',
      ),
      label: 'ipc',
      ipc: true,
    });
    await new Promise((ok) => child.process.once('message', ok));
    expect(await child.stop(5000, (p) => p.send('stop'))).toEqual({ code: 0, signal: null });
  });

  it('stop gives an asked child time to leave before any signal: a slow clean exit is not reported as SIGTERM', async () => {
    // No SIGTERM handler: a signal sent together with the ask would kill it by the default action.
    const child = ChildProc.spawn({
      ...node(
        'process.on("message", (m) => { if (m === "stop") setTimeout(() => process.exit(0), 200); }); process.send("up"); setInterval(() => {}, 1000)',
      ),
      label: 'slow-ipc',
      ipc: true,
    });
    await new Promise((ok) => child.process.once('message', ok));
    expect(await child.stop(2000, (p) => p.send('stop'))).toEqual({ code: 0, signal: null });
    // An ask that could not be made (the channel is gone) signals at once rather than waiting half the grace.
    const deaf = ChildProc.spawn({
      ...node('process.send("up"); setInterval(() => {}, 1000)'),
      label: 'deaf',
      ipc: true,
    });
    await new Promise((ok) => deaf.process.once('message', ok));
    const started = Date.now();
    expect(await deaf.stop(10_000, () => false)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('keeps only the last lines of stderr', async () => {
    const child = ChildProc.spawn({
      ...node('for (let i = 0; i < 100; i++) console.error("line " + i)'),
      label: 'noisy',
      tailLines: 5,
    });
    await child.exit;
    for (let i = 0; i < 50 && !child.stderr.includes('line 99'); i++) await sleep(10);
    expect(child.stderrLines).toEqual(['line 95', 'line 96', 'line 97', 'line 98', 'line 99']);
  });

  it('a set stops all its children, and forgets those that exited', async () => {
    const set = new ChildSet();
    const a = set.add(ChildProc.spawn({ ...node('setInterval(() => {}, 1000)'), label: 'a' }));
    const b = set.add(ChildProc.spawn({ ...node('setInterval(() => {}, 1000)'), label: 'b' }));
    set.add(ChildProc.spawn({ ...node('process.exit(0)'), label: 'c' }));
    await sleep(50);
    await set.stopAll(5000);
    expect([a.exited, b.exited]).toEqual([true, true]);
    expect(set.size).toBe(0);
  });
});
