/**
 * The sd_notify protocol (sd_notify(3), "Notes"): datagrams of newline-separated KEY=VALUE lines sent to the
 * AF_UNIX socket named by $NOTIFY_SOCKET. The board supervisor sends READY=1 once its roles are up, WATCHDOG=1
 * every half of $WATCHDOG_USEC while its roles are healthy (never while one is hung: then systemd's watchdog
 * restarts the whole board, and systemd's RuntimeWatchdogSec= covers systemd itself with the hardware
 * watchdog), STOPPING=1 on shutdown and STATUS=... as things change.
 *
 * Node has no Unix datagram sockets, so this uses the optional native module unix-dgram, loaded lazily; where
 * it cannot load, or there is no $NOTIFY_SOCKET, every call is a no-op and the reason is logged once.
 * Spawning `systemd-notify` instead is wrong here: with NotifyAccess=main systemd accepts only datagrams whose
 * sender is the main PID, which a helper process is not.
 *
 * Abstract socket names ('@' in $NOTIFY_SOCKET, a leading NUL on the wire) are parsed, but unix-dgram 2.0.7
 * copies the address with strncpy and passes sizeof(sockaddr_un) as its length, so every abstract name becomes
 * the same all-NUL address (any process can bind it). Sending there would leak our state to whoever holds that
 * name and never reach systemd, so the notifier probes the module (`abstractNamesWork`) and stays off with a
 * logged reason when it cannot address abstract names. systemd's own managers use a path
 * (/run/systemd/notify); abstract names come from old systemd versions and some container managers.
 *
 * @example
 * const notify = await SdNotifier.open({ logger, scheduler });
 * notify.ready('4 roles up');
 * const stop = notify.startWatchdog(() => supervisor.healthy());
 * // ... on shutdown
 * stop(); notify.stopping(); notify.close();
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Scheduler } from '../scheduler.ts';

/** Where $NOTIFY_SOCKET points. */
export type NotifyAddress =
  | { readonly kind: 'path'; readonly path: string }
  /** `name` excludes the leading NUL; the wire address is NUL + name. */
  | { readonly kind: 'abstract'; readonly name: string };

/** sockaddr_un.sun_path is 108 bytes on Linux, one of them the terminating NUL of a path. */
const SUN_PATH_MAX = 107;
/** STATUS= texts are cut here: systemctl shows one line, and a datagram should stay small. */
export const MAX_STATUS_BYTES = 256;
/** systemd refuses WATCHDOG_USEC values that do not fit; so do we, beyond a day. */
const MAX_WATCHDOG_USEC = 86_400_000_000;

export type ParsedNotifySocket =
  | { readonly ok: true; readonly address: NotifyAddress }
  | { readonly ok: false; readonly reason: string };

/** Parses $NOTIFY_SOCKET: '/path' or '@abstract'. Anything else (empty, relative, vsock:) is refused. */
export function parseNotifySocket(value: string | undefined): ParsedNotifySocket {
  if (value === undefined || value === '') return { ok: false, reason: 'NOTIFY_SOCKET is not set' };
  const length = Buffer.byteLength(value);
  if (value.startsWith('/')) {
    if (length > SUN_PATH_MAX)
      return { ok: false, reason: `NOTIFY_SOCKET path is ${length} bytes, above 107` };
    return { ok: true, address: { kind: 'path', path: value } };
  }
  if (value.startsWith('@')) {
    if (length < 2) return { ok: false, reason: "NOTIFY_SOCKET '@' names no abstract socket" };
    if (length > SUN_PATH_MAX + 1)
      return { ok: false, reason: 'NOTIFY_SOCKET abstract name above 107 bytes' };
    return { ok: true, address: { kind: 'abstract', name: value.slice(1) } };
  }
  return {
    ok: false,
    reason: `NOTIFY_SOCKET '${value.slice(0, 40)}' is neither a path nor an abstract name`,
  };
}

/**
 * Interval between WATCHDOG=1 pings: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; undefined if
 * the watchdog is off or meant for another process ($WATCHDOG_PID names a pid other than ours).
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number = process.pid): number | undefined {
  const usec = env['WATCHDOG_USEC'];
  if (usec === undefined || !/^[0-9]{1,12}$/.test(usec)) return undefined;
  const value = Number(usec);
  if (value <= 0 || value > MAX_WATCHDOG_USEC) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== String(pid)) return undefined;
  return Math.max(1, Math.floor(value / 2000));
}

/** The variables sd_notify uses, removed from the environment of child processes (they must not notify). */
export const NOTIFY_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/** The parts of unix-dgram used here. */
export interface UnixDgramSocket {
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'listening', listener: () => void): unknown;
  bind(path: string): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
}
export interface UnixDgramModule {
  createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): UnixDgramSocket;
}

