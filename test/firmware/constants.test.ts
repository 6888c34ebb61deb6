/**
 * The firmware's wire constants are the TypeScript codec's: the C header's kind count, kind tags and wire
 * version are read from firmware-bridge/src/message.h and compared with src/core/codec/messages.ts, so a new
 * message kind added to the codec cannot leave the firmware answering "unknown kind" for it (the fuzz test
 * would also see the disagreement, but this says where it is).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MESSAGE_KINDS, WIRE_VERSION } from '../../src/core/codec/messages.ts';
import { FW_LIMITS } from '../../src/runtime/firmware/provision.ts';

const HEADER = readFileSync(
  join(resolve(import.meta.dirname, '..', '..'), 'firmware-bridge', 'src', 'message.h'),
  'utf8',
);

function define(name: string): number {
  const m = new RegExp(`^#define ${name} (\\d+)u?$`, 'm').exec(HEADER);
  if (m === null) throw new Error(`firmware-bridge/src/message.h defines no ${name}`);
  return Number(m[1]);
}

describe('firmware wire constants', () => {
  it('match the codec: version, number of kinds, the OUTPUT and heartbeat tags', () => {
    expect({
      version: define('FW_WIRE_VERSION'),
      kinds: define('FW_KIND_COUNT'),
      output: define('FW_KIND_OUTPUT'),
      heartbeat: define('FW_KIND_HEARTBEAT'),
    }).toEqual({
      version: WIRE_VERSION,
      kinds: MESSAGE_KINDS.length,
      output: MESSAGE_KINDS.indexOf('output'),
      heartbeat: MESSAGE_KINDS.indexOf('heartbeat'),
    });
  });
});

const LIMITS_HEADER = readFileSync(
  join(resolve(import.meta.dirname, '..', '..'), 'firmware-bridge', 'src', 'fw_limits.h'),
  'utf8',
);

function limit(name: string): number {
  const m = new RegExp(`^#define ${name} (\\d+)u?$`, 'm').exec(LIMITS_HEADER);
  if (m === null) throw new Error(`firmware-bridge/src/fw_limits.h defines no ${name}`);
  return Number(m[1]);
}

describe('firmware limits', () => {
  it('FW_LIMITS (provision.ts) are fw_limits.h, the watchdog bounds included', () => {
    expect(FW_LIMITS).toEqual({
      maxChannels: limit('FW_MAX_CHANNELS'),
      maxAnalog: limit('FW_MAX_ANALOG'),
      maxDiscrete: limit('FW_MAX_DISCRETE'),
      maxFramesAhead: limit('FW_MAX_AHEAD'),
      maxReceiptWindow: limit('FW_MAX_RECEIPT_WINDOW'),
      maxProvisionBytes: limit('FW_MAX_PROVISION_BYTES'),
      maxMessageBytes: limit('FW_MAX_MESSAGE_BYTES'),
      maxLinkPayload: limit('FW_MAX_LINK_PAYLOAD'),
      watchdogMinMs: limit('FW_WATCHDOG_MIN_MS'),
      watchdogMaxMs: limit('FW_WATCHDOG_MAX_MS'),
    });
  });
});
