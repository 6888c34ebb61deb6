/**
 * A firmware unit made to hang (the HANG request of a test build: a scenario fault) is reset by its watchdog
 * and rejoins: the voter host hears nothing from it for the outage (the actuator holds its last command), the
 * rebooted unit counts the frames it never decided as misses and writes the failsafe command, then votes
 * again. Host build (CPU-time watchdog, the process re-executes itself on the same link) and Cortex-M3 build
 * under QEMU (CMSDK watchdog: NMI, then a board reset with `-action watchdog=reset`).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS, voterConfigOf } from '../../bench/firmware/corpus.ts';
import { provisionFor, startUnit } from '../../bench/firmware/harness.ts';
import { decodeMessage } from '../../src/core/codec/encode.ts';
import { readActuatorStream } from '../../src/runtime/firmware/actuator.ts';
import { firmwareWatchdogMs } from '../../src/runtime/firmware/provision.ts';
import { type FirmwareTarget, FirmwareUnit } from '../../src/runtime/firmware/unit.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { firmwareFixture, firmwareSide, flyThenStatus, signedOutput } from './fixture.ts';

const { host, m3, work } = firmwareFixture('firmware hang test', 'hang', ['host-test', 'm3-test']);

const HANG_AT = 10;
const DOWN = 6;
const FRAMES = 30;

async function hangAndRejoin(target: FirmwareTarget, mode: 'sync' | 'async') {
  const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
  const dir = join(work, `${target}-${mode}`);
  const actuatorFile = join(work, `${target}-${mode}.actuator`);
  const unit = await startUnit(corpus, target, mode, dir, true, actuatorFile);
  const scheduler = new VirtualScheduler();
  const fw = firmwareSide({ corpus, unit, scheduler, hangFrames: DOWN });
  const voter = fw.host;
  const output = (frame: number, c: number): Uint8Array =>
    signedOutput(corpus, frame, c, 0.01 * Math.sin(frame / 5));
  const period = corpus.config.timing.period;
  for (let k = 0; k < FRAMES; k++) {
    scheduler.at(k * period, () => {
      voter.armFrame(k);
      if (k === HANG_AT) expect(voter.hang()).toMatchObject({ applied: true });
    });
    for (let c = 0; c < 3; c++) scheduler.at(k * period + 1 + c, () => voter.onBytes(output(k, c)));
  }
  const status = await flyThenStatus(scheduler, unit, (FRAMES + 1) * period);
  const actuator = readActuatorStream(readFileSync(actuatorFile), { discrete: 2, analog: 1 });
  return {
    decisions: fw.decisions,
    events: fw.voterEvents,
    counters: fw.counters.toJSON(),
    status,
    boots: unit.boots,
    actuator,
  };
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

/**
 * A host stall is not a hang. The test stops QEMU (SIGSTOP) for 300 ms, three times, while its guest sleeps
 * between requests, as a loaded machine does to a process it does not run. A pipelined harness unit keeps guest
 * time from its instructions (unit.ts guestClock 'instructions'): not reset. With guest time from the host's clock
 * the same stalls reset it, with no fault in the firmware: the timers of the skipped time fire back to back (the
 * reset often before the guest runs its NMI handler: a BOOT that says power-on, boot count above 0). That is what
 * reset the unit in the 100,000-frame differential run (4 resets in a run), the governor having dropped its
 * real-time priority from a unit busy for minutes. A hang still resets either kind (the tests above: QEMU async).
 */
describe.skipIf(!host.ok || !m3.ok)('a host stall is not a hang (QEMU)', () => {
  const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function stallThrice(unit: FirmwareUnit) {
    try {
      for (let i = 0; i < 3; i++) {
        process.kill(unit.pid!, 'SIGSTOP');
        await pause(300);
        process.kill(unit.pid!, 'SIGCONT');
        await pause(200);
      }
      return { status: await unit.status(), boots: unit.boots };
    } finally {
      await unit.close();
    }
  }

  it("guest time from instructions (the harness's pipelined unit): three 300 ms stalls, no reset", async () => {
    const unit = await startUnit(corpus, 'qemu', 'async', join(work, 'stall-instructions'));
    const r = await stallThrice(unit);
    expect(r.boots.map((b) => b.resetCause)).toEqual(['power-on']);
    expect(r.status.bootCount).toBe(0);
  });

  it('guest time from the host clock: the same stalls reset the unit', async () => {
    const unit = await FirmwareUnit.start({
      target: 'qemu',
      mode: 'async',
      provision: provisionFor(corpus),
      shape: { channels: 3, discrete: 2, analog: 1 },
      workDir: mkdtempSync(join(work, 'stall-host-')),
      guestClock: 'host',
    });
    const r = await stallThrice(unit);
    expect(r.boots.length).toBeGreaterThan(1);
    expect(r.status.bootCount).toBe(r.boots.length - 1);
  });
});
