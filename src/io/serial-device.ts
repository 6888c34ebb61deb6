/**
 * One serial port (a real UART, a USB adapter, or a pseudo-terminal) kept open: opens and closes are
 * serialized, a device that disappears is reopened with exponential back-off until it comes back, a missing
 * port is a 'down' state with a clear lastError (never a throw), writes honour back-pressure ('drain'), and
 * optionally pace at the configured baud rate (10 bit times per byte: start, 8 data, stop), because
 * pseudo-terminals deliver instantly whatever baud they are given.
 *
 * Bytes in are handed to `onData` as they arrive; framing is the owner's business (serial.ts, slcan.ts).
 */

import { realpathSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BehaviorSubject } from 'rxjs';
import { SerialPort } from 'serialport';
import { type LinkState, StatsCounter } from './transport.ts';

export interface BackoffOptions {
  /** First retry delay in ms. */
  initialMs: number;
  /** Cap on the delay in ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5000 };

/** Delay before retry number `attempt` (0-based): doubling from initialMs, capped at maxMs. No jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const a = Math.max(0, Math.min(attempt, 30));
  return Math.min(options.maxMs, options.initialMs * 2 ** a);
}

/** Time in ms that `bytes` take on a UART at `baudRate` with 10 bit times per byte. */
export function uartTimeMs(bytes: number, baudRate: number): number {
  return (bytes * 10 * 1000) / baudRate;
}

export interface SerialDeviceOptions {
  path: string;
  baudRate: number;
  /** Pace writes at baudRate (default true: needed on pseudo-terminals, harmless on a real UART). */
  pace?: boolean;
  reconnect?: BackoffOptions;
  /** Bytes allowed to wait for the wire; a write beyond it is dropped ('queue-full'). Default 64 KiB. */
  maxQueueBytes?: number;
  /** How often to check that the device path still leads to the opened device (ms, default 250). */
  watchMs?: number;
}

interface Pending {
  bytes: Uint8Array;
  frame: boolean;
  queuedAt: number;
  /** When the last byte would leave the wire (paced); fixed when the frame reaches the head of the queue. */
  due: number | undefined;
}

/** A write later than this past its due time is not worth a timer. */
const TIMER_SLACK_MS = 0.25;

/**
 * Retry delays of a write the device refused (EAGAIN: its buffer is full, the peer is not reading): doubling
 * from the first to the last, so a peer gone for seconds costs a few wake-ups a second, not a busy wait.
 */
const WRITE_RETRY_FIRST_MS = 1;
const WRITE_RETRY_MAX_MS = 50;

export class SerialDevice {
  readonly state = new BehaviorSubject<LinkState>('connecting');
  readonly counters = new StatsCounter();
  /** Why the device is not up, in words (e.g. 'open /dev/ttyUSB0: No such file or directory'). */
  lastError: string | undefined;
  /** Receives every chunk read from the port. */
  onData: (chunk: Uint8Array) => void = () => {};

  private port: SerialPort | undefined;
  private op: Promise<void> = Promise.resolve();
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private waitingDrain = false;
  /** The tail of the head write that the device refused (EAGAIN), retried on writeRetryTimer. */
  private unwritten: Buffer | undefined;
  private writeRetryTimer: NodeJS.Timeout | undefined;
  private writeRetryMs = WRITE_RETRY_FIRST_MS;
  private wireFreeAt = 0;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private stopped = true;
  private readonly pace: boolean;
  private readonly maxQueueBytes: number;
  private readonly backoff: BackoffOptions;
  private watchTimer: NodeJS.Timeout | undefined;
  /** What the path resolved to when opened (a pty link points at a new /dev/pts/N after a restart). */
  private openedTarget: string | undefined;

  constructor(readonly options: SerialDeviceOptions) {
    if (!Number.isInteger(options.baudRate) || options.baudRate < 50 || options.baudRate > 20_000_000) {
      throw new RangeError(`serial ${options.path}: bad baud rate ${options.baudRate}`);
    }
    this.pace = options.pace ?? true;
    this.maxQueueBytes = options.maxQueueBytes ?? 64 * 1024;
    this.backoff = options.reconnect ?? DEFAULT_BACKOFF;
  }

  /** Start keeping the port open. Resolves after the first attempt, whether it succeeded or not. */
  start(): Promise<void> {
    this.stopped = false;
    return this.serialize(() => this.tryOpen());
  }

