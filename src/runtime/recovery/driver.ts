/**
 * What the two proactive-recovery drivers (laptop.ts, every board in this process; process-recovery.ts, board
 * processes) share besides their records (src/core/recovery/records.ts): the schedule with its budgets, and
 * timers that stop together. How they restart, watch and count a role again differs (objects in this process
 * against statuses over IPC) and stays in each.
 *
 * @example
 * const plan = driverSchedule(topology, o, { restartSeconds: 0.5, handoverSeconds: 0.2 });
 * const timers = new DriverTimers(scheduler);
 * timers.at(scheduler.now() + plan.frameMs, () => watch());
 * timers.stop(); // nothing planned runs any more
 */
import { type RecoverySchedule, type RecoveryStep, recoverySchedule } from '../../core/recovery/schedule.ts';
import type { Topology } from '../config.ts';
import type { Scheduler } from '../scheduler.ts';

export interface DriverSchedule {
  /** The schedule, when it has steps (undefined: no proactive restarts). */
  readonly schedule: RecoverySchedule | undefined;
  readonly periodMs: number;
  readonly frameMs: number;
  /** Budget of one restart, handover excluded, ms. */
  readonly restartMs: number;
  /** Budget of the planned view change, ms. */
  readonly handoverMs: number;
}

/**
 * The topology's recovery schedule with the driver's budgets (`o` overrides `defaults`); `proactive: false`
 * leaves the steps out. Throws on a schedule the topology cannot have (the config check refuses it first).
 */
export function driverSchedule(
  t: Topology,
  o: {
    readonly periodSeconds?: number;
    readonly restartSeconds?: number;
    readonly handoverSeconds?: number;
    readonly proactive?: boolean;
  },
  defaults: { readonly restartSeconds: number; readonly handoverSeconds: number },
): DriverSchedule {
  const restartMs = (o.restartSeconds ?? defaults.restartSeconds) * 1000;
  const handoverMs = (o.handoverSeconds ?? defaults.handoverSeconds) * 1000;
  const s = recoverySchedule(t, {
    ...(o.periodSeconds !== undefined ? { periodSeconds: o.periodSeconds } : {}),
    restartSeconds: restartMs / 1000,
    handoverSeconds: handoverMs / 1000,
  });
  if (!s.ok) throw new Error(`proactive recovery: ${s.reason}: ${s.detail}`);
  return {
    schedule: s.schedule.steps.length > 0 && o.proactive !== false ? s.schedule : undefined,
    periodMs: s.schedule.periodMs,
    frameMs: 1000 / t.frameRateHz,
    restartMs,
    handoverMs,
  };
}

/** A driver's timers on its scheduler: each runs unless `stop()` came first, which cancels them all. */
export class DriverTimers {
  private readonly cancels = new Set<() => void>();
  private halted = false;

  constructor(private readonly scheduler: Scheduler) {}

  get stopped(): boolean {
    return this.halted;
  }

  /** Runs `fn` at scheduler time `t` (nothing once stopped). */
  at(t: number, fn: () => void): void {
    if (this.halted) return;
    const cancel = this.scheduler.at(t, () => {
      this.cancels.delete(cancel);
      if (!this.halted) fn();
    });
    this.cancels.add(cancel);
  }

  /** Resolves after `ms` of scheduler time, or at `stop()`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.halted) {
        resolve();
        return;
      }
      const cancel = this.scheduler.at(this.scheduler.now() + ms, () => {
        this.cancels.delete(done);
        resolve();
      });
      const done = (): void => {
        cancel();
        resolve();
      };
      this.cancels.add(done);
    });
  }

  stop(): void {
    this.halted = true;
    for (const c of this.cancels) c();
    this.cancels.clear();
  }
}

/**
 * The schedule's periods on `timers`, period 0 starting at `firstMs`: `onStep(period, step)` at each step's start,
 * period after period until the timers stop.
 */
export function planPeriods(
  timers: DriverTimers,
  schedule: RecoverySchedule,
  firstMs: number,
  onStep: (period: number, step: RecoveryStep) => void,
): void {
  const plan = (period: number, startMs: number): void => {
    for (const step of schedule.steps) timers.at(startMs + step.startMs, () => onStep(period, step));
    timers.at(startMs + schedule.periodMs, () => plan(period + 1, startMs + schedule.periodMs));
  };
  plan(0, firstMs);
}
