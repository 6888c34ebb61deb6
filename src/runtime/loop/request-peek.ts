/**
 * The client and operation of a REQUEST the replica already accepted, read from its bytes without decoding the
 * rest (the authenticator, up to n tags): what the frame clock needs from every authentic REQUEST. The replica
 * decoded and authenticated the same bytes, so this is a second look at a known-good prefix, not a parser of
 * untrusted input; it still never throws (a malformed prefix is `undefined`).
 *
 * @example
 * const r = peekRequest(bytes, DEFAULT_LIMITS); // { client: 4, op: Uint8Array(...) }
 */
import type { DecodeLimits } from '../../core/codec/limits.ts';
import { Reader } from '../../core/codec/wire.ts';

/** Layout (src/core/codec/messages.ts requestSchema): version, kind, client, timestamp, op (length-prefixed). */
export function peekRequest(
  bytes: Uint8Array,
  limits: DecodeLimits,
): { readonly client: number; readonly op: Uint8Array } | undefined {
  try {
    const r = new Reader(bytes);
    r.u8('version');
    r.u8('kind');
    const client = r.uvar('client');
    r.uvar('timestamp');
    const length = r.uvar('op');
    if (length > limits.maxOpBytes) return undefined;
    return { client, op: r.raw(length, 'op') };
  } catch {
    return undefined;
  }
}
