/**
 * Builds the largest message of a kind that a given set of bounds allows, by walking the message's schema
 * (src/core/codec/messages.ts) and filling every array and byte string to its bound, then encodes it with the
 * real encoder. The sizes therefore follow the codec: a field added to a message grows the numbers at once.
 *
 * Where the schema has a union nested inside a message (a batch: full requests or digests), every choice is
 * encoded and the largest kept; unions are few (one per kind today) and the product of choices is bounded.
 */
import { encodeMessage } from '../codec/encode.ts';
import type { LimitKey } from '../codec/limits.ts';
import { type Message, type MessageKind, messageSchema } from '../codec/messages.ts';
import type { Shape } from '../codec/schema.ts';

/** What every count, length and number of a maximal message is. */
export interface FieldBounds {
  /** Elements of an array or bytes of a length-prefixed field, by the decoder limit the schema names. */
  readonly counts: Readonly<Record<LimitKey, number>>;
  /**
   * Overrides by field path, checked before `counts`: `kind.field.field`, array items adding `[]` and union
   * variants nothing, e.g. 'output.discrete' or 'pre-prepare.batch.requests[].auth'.
   */
  readonly paths?: Readonly<Record<string, number>>;
  /** Value of every unsigned varint that counts (view, sequence, timestamp, frame, nonce, epoch). */
  readonly counter: number;
  /** Value of every unsigned varint that names a principal (fields replica, client, channel, node). */
  readonly id: number;
  /** Value of varints by path, checked before `id` and `counter` (e.g. 'output.discrete[]': a small code). */
  readonly values?: Readonly<Record<string, number>>;
  /** Union choices forced by path (e.g. { 'pre-prepare.batch': 'digests' }); others: the largest. */
  readonly variants?: Readonly<Record<string, string>>;
}

const ID_FIELDS = new Set(['replica', 'client', 'channel', 'node']);
/** Guard on the union choices tried per kind. */
const MAX_CHOICES = 256;

/** The largest message of `kind` within `bounds`, encoded. */
export function maximalMessage(
  kind: MessageKind,
  bounds: FieldBounds,
): { message: Message; bytes: Uint8Array } {
  const variant = messageSchema.variants[kind];
  const unions = unionPaths(variant.shape, kind).filter((u) => bounds.variants?.[u.path] === undefined);
  let best: { message: Message; bytes: Uint8Array } | undefined;
  for (const choice of choices(unions)) {
    const variants = { ...bounds.variants, ...choice };
    const body = build(variant.shape, kind, { ...bounds, variants }) as Record<string, unknown>;
    const message = { kind, ...body } as Message;
    const bytes = encodeMessage(message);
    if (best === undefined || bytes.length > best.bytes.length) best = { message, bytes };
  }
  if (best === undefined) throw new Error(`maximalMessage: no encoding for ${kind}`);
  return best;
}

/** The encoded size of the largest message of `kind` within `bounds`. */
export function maximalSize(kind: MessageKind, bounds: FieldBounds): number {
  return maximalMessage(kind, bounds).bytes.length;
}

interface UnionAt {
  readonly path: string;
  readonly names: readonly string[];
}

function unionPaths(shape: Shape, path: string): UnionAt[] {
  switch (shape.t) {
    case 'struct':
      return Object.entries(shape.fields).flatMap(([k, s]) => unionPaths(s, `${path}.${k}`));
    case 'array':
      return unionPaths(shape.item, `${path}[]`);
    case 'union':
      return [
        { path, names: Object.keys(shape.variants) },
        ...Object.values(shape.variants).flatMap((s) => unionPaths(s, path)),
      ];
    default:
      return [];
  }
}

function* choices(unions: readonly UnionAt[]): Generator<Record<string, string>> {
  let total = 1;
  for (const u of unions) total *= u.names.length;
  if (total > MAX_CHOICES) throw new RangeError(`maximalMessage: ${total} union choices`);
  for (let i = 0; i < total; i++) {
    const pick: Record<string, string> = {};
    let rest = i;
    for (const u of unions) {
      pick[u.path] = u.names[rest % u.names.length]!;
      rest = Math.floor(rest / u.names.length);
    }
    yield pick;
  }
}

function build(shape: Shape, path: string, b: FieldBounds): unknown {
  switch (shape.t) {
    case 'u8':
      return 0xff;
    case 'uvar':
      return varintValue(path, b);
    case 'f64':
      return -Number.MAX_VALUE;
    case 'bool':
      return true;
    case 'fixed':
      return new Uint8Array(shape.n).fill(0xff);
    case 'bytes':
      return new Uint8Array(count(path, shape.limit, b)).fill(0xff);
    case 'array': {
      const n = count(path, shape.limit, b);
      return Array.from({ length: n }, () => build(shape.item, `${path}[]`, b));
    }
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(shape.fields)) out[k] = build(s, `${path}.${k}`, b);
      return out;
    }
    case 'union': {
      const name = b.variants?.[path] ?? Object.keys(shape.variants)[0]!;
      const variant = shape.variants[name];
      if (variant === undefined) throw new RangeError(`maximalMessage: no variant ${name} at ${path}`);
      return { kind: name, ...(build(variant, path, b) as object) };
    }
  }
}

function count(path: string, limit: LimitKey, b: FieldBounds): number {
  const n = b.paths?.[path] ?? b.counts[limit];
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`maximalMessage: bad bound ${n} at ${path}`);
  return n;
}

function varintValue(path: string, b: FieldBounds): number {
  const given = b.values?.[path];
  if (given !== undefined) return given;
  const field = path.slice(path.lastIndexOf('.') + 1);
  return ID_FIELDS.has(field) ? b.id : b.counter;
}
