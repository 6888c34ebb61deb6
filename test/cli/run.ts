/** Runs the real `triplex` command (bin/triplex.mjs) as a child process, for the CLI tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

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
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ended = false;
  child.stdout!.on('data', (b: Buffer) => {
    stdout += b.toString('utf8');
  });
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run>((resolveRun) => {
    child.on('close', (code, signal) => {
      ended = true;
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
  const stderrMatches = (pattern: RegExp): Promise<boolean> =>
    new Promise((resolveMatch) => {
      const check = (): void => {
        if (pattern.test(stderr)) resolveMatch(true);
        else if (ended) resolveMatch(false);
        else setTimeout(check, 2);
      };
      check();
    });
  return { child, done, stderrMatches };
}

export async function triplex(args: readonly string[], timeoutMs?: number): Promise<Run> {
  return await start(args, timeoutMs).done;
}
