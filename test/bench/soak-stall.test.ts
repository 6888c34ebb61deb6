/**
 * The soak's stall report: a snapshot once the voter went `thresholdFrames` without a write and every
 * `everyFrames` more, an end line when writes come back; and what /proc says of a real process.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processState, StallWatch } from '../../bench/soak-stall.ts';

describe('StallWatch', () => {
  it('snapshots at the threshold and every so many frames after, and says when writes come back', () => {
    const lines: Record<string, { frame?: number; frames: number; fromFrame: number; toFrame?: number }>[] =
      [];
    let taken = 0;
    const watch = new StallWatch({
      thresholdFrames: 50,
      everyFrames: 5,
      snapshot: () => ({ taken: ++taken }),
      write: (l) => lines.push(JSON.parse(l)),
    });
    for (let f = 0; f < 10; f++) watch.frame(f, true);
    for (let f = 10; f < 70; f++) watch.frame(f, false);
    watch.frame(70, true);
    // A short gap afterwards is no stall.
    for (let f = 71; f < 100; f++) watch.frame(f, false);
    watch.frame(100, true);
    const stalls = lines.filter((l) => l.stall).map((l) => l.stall!);
    expect(stalls.map((s) => [s.fromFrame, s.frame, s.frames])).toEqual([
      [10, 59, 50],
      [10, 64, 55],
      [10, 69, 60],
    ]);
    expect(lines.filter((l) => l.stallEnded).map((l) => l.stallEnded)).toEqual([
      { fromFrame: 10, toFrame: 70, frames: 60 },
    ]);
    expect(taken).toBe(3);
  });
});

describe('processState (Linux /proc)', () => {
  it('tells a stopped process from a sleeping one, and a gone one is undefined', async () => {
    const child = spawn('sleep', ['30']);
    await new Promise((r) => setTimeout(r, 100));
    const pid = child.pid!;
    expect(processState(pid)).toMatchObject({ state: 'S', policy: 0, rtPriority: 0 });
    process.kill(pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 100));
    expect(processState(pid)?.state).toBe('T');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(processState(pid)).toBeUndefined();
    expect(processState(process.pid)?.cpuMs).toBeGreaterThan(0);
  });
});
