import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  currentPolicy,
  dropRealtime,
  RealtimeGovernor,
  requestRealtime,
} from '../../../src/runtime/node/realtime.ts';

const linux = process.platform === 'linux';
/** Spinning children at real-time priority: killed after each test even when a bound ran out mid-test. */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/**
 * A node child running `code` at SCHED_FIFO priority 1 (no helper threads raised), killed after the test; its
 * pid, or undefined (the reason printed) where real-time scheduling is not permitted here.
 */
async function realtimeChild(code: string): Promise<number | undefined> {
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((r) => child.once('spawn', () => r()));
  const pid = child.pid!;
  const s = requestRealtime({ pid, priority: 1, helpers: 0, mode: 'fifo' });
  if (s.how === 'chrt') return pid;
  console.log(`skipped: real-time scheduling not permitted here (${s.summary})`);
  return undefined;
}

describe('requestRealtime', () => {
  it('refuses out-of-range priorities and nice values with a message', () => {
    expect(() => requestRealtime({ priority: 0, mode: 'off' })).toThrow(/priority must be 1 to 99/);
    expect(() => requestRealtime({ nice: 5, mode: 'off' })).toThrow(/nice must be -20 to 0/);
  });

  it('changes nothing when turned off, and says so', () => {
    const s = requestRealtime({ mode: 'off' });
    if (s.how === 'inherited') {
      console.log(`skipped: this process already runs real-time (${s.summary})`);
      return;
    }
    expect(s.how).toBe('none');
    expect(s.refused).toEqual(['TRIPLEX_REALTIME=off']);
    expect(s.summary).toMatch(/^SCHED_\w+ nice -?\d+ \(unchanged\): TRIPLEX_REALTIME=off$/);
  });

  it.skipIf(!linux)(
    'gives a child SCHED_FIFO where permitted, else names why not; and takes it back',
    async () => {
      const child = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        children.push(child);
        await new Promise<void>((r) => child.once('spawn', () => r()));
        const pid = child.pid!;
        expect(currentPolicy(pid)?.policy).toBe('other');
        const s = requestRealtime({ pid, priority: 10, nice: 0, mode: 'fifo' });
        if (s.how === 'chrt') {
          expect(s.policy).toBe('fifo');
          expect(s.priority).toBe(10);
          expect(s.summary).toBe('SCHED_FIFO priority 10 (chrt)');
          expect(currentPolicy(pid)).toEqual({ policy: 'fifo', priority: 10 });
          expect(dropRealtime(pid)).toBeUndefined();
          expect(currentPolicy(pid)?.policy).toBe('other');
        } else {
          // Not permitted here: ordinary scheduling, and the reason for the log.
          expect(s.policy).toBe('other');
          expect(s.refused.join('; ')).toMatch(/chrt/);
          expect(s.summary).toContain(s.refused[0]);
        }
      } finally {
        child.kill('SIGKILL');
      }
    },
  );

  it.skipIf(!linux)(
    "a node child's other threads get the helpers' priority, below its main thread",
    async () => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      try {
        children.push(child);
        await new Promise<void>((r) => child.once('spawn', () => r()));
        const pid = child.pid!;
        // Wait (bounded, 2 s) until Node has started its threads: at least 3, and their number unchanged for
        // 100 ms. A thread started after requestRealtime inherits its creator's policy (the main thread's), and on
        // a loaded machine Node's platform threads can still be starting when the count first reaches 3.
        let steady = 0;
        let last = -1;
        for (let i = 0; i < 100 && steady < 5; i++) {
          await new Promise((r) => setTimeout(r, 20));
          const n = readdirSync(`/proc/${pid}/task`).length;
          steady = n >= 3 && n === last ? steady + 1 : 0;
          last = n;
        }
        const s = requestRealtime({ pid, priority: 20, mode: 'fifo' });
        if (s.how !== 'chrt') {
          console.log(`skipped: real-time scheduling not permitted here (${s.summary})`);
          return;
        }
        expect(s.helperThreads?.priority).toBe(10);
        expect(s.helperThreads?.count).toBeGreaterThanOrEqual(1);
        expect(s.summary).toMatch(/^SCHED_FIFO priority 20 \(chrt; \d+ other threads at 10\)$/);
        const others = readdirSync(`/proc/${pid}/task`).filter((t) => Number(t) !== pid);
        for (const tid of others)
          expect(currentPolicy(Number(tid))).toEqual({ policy: 'fifo', priority: 10 });
        expect(currentPolicy(pid)).toEqual({ policy: 'fifo', priority: 20 });
        expect(dropRealtime(pid)).toBeUndefined();
        for (const tid of others) expect(currentPolicy(Number(tid))?.policy).toBe('other');
      } finally {
        child.kill('SIGKILL');
      }
    },
  );

  it.skipIf(!linux)(
    'the governor gives real-time scheduling back from a process that spins',
    { timeout: 15_000 },
    async () => {
      const pid = await realtimeChild('for (;;) {}');
      if (pid === undefined) return;
      const governor = RealtimeGovernor.start(pino({ level: 'silent' }), { pid, windowMs: 100, windows: 2 });
      // Bounded wait: two spinning windows of 100 ms, then the drop (the child spins at priority 1 meanwhile).
      for (let i = 0; i < 100 && currentPolicy(pid)?.policy === 'fifo'; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(currentPolicy(pid)?.policy).toBe('other');
      expect(governor.stop()).toMatch(
        /^real-time scheduling dropped: the JS thread used \d+% of a CPU (for 2 windows|on average over 8 windows) of 100 ms$/,
      );
    },
  );

  it.skipIf(!linux)(
    'the governor drops a process that spins just under the per-window bound, on its sustained mean',
    { timeout: 15_000 },
    async () => {
      // Busy 15 ms of every 20 (75 %): never two windows above 0.85, always above the sustained 0.6.
      const pid = await realtimeChild(
        'const t = () => { const end = Date.now() + 15; while (Date.now() < end) {} setTimeout(t, 5); }; t();',
      );
      if (pid === undefined) return;
      const governor = RealtimeGovernor.start(pino({ level: 'silent' }), {
        pid,
        windowMs: 100,
        windows: 2,
        sustainedWindows: 8,
      });
      for (let i = 0; i < 100 && currentPolicy(pid)?.policy === 'fifo'; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(currentPolicy(pid)?.policy).toBe('other');
      expect(governor.stop()).toMatch(
        /^real-time scheduling dropped: the JS thread used \d+% of a CPU on average over 8 windows of 100 ms$/,
      );
    },
  );

  it.skipIf(!linux)(
    'the governor takes real time back once a process that spun is calm again',
    { timeout: 15_000 },
    async () => {
      // Spins for 600 ms, then idles (a catch-up after a rejoin, not a process that always spins).
      const pid = await realtimeChild(
        'const end = Date.now() + 600; while (Date.now() < end) {} setInterval(() => {}, 1000);',
      );
      if (pid === undefined) return;
      const governor = RealtimeGovernor.start(pino({ level: 'silent' }), {
        pid,
        windowMs: 100,
        windows: 2,
        calmWindows: 3,
        restore: { priority: 1, helpers: 0 },
      });
      // Bounded waits: the drop within the spin, then three calm windows and the restore.
      for (let i = 0; i < 100 && governor.counts.drops === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(governor.counts.drops).toBe(1);
      for (let i = 0; i < 200 && governor.counts.restores === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(governor.counts.restores).toBe(1);
      expect(currentPolicy(pid)?.policy).toBe('fifo');
      expect(governor.stop()).toMatch(
        /^real-time scheduling dropped: .*; dropped 1 times in all, taken back 1 times$/,
      );
      // Stopping the governor returns the process to ordinary scheduling.
      expect(currentPolicy(pid)?.policy).toBe('other');
    },
  );
});
