import type { FrameRecord, FrameSample } from './trace.ts';

/**
 * One row per frame; channel columns follow the channel ids. With the flight's samples, each row also has this
 * host's event-loop delay and each channel's strikes and state as the voter saw them.
 */
export function traceCsv(
  frames: readonly FrameRecord[],
  channelCount: number,
  samples?: readonly FrameSample[],
): string {
  const channels = Array.from({ length: channelCount }, (_, i) => i);
  const header = [
    'frame',
    't',
    'reference',
    'theta',
    'elevator',
    'voted',
    'outcome',
    ...channels.map((i) => `channel${i}`),
    'view',
    'primary',
    'latency_ms',
  ];
  const sampleOf = new Map((samples ?? []).map((s) => [s.frame, s]));
  if (samples !== undefined) {
    header.push(
      'loop_delay_ms',
      'lag_ms',
      'cpu_wait_ms',
      ...channels.flatMap((i) => [`channel${i}_strikes`, `channel${i}_state`]),
    );
  }
  const rows = frames.map((r) => {
    const row: (string | number)[] = [
      r.frame,
      r.t.toFixed(4),
      r.reference.toFixed(6),
      r.theta.toFixed(6),
      r.elevator.toFixed(6),
      r.voted.toFixed(6),
      r.outcome,
      ...channels.map((i) => {
        const v = r.channels[i];
        return v === null || v === undefined ? '' : v.toFixed(6);
      }),
      r.view,
      r.primary,
      r.latencyMs.toFixed(3),
    ];
    if (samples !== undefined) {
      const s = sampleOf.get(r.frame);
      row.push(
        s ? s.loopDelayMs.toFixed(3) : '',
        s ? s.lagMs.toFixed(3) : '',
        s?.cpuWaitMs !== undefined ? s.cpuWaitMs.toFixed(3) : '',
        ...channels.flatMap((i) => {
          const c = s?.channels[i];
          return c ? [String(c.strikes), c.state] : ['', ''];
        }),
      );
    }
    return row.join(',');
  });
  return `${header.join(',')}\n${rows.join('\n')}\n`;
}
