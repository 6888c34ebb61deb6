/**
 * What the firmware's decoder must answer for a byte string, from the TypeScript codec: the codec's
 * rejection reason, or 'unhandled-kind' for a well-formed kind tag the unit does not consume (it parses only
 * OUTPUT and heartbeat bodies), or 'ok'. Same message-size cap as the unit.
 */
import { decodeMessage } from '../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../src/core/codec/limits.ts';
import { MESSAGE_KINDS } from '../../src/core/codec/messages.ts';
import type { RejectionReason } from '../../src/core/codec/wire.ts';
import { DECODE_REASONS } from '../../src/runtime/firmware/protocol.ts';
import { FW_LIMITS } from '../../src/runtime/firmware/provision.ts';

export const FIRMWARE_LIMITS = { ...DEFAULT_LIMITS, maxMessageBytes: FW_LIMITS.maxMessageBytes };
const OUTPUT = MESSAGE_KINDS.indexOf('output');
const HEARTBEAT = MESSAGE_KINDS.indexOf('heartbeat');

export type FirmwareDecodeResult = 'ok' | RejectionReason | 'unhandled-kind';

export function expectedDecode(bytes: Uint8Array): FirmwareDecodeResult {
  const d = decodeMessage(bytes, FIRMWARE_LIMITS);
  const tag = bytes[1];
  const consumed = tag === OUTPUT || tag === HEARTBEAT;
  const otherKind = bytes.length >= 2 && bytes.length <= FW_LIMITS.maxMessageBytes && bytes[0] === 1;
  if (otherKind && tag !== undefined && tag < MESSAGE_KINDS.length && !consumed) return 'unhandled-kind';
  if (d.ok) return 'ok';
  return d.reason;
}

/** The firmware's decode status byte (fw_decode_status) as a name; 0xFF: accepted but not canonical. */
export function firmwareDecodeName(code: number): FirmwareDecodeResult | 'not-canonical' | `code-${number}` {
  if (code === 0) return 'ok';
  if (code === 0xff) return 'not-canonical';
  return DECODE_REASONS[code - 1] ?? `code-${code}`;
}
