/**
 * The live terminal status of a running loop: frame, view, primary, channel health, voter decisions, latency
 * and a progress bar. `renderStatus` is pure (tested); `StatusDisplay` redraws it in place on a TTY at most
 * `hz` times a second, or prints a plain line every few seconds when the output is a pipe or a file.
 */

import type { ChannelState } from './report/trace.ts';

/** A channel's health in the status line: the same states the report's channel-health plot shows. */
export type ChannelHealth = ChannelState;

export interface StatusSnapshot {
  readonly frame: number;
  readonly totalFrames: number;
  readonly t: number;
  readonly view: number;
  readonly primary: number;
  readonly channels: readonly { readonly name: string; readonly health: ChannelHealth }[];
  readonly writes: number;
  readonly holds: number;
  readonly failsafes: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly theta: number;
  readonly reference: number;
  readonly lastEvent?: string;
  /** Proactive recovery: restarts done per board and who is recovering now (absent: recovery off). */
  readonly recovery?: string;
}

const HEALTH_MARK: Record<ChannelHealth, string> = {
  ok: 'ok',
  striking: 'STRIKE',
  latched: 'LATCHED',
  probation: 'probation',
  silent: 'silent',
  down: 'DOWN',
};

export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

/** The status block as lines of text (no colour codes, so it reads the same in a log). */
export function renderStatus(s: StatusSnapshot): string[] {
  const channels = s.channels.map((c) => `${c.name}:${HEALTH_MARK[c.health]}`).join('  ');
  return [
    `${progressBar(s.totalFrames > 0 ? s.frame / s.totalFrames : 0, 30)}  frame ${s.frame}/${s.totalFrames}  t=${s.t.toFixed(2)}s`,
    `view ${s.view} primary r${s.primary}   theta ${s.theta.toFixed(4)} rad (cmd ${s.reference.toFixed(3)})`,
    `channels  ${channels}`,
    `voter     write ${s.writes}  hold ${s.holds}  failsafe ${s.failsafes}   latency p50 ${s.latencyP50Ms.toFixed(2)} ms  p99 ${s.latencyP99Ms.toFixed(2)} ms`,
    ...(s.recovery !== undefined ? [`recovery  ${s.recovery}`] : []),
    `last      ${s.lastEvent ?? '-'}`,
  ];
}

export interface StatusSink {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export class StatusDisplay {
  private drawnLines = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: StatusSink,
    private readonly clock: () => number,
    private readonly hz = 10,
    private readonly plainEverySeconds = 2,
  ) {}

  /** Whether the next `update` will draw: lets a caller skip building a snapshot nobody sees. */
  due(): boolean {
    const interval = this.out.isTTY ? 1000 / this.hz : this.plainEverySeconds * 1000;
    return this.clock() - this.lastDraw >= interval;
  }

  /** Offer a fresh snapshot; it is drawn only if enough time passed since the last draw. */
  update(s: StatusSnapshot, force = false): void {
    if (!force && !this.due()) return;
    this.lastDraw = this.clock();
    const lines = renderStatus(s);
    if (this.out.isTTY) {
      const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : '';
      this.out.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
      this.drawnLines = lines.length;
    } else {
      this.out.write(`${lines[0]} | view ${s.view} | ${lines[3]!.replace(/^voter\s+/, '')}\n`);
    }
  }
}

/** The voter's view of one channel, as the status shows it; `running` false when its role is down. */
export function channelHealthOf(
  h: { latched: boolean; strikes: number; probation: number; consecutiveSilent: number } | undefined,
  running: boolean,
): ChannelHealth {
  if (!running) return 'down';
  if (h === undefined) return 'ok';
  if (h.latched) return h.probation > 0 ? 'probation' : 'latched';
  if (h.consecutiveSilent > 2) return 'silent';
  if (h.strikes > 0) return 'striking';
  return 'ok';
}
