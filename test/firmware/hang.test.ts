/**
 * A firmware unit made to hang (the HANG request of a test build: a scenario fault) is reset by its watchdog
 * and rejoins: the voter host hears nothing from it for the outage (the actuator holds its last command), the
 * rebooted unit counts the frames it never decided as misses and writes the failsafe command, then votes
 * again. Host build (CPU-time watchdog, the process re-executes itself on the same link) and Cortex-M3 build
 * under QEMU (CMSDK watchdog: NMI, then a board reset with `-action watchdog=reset`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS, voterConfigOf } from '../../bench/firmware/corpus.ts';
import { startUnit } from '../../bench/firmware/harness.ts';
import { authPayload, decodeMessage, encodeMessage } from '../../src/core/codec/encode.ts';
import type { Output } from '../../src/core/codec/messages.ts';
import type { Command } from '../../src/core/control/spec.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import type { DecisionRecord } from '../../src/core/vote/voter.ts';
import { readActuatorStream } from '../../src/runtime/firmware/actuator.ts';
import { firmwareWatchdogMs } from '../../src/runtime/firmware/provision.ts';
import {
  BUILD_TIMEOUT_MS,
  buildFor,
  hostToolchain,
  m3Toolchain,
} from '../../src/runtime/firmware/toolchain.ts';
import type { FirmwareTarget } from '../../src/runtime/firmware/unit.ts';
import { FirmwareVoterHost } from '../../src/runtime/firmware/voter-host.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import type { VoterEvent } from '../../src/runtime/loop/ports.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const host = hostToolchain();
const m3 = m3Toolchain();
if (!host.ok) console.warn(`firmware hang test skipped: ${host.reason}`);
if (!m3.ok) console.warn(`firmware hang test (QEMU build) skipped: ${m3.reason}`);
const work = mkdtempSync(join(tmpdir(), 'triplex-fw-hang-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HANG_AT = 10;
const DOWN = 6;
const FRAMES = 30;

async function hangAndRejoin(target: FirmwareTarget, mode: 'sync' | 'async') {
  const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
  const dir = join(work, `${target}-${mode}`);
  const actuatorFile = join(work, `${target}-${mode}.actuator`);
  const unit = await startUnit(corpus, target, mode, dir, true, actuatorFile);
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const decisions: DecisionRecord<Command>[] = [];
  const events: VoterEvent[] = [];
  const voter = new FirmwareVoterHost({
    config: corpus.config,
    unit,
    scheduler,
    counters,
    log: pino({ level: 'silent' }),
    actuator: { write: (r) => decisions.push(r) },
    events: { voterEvent: (e) => events.push(e) },
    hangFrames: DOWN,
  });
  const macs = corpus.keys.map((k) => keyedMac(k));
  const output = (frame: number, c: number): Uint8Array => {
    const unsigned: Output = {
      kind: 'output',
      frame,
      channel: corpus.setup.channelIds[c]!,
      discrete: [0, 0],
      analog: [0.01 * Math.sin(frame / 5)],
      tag: new Uint8Array(0),
    };
    return encodeMessage({ ...unsigned, tag: macs[c]!.mac(authPayload(unsigned), corpus.setup.tagLength) });
  };
  const period = corpus.config.timing.period;
  for (let k = 0; k < FRAMES; k++) {
    scheduler.at(k * period, () => {
      voter.armFrame(k);
      if (k === HANG_AT) expect(voter.hang()).toMatchObject({ applied: true });
    });
    for (let c = 0; c < 3; c++) scheduler.at(k * period + 1 + c, () => voter.onBytes(output(k, c)));
  }
  let status: Awaited<ReturnType<typeof unit.status>>;
  try {
    scheduler.runUntil((FRAMES + 1) * period);
    status = await unit.status(); // after every answer (async: the last one)
  } finally {
    await unit.close(); // a failed run leaves no QEMU behind
  }
  const actuator = readActuatorStream(readFileSync(actuatorFile), { discrete: 2, analog: 1 });
  return { decisions, events, counters: counters.toJSON(), status, boots: unit.boots, actuator };
}

function expectHoldThenFailsafeThenRejoin(r: Awaited<ReturnType<typeof hangAndRejoin>>) {
  const byFrame = new Map(r.decisions.map((d) => [d.frame, d]));
  // Before the hang: every frame written, early (two of three agree before the deadline).
  for (let k = 0; k < HANG_AT; k++) expect(byFrame.get(k)?.kind, `frame ${k}`).toBe('write');
  // The outage (the rest of frame HANG_AT and DOWN more): no decision reaches the rig, its actuator holds.
  for (let k = HANG_AT; k <= HANG_AT + DOWN; k++) expect(byFrame.get(k), `frame ${k}`).toBeUndefined();
  // The reset unit rejoins: the frames it never decided are misses, so first the failsafe command...
  const rejoin = byFrame.get(HANG_AT + DOWN + 1);
  expect(rejoin?.kind).toBe('failsafe');
  expect(rejoin?.value).toEqual({ elevator: 0, mode: 'no-sensor', commandLimited: true });
  expect(rejoin?.consecutiveMisses).toBeGreaterThanOrEqual(SETUPS[0]!.failsafeAfterMisses);
  // ...then votes again from the next frame on.
  for (let k = HANG_AT + DOWN + 2; k < FRAMES; k++) expect(byFrame.get(k)?.kind, `frame ${k}`).toBe('write');
  // The watchdog did it, once.
  expect(r.boots.map((b) => b.resetCause)).toEqual(['power-on', 'watchdog']);
  expect(r.boots[1]?.bootCount).toBe(1);
  expect(r.status.resetCause).toBe(1);
  expect(r.counters['voter.hang']).toBe(1);
  expect(r.counters['voter.watchdog-reset']).toBe(1);
  // The voter's own events, as the report shows them: hung, reset, rejoined with the failsafe frame.
  expect(r.events.map((e) => [e.kind, e.frame])).toEqual([
    ['hung', HANG_AT],
    ['reset', HANG_AT + DOWN + 1],
    ['rejoined', HANG_AT + DOWN + 1],
  ]);
  expect(r.events[2]?.detail).toMatch(/first decision failsafe/);
  // What reached the actuator port (host --actuator, QEMU UART1) is what the unit reported deciding, across
  // the reset: nothing while it was down, then the failsafe command, then writes.
  expect(r.actuator.rejected).toBe(0);
  expect(r.actuator.commands.map((c) => [c.frame, c.kind, c.analog[0]])).toEqual(
    r.decisions.map((d) => [d.frame, d.kind, d.value.elevator]),
  );
}

beforeAll(() => buildFor(['host-test', 'm3-test']), BUILD_TIMEOUT_MS);
describe.skipIf(!host.ok)('a hung firmware unit is reset by its watchdog and rejoins (host build)', () => {
  it('sync FIFO link: holds, fails safe, votes again; the boot heartbeat says watchdog', async () => {
    const r = await hangAndRejoin('host', 'sync');
    expectHoldThenFailsafeThenRejoin(r);
    const hb = decodeMessage(r.boots[1]!.heartbeat);
    expect(hb.ok && hb.message.kind === 'heartbeat' && hb.message.status & 0x0f).toBe(1);
  });
});

describe.skipIf(!host.ok || !m3.ok)(
  'a hung firmware unit is reset by its watchdog and rejoins (QEMU)',
  () => {
    it('Cortex-M3: CMSDK watchdog NMI, then board reset; holds, fails safe, votes again', async () => {
      const r = await hangAndRejoin('qemu', 'async');
      expectHoldThenFailsafeThenRejoin(r);
    });
  },
);

/**
 * The watchdog follows the frame rate: each build programs half of failsafeAfterMisses frame periods of its
 * provisioned timing (fw_board_watchdog_ms; README "A hang, frame by frame"), clamped to 50 ms..2 s, and says so
 * in STATUS. The hang test above relies on it: its unit (50 Hz, failsafeAfterMisses 5) resets after 50 ms.
 */
