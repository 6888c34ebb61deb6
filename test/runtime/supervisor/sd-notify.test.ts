/**
 * sd_notify against real receivers: a Unix datagram socket this test binds at a path (with unix-dgram), and an
 * abstract-namespace socket bound by socat (unix-dgram cannot bind distinct abstract names). Watchdog time is
 * virtual; the datagrams are real. Ordering on one datagram socket is FIFO, so a marker datagram sent after a
 * stretch of virtual time proves what was (not) sent before it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import {
  abstractNamesWork,
  loadUnixDgram,
  parseNotifySocket,
  SdNotifier,
  type UnixDgramSocket,
  watchdogIntervalMs,
} from '../../../src/runtime/supervisor/sd-notify.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-sdnotify-'));
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.splice(0)) c();
  rmSync(dir, { recursive: true, force: true });
});

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const dgram = loadUnixDgram();

/** A receiver bound at `path`; `next(n)` resolves with the first n datagrams not yet taken. */
function pathReceiver(path: string) {
  if (!dgram.ok) throw new Error(dgram.reason);
  const got: string[] = [];
  let waiter: (() => void) | undefined;
  const socket: UnixDgramSocket = dgram.module.createSocket('unix_dgram', (msg) => {
    got.push(msg.toString('utf8'));
    waiter?.();
  });
  socket.on('error', (e) => {
    throw e;
  });
  socket.bind(path);
  cleanups.push(() => socket.close());
  let taken = 0;
  return {
    async until(marker: string, timeoutMs = 20_000): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = got.indexOf(marker, taken);
        if (at >= 0) {
          const out = got.slice(taken, at);
          taken = at + 1;
          return out;
        }
        if (Date.now() > deadline)
          throw new Error(`no '${marker}' within ${timeoutMs} ms; got ${JSON.stringify(got)}`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

describe('NOTIFY_SOCKET and WATCHDOG_USEC parsing', () => {
  it.each([
    ['/run/systemd/notify', { ok: true, address: { kind: 'path', path: '/run/systemd/notify' } }],
    [
      '@/org/freedesktop/systemd1/notify',
      { ok: true, address: { kind: 'abstract', name: '/org/freedesktop/systemd1/notify' } },
    ],
    [undefined, { ok: false }],
    ['', { ok: false }],
    ['@', { ok: false }],
    ['relative/sock', { ok: false }],
    ['vsock:2:1234', { ok: false }],
    [`/${'x'.repeat(107)}`, { ok: false }],
  ])('%s', (value, expected) => {
    expect(parseNotifySocket(value)).toMatchObject(expected);
  });

  it.each([
    [{ WATCHDOG_USEC: '5000000' }, 2500],
    [{ WATCHDOG_USEC: '5000000', WATCHDOG_PID: String(process.pid) }, 2500],
    [{ WATCHDOG_USEC: '5000000', WATCHDOG_PID: '1' }, undefined],
    [{ WATCHDOG_USEC: '0' }, undefined],
    [{ WATCHDOG_USEC: '-5' }, undefined],
    [{ WATCHDOG_USEC: 'soon' }, undefined],
    [{}, undefined],
  ])('%j -> ping every %s ms', (env, ms) => {
    expect(watchdogIntervalMs(env)).toBe(ms);
  });
});

describe('sd_notify', () => {
  it('is a no-op without NOTIFY_SOCKET', () => {
    const { logger } = recordingLogger();
    const n = SdNotifier.open({ logger, scheduler: new VirtualScheduler(), env: {} });
    expect(n.enabled).toBe(false);
    expect(n.send('READY=1')).toBe(false);
    expect(n.startWatchdog(() => true)).toBeTypeOf('function');
    expect(n.disabledReason).toContain('not set');
  });

  it('fails soft, with the reason logged, when the native module cannot load', () => {
    const { logger, lines } = recordingLogger();
    const n = SdNotifier.open({
      logger,
      scheduler: new VirtualScheduler(),
      env: { NOTIFY_SOCKET: join(dir, 'nobody') },
      load: () => ({ ok: false, reason: 'unix-dgram did not load: no prebuilt binary for this platform' }),
    });
    expect(n.enabled).toBe(false);
    n.ready();
    expect(n.counters.sent).toBe(0);
    expect(lines.some((l) => String(l['reason']).includes('no prebuilt binary'))).toBe(true);
  });

  it.skipIf(!dgram.ok)(
    'path socket: READY, WATCHDOG every half WATCHDOG_USEC, none while a role is hung, STOPPING',
    async () => {
      const path = join(dir, 'notify.sock');
      const rx = pathReceiver(path);
      const clock = new VirtualScheduler();
      const { logger } = recordingLogger();
      const n = SdNotifier.open({
        logger,
        scheduler: clock,
        env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: '200000' },
      });
      expect(n.enabled).toBe(true);
      expect(n.watchdogMs).toBe(100);

      n.ready('4 roles up\nSTATUS=injected');
      n.status('m1');
      expect(await rx.until('STATUS=m1')).toEqual(['READY=1\nSTATUS=4 roles up STATUS=injected']);

      let hung = false;
      const stop = n.startWatchdog(() => !hung);
      // A Unix datagram queue holds about 10 datagrams (net.unix.max_dgram_qlen): read in small batches.
      let pings = 0;
      let marker = 0;
      const advance = async (to: number): Promise<string[]> => {
        const out: string[] = [];
        for (let t = clock.now() + 300; t < to + 300; t += 300) {
          clock.runUntil(Math.min(t, to));
          n.status(`m${++marker}`);
          out.push(...(await rx.until(`STATUS=m${marker}`)));
        }
        return out;
      };
      const first = await advance(1000); // pings at 0, 100, ..., 1000
      expect(first).toEqual(Array(11).fill('WATCHDOG=1'));
      pings += first.length;

      hung = true;
      expect(await advance(2000)).toEqual([]); // ten periods while a role is hung
      expect(n.counters.watchdogSkipped).toBe(10);

      hung = false;
      const resumed = await advance(2500);
      expect(resumed).toEqual(Array(5).fill('WATCHDOG=1'));
      pings += resumed.length;
      expect(pings).toBe(16);

      stop();
      clock.runUntil(5000);
      n.stopping('board shutting down');
      n.status('end');
      expect(await rx.until('STATUS=end')).toEqual(['STOPPING=1\nSTATUS=board shutting down']);
      expect(n.counters.failed).toBe(0);
      n.close();
    },
  );

  it.skipIf(!dgram.ok)(
    'READY=1 dropped by a full receive queue is sent again once the socket drains',
    async () => {
      const path = join(dir, 'congested.sock');
      const rx = pathReceiver(path);
      const { logger } = recordingLogger();
      const clock = new VirtualScheduler();
      const n = SdNotifier.open({ logger, scheduler: clock, env: { NOTIFY_SOCKET: path } });
      for (let i = 0; i < 40; i++) n.watchdog(); // the receiver cannot read before this test yields
      n.ready();
      expect(n.counters.failed).toBeGreaterThan(0);
      const retries = setInterval(() => clock.runUntil(clock.now() + 10), 20);
      const before = await rx.until('READY=1').finally(() => clearInterval(retries));
      expect(before.length).toBeLessThan(40);
      expect(before.every((d) => d === 'WATCHDOG=1')).toBe(true);
      n.close();
    },
  );

  it.skipIf(!dgram.ok)('a vanished receiver is a counted, logged failure, not a crash', async () => {
    const { logger, lines } = recordingLogger();
    const n = SdNotifier.open({
      logger,
      scheduler: new VirtualScheduler(),
      env: { NOTIFY_SOCKET: join(dir, 'gone.sock') },
    });
    expect(n.enabled).toBe(true);
    n.ready();
    n.watchdog();
    expect(n.counters.failed).toBe(2);
    expect(lines.filter((l) => l['msg'] === 'sd_notify send failed')).toHaveLength(1); // logged once per error
    n.close();
  });

  const socat = spawnSync('socat', ['-V'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!dgram.ok || !socat)(
    'abstract socket: unix-dgram cannot address it, so nothing is sent anywhere and the reason is logged',
    async () => {
      if (!dgram.ok) return;
      // The module's flaw, stated as a test: if a fixed unix-dgram can bind two abstract names, this fails and the
      // notifier starts sending to abstract names (the probe decides at run time).
      expect(abstractNamesWork(dgram.module)).toBe(false);

      const name = `triplex-test-${process.pid}`;
      const receiver: ChildProcess = spawn('socat', ['-u', `ABSTRACT-RECV:${name}`, '-'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      cleanups.push(() => receiver.kill('SIGKILL'));
      let received = '';
      receiver.stdout!.on('data', (b: Buffer) => {
        received += b.toString('utf8');
      });
      // The all-NUL address unix-dgram would really send to: bind it, and see that nothing arrives there either.
      const collapsed: string[] = [];
      const sink = dgram.module.createSocket('unix_dgram', (m) => collapsed.push(m.toString()));
      sink.on('error', () => undefined);
      sink.bind('\0whatever');
      cleanups.push(() => sink.close());

      const { logger, lines } = recordingLogger();
      const clock = new VirtualScheduler();
      const n = SdNotifier.open({
        logger,
        scheduler: clock,
        env: { NOTIFY_SOCKET: `@${name}`, WATCHDOG_USEC: '200000' },
      });
      expect(n.enabled).toBe(false);
      expect(n.disabledReason).toContain('abstract');
      expect(lines.some((l) => String(l['reason']).includes(`@${name}`))).toBe(true);
      n.ready();
      n.startWatchdog(() => true);
      clock.runUntil(1000);
      n.stopping();
      expect(n.counters.sent).toBe(0);

      // Prove the receiver is live: a datagram sent by socat itself arrives, and it is the only one.
      for (let i = 0; i < 100 && !received.includes('probe'); i++) {
        spawnSync('socat', ['-u', '-', `ABSTRACT-SENDTO:${name}`], { input: 'probe' });
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(received.replaceAll('probe', '')).toBe('');
      expect(received).toContain('probe');
      expect(collapsed).toEqual([]);
    },
  );
});
