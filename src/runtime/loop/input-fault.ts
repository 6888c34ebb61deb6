/**
 * Byzantine input unit behaviours, injected by name. The unit keeps its keys, so what it sends is authentic:
 * these model a unit (or its sensors) that lies, not a forger. The catalog of DESIGN.md's input voting:
 *
 * - `far-future`: correct values under a frame number a million frames ahead;
 * - `stuck`: the values of the first faulty frame, forever (the frame number keeps counting);
 * - `random`: stick and pitch drawn at random within plausible ranges;
 * - `replay`: the sample it took `REPLAY_AGE_FRAMES` frames ago (frame number and values), sent afresh;
 * - `two-faced`: one sample to half the replicas and a different one (same frame, same timestamp) to the others;
 * - `off`: nothing at all.
 *
 * @example
 * host.inject({ kind: 'random', fromFrame: 100 });
 */
import type { Prng } from '../../core/prng.ts';

export const INPUT_FAULT_KINDS = ['far-future', 'stuck', 'random', 'replay', 'two-faced', 'off'] as const;
export type InputFaultKind = (typeof INPUT_FAULT_KINDS)[number];

export interface InputFault {
  readonly kind: InputFaultKind;
  /** First faulty frame. */
  readonly fromFrame: number;
}

/** How far ahead a `far-future` unit claims to be. */
export const FAR_FUTURE_FRAMES = 1_000_000;
/** How old the samples a `replay` unit re-sends are. */
export const REPLAY_AGE_FRAMES = 25;

export interface UnitSample {
  readonly frame: number;
  /** Pilot pitch-attitude command, rad. */
  readonly stick: number;
  /** Pitch-angle reading, rad; null for a dead sensor. */
  readonly pitch: number | null;
}

/** What a unit sends for one frame: to every replica, to two halves of them differently, or nothing. */
export type FaultySend =
  | { readonly kind: 'all'; readonly sample: UnitSample }
  | { readonly kind: 'split'; readonly first: UnitSample; readonly second: UnitSample }
  | { readonly kind: 'none' };

/** A unit's own memory for its faults: the values it is stuck at, and its last samples (bounded). */
export class InputFaultMemory {
  stuck: UnitSample | undefined;
  private readonly history: UnitSample[] = [];

  remember(s: UnitSample): void {
    this.history.push(s);
    if (this.history.length > REPLAY_AGE_FRAMES) this.history.shift();
  }

  /** The oldest remembered sample: REPLAY_AGE_FRAMES frames before the next one, once the memory is full. */
  oldest(): UnitSample | undefined {
    return this.history[0];
  }

  reset(): void {
    this.stuck = undefined;
    this.history.length = 0;
  }
}

/** Applies `fault` to the correct sample `s`; `rng` is the unit's own seeded stream. */
export function applyInputFault(
  fault: InputFault | undefined,
  s: UnitSample,
  memory: InputFaultMemory,
  rng: Prng,
): FaultySend {
  const before = memory.oldest();
  memory.remember(s);
  if (fault === undefined || s.frame < fault.fromFrame) return { kind: 'all', sample: s };
  switch (fault.kind) {
    case 'far-future':
      return { kind: 'all', sample: { ...s, frame: s.frame + FAR_FUTURE_FRAMES } };
    case 'stuck':
      memory.stuck ??= s;
      return { kind: 'all', sample: { ...memory.stuck, frame: s.frame } };
    case 'random':
      return {
        kind: 'all',
        sample: { frame: s.frame, stick: (rng.float() * 2 - 1) * 0.5, pitch: rng.float() * 2 - 1 },
      };
    case 'replay':
      return { kind: 'all', sample: before ?? s };
    case 'two-faced':
      return {
        kind: 'split',
        first: s,
        second: { frame: s.frame, stick: -s.stick + 0.3, pitch: s.pitch === null ? 0.5 : -s.pitch + 0.3 },
      };
    case 'off':
      return { kind: 'none' };
  }
}