  /** Stop: cancel retries, drop the queue, close the port. Idempotent. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    return this.serialize(async () => {
      this.dropQueue('closed');
      await this.closePort();
      this.state.next('down');
    });
  }

  /**
   * Queue bytes for the wire. False (counted) when the port is not up or the queue is full. `frame` says
   * whether the write counts as a frame in the statistics (an SLCAN command does not).
   */
  write(bytes: Uint8Array, frame = true): boolean {
    if (this.state.value !== 'up' || this.port === undefined) return this.counters.drop('link-down');
    if (this.queuedBytes + bytes.length > this.maxQueueBytes) return this.counters.drop('queue-full');
    this.queue.push({ bytes, frame, queuedAt: performance.now(), due: undefined });
    this.queuedBytes += bytes.length;
    this.pump();
    return true;
  }

  /** Bytes waiting for the wire. */
  queued(): number {
    return this.queuedBytes;
  }

  private serialize(task: () => Promise<void>): Promise<void> {
    const next = this.op.then(task, task);
    this.op = next.catch(() => {});
    return this.op;
  }

  private async tryOpen(): Promise<void> {
    if (this.stopped || this.port !== undefined) return;
    this.state.next('connecting');
    const port = new SerialPort({
      path: this.options.path,
      baudRate: this.options.baudRate,
      autoOpen: false,
    });
    const error = await new Promise<Error | null>((resolve) => port.open((err) => resolve(err ?? null)));
    if (error !== null) {
      this.lastError = `open ${this.options.path}: ${error.message}`;
      this.counters.error('open-failed');
      this.state.next('down');
      this.scheduleRetry();
      return;
    }
    if (this.stopped) {
      await closeQuietly(port);
      return;
    }
    this.port = port;
    this.openedTarget = resolvePath(this.options.path);
    this.watch(port);
    this.attempt = 0;
    this.lastError = undefined;
    this.wireFreeAt = 0;
    port.on('data', (chunk: Buffer) => {
      this.counters.bytesIn += chunk.length;
      this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    });
    port.on('error', (err: Error) => {
      this.lastError = `${this.options.path}: ${err.message}`;
      this.counters.error('port-error');
    });
    port.on('close', () => this.onClosed(port));
    // A read of zero bytes (EOF, as a pty gives when its other side goes away) ends the stream without
    // closing the port: treat it as a disconnect, or the device would look up forever.
    port.on('end', () => {
      this.lastError = `${this.options.path}: end of stream (device gone)`;
      if (port.isOpen) port.close();
      else this.onClosed(port);
    });
    this.state.next('up');
  }

  /**
   * The read side does not always report a vanished device (a pty whose socat died can leave a read pending
   * forever), so also watch the path: gone, or leading to another device, means this port is dead.
   */
  private watch(port: SerialPort): void {
    clearInterval(this.watchTimer);
    this.watchTimer = setInterval(() => {
      if (this.port !== port) {
        clearInterval(this.watchTimer);
        return;
      }
      const target = resolvePath(this.options.path);
      if (target !== undefined && target === this.openedTarget) return;
      this.lastError = `${this.options.path}: device vanished`;
      port.close(() => this.onClosed(port));
    }, this.options.watchMs ?? 250);
    this.watchTimer.unref?.();
  }

