/**
 * The firmware's provisioning record: what a real actuator interface unit holds in flash (its voter
 * configuration and the MAC keys it shares with each channel). The layout is firmware-bridge/src/provision.h;
 * integers and floats use the canonical codec (minimal varints, big-endian binary64) and a CRC-32C closes it.
 *
 * @example
 * const record = provisionRecord(
 *   fieldSchemaForCommand(pitchVoterConfig({ channels: ['c0', 'c1', 'c2'] })),
 *   { selfPrincipal: 300, channelIds: [0, 1, 2], channelKeys, heartbeatKey, tagLength: 8 },
 * );
 */
import { crc32c, writeU32LE } from '../../core/codec/framing/crc.ts';
import { Writer } from '../../core/codec/wire.ts';
import type { Command } from '../../core/control/spec.ts';
import { DEFAULT_RECEIPT_WINDOW, type VoterConfig } from '../../core/vote/voter.ts';
import { commandFields } from '../loop/command-codec.ts';

/** Bounds compiled into the firmware (firmware-bridge/src/fw_limits.h). */
export const FW_LIMITS = Object.freeze({
  maxChannels: 8,
  maxAnalog: 4,
  maxDiscrete: 4,
  maxFramesAhead: 8,
  maxReceiptWindow: 64,
  maxProvisionBytes: 1024,
  maxMessageBytes: 512,
  maxLinkPayload: 560,
  watchdogMinMs: 50,
  watchdogMaxMs: 2000,
});

/**
 * The watchdog timeout a provisioned unit programs (fw_board_watchdog_ms in firmware-bridge/src/board.c): ms
 * from the last stroke of its frame loop to the reset, half of failsafeAfterMisses frame periods (the timing is in
 * ms), within FW_LIMITS' watchdog bounds. See README "A hang, frame by frame".
 *
 * @example
 * firmwareWatchdogMs({ failsafeAfterMisses: 10, timing: { period: 20 } }); // 100
 */
export function firmwareWatchdogMs(c: {
  readonly failsafeAfterMisses: number;
  readonly timing: { readonly period: number };
}): number {
  const ms = (c.failsafeAfterMisses * c.timing.period) / 2;
  if (!(ms >= FW_LIMITS.watchdogMinMs)) return FW_LIMITS.watchdogMinMs;
  return Math.floor(Math.min(ms, FW_LIMITS.watchdogMaxMs));
}

/**
 * Frames a hung unit is down before its watchdog has reset it, in whole frame periods (what a lockstep run
 * simulates, VoterRole.hang): ceil(watchdog / period). 5 at 50 Hz with failsafeAfterMisses 10.
 */
export function watchdogFrames(c: {
  readonly failsafeAfterMisses: number;
  readonly timing: { readonly period: number };
}): number {
  return Math.max(1, Math.ceil(firmwareWatchdogMs(c) / c.timing.period));
}

export const KEY_BYTES = 32;

/**
 * A voter configuration in the firmware's terms: fields by position (discrete values are indices below a
 * cardinality, as an OUTPUT carries them), channels by index.
 */
export interface FirmwareVoterConfig {
  readonly f: number;
  readonly tolerances: readonly number[];
  /** Per analog field, the early-write band (null: no early write on that field). */
  readonly earlyBands: readonly (number | null)[];
  /** Per discrete field, how many values it has (an OUTPUT value must be below it). */
  readonly cardinalities: readonly number[];
  readonly strikeThreshold: number;
  readonly strikeDecayFrames: number;
  readonly probationFrames: number;
  readonly failsafeAfterMisses: number;
  readonly failsafe: { readonly discrete: readonly number[]; readonly analog: readonly number[] };
  readonly initial: { readonly discrete: readonly number[]; readonly analog: readonly number[] };
  readonly origin: number;
  readonly period: number;
  readonly deadline: number;
  readonly firstFrame: number;
  readonly maxFramesAhead: number;
  readonly receiptWindow: number;
}

export interface FirmwareKeys {
  /** The unit's own principal id (principalOf.voter(k)). */
  readonly selfPrincipal: number;
  /** Wire channel ids, in the voter's channel order. */
  readonly channelIds: readonly number[];
  /** Pairwise MAC key shared with each channel, same order, 32 bytes each. */
  readonly channelKeys: readonly Uint8Array[];
  /** Key of the unit's heartbeat tags (shared with whoever supervises the unit). */
  readonly heartbeatKey: Uint8Array;
  /** MAC tag length, bytes (the topology's crypto.tagBytes). */
  readonly tagLength: number;
}

/**
 * Cardinalities of the pitch command's discrete fields as commandFromFields (src/runtime/loop/command-codec.ts)
 * accepts them: four sensor modes, and commandLimited as 0 or 1.
 */
export const PITCH_CARDINALITIES: readonly number[] = [4, 2];

/**
 * The firmware form of a pitch-command VoterConfig (analog: elevator; discrete: mode, commandLimited), the
 * mapping VoterHost applies through commandFromFields.
 */
