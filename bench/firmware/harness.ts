/**
 * Runs a corpus through a voter host under a VirtualScheduler and records what it reports: the TypeScript
 * VoterHost (the reference) or the FirmwareVoterHost (the C firmware, host build or QEMU). Both see the same
 * scheduler events in the same order; only the firmware also gets the link garbage (which it must drop).
 */
import pino from 'pino';
import { decodeMessage } from '../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../src/core/codec/limits.ts';
import { MESSAGE_KINDS } from '../../src/core/codec/messages.ts';
import type { Command } from '../../src/core/control/spec.ts';
import { KeyRing } from '../../src/core/crypto/keyring.ts';
import type { ChannelEvent, ChannelHealth, DecisionRecord } from '../../src/core/vote/voter.ts';
import type { FirmwareStatus } from '../../src/runtime/firmware/protocol.ts';
import {
  FW_LIMITS,
  firmwareConfigForCommand,
  provisionRecord,
} from '../../src/runtime/firmware/provision.ts';
import { channelHealthOf } from '../../src/runtime/firmware/record.ts';
import type { FirmwareTarget, FirmwareUnit } from '../../src/runtime/firmware/unit.ts';
import { FirmwareUnit as Unit } from '../../src/runtime/firmware/unit.ts';
import { FirmwareVoterHost } from '../../src/runtime/firmware/voter-host.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import { VoterHost } from '../../src/runtime/loop/voter-host.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import type { Corpus } from './corpus.ts';

export interface Observation {
  readonly decisions: DecisionRecord<Command>[];
  /** Every onChannelEvents call, in order (decisions' events and monitored outputs' events). */
  readonly events: ChannelEvent[][];
  readonly counters: Record<string, number>;
  readonly health: readonly ChannelHealth[];
}

const silent = pino({ level: 'silent' });
/** The unit's decode limits: the reference decodes with the same cap on message size. */
const LIMITS = { ...DEFAULT_LIMITS, maxMessageBytes: FW_LIMITS.maxMessageBytes };
const OUTPUT_TAG = MESSAGE_KINDS.indexOf('output');
const HEARTBEAT_TAG = MESSAGE_KINDS.indexOf('heartbeat');

function lastTime(c: Corpus): number {
  const t = c.config.timing;
  return t.origin + (c.setup.firstFrame + c.frames + 2) * t.period;
}

/** The keys of the corpus as the voter's KeyRing: self = voter 0, peers = the channels. */
export function ringOf(c: Corpus): KeyRing {
  return new KeyRing({
    self: principalOf.voter(0),
    keys: c.setup.channelIds.map((id, i) => [principalOf.channel(id), c.keys[i]!] as const),
    tagLength: c.setup.tagLength,
  });
}

/**
 * The Board's part before the voter: decode, then route by kind. Named as the firmware reports it: a kind the
 * voter does not consume is 'unhandled-kind', whatever its body (the unit does not parse PBFT messages).
 */
function boardReject(bytes: Uint8Array): string | undefined {
  const d = decodeMessage(bytes, LIMITS);
  if (d.ok) return d.message.kind === 'output' ? undefined : 'unhandled-kind';
  const tag = bytes[1];
  const otherKind = bytes.length >= 2 && bytes[0] === 1 && tag !== undefined && tag < MESSAGE_KINDS.length;
  if (otherKind && tag !== OUTPUT_TAG && tag !== HEARTBEAT_TAG) return 'unhandled-kind';
  return d.reason;
}

export function runReference(c: Corpus): Observation {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const decisions: DecisionRecord<Command>[] = [];
  const events: ChannelEvent[][] = [];
  const host = new VoterHost({
    config: c.config,
    ring: ringOf(c),
    scheduler,
    counters,
    log: silent,
    actuator: { write: (r) => decisions.push(r) },
    health: { channelEvents: (e) => events.push([...e]) },
  });
  for (const e of c.events) {
    if (e.kind === 'arm') scheduler.at(e.time, () => host.armFrame(e.frame));
    else if (e.kind === 'deliver')
      scheduler.at(e.time, () => {
        const reject = boardReject(e.bytes);
        if (reject !== undefined) counters.add(`board.rejected.${reject}`);
        else {
          const d = decodeMessage(e.bytes, LIMITS);
          if (d.ok && d.message.kind === 'output') host.output(d.message);
        }
      });
  }
  scheduler.runUntil(lastTime(c));
  return { decisions, events, counters: counters.toJSON(), health: host.voter.health() };
}

