/** Runs the real `triplex` command (bin/triplex.mjs) as a child process, for the CLI tests. */
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { startRun } from '../../src/runtime/process/child.ts';

export const BIN = resolve('bin/triplex.mjs');

export interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Started {
  readonly child: ChildProcess;
  readonly done: Promise<Run>;
  /** Resolves when stderr so far matches `pattern` (false if the process ends first). */
  stderrMatches(pattern: RegExp): Promise<boolean>;
}

/** Starts `triplex args...`; `done` settles when it exits (killed after `timeoutMs`). */
export function start(args: readonly string[], timeoutMs = 60_000): Started {
  const run = startRun(
    { command: process.execPath, args: [BIN, ...args] },
    { timeoutMs, cwd: process.cwd() },
  );
  let ended = false;
  const done = run.done.then(({ code, signal, stdout, stderr }): Run => {
    ended = true;
    return { code, signal, stdout, stderr };
  });
  const stderrMatches = (pattern: RegExp): Promise<boolean> =>
    new Promise((resolveMatch) => {
      const check = (): void => {
        if (pattern.test(run.stderrSoFar())) resolveMatch(true);
        else if (ended) resolveMatch(false);
        else setTimeout(check, 2);
      };
      check();
    });
  return { child: run.child, done, stderrMatches };
}

export async function triplex(args: readonly string[], timeoutMs?: number): Promise<Run> {
  return await start(args, timeoutMs).done;
}