describe.skipIf(!host.ok)('the watchdog timeout comes from the provisioned frame timing', () => {
  const setups = [
    SETUPS[0]!, // 5 x 20 ms / 2 = 50 ms
    SETUPS[2]!, // 2 x 10 ms / 2 = 10 ms: the minimum, 50 ms
    { ...SETUPS[0]!, failsafeAfterMisses: 1000 }, // 10 s: clamped to 2 s
    { ...SETUPS[0]!, failsafeAfterMisses: 10, periodMs: 1000 / 30 }, // 166.67 ms: 166
  ];
  for (const target of ['host', ...(m3.ok ? ['qemu' as const] : [])] as const) {
    it(`${target}: STATUS watchdogMs = firmwareWatchdogMs(config) for each timing`, async () => {
      const got: number[] = [];
      for (const [i, setup] of setups.entries()) {
        const corpus = generateCorpus(setup, 0, 5);
        const unit = await startUnit(corpus, target, 'sync', join(work, `wd-${target}-${i}`));
        try {
          got.push((await unit.status()).watchdogMs);
        } finally {
          await unit.close();
        }
      }
      expect(got).toEqual([50, 50, 2000, 166]);
      expect(setups.map((s) => firmwareWatchdogMs(voterConfigOf(s)))).toEqual(got);
    });
  }
});
