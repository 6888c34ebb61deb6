import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { CanTransport } from '../../src/io/can.ts';
import { SlcanHost } from '../../src/io/slcan.ts';
import { ChildProc, ChildSet } from '../../src/runtime/process/child.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-canproc-'));
const children = new ChildSet();
let self: CanTransport | undefined;

afterAll(async () => {
  await self?.close();
  // SIGTERM each one and wait for it to exit (SIGKILL only if it has not after 10 s).
  await children.stopAll(10_000);
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): {
  child: ChildProc;
  line: (pred: (l: string) => boolean) => Promise<string>;
} {
  const child = children.add(
    ChildProc.spawn({
      command: process.execPath,
      args: ['--import', 'tsx', ...args],
      label: args[0]!,
      cwd: process.cwd(),
      stdout: true,
    }),
  );
  // Its errors show in the test's output, as when it inherited stderr.
  child.process.stderr!.on('data', (s: string) => process.stderr.write(s));
  let buf = '';
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  child.process.stdout!.on('data', (s: string) => {
    buf += s;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  const line = async (pred: (l: string) => boolean): Promise<string> => {
    for (let i = 0; i < 200; i++) {
      const hit = lines.find(pred);
      if (hit !== undefined) return hit;
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    throw new Error(`no matching line from ${args.join(' ')}; got ${JSON.stringify(lines)}`);
  };
  return { child, line };
}

describe('board processes joined by the emulated CAN bus process', () => {
  it('a board in another process answers over SLCAN ptys, through a bus in a third process', async () => {
    const nodes = { me: 1, echo: 2 };
    const bus = start(['src/io/can-bus-main.ts', join(dir, 'bus'), 'me', 'echo']);
    const { paths } = JSON.parse(await bus.line((l) => l.startsWith('{'))) as {
      paths: Record<string, string>;
    };
    const board = start(['test/io/fixtures/can-echo-board.ts', paths.echo!, 'echo', JSON.stringify(nodes)]);
    await board.line((l) => l === 'up');
    self = new CanTransport({
      self: 'me',
      nodes,
      driver: new SlcanHost({ path: paths.me!, bitrate: 1_000_000, replyTimeoutMs: 300 }),
    });
    await self.start();
    await firstValueFrom(self.state$.pipe(filter((s) => s === 'up')));
    const replies = firstValueFrom(self.received$.pipe(take(5), toArray()));
    for (let i = 0; i < 5; i++)
      self.send(
        'echo',
        Uint8Array.from({ length: 20 * i + 1 }, (_, k) => k + i),
      );
    const got = await replies;
    expect(got.map((r) => [r.from, r.bytes[0], r.bytes.length])).toEqual(
      Array.from({ length: 5 }, (_, i) => ['echo', 0xee, 20 * i + 2]),
    );
    bus.child.process.kill('SIGTERM');
    const stats = JSON.parse(await bus.line((l) => l.includes('"bus"'))) as { bus: { frames: number } };
    expect(stats.bus.frames).toBeGreaterThan(10);
  });
});
