import { describe, expect, it } from 'vitest';
import { progressBar, renderStatus, StatusDisplay, type StatusSnapshot } from '../../src/runtime/status.ts';

const snap: StatusSnapshot = {
  frame: 250,
  totalFrames: 1000,
  t: 5,
  view: 1,
  primary: 1,
  channels: [
    { name: 'c0', health: 'ok' },
    { name: 'c1', health: 'latched' },
    { name: 'c2', health: 'ok' },
  ],
  writes: 240,
  holds: 10,
  failsafes: 0,
  latencyP50Ms: 0.4,
  latencyP99Ms: 1.2,
  theta: 0.1,
  reference: 0.2,
  lastEvent: 'view change to 1',
};

describe('status display', () => {
  it('renders a progress bar proportional to progress and clamps it', () => {
    expect(progressBar(0.5, 10)).toBe('[#####.....]  50%');
    expect(progressBar(2, 4)).toBe('[####] 100%');
    expect(progressBar(-1, 4)).toBe('[....]   0%');
  });

  it('shows frame, view, primary, channel health, voter counts and latency', () => {
    const text = renderStatus(snap).join('\n');
    for (const part of [
      'frame 250/1000',
      'view 1 primary r1',
      'c1:LATCHED',
      'hold 10',
      'p99 1.20 ms',
      'view change to 1',
    ]) {
      expect(text).toContain(part);
    }
  });

  it('redraws in place on a TTY, throttled to its rate', () => {
    const writes: string[] = [];
    let now = 0;
    const d = new StatusDisplay({ isTTY: true, write: (t) => writes.push(t) }, () => now, 10);
    d.update(snap);
    now = 50;
    d.update(snap); // within 100 ms: skipped
    now = 120;
    d.update(snap);
    expect(writes).toHaveLength(2);
    expect(writes[1]!.startsWith('\x1b[5F')).toBe(true);
  });

  it('prints one plain line at a slow rate when not a TTY', () => {
    const writes: string[] = [];
    let now = 0;
    const d = new StatusDisplay({ isTTY: false, write: (t) => writes.push(t) }, () => now, 10, 2);
    d.update(snap);
    now = 1000;
    d.update(snap);
    now = 2500;
    d.update(snap);
    expect(writes).toHaveLength(2);
    expect(writes[0]).not.toContain('\x1b');
    expect(writes[0]!.split('\n')).toHaveLength(2);
  });
});
