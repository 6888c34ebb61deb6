/**
 * Small dense matrix helpers for the plant model (row-major number[][]). Sizes here are 4x4 at most,
 * so clarity beats speed; every loop is bounded by the matrix dimensions.
 */

export type Matrix = number[][];

/** n x n identity. */
export function identity(n: number): Matrix {
  const out: Matrix = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(n).fill(0);
    row[i] = 1;
    out.push(row);
  }
  return out;
}

/** Element (i, j), throwing on an out-of-range index (a bug, never bad input). */
export function at(m: Matrix, i: number, j: number): number {
  const v = m[i]?.[j];
  if (v === undefined) throw new RangeError(`matrix index (${i}, ${j}) out of range`);
  return v;
}

export function multiply(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const k = b.length;
  const p = b[0]?.length ?? 0;
  const out: Matrix = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(p).fill(0);
    for (let j = 0; j < p; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += at(a, i, t) * at(b, t, j);
      row[j] = s;
    }
    out.push(row);
  }
  return out;
}

export function add(a: Matrix, b: Matrix): Matrix {
  return a.map((row, i) => row.map((v, j) => v + at(b, i, j)));
}

export function scale(a: Matrix, s: number): Matrix {
  return a.map((row) => row.map((v) => v * s));
}

/** Infinity norm (max absolute row sum). */
export function normInf(a: Matrix): number {
  let best = 0;
  for (const row of a) {
    let s = 0;
    for (const v of row) s += Math.abs(v);
    if (s > best) best = s;
  }
  return best;
}

/**
 * Matrix exponential by scaling and squaring with a truncated Taylor series: scale so that the norm is
 * below 1/2, sum the series to machine precision (at most 30 terms), then square back. For the 4x4
 * augmented plant matrices used here this is accurate to a few ulps.
 */
export function expm(a: Matrix): Matrix {
  const n = a.length;
  const norm = normInf(a);
  let squarings = 0;
  if (norm > 0.5) squarings = Math.ceil(Math.log2(norm / 0.5));
  if (squarings > 60) throw new RangeError(`expm: matrix norm ${norm} too large`);
  const scaled = scale(a, 2 ** -squarings);
  let term = identity(n);
  let sum = identity(n);
  for (let k = 1; k <= 30; k++) {
    term = scale(multiply(term, scaled), 1 / k);
    sum = add(sum, term);
    if (normInf(term) < 1e-18 * normInf(sum)) break;
  }
  for (let s = 0; s < squarings; s++) sum = multiply(sum, sum);
  return sum;
}
