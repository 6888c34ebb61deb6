/**
 * Byte links to a firmware unit. Async links deliver chunks to a callback (a child's stdio pipes, or QEMU's
 * UART on a `-chardev socket` Node connects to). Sync links read with a blocking call (a pair of FIFOs), which
 * is what a single-threaded virtual-time loop needs to run the unit in lockstep: request, then the answer,
 * before the next scheduler event.
 */
import { closeSync, constants, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ByteLink {
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface AsyncByteLink extends ByteLink {
  readonly sync: false;
  onData(fn: (chunk: Uint8Array) => void): void;
  onClose(fn: () => void): void;
}

export interface SyncByteLink extends ByteLink {
  readonly sync: true;
  /** Bytes available within `timeoutMs` (waiting only if none are), [] at end of stream, null on timeout. */
  read(timeoutMs: number): Uint8Array | null;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleep without yielding to the event loop (sync links only). */
function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * A FIFO pair seen from Node: `toUnit` is written with blocking writes, `fromUnit` read without blocking and
 * polled (spin, then sleeps growing to 1 ms). The wall-clock timeout only ends a wait for a dead unit.
 */
export class FifoLink implements SyncByteLink {
  readonly sync = true;
  private readonly buffer = new Uint8Array(65536);
  private closed = false;
  /** End of stream seen: the unit is gone; writes are dropped (they would fill the FIFO and block). */
  private dead = false;
  private pid: number | undefined;

  constructor(
    private readonly writeFd: number,
    private readonly readFd: number,
    /** A write end Node holds on `fromUnit` so that no writer yet (or a restart) is not end of stream. */
    private readonly holdFd: number | undefined,
  ) {}

  /**
   * Open the Node ends: `toUnit` read-write (never blocks on open), `fromUnit` read-only non-blocking. With
   * `hold`, Node also keeps a write end of `fromUnit` (for a unit that opens it after starting, as QEMU does):
   * end of stream is then never seen, and a dead unit is found by its process state (see watch).
   */
  static open(toUnit: string, fromUnit: string, hold = false): FifoLink {
    const readFd = openSync(fromUnit, constants.O_RDONLY | constants.O_NONBLOCK);
    const holdFd = hold ? openSync(fromUnit, constants.O_WRONLY) : undefined;
    const writeFd = openSync(toUnit, constants.O_RDWR);
    return new FifoLink(writeFd, readFd, holdFd);
  }

  /** The process on the other end, checked while waiting (a sync wait runs no event loop to see it exit). */
  watch(pid: number | undefined): void {
    this.pid = pid;
  }

  private gone(): boolean {
    if (this.pid === undefined) return false;
    try {
      // Linux: field 3 of /proc/<pid>/stat is the state; Z is a zombie not yet reaped.
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
    } catch {
      return true;
    }
  }

  write(bytes: Uint8Array): void {
    if (this.dead || this.closed) return;
    let done = 0;
    for (let i = 0; done < bytes.length && i < 1_000_000; i++) done += writeSync(this.writeFd, bytes, done);
  }

  read(timeoutMs: number): Uint8Array | null {
    if (this.dead || this.closed) return new Uint8Array(0);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const n = readSync(this.readFd, this.buffer, 0, this.buffer.length, null);
        if (n === 0) this.dead = true;
        return this.buffer.slice(0, n);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (Date.now() - started > timeoutMs) return null;
      if (attempt % 256 === 255 && this.holdFd !== undefined && this.gone()) {
        this.dead = true;
        return new Uint8Array(0);
      }
      if (attempt > 200) pause(Math.min(1, 0.02 * (attempt - 200)));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.writeFd);
    closeSync(this.readFd);
    if (this.holdFd !== undefined) closeSync(this.holdFd);
  }
}

/** Writes to and reads from a child's stdin/stdout. */
export function pipeLink(stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream): AsyncByteLink {
  return {
    sync: false,
    write: (bytes) => {
      stdin.write(bytes);
    },
    onData: (fn) => stdout.on('data', (chunk: Buffer) => fn(new Uint8Array(chunk))),
    onClose: (fn) => stdout.on('close', fn),
    close: () => stdin.end(),
  };
}

/** Connect to a Unix socket that a server (QEMU's `-chardev socket,server=on`) is about to open. */
export async function connectUnix(path: string, timeoutMs: number): Promise<AsyncByteLink> {
  const started = Date.now();
  let lastError: Error | undefined;
  for (let i = 0; Date.now() - started < timeoutMs && i < 100_000; i++) {
    try {
      const socket = await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      return socketLink(socket);
    } catch (e) {
      lastError = e as Error;
      await sleep(20);
    }
  }
  throw new Error(`could not connect to ${path} within ${timeoutMs} ms: ${lastError?.message ?? 'timeout'}`);
}

function socketLink(s: Socket): AsyncByteLink {
  s.setNoDelay(true);
  return {
    sync: false,
    write: (bytes) => {
      s.write(bytes);
    },
    onData: (fn) => s.on('data', (chunk: Buffer) => fn(new Uint8Array(chunk))),
    onClose: (fn) => s.on('close', fn),
    close: () => s.destroy(),
  };
}
