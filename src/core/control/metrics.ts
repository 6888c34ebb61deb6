/** Step-response figures of merit, as defined by the Control Tutorials design criteria. */
export interface StepMetrics {
  /** (peak - target) / target, percent (negative when the response never reaches the target). */
  readonly overshootPct: number;
  /** Time from 10% to 90% of the target, s (Infinity if never reached). */
  readonly riseTime: number;
  /** Time after which the response stays within the band of the target, s (Infinity if it never does). */
  readonly settlingTime: number;
  /** |final - target| / |target|, percent, from the last sample. */
  readonly steadyStateErrorPct: number;
}

/**
 * Metrics of a sampled step response y[k] at times k * dt toward `target` (non-zero), starting from 0.
 * The settling band is `bandPct` percent of the target (2% by default).
 */
export function stepMetrics(y: readonly number[], dt: number, target: number, bandPct = 2): StepMetrics {
  if (target === 0 || y.length === 0) throw new RangeError('stepMetrics: need a non-zero target and samples');
  const sign = Math.sign(target);
  const mag = Math.abs(target);
  const norm = y.map((v) => v * sign);
  const peak = Math.max(...norm);
  const t10 = norm.findIndex((v) => v >= 0.1 * mag);
  const t90 = norm.findIndex((v) => v >= 0.9 * mag);
  const band = (bandPct / 100) * mag;
  let lastOut = -1;
  for (let k = norm.length - 1; k >= 0; k--) {
    if (Math.abs((norm[k] as number) - mag) > band) {
      lastOut = k;
      break;
    }
  }
  const final = norm[norm.length - 1] as number;
  return {
    overshootPct: ((peak - mag) / mag) * 100,
    riseTime: t10 < 0 || t90 < 0 ? Number.POSITIVE_INFINITY : (t90 - t10) * dt,
    settlingTime: lastOut === norm.length - 1 ? Number.POSITIVE_INFINITY : (lastOut + 1) * dt,
    steadyStateErrorPct: (Math.abs(final - mag) / mag) * 100,
  };
}

/** The tutorial's design criteria for a 0.2 rad pitch step. */
export const TUTORIAL_CRITERIA = {
  maxOvershootPct: 10,
  maxRiseTime: 2,
  maxSettlingTime: 10,
  maxSteadyStateErrorPct: 2,
} as const;

/** True when the metrics meet the tutorial's design criteria. */
export function meetsTutorialCriteria(m: StepMetrics): boolean {
  return (
    m.overshootPct < TUTORIAL_CRITERIA.maxOvershootPct &&
    m.riseTime < TUTORIAL_CRITERIA.maxRiseTime &&
    m.settlingTime < TUTORIAL_CRITERIA.maxSettlingTime &&
    m.steadyStateErrorPct < TUTORIAL_CRITERIA.maxSteadyStateErrorPct
  );
}
