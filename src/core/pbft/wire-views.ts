/**
 * Zero-re-encoding views into an encoded PRE-PREPARE. The codec is canonical (one byte string per message) and
 * the authenticator is the last field, so the bytes a MAC covers (`authPayload`) are a prefix of the encoding,
 * and the batch's encoding sits inside it. Backups use these views instead of encoding a 100-request batch
 * twice more per PRE-PREPARE. test/core/pbft/wire-views.test.ts checks them against authPayload/encodeBatch.
 */
import { AUTH_FIELD, type Message, type PrePrepare, WIRE_VERSION } from '../codec/messages.ts';

function uvarLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function authenticatorLength(tags: readonly Uint8Array[]): number {
  let n = uvarLength(tags.length);
  for (const t of tags) n += uvarLength(t.length) + t.length;
  return n;
}

/** The bytes the authenticator of `pp` covers, as a view into its canonical encoding `bytes`. */
export function prePreparePayload(bytes: Uint8Array, pp: PrePrepare): Uint8Array {
  return bytes.subarray(0, bytes.length - authenticatorLength(pp.auth));
}

/** `encodeBatch(pp.batch)` (the digest input), cut out of the canonical encoding `bytes` of `pp`. */
export function prePrepareBatchBytes(bytes: Uint8Array, pp: PrePrepare): Uint8Array {
  const start = 2 + uvarLength(pp.view) + uvarLength(pp.seq) + pp.batchDigest.length + uvarLength(pp.replica);
  const end = bytes.length - authenticatorLength(pp.auth);
  const out = new Uint8Array(1 + end - start);
  out[0] = WIRE_VERSION;
  out.set(bytes.subarray(start, end), 1);
  return out;
}

/**
 * The canonical encoding of a message whose encoding with an empty authenticator is `unsignedBytes`, once
 * `auth` is filled in: the empty authenticator is one zero byte at the end.
 */
export function withAuthenticator(unsignedBytes: Uint8Array, auth: readonly Uint8Array[]): Uint8Array {
  if (unsignedBytes[unsignedBytes.length - 1] !== 0)
    throw new Error('invariant: expected an empty authenticator last');
  // Written straight into one array of the final length (no writer, no copy out of it).
  const prefix = unsignedBytes.length - 1;
  const out = new Uint8Array(prefix + authenticatorLength(auth));
  out.set(unsignedBytes.subarray(0, prefix));
  let at = putUvar(out, prefix, auth.length);
  for (const t of auth) {
    at = putUvar(out, at, t.length);
    out.set(t, at);
    at += t.length;
  }
  return out;
}

/** Minimal LEB128 of `v` at `at` in `out` (as Writer.uvar); returns the offset after it. */
function putUvar(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/**
 * The bytes `authPayload(message)` would produce, as a view into `bytes`, the canonical encoding of `message`
 * (for instance the bytes it was decoded from). Every kind has its authentication field last.
 */
export function payloadOf(bytes: Uint8Array, message: Message): Uint8Array {
  return bytes.subarray(0, bytes.length - authFieldLength(message));
}

/** `withAuthenticator` for kinds authenticated by a single tag (reply, state messages). */
export function withTag(unsignedBytes: Uint8Array, tag: Uint8Array): Uint8Array {
  if (unsignedBytes[unsignedBytes.length - 1] !== 0) throw new Error('invariant: expected an empty tag last');
  const prefix = unsignedBytes.length - 1;
  const out = new Uint8Array(prefix + uvarLength(tag.length) + tag.length);
  out.set(unsignedBytes.subarray(0, prefix));
  out.set(tag, putUvar(out, prefix, tag.length));
  return out;
}

function authFieldLength(message: Message): number {
  switch (AUTH_FIELD[message.kind]) {
    case 'auth':
      return authenticatorLength((message as { auth: readonly Uint8Array[] }).auth);
    case 'tag': {
      const tag = (message as { tag: Uint8Array }).tag;
      return uvarLength(tag.length) + tag.length;
    }
    case 'signature':
      return (message as { signature: Uint8Array }).signature.length;
  }
}
