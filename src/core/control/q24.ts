/**
 * Q7.24 fixed-point arithmetic on Int32 values: value = raw / 2^24, range about +-128, resolution
 * 6e-8. Every operation saturates to +-(2^31 - 1) instead of wrapping (symmetric, so negation never
 * overflows). Products use a 64-bit multiply built from 16-bit halves with Math.imul, rounded half away
 * from zero. Only fromFloat/toFloat touch fractional numbers; they are for the implementation's
 * boundary, never for its step.
 */
export const Q_BITS = 24;
export const Q_ONE = 1 << Q_BITS;
export const Q_MAX = 0x7fffffff;
export const Q_MIN = -0x7fffffff;

export function qSat(x: number): number {
  return x > Q_MAX ? Q_MAX : x < Q_MIN ? Q_MIN : x | 0;
}

/** a + b, saturating. The sum of two int32 values is an exact integer before the clamp. */
export function qAdd(a: number, b: number): number {
  return qSat(a + b);
}

export function qSub(a: number, b: number): number {
  return qSat(a - b);
}

export function qNeg(a: number): number {
  return -a | 0;
}

export function qAbs(a: number): number {
  return a < 0 ? -a | 0 : a;
}

export function qClamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

export function qMax(a: number, b: number): number {
  return a > b ? a : b;
}

export function qMin(a: number, b: number): number {
  return a < b ? a : b;
}

/** (a * b) / 2^24 rounded half away from zero, saturating. */
export function qMul(a: number, b: number): number {
  const negative = a < 0 !== b < 0;
  const x = qAbs(a);
  const y = qAbs(b);
  const xh = x >>> 16;
  const xl = x & 0xffff;
  const yh = y >>> 16;
  const yl = y & 0xffff;
  // 64-bit product as (hi, lo) unsigned 32-bit words.
  let lo = Math.imul(xl, yl) >>> 0;
  let hi = Math.imul(xh, yh) >>> 0;
  for (const m of [Math.imul(xh, yl) >>> 0, Math.imul(xl, yh) >>> 0]) {
    const add = (m << 16) >>> 0;
    const sum = (lo + add) >>> 0;
    hi = (hi + (m >>> 16) + (sum < lo ? 1 : 0)) >>> 0;
    lo = sum;
  }
  // Round: add half an output LSB (2^23) to the low word.
  const rounded = (lo + (1 << (Q_BITS - 1))) >>> 0;
  if (rounded < lo) hi = (hi + 1) >>> 0;
  lo = rounded;
  // Shift right by 24: result = hi << 8 | lo >>> 24; saturate if hi uses more than 23 bits.
  if (hi >= 1 << 23) return negative ? Q_MIN : Q_MAX;
  const magnitude = ((hi << 8) | (lo >>> Q_BITS)) >>> 0;
  const clipped = magnitude > Q_MAX ? Q_MAX : magnitude;
  return negative ? -clipped | 0 : clipped | 0;
}

/** Boundary conversion: nearest Q24 value, saturating; NaN is a caller bug. */
export function fromFloat(x: number): number {
  if (Number.isNaN(x)) throw new RangeError('fromFloat: NaN');
  const scaled = Math.round(x * Q_ONE);
  return scaled > Q_MAX ? Q_MAX : scaled < Q_MIN ? Q_MIN : scaled;
}

export function toFloat(q: number): number {
  return q / Q_ONE;
}
