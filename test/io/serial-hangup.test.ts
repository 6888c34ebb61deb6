/**
 * A serial link whose peer vanishes and comes back (a board process restarted behind its socat pty) must not
 * leave the survivor's event loop spinning once the peer talks again.
 *
 * The spin, as seen in process-mode recovery: while the peer is gone, writes back up until the pty refuses
 * them (EAGAIN). serialport's poller then waits for 'writable' once and from there on keeps both readable and
 * writable in its event mask for good; every readable event switches the watch to writable and back
 * (epoll_ctl DEL/ADD), and while the read the event started is waiting for a libuv pool thread, the pending
 * input keeps the fd readable, so the main thread flips the watch as fast as it can. Under SCHED_FIFO on two
 * cores the pool thread did not get a CPU for long stretches (85-95% of a core, mostly in the kernel).
 *
 * Here the pool is held busy (reads blocked on a FIFO, no CPU) so the read stays queued as the starved pool
 * thread left it, and the CPU the process uses meanwhile is measured: idle waiting costs a few percent of a
 * core, the spin all of it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, read, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../src/io/pty.ts';
import { SerialDevice } from '../../src/io/serial-device.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-hangup-'));
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything waiting on the peer's end (stale bytes the survivor wrote while it was gone). */
function drain(fd: number): Buffer {
  const buf = Buffer.alloc(65536);
  const parts: Buffer[] = [];
  for (let i = 0; i < 10_000; i++) {
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      parts.push(Buffer.from(buf.subarray(0, n)));
    } catch {
      break; // EAGAIN: nothing more waiting
    }
  }
  return Buffer.concat(parts);
}

/** Occupies every libuv pool thread with a read blocked on a FIFO (no CPU); `release` lets them finish. */
function holdThreadPool(): { release: () => Promise<void> } {
  const fifo = join(dir, 'pool-fifo');
  execFileSync('mkfifo', [fifo]);
  // O_RDWR: the open does not wait for a writer, and the reads block until bytes arrive.
  const fd = openSync(fifo, 'r+');
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const done: Promise<void>[] = [];
  for (let i = 0; i < threads; i++) {
    done.push(new Promise((resolve) => read(fd, Buffer.alloc(1), 0, 1, null, () => resolve())));
  }
  return {
    release: async () => {
      writeSync(fd, Buffer.alloc(threads, 1));
      await Promise.all(done);
      closeSync(fd);
    },
  };
}

describe('serial link whose peer vanishes and returns', () => {
  it('does not spin while a read waits for the pool after the peer came back, and carries bytes', async () => {
    const pair = await PtyPair.open(join(dir, 'a'), join(dir, 'b'));
    cleanups.push(() => pair.close());
    const device = new SerialDevice({ path: pair.b, baudRate: 921600, pace: false, maxQueueBytes: 1 << 16 });
    cleanups.push(() => device.stop());
    let received = 0;
    device.onData = (chunk) => {
      received += chunk.length;
    };
    await device.start();
    expect(device.state.value).toBe('up');

    // The peer is gone (nobody holds pty a): write until the ptys and socat are full and writes are refused.
    const block = new Uint8Array(1024).fill(0x55);
    for (let i = 0; i < 400; i++) {
      device.write(block);
      if (i % 16 === 0) await sleep(1);
    }
    await sleep(200);
    expect(device.queued()).toBeGreaterThan(0); // the wire refused bytes: back-pressure reached the writer

    // The peer returns: opens its end, reads the backlog, and then speaks while our reads wait for the pool.
    const peer = openSync(pair.a, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    cleanups.push(() => closeSync(peer));
    drain(peer);
    await sleep(100);
    drain(peer);
    const pool = holdThreadPool();
    await sleep(50);
    writeSync(peer, Buffer.alloc(64, 0x42));
    await sleep(50); // the readable event arrives and the read queues behind the held pool
    const before = process.cpuUsage();
    const t0 = performance.now();
    await sleep(1000);
    const used = process.cpuUsage(before);
    const elapsed = performance.now() - t0;
    await pool.release();
    const share = (used.user + used.system) / 1000 / elapsed;
    process.stdout.write(
      `serial-hangup: ${(share * 100).toFixed(1)}% of a core while the read waited (a spin: all it can get)\n`,
    );
    expect(share, `CPU over the held second: ${(share * 100).toFixed(1)}% of a core`).toBeLessThan(0.15);

    // The link still works both ways once the pool is free.
    // The peer keeps reading (socat's writes toward it block, and with them its relay the other way).
    for (let i = 0; i < 300 && received < 64; i++) {
      await sleep(10);
      drain(peer);
    }
    expect(
      received,
      `state ${device.state.value} ${device.lastError} ${JSON.stringify(device.counters.snapshot().errors)} queued ${device.queued()}`,
    ).toBeGreaterThanOrEqual(64);
    // What was still queued from the outage arrives first (0x55), then the new bytes (0x33).
    expect(device.write(new Uint8Array(32).fill(0x33))).toBe(true);
    let got = Buffer.alloc(0);
    for (let i = 0; i < 300 && got.indexOf(Buffer.alloc(32, 0x33)) < 0; i++) {
      await sleep(10);
      got = Buffer.concat([got, drain(peer)]);
    }
    expect(got.indexOf(Buffer.alloc(32, 0x33))).toBeGreaterThanOrEqual(0);
    expect(device.state.value).toBe('up');
  });
});