export function firmwareConfigForCommand(c: VoterConfig<Command>): FirmwareVoterConfig {
  const analog = c.analog.map((a) => a.field);
  if (analog.length !== 1 || analog[0] !== 'elevator')
    throw new RangeError('firmware voter: the pitch command has one analog field, elevator');
  if (c.discrete.length !== 2 || c.discrete[0] !== 'mode' || c.discrete[1] !== 'commandLimited')
    throw new RangeError('firmware voter: discrete fields must be [mode, commandLimited]');
  return {
    f: c.f,
    tolerances: c.analog.map((a) => a.tolerance),
    earlyBands: c.analog.map((a) => a.earlyBand ?? null),
    cardinalities: PITCH_CARDINALITIES,
    strikeThreshold: c.strikeThreshold,
    strikeDecayFrames: c.strikeDecayFrames,
    probationFrames: c.probationFrames,
    failsafeAfterMisses: c.failsafeAfterMisses,
    failsafe: commandFields(c.failsafe),
    initial: commandFields(c.initial),
    origin: c.timing.origin,
    period: c.timing.period,
    deadline: c.timing.deadline,
    firstFrame: c.firstFrame,
    maxFramesAhead: c.maxFramesAhead,
    receiptWindow: c.receiptWindow ?? DEFAULT_RECEIPT_WINDOW,
  };
}

/** Throws a RangeError naming the first bound the firmware would refuse. */
export function checkFirmwareConfig(c: FirmwareVoterConfig, keys: FirmwareKeys): void {
  const fail = (msg: string): never => {
    throw new RangeError(`firmware provisioning: ${msg}`);
  };
  const m = keys.channelIds.length;
  if (m < 1 || m > FW_LIMITS.maxChannels) fail(`${m} channels (1..${FW_LIMITS.maxChannels})`);
  if (m < 2 * c.f + 1) fail(`m = ${m} < 2f+1`);
  if (keys.channelKeys.length !== m) fail('one key per channel');
  for (const k of [...keys.channelKeys, keys.heartbeatKey])
    if (k.length !== KEY_BYTES) fail(`keys are ${KEY_BYTES} bytes`);
  if (new Set(keys.channelIds).size !== m) fail('channel ids must be unique');
  if (c.tolerances.length > FW_LIMITS.maxAnalog) fail('too many analog fields');
  if (c.cardinalities.length > FW_LIMITS.maxDiscrete) fail('too many discrete fields');
  if (c.cardinalities.some((n) => !Number.isInteger(n) || n < 1 || n > 256)) fail('cardinality 1..256');
  if (!Number.isInteger(c.strikeThreshold) || c.strikeThreshold < 1 || c.strikeThreshold > 255)
    fail('strikeThreshold 1..255');
  for (const n of [c.strikeDecayFrames, c.probationFrames, c.failsafeAfterMisses])
    if (!Number.isSafeInteger(n) || n < 1) fail('frame counts 1..2^53-1');
  if (c.maxFramesAhead > FW_LIMITS.maxFramesAhead) fail(`maxFramesAhead <= ${FW_LIMITS.maxFramesAhead}`);
  if (
    !Number.isInteger(c.receiptWindow) ||
    c.receiptWindow < 1 ||
    c.receiptWindow > FW_LIMITS.maxReceiptWindow
  )
    fail(`receiptWindow 1..${FW_LIMITS.maxReceiptWindow}`);
  if (c.earlyBands.length !== c.tolerances.length) fail('one early band (or null) per analog field');
  if (keys.tagLength < 8 || keys.tagLength > 32) fail('tag length 8..32');
}

/** The record bytes (firmware-bridge/src/provision.h). */
export function provisionRecord(c: FirmwareVoterConfig, keys: FirmwareKeys): Uint8Array {
  checkFirmwareConfig(c, keys);
  const w = new Writer(1024);
  w.raw(new TextEncoder().encode('TPXV'));
  w.u8(1);
  w.uvar(keys.selfPrincipal);
  w.uvar(c.f);
  w.uvar(keys.channelIds.length);
  for (const id of keys.channelIds) w.uvar(id);
  w.uvar(c.tolerances.length);
  for (const [i, t] of c.tolerances.entries()) {
    w.f64(t);
    const band = c.earlyBands[i] ?? null;
    w.u8(band === null ? 0 : 1);
    if (band !== null) w.f64(band);
  }
  w.uvar(c.cardinalities.length);
  for (const n of c.cardinalities) w.uvar(n);
  w.uvar(c.strikeThreshold);
  w.uvar(c.strikeDecayFrames);
  w.uvar(c.probationFrames);
  w.uvar(c.failsafeAfterMisses);
  for (const cmd of [c.failsafe, c.initial]) {
    for (const d of cmd.discrete) w.uvar(d);
    for (const a of cmd.analog) w.f64(a);
  }
  w.f64(c.origin);
  w.f64(c.period);
  w.f64(c.deadline);
  w.uvar(c.firstFrame);
  w.uvar(c.maxFramesAhead);
  w.uvar(c.receiptWindow);
  w.uvar(keys.tagLength);
  for (const k of keys.channelKeys) w.raw(k);
  w.raw(keys.heartbeatKey);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  writeU32LE(out, body.length, crc32c(body));
  if (out.length > FW_LIMITS.maxProvisionBytes)
    throw new RangeError('firmware provisioning: record too long');
  return out;
}

/** The record as QEMU's generic loader places it at FW_PROVISION_ADDR: [length u32 LE][record]. */
export function provisionImage(record: Uint8Array): Uint8Array {
  const out = new Uint8Array(record.length + 4);
  writeU32LE(out, 0, record.length);
  out.set(record, 4);
  return out;
}