export type ModuleLoad =
  | { readonly ok: true; readonly module: UnixDgramModule }
  | { readonly ok: false; readonly reason: string };

/** Loads unix-dgram lazily (a native optional dependency): a typed failure, never a throw. */
export function loadUnixDgram(): ModuleLoad {
  try {
    const require = createRequire(import.meta.url);
    const module = require('unix-dgram') as UnixDgramModule;
    if (typeof module.createSocket !== 'function')
      return { ok: false, reason: 'unix-dgram has no createSocket' };
    return { ok: true, module };
  } catch (e) {
    return { ok: false, reason: `unix-dgram did not load: ${(e as Error).message.split('\n')[0]}` };
  }
}

/**
 * Whether `module` can address abstract socket names: two distinct abstract names must bind side by side.
 * unix-dgram 2.0.7 maps every abstract name to the same all-NUL address, so the second bind fails.
 */
export function abstractNamesWork(module: UnixDgramModule): boolean {
  const sockets: UnixDgramSocket[] = [];
  let failed = false;
  try {
    for (const suffix of ['a', 'b']) {
      const s = module.createSocket('unix_dgram');
      s.on('error', () => {
        failed = true;
      });
      sockets.push(s);
      // bind() reports failure synchronously through the 'error' event.
      s.bind(`\0triplex-probe-${process.pid}-${suffix}`);
    }
  } catch {
    failed = true;
  } finally {
    for (const s of sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
  return !failed;
}

export interface SdNotifierOptions {
  readonly logger: Logger;
  /** Drives the watchdog pings (RealScheduler in production, a virtual one in tests). */
  readonly scheduler: Scheduler;
  /** Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default loadUnixDgram (tests inject a failing loader to see the soft failure). */
  readonly load?: () => ModuleLoad;
}

export interface NotifyCounters {
  sent: number;
  failed: number;
  /** Watchdog periods skipped because a role was not healthy. */
  watchdogSkipped: number;
}

/** Sends sd_notify datagrams to $NOTIFY_SOCKET; every method is a no-op when it is disabled. */
export class SdNotifier {
  readonly counters: NotifyCounters = { sent: 0, failed: 0, watchdogSkipped: 0 };
  /** Set when disabled: why nothing is sent. */
  readonly disabledReason: string | undefined;
  /** Half of $WATCHDOG_USEC, if systemd asked for pings. */
  readonly watchdogMs: number | undefined;
  private socket: UnixDgramSocket | undefined;
  private readonly target: string;
  private lastError: string | undefined;
  /** A READY=1 or STOPPING=1 the receiver's queue was too full to take, and the retries it has had. */
  private pending: { state: string; tries: number } | undefined;

  private constructor(
    private readonly options: SdNotifierOptions,
    socket: UnixDgramSocket | undefined,
    target: string,
    disabledReason: string | undefined,
  ) {
    this.socket = socket;
    this.target = target;
    this.disabledReason = disabledReason;
    this.watchdogMs = socket === undefined ? undefined : watchdogIntervalMs(options.env ?? process.env);
  }

  /** Opens the notifier. Never throws: a missing socket or module gives a disabled notifier and one log line. */
  static open(options: SdNotifierOptions): SdNotifier {
    const env = options.env ?? process.env;
    const log = options.logger;
    const parsed = parseNotifySocket(env['NOTIFY_SOCKET']);
    if (!parsed.ok) {
      const quiet = env['NOTIFY_SOCKET'] === undefined;
      (quiet ? log.debug.bind(log) : log.warn.bind(log))({ reason: parsed.reason }, 'sd_notify off');
      return new SdNotifier(options, undefined, '', parsed.reason);
    }
    const loaded = (options.load ?? loadUnixDgram)();
    if (!loaded.ok) {
      log.warn({ reason: loaded.reason }, 'sd_notify off: no Unix datagram sockets');
      return new SdNotifier(options, undefined, '', loaded.reason);
    }
    const address = parsed.address;
    if (address.kind === 'abstract' && !abstractNamesWork(loaded.module)) {
      const reason =
        `NOTIFY_SOCKET names the abstract socket @${address.name}, which unix-dgram cannot address ` +
        '(it truncates abstract names to one shared all-NUL address); not sending there';
      log.warn({ reason }, 'sd_notify off');
      return new SdNotifier(options, undefined, '', reason);
    }
    let socket: UnixDgramSocket;
    try {
      socket = loaded.module.createSocket('unix_dgram');
    } catch (e) {
      const reason = `cannot create a Unix datagram socket: ${(e as Error).message}`;
      log.warn({ reason }, 'sd_notify off');
      return new SdNotifier(options, undefined, '', reason);
    }
    const target = address.kind === 'path' ? address.path : `\0${address.name}`;
    const notifier = new SdNotifier(options, socket, target, undefined);
    socket.on('error', (err) => notifier.noteFailure(err.message));
    log.info({ socket: env['NOTIFY_SOCKET'], watchdogMs: notifier.watchdogMs ?? null }, 'sd_notify on');
    return notifier;
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** READY=1, with a status line. */
  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${clean(status)}`);
  }

  /** STOPPING=1: the board is shutting down. */
  stopping(status?: string): void {
    this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${clean(status)}`);
  }

  /** STATUS=..., shown by `systemctl status`. */
  status(text: string): void {
    this.send(`STATUS=${clean(text)}`);
  }

  /** One WATCHDOG=1 ping. */
  watchdog(): void {
    this.send('WATCHDOG=1');
  }

  /**
   * Pings WATCHDOG=1 every `watchdogMs` while `healthy()` holds; skips (and counts) a period when it does not,
   * so a hung role lets systemd's watchdog fire. Returns a function that stops the pings. A no-op without
   * $WATCHDOG_USEC.
   */
  startWatchdog(healthy: () => boolean): () => void {
    const period = this.watchdogMs;
    if (period === undefined || !this.enabled) return () => undefined;
    const clock = this.options.scheduler;
    let stopped = false;
    let cancel: () => void = () => undefined;
    let wasHealthy = true;
    const beat = (due: number): void => {
      if (stopped) return;
      const ok = healthy();
      if (ok) this.watchdog();
      else this.counters.watchdogSkipped += 1;
      if (ok !== wasHealthy) {
        this.options.logger.warn(
          { healthy: ok },
          ok ? 'watchdog pings resumed' : 'watchdog pings held: a role is not healthy',
        );
        wasHealthy = ok;
      }
      // Scheduled from the due time, not from now: pings do not drift later under load.
      const next = Math.max(due + period, clock.now());
      cancel = clock.at(next, () => beat(next));
    };
    beat(clock.now());
    return () => {
      stopped = true;
      cancel();
    };
  }

  /** Sends one datagram; false if disabled. Failures are counted and logged when the error changes. */
  send(state: string): boolean {
    const socket = this.socket;
    if (socket === undefined) return false;
    const buf = Buffer.from(state, 'utf8');
    try {
      socket.send(buf, 0, buf.length, this.target, (err) => {
        if (err === undefined || err === null) {
          this.counters.sent += 1;
          this.lastError = undefined;
          return;
        }
        this.noteFailure(err.message);
        // A full receive queue refuses the datagram (EAGAIN, errno -11 from unix-dgram's sendto). A lost
        // WATCHDOG=1 is replaced by the next one; a lost READY=1 or STOPPING=1 is not: retry it shortly.
        if (isCongestion(err) && /^(READY|STOPPING)=1/m.test(state)) this.retryLater(state);
      });
    } catch (e) {
      this.noteFailure((e as Error).message);
      return false;
    }
    return true;
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    try {
      socket.close();
    } catch {
      // already closed
    }
  }

  private retryLater(state: string): void {
    const tries = this.pending?.state === state ? this.pending.tries + 1 : 1;
    if (tries > MAX_RETRIES) {
      this.pending = undefined;
      this.options.logger.warn({ state }, 'sd_notify gave up: the receiver stayed congested');
      return;
    }
    this.pending = { state, tries };
    const clock = this.options.scheduler;
    clock.at(clock.now() + RETRY_MS, () => {
      if (this.pending?.state === state) this.send(state);
    });
  }

  private noteFailure(message: string): void {
    this.counters.failed += 1;
    if (message !== this.lastError) this.options.logger.warn({ error: message }, 'sd_notify send failed');
    this.lastError = message;
  }
}

/** Retries of a congested READY=1 or STOPPING=1, RETRY_MS apart (half a second in all). */
const MAX_RETRIES = 50;
const RETRY_MS = 10;

function isCongestion(err: Error): boolean {
  const errno = (err as { errno?: unknown }).errno;
  return errno === -11 || errno === 1 || err.message === 'congestion';
}

/** One line, at most MAX_STATUS_BYTES: a newline would start another KEY=VALUE assignment. */
function clean(text: string): string {
  const line = text.replace(/[\r\n]+/g, ' ');
  const buf = Buffer.from(line, 'utf8');
  if (buf.length <= MAX_STATUS_BYTES) return line;
  return buf
    .subarray(0, MAX_STATUS_BYTES)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}
