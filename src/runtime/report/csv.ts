import type { FrameRecord } from './trace.ts';

/** One row per frame; channel columns follow the channel ids. */
export function traceCsv(frames: readonly FrameRecord[], channelCount: number): string {
  const channelCols = Array.from({ length: channelCount }, (_, i) => `channel${i}`);
  const header = [
    'frame',
    't',
    'reference',
    'theta',
    'elevator',
    'voted',
    'outcome',
    ...channelCols,
    'view',
    'primary',
    'latency_ms',
  ];
  const rows = frames.map((r) =>
    [
      r.frame,
      r.t.toFixed(4),
      r.reference.toFixed(6),
      r.theta.toFixed(6),
      r.elevator.toFixed(6),
      r.voted.toFixed(6),
      r.outcome,
      ...Array.from({ length: channelCount }, (_, i) => {
        const v = r.channels[i];
        return v === null || v === undefined ? '' : v.toFixed(6);
      }),
      r.view,
      r.primary,
      r.latencyMs.toFixed(3),
    ].join(','),
  );
  return `${header.join(',')}\n${rows.join('\n')}\n`;
}
