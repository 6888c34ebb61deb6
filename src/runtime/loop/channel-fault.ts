/**
 * Byzantine channel behaviours, injected by name at the channel's output (the control law itself stays
 * correct: this models a board that computes and then lies, or a corrupted output path).
 */
import type { Command } from '../../core/control/spec.ts';
import type { Prng } from '../../core/prng.ts';

export const CHANNEL_FAULT_KINDS = ['stuck', 'random', 'drift', 'oscillating', 'silent', 'late'] as const;
export type ChannelFaultKind = (typeof CHANNEL_FAULT_KINDS)[number];

export interface ChannelFault {
  readonly kind: ChannelFaultKind;
  /** First faulty frame. */
  readonly fromFrame: number;
}

/** What the faulty channel sends for a frame: a command (possibly delayed), or nothing. */
export type FaultyOutput = { readonly command: Command; readonly delayMs: number } | null;

export interface FaultState {
  stuckValue: number | undefined;
}

/**
 * Applies `fault` to a correct command. `periodMs` is the frame period (a late output arrives one full frame
 * after it was due); `rng` is the channel's own seeded stream.
 */
export function applyChannelFault(
  fault: ChannelFault | undefined,
  frame: number,
  correct: Command,
  state: FaultState,
  rng: Prng,
  periodMs: number,
): FaultyOutput {
  if (fault === undefined || frame < fault.fromFrame) return { command: correct, delayMs: 0 };
  const k = frame - fault.fromFrame;
  const with_ = (elevator: number): FaultyOutput => ({ command: { ...correct, elevator }, delayMs: 0 });
  switch (fault.kind) {
    case 'stuck':
      state.stuckValue ??= correct.elevator;
      return with_(state.stuckValue);
    case 'random':
      return with_((rng.float() * 2 - 1) * 0.436);
    case 'drift':
      return with_(correct.elevator + 0.002 * k);
    case 'oscillating':
      return with_(correct.elevator + 0.1 * Math.sin(k * 0.7));
    case 'silent':
      return null;
    case 'late':
      return { command: correct, delayMs: periodMs };
  }
}