  /** The port closed under us (device unplugged, pty gone) or by stop(). */
  private onClosed(port: SerialPort): void {
    if (this.port !== port) return;
    this.port = undefined;
    clearInterval(this.watchTimer);
    this.resetWriter();
    this.dropQueue('link-down');
    if (this.stopped) return;
    this.counters.error('disconnected');
    this.lastError ??= `${this.options.path}: disconnected`;
    this.state.next('down');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.serialize(() => this.tryOpen());
    }, delay);
    this.retryTimer.unref?.();
  }

  private async closePort(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    clearInterval(this.watchTimer);
    clearTimeout(this.paceTimer as NodeJS.Timeout | undefined);
    clearImmediate(this.paceTimer as NodeJS.Immediate | undefined);
    this.paceTimer = undefined;
    this.resetWriter();
    if (port?.isOpen) await closeQuietly(port);
  }

  private dropQueue(reason: string): void {
    if (this.queue.length === 0) return;
    this.counters.drop(reason, this.queue.length);
    this.queue = [];
    this.queuedBytes = 0;
  }

  /** Move due frames to the port, one timer at a time; never more than the queue holds. */
  private pump(): void {
    const port = this.port;
    while (
      this.queue.length > 0 &&
      port !== undefined &&
      !this.waitingDrain &&
      this.paceTimer === undefined
    ) {
      const head = this.queue[0]!;
      const now = performance.now();
      if (head.due === undefined) {
        head.due = this.pace
          ? Math.max(now, this.wireFreeAt) + uartTimeMs(head.bytes.length, this.options.baudRate)
          : now;
        this.wireFreeAt = head.due;
      }
      if (head.due > now + TIMER_SLACK_MS) {
        // setTimeout fires up to a millisecond late; aim a millisecond early and finish on setImmediate, so
        // pacing costs what the wire would and not a timer tick more per hop.
        const wait = head.due - now;
        const resume = (): void => {
          this.paceTimer = undefined;
          this.pump();
        };
        this.paceTimer = wait > 1 ? setTimeout(resume, wait - 1) : setImmediate(resume);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.bytes.length;
      const bytes = Buffer.from(head.bytes.buffer, head.bytes.byteOffset, head.bytes.length);
      this.counters.bytesOut += head.bytes.length;
      if (head.frame) {
        this.counters.framesOut++;
        this.counters.latency(now - head.queuedAt);
      }
      const fd = portFd(port);
      if (fd !== undefined) this.writeToFd(port, fd, bytes);
      else if (!port.write(bytes)) {
        // No file descriptor to write on (not a Unix binding): serialport's own write path and its 'drain'.
        this.waitingDrain = true;
        port.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
      }
    }
  }

  /**
   * Writes on the port's (non-blocking) descriptor from the main thread instead of through serialport.
   *
   * serialport answers a refused write (EAGAIN) by polling for 'writable', and its poller then keeps
   * 'writable' in the fd's event mask for good: from there on every readable event switches the epoll watch
   * to writable and back, and while a read waits for a libuv pool thread the unread input keeps the fd
   * readable, so the main thread re-registers the fd as fast as it can (epoll_ctl, n_tty_poll: ~90% of a
   * core, mostly in the kernel, when real-time scheduling kept the pool thread off the CPU). A link whose peer
   * was gone for a while always had such a write. Here a refused write is retried on a timer with back-off,
   * and serialport's poller only ever waits for 'readable'.
   */
  private writeToFd(port: SerialPort, fd: number, bytes: Buffer): void {
    let written: number;
    try {
      written = writeSync(fd, bytes, 0, bytes.length);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') {
        // EIO, ENXIO, EBADF: the device is gone; close and let the reconnect bring it back.
        this.lastError = `${this.options.path}: write: ${(err as Error).message}`;
        this.counters.error('write-failed');
        this.resetWriter();
        if (port.isOpen) port.close(() => this.onClosed(port));
        else this.onClosed(port);
        return;
      }
      written = 0;
    }
    if (written >= bytes.length) {
      this.writeRetryMs = WRITE_RETRY_FIRST_MS;
      return;
    }
    this.unwritten = bytes.subarray(written);
    this.waitingDrain = true;
    clearTimeout(this.writeRetryTimer);
    this.writeRetryTimer = setTimeout(() => {
      this.writeRetryTimer = undefined;
      const rest = this.unwritten;
      if (this.port !== port || rest === undefined) return;
      this.unwritten = undefined;
      this.writeRetryMs = Math.min(WRITE_RETRY_MAX_MS, this.writeRetryMs * 2);
      this.writeToFd(port, fd, rest);
      if (this.unwritten === undefined && this.port === port) {
        this.waitingDrain = false;
        this.pump();
      }
    }, this.writeRetryMs);
    this.writeRetryTimer.unref?.();
  }

  /** Forget a refused write (the port is closing). */
  private resetWriter(): void {
    clearTimeout(this.writeRetryTimer);
    this.writeRetryTimer = undefined;
    this.unwritten = undefined;
    this.writeRetryMs = WRITE_RETRY_FIRST_MS;
    this.waitingDrain = false;
  }
}

/** The open descriptor of a Unix serialport binding (absent on others). */
function portFd(port: SerialPort): number | undefined {
  const binding = port.port as { fd?: unknown } | undefined;
  return typeof binding?.fd === 'number' && binding.fd >= 0 ? binding.fd : undefined;
}

function resolvePath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function closeQuietly(port: SerialPort): Promise<void> {
  return new Promise((resolve) => port.close(() => resolve()));
}
