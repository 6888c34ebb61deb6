/**
 * Role heartbeats: a role process writes one line `hb <counter>\n` every heartbeat period to file descriptor 3,
 * a pipe the supervisor opens for it (named by $TRIPLEX_HEARTBEAT_FD). A dedicated descriptor keeps stdout and
 * stderr free for the role's logs, and works for any program (`echo hb 1 >&3` in a shell script).
 *
 * The heartbeat must come from the role's main loop (a timer on the same event loop as its frame work), so a
 * stuck loop stops it. When the supervisor is gone the write fails (EPIPE) and the role exits: no orphan role
 * keeps running without its watchdog.
 *
 * @example
 * // in a role process
 * const stop = startRoleHeartbeat({ periodMs: 50 });
 * // in the supervisor, per child
 * const reader = new HeartbeatReader();
 * child.stdio[3].on('data', (chunk) => { for (let i = reader.push(chunk); i > 0; i--) beat(); });
 */
import { writeSync } from 'node:fs';

export const HEARTBEAT_FD = 3;
export const HEARTBEAT_FD_ENV = 'TRIPLEX_HEARTBEAT_FD';
/** A heartbeat line is short; anything longer is garbage and is skipped up to the next newline. */
export const MAX_HEARTBEAT_LINE = 64;

/**
 * Splits the heartbeat stream into lines and counts the well-formed ones. Holds at most MAX_HEARTBEAT_LINE
 * bytes between chunks, whatever a role writes (a role is not trusted to write sense).
 */
export class HeartbeatReader {
  readonly counters = { beats: 0, malformed: 0, overlong: 0 };
  private partial = '';
  private discarding = false;

  /** Feeds bytes; returns how many heartbeats they completed. */
  push(chunk: Buffer | string): number {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    let beats = 0;
    let from = 0;
    for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
      const piece = text.slice(from, nl);
      from = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        this.partial = '';
        continue;
      }
      const line = this.partial + piece;
      this.partial = '';
      if (line.length > MAX_HEARTBEAT_LINE) this.counters.overlong += 1;
      else if (/^hb [0-9]{1,15}$/.test(line)) beats += 1;
      else this.counters.malformed += 1;
    }
    const rest = text.slice(from);
    if (!this.discarding) {
      if (this.partial.length + rest.length > MAX_HEARTBEAT_LINE) {
        this.counters.overlong += 1;
        this.partial = '';
        this.discarding = true;
      } else this.partial += rest;
    }
    this.counters.beats += beats;
    return beats;
  }
}

export interface RoleHeartbeatOptions {
  readonly periodMs: number;
  /** Default $TRIPLEX_HEARTBEAT_FD, else 3. */
  readonly fd?: number;
  /** Called once when the supervisor is gone (EPIPE, EBADF). Default: exit with status 70. */
  readonly onSupervisorGone?: (error: Error) => void;
}

/**
 * Role side: heartbeat every `periodMs` until stopped. A full pipe (EAGAIN: the supervisor is not reading)
 * skips a beat rather than blocking the role. Returns a function that stops the heartbeats.
 */
export function startRoleHeartbeat(options: RoleHeartbeatOptions): () => void {
  const fd = options.fd ?? Number(process.env[HEARTBEAT_FD_ENV] ?? HEARTBEAT_FD);
  const gone =
    options.onSupervisorGone ??
    ((): void => {
      process.exit(70);
    });
  let counter = 0;
  let stopped = false;
  const beat = (): void => {
    if (stopped) return;
    counter += 1;
    try {
      writeSync(fd, `hb ${counter}\n`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') return;
      stopped = true;
      clearInterval(timer);
      gone(e as Error);
    }
  };
  const timer = setInterval(beat, options.periodMs);
  beat();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
