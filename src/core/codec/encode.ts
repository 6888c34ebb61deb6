/**
 * Top-level encode and decode. Decoding is total: any byte string yields a message or a typed rejection with a
 * reason and a detail naming the field; it never throws and never reads out of bounds.
 *
 * @example
 * const bytes = encodeMessage({ kind: 'prepare', view: 0, seq: 1, batchDigest, replica: 2, auth: [] });
 * const result = decodeMessage(bytes, DEFAULT_LIMITS);
 * if (result.ok) handle(result.message); else count(result.reason);
 */
import { DEFAULT_LIMITS, type DecodeLimits } from './limits.ts';
import {
  AUTH_FIELD,
  type Batch,
  batchSchema,
  type Message,
  type MessageKind,
  messageSchema,
  type Request,
  requestSchema,
  WIRE_VERSION,
} from './messages.ts';
import type { StructCodec } from './schema.ts';
import { DecodeFailure, Reader, type RejectionReason, Writer } from './wire.ts';

export type DecodeResult<T> =
  | { readonly ok: true; readonly message: T }
  | { readonly ok: false; readonly reason: RejectionReason; readonly detail: string };

/**
 * One scratch writer for every top-level encoding: encoding never re-enters itself, and `finish` copies the
 * bytes out, so reusing the buffer saves an allocation (and the garbage) per message on the per-frame path.
 */
const scratch = new Writer(4096);

function start(): Writer {
  scratch.reset();
  return scratch;
}

export function encodeMessage(message: Message): Uint8Array {
  const w = start();
  w.u8(WIRE_VERSION);
  messageSchema.write(w, message);
  return w.finish();
}

export function decodeMessage(
  bytes: Uint8Array,
  limits: DecodeLimits = DEFAULT_LIMITS,
): DecodeResult<Message> {
  if (bytes.length === 0) return { ok: false, reason: 'empty', detail: 'zero-length message' };
  if (bytes.length > limits.maxMessageBytes) {
    return {
      ok: false,
      reason: 'too-long',
      detail: `${bytes.length} > maxMessageBytes ${limits.maxMessageBytes}`,
    };
  }
  const r = new Reader(bytes);
  try {
    const version = r.u8('version');
    if (version !== WIRE_VERSION) return { ok: false, reason: 'bad-version', detail: `version ${version}` };
    if (bytes[1] !== undefined && bytes[1] >= messageSchema.names.length) {
      return { ok: false, reason: 'unknown-kind', detail: `kind tag ${bytes[1]}` };
    }
    const message = messageSchema.read(r, limits, 'message');
    if (r.remaining !== 0) {
      return { ok: false, reason: 'trailing-bytes', detail: `${r.remaining} bytes after ${message.kind}` };
    }
    return { ok: true, message };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, reason: e.reason, detail: e.detail };
    // Anything else is a bug in the codec itself; surface it loudly rather than hide it as a rejection.
    throw e;
  }
}

function variantCodec(kind: MessageKind): StructCodec<Record<string, never>> {
  return messageSchema.variants[kind] as unknown as StructCodec<Record<string, never>>;
}

/**
 * The bytes a message's MAC or signature covers: the full encoding minus its authentication field, prefixed
 * with the version and kind so a tag for one kind can never be replayed as another.
 */
export function authPayload(message: Message): Uint8Array {
  const w = start();
  w.u8(WIRE_VERSION);
  w.u8(messageSchema.names.indexOf(message.kind));
  variantCodec(message.kind).writeExcept(w, message as never, AUTH_FIELD[message.kind] as never);
  return w.finish();
}

/** The bytes a client's authenticator covers for a request (the same as `authPayload` of a request message). */
export function requestAuthPayload(request: Request): Uint8Array {
  return authPayload({ kind: 'request', ...request });
}

/** Canonical bytes of a request, authenticator included: what a batch digest commits to per request. */
export function encodeRequest(request: Request): Uint8Array {
  const w = start();
  requestSchema.write(w, request);
  return w.finish();
}

/** Canonical bytes of a batch: the input of its digest. */
export function encodeBatch(batch: Batch): Uint8Array {
  const w = start();
  w.u8(WIRE_VERSION);
  batchSchema.write(w, batch);
  return w.finish();
}
