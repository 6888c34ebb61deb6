/** Drives firmware-bridge/host/tool.c: one command a line, one answer a line (see the comment there). */
import { spawnSync } from 'node:child_process';
import { build } from '../../src/runtime/firmware/toolchain.ts';

export const hex = (b: Uint8Array): string => (b.length === 0 ? '-' : Buffer.from(b).toString('hex'));
export const unhex = (s: string): Uint8Array =>
  s === '-' ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, 'hex'));

/** Run a batch of commands through one tool process; returns the answers, in order. */
export function tool(commands: readonly string[]): string[] {
  const binary = build('tool');
  const r = spawnSync(binary, [], {
    input: `${commands.join('\n')}\n`,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`triplex-fw-tool failed: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  lines.pop();
  if (lines.length !== commands.length)
    throw new Error(`tool answered ${lines.length} of ${commands.length}`);
  return lines;
}
