/**
 * Pseudo-terminal pairs made by socat, for tests, laptop mode (`triplex sim --processes`) and the emulated
 * CAN bus: two linked ptys behave as the two ends of a null-modem cable.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export class PtyPair {
  private constructor(
    readonly a: string,
    readonly b: string,
    private readonly child: ChildProcess,
  ) {}

  /**
   * Spawn `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and wait until both links exist.
   * Rejects with a clear message when socat is missing or does not come up within `timeoutMs`.
   */
  static async open(a: string, b: string, timeoutMs = 5000): Promise<PtyPair> {
    const log: string[] = [];
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (log.length < 50) log.push(s);
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
      if (existsSync(a) && existsSync(b)) return new PtyPair(a, b, child);
      const failed = await Promise.race([spawnError, sleep(10).then(() => undefined)]);
      if (failed !== undefined) {
        const hint = (failed as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is socat installed?)' : '';
        throw new Error(`socat could not start${hint}: ${failed.message}`);
      }
      if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}: ${log.join('')}`);
    }
    child.kill('SIGTERM');
    throw new Error(`socat did not create ${a} and ${b} within ${timeoutMs} ms: ${log.join('')}`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Kill socat (both ptys vanish, as an unplugged cable would) and wait for it to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(2000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