export function provisionFor(c: Corpus): Uint8Array {
  return provisionRecord(firmwareConfigForCommand(c.config), {
    selfPrincipal: principalOf.voter(0),
    channelIds: c.setup.channelIds,
    channelKeys: c.keys,
    heartbeatKey: c.heartbeatKey,
    tagLength: c.setup.tagLength,
  });
}

/**
 * How a harness unit keeps guest time. The harness runs on virtual (rig) time, so no guest clock need follow the
 * host's; but with QEMU's default (`guestClock: 'host'`) an idle guest's clock does, and a QEMU process the host
 * does not run for 100 ms or so (a loaded machine, a bench under nice) wakes to an expired watchdog: a reset
 * that no firmware fault caused (unit.ts guestClock; the stall test in test/firmware/hang.test.ts).
 * - async (pipelined): the unit is busy for the whole run, so real-time scheduling could not protect it (the
 *   governor drops it from a process that uses a whole CPU: measured 103-156% in the differential run, after
 *   which fw:diff saw spurious resets), and a busy guest seldom sleeps, so guest time from instructions costs
 *   little CPU there: `guestClock: 'instructions'`, no host stall can reset it, a hang still does.
 * - sync (lockstep): the unit sleeps between requests, where 'instructions' would keep a host CPU busy (92%)
 *   for nothing; there real-time priority (FirmwareVoterRole does the same) keeps the host running it when it
 *   needs to, and the governor keeps it on a unit that mostly sleeps.
 */
async function startHarnessUnit(o: Parameters<typeof Unit.start>[0]): Promise<FirmwareUnit> {
  const pipelined = o.mode === 'async';
  const unit = await Unit.start({ ...o, guestClock: pipelined ? 'instructions' : 'host' });
  if (!pipelined) unit.raisePriority(silent);
  return unit;
}

export function startUnit(
  c: Corpus,
  target: FirmwareTarget,
  mode: 'sync' | 'async',
  workDir: string,
  testHooks = false,
  /** The unit's actuator port (ACTUATOR frames, src/runtime/firmware/actuator.ts) to this file. */
  actuatorFile?: string,
): Promise<FirmwareUnit> {
  return startHarnessUnit({
    target,
    mode,
    provision: provisionFor(c),
    shape: { channels: c.setup.channelIds.length, discrete: 2, analog: 1 },
    workDir,
    testHooks,
    // runFirmware pipelines every event of the corpus in async mode: room for all of them, and the default
    // room besides (a test that drives the unit itself, with a corpus of a few frames for its keys).
    maxPending: c.events.length + 4096,
    ...(actuatorFile === undefined ? {} : { actuatorFile }),
  });
}

export interface FirmwareRun extends Observation {
  /** The unit's own counters at the end (deframer, offer codes, work). */
  readonly status: FirmwareStatus;
}

/**
 * The corpus through the firmware. Sync units answer each event before the next; async units get every
 * request pipelined and the run waits for the last answer (the same answers, in the same order).
 */
export async function runFirmware(c: Corpus, unit: FirmwareUnit): Promise<FirmwareRun> {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const decisions: DecisionRecord<Command>[] = [];
  const events: ChannelEvent[][] = [];
  const host = new FirmwareVoterHost({
    config: c.config,
    unit,
    scheduler,
    counters,
    log: silent,
    actuator: { write: (r) => decisions.push(r) },
    health: { channelEvents: (e) => events.push([...e]) },
  });
  for (const e of c.events) {
    if (e.kind === 'arm') scheduler.at(e.time, () => host.armFrame(e.frame));
    else if (e.kind === 'deliver') scheduler.at(e.time, () => host.onBytes(e.bytes));
    else scheduler.at(e.time, () => unit.writeRaw(e.bytes));
  }
  scheduler.runUntil(lastTime(c));
  const status = await unit.status();
  return {
    decisions,
    events,
    counters: counters.toJSON(),
    health: channelHealthOf(status.channels, c.config.channels),
    status,
  };
}
