/**
 * What the firmware test files share: the toolchain probe (a missing toolchain skips its tests and says why), a
 * work directory removed after the file, the images built before the first test; channel OUTPUTs tagged as a
 * channel tags them; and the TypeScript VoterHost and the FirmwareVoterHost flown side by side on one virtual
 * clock, each with its own counters and what it reported.
 *
 * @example
 * const { host, m3, work } = firmwareFixture('firmware hang test', 'hang', ['host-test', 'm3-test']);
 * const pair = sideBySide({ corpus, unit, scheduler });   // pair.ts.host.output(m); pair.fw.host.onBytes(bytes)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { Corpus } from '../../bench/firmware/corpus.ts';
import { ringOf } from '../../bench/firmware/harness.ts';
import { authPayload, encodeMessage } from '../../src/core/codec/encode.ts';
import type { Output } from '../../src/core/codec/messages.ts';
import type { Command } from '../../src/core/control/spec.ts';
import type { KeyRing } from '../../src/core/crypto/keyring.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import type { ChannelEvent, DecisionRecord } from '../../src/core/vote/voter.ts';
import type { FirmwareStatus } from '../../src/runtime/firmware/protocol.ts';
import {
  type Artifact,
  type Availability,
  BUILD_TIMEOUT_MS,
  buildFor,
  hostToolchain,
  m3Toolchain,
} from '../../src/runtime/firmware/toolchain.ts';
import type { Answer, FirmwareUnit } from '../../src/runtime/firmware/unit.ts';
import { FirmwareVoterHost } from '../../src/runtime/firmware/voter-host.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import type { VoterEvent } from '../../src/runtime/loop/ports.ts';
import { VoterHost } from '../../src/runtime/loop/voter-host.ts';
import type { VirtualScheduler } from '../../src/runtime/scheduler.ts';

export interface FirmwareFixture {
  readonly host: Availability;
  readonly m3: Availability;
  /** This file's directory for units, FIFOs and reports (removed after the file). */
  readonly work: string;
}

/**
 * Call at the top of a test file. `what` names the file's tests in the skip lines, `name` its work directory;
 * `artifacts` are built before the first test (buildFor leaves out the Cortex-M3 ones without that toolchain).
 */
export function firmwareFixture(what: string, name: string, artifacts: readonly Artifact[]): FirmwareFixture {
  const host = hostToolchain();
  const m3 = m3Toolchain();
  if (!host.ok) console.warn(`${what} skipped: ${host.reason}`);
  if (!m3.ok) console.warn(`${what} (QEMU build) skipped: ${m3.reason}`);
  const work = mkdtempSync(join(tmpdir(), `triplex-fw-${name}-`));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  beforeAll(() => buildFor(artifacts), BUILD_TIMEOUT_MS);
  return { host, m3, work };
}

/** Channel `c`'s OUTPUT for `frame` (discrete fields 0), tagged under `key` (default: its key in the corpus). */
export function signedOutput(
  corpus: Corpus,
  frame: number,
  c: number,
  analog: number,
  key: Uint8Array = corpus.keys[c]!,
): Uint8Array {
  const unsigned: Output = {
    kind: 'output',
    frame,
    channel: corpus.setup.channelIds[c]!,
    discrete: [0, 0],
    analog: [analog],
    tag: new Uint8Array(0),
  };
  return encodeMessage({
    ...unsigned,
    tag: keyedMac(key).mac(authPayload(unsigned), corpus.setup.tagLength),
  });
}

/** A unit's answer in a word or three: 'offer 17', 'error rekey-stale', 'rekeyed 1 1', 'lost', or its type. */
export function answerOf(a: Answer): string {
  if (a === 'lost') return 'lost';
  if (a.type === 'offer') return `offer ${a.code}`;
  if (a.type === 'error') return `error ${a.error}`;
  if (a.type === 'rekeyed') return `rekeyed ${a.channel} ${a.generation}`;
  return a.type;
}

/** The counters both voters keep the same way: decisions by kind and refusals by reason. */
export function voterCounters(c: Counters | Record<string, number>): Record<string, number> {
  const all = c instanceof Counters ? c.toJSON() : c;
  return Object.fromEntries(
    Object.entries(all).filter(([k]) => /^voter\.(write|hold|failsafe|rejected\..*)$/.test(k)),
  );
}

/** One voter of a pair and what it reported. */
export interface Side<H> {
  readonly host: H;
  readonly counters: Counters;
  readonly decisions: DecisionRecord<Command>[];
  /** Every channel event, in order. */
  readonly events: ChannelEvent[];
  readonly voterEvents: VoterEvent[];
}

const silent = pino({ level: 'silent' });

/** The firmware voter on `unit`, recording what it reports. */
export function firmwareSide(o: {
  readonly corpus: Corpus;
  readonly unit: FirmwareUnit;
  readonly scheduler: VirtualScheduler;
  /** Frames a HANG keeps the unit deaf after the frame it hung in (FirmwareVoterHost hangFrames). */
  readonly hangFrames?: number;
}): Side<FirmwareVoterHost> {
  const side = { counters: new Counters(), decisions: [], events: [], voterEvents: [] };
  const host = new FirmwareVoterHost({
    config: o.corpus.config,
    unit: o.unit,
    scheduler: o.scheduler,
    counters: side.counters,
    log: silent,
    ...sinksOf(side),
    ...(o.hangFrames === undefined ? {} : { hangFrames: o.hangFrames }),
  });
  return { host, ...side };
}

/**
 * The TypeScript VoterHost and the firmware voter on one scheduler, for the same bytes: `ring` is the TypeScript
 * voter's keys (default: the corpus's).
 */
export function sideBySide(o: {
  readonly corpus: Corpus;
  readonly unit: FirmwareUnit;
  readonly scheduler: VirtualScheduler;
  readonly ring?: KeyRing;
  readonly hangFrames?: number;
}): { readonly ts: Side<VoterHost>; readonly fw: Side<FirmwareVoterHost> } {
  const side = { counters: new Counters(), decisions: [], events: [], voterEvents: [] };
  const ts = new VoterHost({
    config: o.corpus.config,
    ring: o.ring ?? ringOf(o.corpus),
    scheduler: o.scheduler,
    counters: side.counters,
    log: silent,
    ...sinksOf(side),
  });
  return { ts: { host: ts, ...side }, fw: firmwareSide(o) };
}

function sinksOf(side: Omit<Side<unknown>, 'host' | 'counters'>) {
  return {
    actuator: { write: (d: DecisionRecord<Command>) => side.decisions.push(d) },
    health: { channelEvents: (es: readonly ChannelEvent[]) => side.events.push(...es) },
    events: { voterEvent: (e: VoterEvent) => side.voterEvents.push(e) },
  };
}

/**
 * Run the scheduler to `until`, then the unit's STATUS (after every answer: in async mode, the last one), and close
 * the unit whatever happened, so a failed run leaves no process behind.
 */
export async function flyThenStatus(
  scheduler: VirtualScheduler,
  unit: FirmwareUnit,
  until: number,
): Promise<FirmwareStatus> {
  try {
    scheduler.runUntil(until);
    return await unit.status();
  } finally {
    await unit.close();
  }
}
