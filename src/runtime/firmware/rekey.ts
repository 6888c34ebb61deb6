/**
 * REKEY, the rig's side (firmware-bridge/src/rekey.h): a channel's new pairwise MAC key for the firmware voter,
 * sealed and authenticated under keys derived from the unit's heartbeat key, bound to the unit's boot epoch (from
 * its NVM, advanced at every boot, so a REKEY from an earlier power cycle is refused) and boot count, with
 * a generation above the channel's current one. This is how a firmware voter follows proactive recovery: the
 * rig holds the session keys (X25519 + HKDF in src/core/recovery), the unit only takes the result.
 *
 * @example
 * const { sealed, tag } = sealRekey({ heartbeatKey, epoch: 3, bootCount: 0, channel: 1, generation: 1, key });
 * unit.requestSync({ type: 'rekey', channel: 1, generation: 1, sealed, tag }); // { type: 'rekeyed', ... }
 */
import { keyedMac } from '../../core/crypto/mac.ts';
import { REQUEST } from './protocol.ts';
import { KEY_BYTES } from './provision.ts';

const TAG_BYTES = 32;
const text = new TextEncoder();

function u32le(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, true);
  return b;
}

function u64le(x: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(x), true);
  return b;
}

/** Minimal LEB128, as the codec's Writer.uvar (the generation on the wire). */
function uvar(x: number): Uint8Array {
  const out: number[] = [];
  let v = BigInt(x);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface RekeyInput {
  /** The unit's heartbeat key (what it was provisioned with). */
  readonly heartbeatKey: Uint8Array;
  /** The boot epoch of the unit's current boot (its last BOOT frame; never 0, which the unit refuses). */
  readonly epoch: number;
  /** The boot count of the unit's current boot (its last BOOT frame). */
  readonly bootCount: number;
  /** The channel's index in the provisioned channel order. */
  readonly channel: number;
  /** Above the channel's current generation (0: its flash key). */
  readonly generation: number;
  /** The new 32-byte pairwise key. */
  readonly key: Uint8Array;
  /** The voter's own restart: the previous key stays for the frames up to the open one (default false). */
  readonly handover?: boolean;
}

/** The sealed key and the tag of a REKEY request. */
export function sealRekey(r: RekeyInput): { sealed: Uint8Array; tag: Uint8Array } {
  if (r.key.length !== KEY_BYTES) throw new RangeError(`a REKEY carries a ${KEY_BYTES}-byte key`);
  if (!Number.isInteger(r.channel) || r.channel < 0 || r.channel > 255)
    throw new RangeError(`channel index ${r.channel}`);
  if (!Number.isSafeInteger(r.generation) || r.generation < 1)
    throw new RangeError(`generation ${r.generation}`);
  const base = keyedMac(r.heartbeatKey);
  const enc = keyedMac(base.mac(text.encode('triplex/fw-rekey/enc'), TAG_BYTES));
  const mac = keyedMac(base.mac(text.encode('triplex/fw-rekey/mac'), TAG_BYTES));
  const boot = concat(u32le(r.epoch), u32le(r.bootCount));
  const pad = enc.mac(concat(boot, Uint8Array.of(r.channel), u64le(r.generation)), TAG_BYTES);
  const sealed = r.key.map((b, i) => b ^ pad[i]!);
  const handover = Uint8Array.of(r.handover === true ? 1 : 0);
  const signed = concat(Uint8Array.of(REQUEST.rekey, r.channel), uvar(r.generation), handover, sealed, boot);
  return { sealed, tag: mac.mac(signed, TAG_BYTES) };
}
