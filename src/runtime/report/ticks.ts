/**
 * Axis ticks on round numbers (1, 2 or 5 times a power of ten), as a reader would draw them by hand, and labels
 * that show no more digits than the step needs.
 *
 * @example
 * niceTicks(0.00181, 0.0444); // { lo: 0, hi: 0.05, step: 0.01, ticks: [0, 0.01, 0.02, 0.03, 0.04, 0.05] }
 * niceTicks(0, 2, { integer: true }); // { lo: 0, hi: 2, step: 1, ticks: [0, 1, 2] }
 */

export interface Ticks {
  readonly lo: number;
  readonly hi: number;
  readonly step: number;
  readonly ticks: readonly number[];
}

export interface TickOptions {
  /** About this many intervals (default 5). */
  readonly target?: number;
  /** Integer series: the step is a whole number, at least 1. */
  readonly integer?: boolean;
}

/** A round step near `raw`: 1, 2 or 5 times a power of ten (a whole number for integer series). */
function niceStep(raw: number, integer: boolean): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  const step = m * power;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Round ticks covering [min, max]; the axis is widened to the ticks around the data. */
export function niceTicks(min: number, max: number, o: TickOptions = {}): Ticks {
  const integer = o.integer === true;
  let a = Number.isFinite(min) ? min : 0;
  let b = Number.isFinite(max) ? max : 1;
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    const pad = integer ? 1 : Math.abs(a) > 0 ? Math.abs(a) * 0.1 : 1;
    a -= pad;
    b += pad;
  }
  const step = niceStep((b - a) / (o.target ?? 5), integer);
  const lo = Math.floor(a / step + 1e-9) * step;
  const hi = Math.ceil(b / step - 1e-9) * step;
  const ticks: number[] = [];
  const count = Math.round((hi - lo) / step);
  for (let i = 0; i <= count && i <= 50; i++) ticks.push(clean(lo + i * step, step));
  return { lo: clean(lo, step), hi: clean(hi, step), step, ticks };
}

/** Removes floating-point residue (0.30000000000000004) at the precision of the step. */
function clean(x: number, step: number): number {
  const digits = decimals(step);
  return Number(x.toFixed(digits));
}

/** Digits after the decimal point that a multiple of `step` needs. */
export function decimals(step: number): number {
  if (step >= 1) return 0;
  return Math.min(12, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
}

/** A tick's label: the digits the step needs, no more ("0.05", "250", "-0.1"). */
export function tickLabel(x: number, step: number): string {
  const text = x.toFixed(decimals(step));
  return text === '-0' ? '0' : text;
}
