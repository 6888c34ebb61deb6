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
/** The scratch writer holds a payload being authenticated (encodeWith*): an encoding meanwhile gets its own. */
let sealing = false;

function start(): Writer {
  if (sealing) return new Writer(256);
  scratch.reset();
  return scratch;
}

/**
 * Encode `unsigned`, whose authentication field (last in every kind) is empty, then replace that field by what
 * `fill` writes from the bytes it covers, and copy the result out once. Saves encoding into one array and copying
 * into a second one of the authenticated length (wire-views.ts withAuthenticator, withTag) per message sent.
 */
function encodeSealed(unsigned: Message, fill: (w: Writer, payload: Uint8Array) => void): Uint8Array {
  const w = start();
  const own = w === scratch;
  w.u8(WIRE_VERSION);
  messageSchema.write(w, unsigned);
  const encoded = w.written();
  if (encoded[encoded.length - 1] !== 0)
    throw new Error('invariant: expected an empty authentication field last');
  w.unwrite(1);
  if (own) sealing = true;
  try {
    fill(w, w.written());
  } finally {
    if (own) sealing = false;
  }
  return w.finish();
}

/**
 * The canonical encoding of `unsigned` (empty `auth`) with `auth` = `authenticate(payload)`, where `payload` is
 * `authPayload` of the message as a view into the encoder's scratch, valid only during the call; and that `auth`.
 */
export function encodeWithAuthenticator(
  unsigned: Message & { readonly auth: readonly Uint8Array[] },
  authenticate: (payload: Uint8Array) => Uint8Array[],
): { readonly bytes: Uint8Array; readonly auth: Uint8Array[] } {
  let auth: Uint8Array[] = [];
  const bytes = encodeSealed(unsigned, (w, payload) => {
    auth = authenticate(payload);
    w.uvar(auth.length);
    for (const t of auth) {
      w.uvar(t.length);
      w.raw(t);
    }
  });
  return { bytes, auth };
}

/** `encodeWithAuthenticator` for kinds authenticated by a single tag (reply, state messages). */
export function encodeWithTag(
  unsigned: Message & { readonly tag: Uint8Array },
  tagFor: (payload: Uint8Array) => Uint8Array,
): { readonly bytes: Uint8Array; readonly tag: Uint8Array } {
  let tag: Uint8Array = new Uint8Array(0);
  const bytes = encodeSealed(unsigned, (w, payload) => {
    tag = tagFor(payload);
    w.uvar(tag.length);
    w.raw(tag);
  });
  return { bytes, tag };
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
