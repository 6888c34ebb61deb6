/**
 * Schema combinators: each message is described once, as a value, and its TypeScript type is inferred from
 * that value. The same description drives encoding, decoding and the limits, so the three cannot drift apart.
 *
 * @example
 * const point = struct({ x: uvar, y: uvar });
 * type Point = Infer<typeof point>; // { x: number; y: number }
 */
import type { DecodeLimits, LimitKey } from './limits.ts';
import { DecodeFailure, type Reader, type Writer } from './wire.ts';

/** What a codec encodes, as data: lets tests, fuzzers and docs walk a schema without knowing its messages. */
export type Shape =
  | { readonly t: 'u8' | 'uvar' | 'f64' | 'bool' }
  | { readonly t: 'fixed'; readonly n: number }
  | { readonly t: 'bytes'; readonly limit: LimitKey }
  | { readonly t: 'array'; readonly item: Shape; readonly limit: LimitKey }
  | { readonly t: 'struct'; readonly fields: Readonly<Record<string, Shape>> }
  | { readonly t: 'union'; readonly variants: Readonly<Record<string, Shape>> };

// Method syntax on purpose: it makes Codec bivariant in T, so a Codec<number> fits a field map of Codec<unknown>.
export interface Codec<T> {
  readonly shape: Shape;
  write(w: Writer, value: T): void;
  read(r: Reader, limits: DecodeLimits, path: string): T;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

export const u8: Codec<number> = {
  shape: { t: 'u8' },
  write: (w, v) => w.u8(v),
  read: (r, _l, path) => r.u8(path),
};

/** Unsigned integer up to 2^53 - 1 as a minimal LEB128 varint. */
export const uvar: Codec<number> = {
  shape: { t: 'uvar' },
  write: (w, v) => w.uvar(v),
  read: (r, _l, path) => r.uvar(path),
};

/** Finite IEEE-754 binary64; NaN and infinities have no encoding. */
export const f64: Codec<number> = {
  shape: { t: 'f64' },
  write: (w, v) => w.f64(v),
  read: (r, _l, path) => r.f64(path),
};

export const bool: Codec<boolean> = {
  shape: { t: 'bool' },
  write: (w, v) => w.u8(v ? 1 : 0),
  read: (r, _l, path) => {
    const b = r.u8(path);
    if (b > 1) throw new DecodeFailure('bad-bool', path);
    return b === 1;
  },
};

/** Exactly `n` bytes, no length prefix (digests, keys, signatures). */
export function fixedBytes(n: number): Codec<Uint8Array> {
  return {
    shape: { t: 'fixed', n },
    write: (w, v) => {
      if (v.length !== n) throw new RangeError(`expected ${n} bytes, got ${v.length}`);
      w.raw(v);
    },
    read: (r, _l, path) => r.raw(n, path),
  };
}

/** Length-prefixed bytes, capped by a configured limit. */
export function bytes(limit: LimitKey): Codec<Uint8Array> {
  return {
    shape: { t: 'bytes', limit },
    write: (w, v) => {
      w.uvar(v.length);
      w.raw(v);
    },
    read: (r, limits, path) => {
      const n = r.uvar(path);
      if (n > limits[limit])
        throw new DecodeFailure('length-over-limit', `${path}: ${n} > ${limit} ${limits[limit]}`);
      return r.raw(n, path);
    },
  };
}

/** Count-prefixed array, capped by a configured limit before any element is read. */
export function array<T>(item: Codec<T>, limit: LimitKey): Codec<readonly T[]> {
  return {
    shape: { t: 'array', item: item.shape, limit },
    write: (w, v) => {
      w.uvar(v.length);
      for (const x of v) item.write(w, x);
    },
    read: (r, limits, path) => {
      const n = r.uvar(path);
      if (n > limits[limit])
        throw new DecodeFailure('count-over-limit', `${path}: ${n} > ${limit} ${limits[limit]}`);
      // Each element takes at least one byte, so a count beyond the remaining bytes is already truncated.
      if (n > r.remaining)
        throw new DecodeFailure('truncated', `${path}: ${n} elements, ${r.remaining} bytes left`);
      const out: T[] = [];
      // Paths are built only on failure (see `prefixed`): an element reads under '' and a failure gets `[i]`.
      let i = 0;
      try {
        for (; i < n; i++) out.push(item.read(r, limits, ''));
      } catch (e) {
        throw prefixed(e, `${path}[${i}]`);
      }
      return out;
    },
  };
}

type Fields = Record<string, Codec<unknown>>;
export type StructOf<F extends Fields> = { readonly [K in keyof F]: Infer<F[K]> };

export interface StructCodec<F extends Fields> extends Codec<StructOf<F>> {
  readonly fields: F;
  /** Writes every field but one: the bytes a MAC or signature covers. */
  writeExcept(w: Writer, value: StructOf<F>, skip: keyof F): void;
  /** `read`, with the fields added to `out` (a union puts its `kind` there first, and saves a copy). */
  readInto(r: Reader, limits: DecodeLimits, path: string, out: Record<string, unknown>): void;
}

/**
 * A decode failure under `path`: the same failure with `path` put before its detail. Composite codecs read their
 * parts under relative paths and prefix their own only when a part fails, so a message that decodes builds no
 * path strings at all; the details are the same as with full paths passed down (`message.batch.requests[3].op`).
 */
function prefixed(e: unknown, path: string): unknown {
  return e instanceof DecodeFailure ? new DecodeFailure(e.reason, path + e.detail) : e;
}

/** Fields are encoded in the order the schema lists them; the object's own key order never matters. */
export function struct<F extends Fields>(fields: F): StructCodec<F> {
  const keys = Object.keys(fields) as (keyof F & string)[];
  const codecs = keys.map((k) => fields[k] as Codec<unknown>);
  const readInto = (r: Reader, limits: DecodeLimits, path: string, out: Record<string, unknown>): void => {
    try {
      for (let i = 0; i < keys.length; i++) out[keys[i]!] = codecs[i]!.read(r, limits, keys[i]!);
    } catch (e) {
      throw prefixed(e, `${path}.`);
    }
  };
  const writeExcept = (w: Writer, value: StructOf<F>, skip: keyof F | undefined): void => {
    for (const k of keys) if (k !== skip) (fields[k] as Codec<unknown>).write(w, value[k]);
  };
  const shapes: Record<string, Shape> = {};
  for (const k of keys) shapes[k] = (fields[k] as Codec<unknown>).shape;
  return {
    shape: { t: 'struct', fields: shapes },
    fields,
    write: (w, v) => writeExcept(w, v, undefined),
    writeExcept,
    read: (r, limits, path) => {
      const out: Record<string, unknown> = {};
      readInto(r, limits, path, out);
      return out as StructOf<F>;
    },
    readInto,
  };
}

type Variants = Record<string, StructCodec<Fields>>;
export type UnionOf<V extends Variants> = {
  [K in keyof V]: { readonly kind: K } & Infer<V[K]>;
}[keyof V];

export interface UnionCodec<V extends Variants> extends Codec<UnionOf<V>> {
  readonly variants: V;
  /** Variant names in tag order. */
  readonly names: readonly (keyof V & string)[];
}

/** Tagged union: one byte selects the variant; the variant order in the schema fixes the tag values. */
export function union<V extends Variants>(variants: V): UnionCodec<V> {
  const names = Object.keys(variants) as (keyof V & string)[];
  const shapes: Record<string, Shape> = {};
  for (const k of names) shapes[k] = variants[k]!.shape;
  return {
    shape: { t: 'union', variants: shapes },
    variants,
    names,
    write: (w, v) => {
      const tag = names.indexOf(v.kind as keyof V & string);
      if (tag < 0) throw new RangeError(`unknown variant ${String(v.kind)}`);
      w.u8(tag);
      variants[v.kind as string]!.write(w, v as never);
    },
    read: (r, limits, path) => {
      const tag = r.u8(path);
      const name = names[tag];
      if (name === undefined) throw new DecodeFailure('unknown-variant', `${path}: tag ${tag}`);
      const out: Record<string, unknown> = { kind: name };
      variants[name]!.readInto(r, limits, path, out);
      return out as UnionOf<V>;
    },
  };
}
