/**
 * Replays from before a restart (issue 9, class 8), on the firmware voter: after its watchdog reset the unit's
 * receipt rings are fresh, so a replay by anyone on the link of the correct channels' authentic OUTPUTs from
 * before the reset would pass its duplicate check and count late against every correct channel. The unit's
 * rejoin floor (firmware-bridge/src/rejoin.h) refuses them, counted 'before-reset', by the same rule as the
 * TypeScript VoterHost (src/runtime/firmware/rejoin-floor.ts). Each case flies the TypeScript VoterHost and the
 * firmware side by side on one virtual clock with the same bytes, and checks that they agree decision by
 * decision and counter by counter, and that no correct channel was counted late.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS } from '../../bench/firmware/corpus.ts';
import { startUnit } from '../../bench/firmware/harness.ts';
import { decodeMessage } from '../../src/core/codec/encode.ts';
import type { Command } from '../../src/core/control/spec.ts';
import type { DecisionRecord } from '../../src/core/vote/voter.ts';
import type { FirmwareTarget } from '../../src/runtime/firmware/unit.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { firmwareFixture, flyThenStatus, sideBySide, signedOutput, voterCounters } from './fixture.ts';

const { host, m3, work } = firmwareFixture('firmware reset-replay test', 'replay', ['host-test', 'm3-test']);

const HANG_AT = 10;
const DOWN = 3;
/** The frame both voters are back in (VoterOutage: hung in HANG_AT, down DOWN more frames). */
const REJOIN = HANG_AT + DOWN + 1;
const FRAMES = 24;

/** Extra bytes a case puts on the link: at `frame`, `offset` time units into it, the recorded OUTPUTs picked. */
interface Injection {
  readonly frame: number;
  readonly offset: number;
  /** From the OUTPUTs sent so far (3 per frame, channel order), in the order to deliver them. */
  readonly pick: (sent: readonly { frame: number; channel: number; bytes: Uint8Array }[]) => Uint8Array[];
}

interface Flown {
  readonly decisions: readonly string[];
  readonly counters: Record<string, number>;
  readonly late: readonly number[];
}

const decisionOf = (d: DecisionRecord<Command>): string =>
  `${d.frame} ${d.kind} ${d.value.elevator} ${d.consecutiveMisses}`;

/**
 * The TypeScript VoterHost and the firmware through one hang and the injections: the host build in lockstep, the
 * Cortex-M3 under QEMU with pipelined requests (as the hang test runs it: what the link holds while the unit
 * resets is answered by the rebooted unit, its first request telling it the frame).
 */
async function flySideBySide(
  target: FirmwareTarget,
  name: string,
  injections: readonly Injection[],
): Promise<{ ts: Flown; fw: Flown }> {
  const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
  const mode = target === 'host' ? 'sync' : 'async';
  const unit = await startUnit(corpus, target, mode, join(work, `${target}-${name}`), true);
  const scheduler = new VirtualScheduler();
  const pair = sideBySide({ corpus, unit, scheduler, hangFrames: DOWN });
  const [ts, fw] = [pair.ts.host, pair.fw.host];
  const output = (frame: number, c: number): Uint8Array =>
    signedOutput(corpus, frame, c, 0.01 * (1 + (frame % 7)));
  const both = (bytes: Uint8Array): void => {
    const d = decodeMessage(bytes);
    if (d.ok && d.message.kind === 'output') ts.output(d.message);
    fw.onBytes(bytes);
  };
  const sent: { frame: number; channel: number; bytes: Uint8Array }[] = [];
  const period = corpus.config.timing.period;
  for (let k = 0; k < FRAMES; k++) {
    scheduler.at(k * period, () => {
      ts.armFrame(k);
      fw.armFrame(k);
      if (k === HANG_AT) {
        expect(ts.hang(DOWN)).toMatchObject({ applied: true });
        expect(fw.hang()).toMatchObject({ applied: true });
      }
    });
    for (let c = 0; c < 3; c++)
      scheduler.at(k * period + 1 + c, () => {
        const bytes = output(k, c);
        sent.push({ frame: k, channel: c, bytes });
        both(bytes);
      });
  }
  for (const inj of injections)
    scheduler.at(inj.frame * period + inj.offset, () => {
      for (const bytes of inj.pick(sent)) both(bytes);
    });
  const status = await flyThenStatus(scheduler, unit, (FRAMES + 1) * period);
  expect(status.resetCause).toBe(1); // the watchdog reset happened
  return {
    ts: {
      decisions: pair.ts.decisions.map(decisionOf),
      counters: voterCounters(pair.ts.counters),
      late: ts.health().map((h) => h.late),
    },
    fw: {
      decisions: pair.fw.decisions.map(decisionOf),
      counters: voterCounters(pair.fw.counters),
      late: status.channels.map((h) => h.late),
    },
  };
}

/** What every case shows: the two voters agree, nobody is late, and every correct frame after the rejoin is written. */
function expectAgreedAndNobodyLate(r: { ts: Flown; fw: Flown }): void {
  expect(r.fw.decisions).toEqual(r.ts.decisions);
  expect(r.fw.counters).toEqual(r.ts.counters);
  expect(r.fw.late).toEqual(r.ts.late);
  expect(r.fw.late).toEqual([0, 0, 0]);
  const written = r.fw.decisions
    .filter((d) => d.split(' ')[1] === 'write')
    .map((d) => Number(d.split(' ')[0]));
  for (let k = REJOIN + 1; k < FRAMES; k++) expect(written, `frame ${k}`).toContain(k);
}

const beforeReset = (r: Flown): number => r.counters['voter.rejected.before-reset'] ?? 0;

for (const target of ['host', 'qemu'] as const)
  describe.skipIf(!host.ok || (target === 'qemu' && !m3.ok))(
    `the firmware voter after a watchdog reset (${target === 'host' ? 'host build, lockstep' : 'Cortex-M3 under QEMU'}), beside VoterHost`,
    () => {
      it("a replay of the correct channels' outputs from before the reset counts nothing against them", async () => {
        // Three frames after the rejoin, the last 30 OUTPUTs again: frames 7-16, 24 of them below the floor (frames
        // 7-13 from before the reset, and 14, the rejoin frame, decided at its deadline by then).
        const r = await flySideBySide(target, 'last-30', [
          { frame: REJOIN + 2, offset: 5, pick: (sent) => sent.slice(-30).map((s) => s.bytes) },
        ]);
        expectAgreedAndNobodyLate(r);
        expect(beforeReset(r.fw)).toBe(24);
      });

      it('a replay straight after the reset, before any fresh output: the replay itself tells the unit its frame', async () => {
        // The first thing the rebooted unit hears is the replay of every frame before the hang.
        const r = await flySideBySide(target, 'straight-after', [
          {
            frame: REJOIN,
            offset: 0.5,
            pick: (sent) => sent.filter((s) => s.frame < HANG_AT).map((s) => s.bytes),
          },
        ]);
        expectAgreedAndNobodyLate(r);
        expect(beforeReset(r.fw)).toBe(3 * HANG_AT);
      });

      it('replays interleaved with fresh frames: each old OUTPUT between the fresh ones is refused, the fresh ones voted', async () => {
        // In each of the 6 frames after the rejoin, after every fresh OUTPUT, one recorded before the hang.
        const injections: Injection[] = [];
        for (let k = REJOIN + 1; k <= REJOIN + 6; k++)
          for (let c = 0; c < 3; c++)
            injections.push({
              frame: k,
              offset: 1.5 + c,
              pick: (sent) => [sent[(k - REJOIN - 1) * 3 + c]!.bytes],
            });
        const r = await flySideBySide(target, 'interleaved', injections);
        expectAgreedAndNobodyLate(r);
        expect(beforeReset(r.fw)).toBe(18);
      });

      it('at the floor: the frame below it refused, the rejoin frame heard in time, refused once its deadline decided it', async () => {
        const period = SETUPS[0]!.periodMs;
        const ofFrame = (k: number) => (sent: readonly { frame: number; bytes: Uint8Array }[]) =>
          sent.filter((s) => s.frame === k).map((s) => s.bytes);
        const r = await flySideBySide(target, 'boundary', [
          // While REJOIN is open: the frame below the floor (sent while the voters were down), then REJOIN's own again.
          { frame: REJOIN, offset: 4, pick: ofFrame(REJOIN - 1) },
          { frame: REJOIN, offset: 4.5, pick: ofFrame(REJOIN) },
          // REJOIN's outputs again after its deadline, in the next frame: now from before the floor.
          { frame: REJOIN + 1, offset: 0.5, pick: ofFrame(REJOIN) },
          // The first frame above the floor, again late in its own frame: duplicates, not before-reset.
          { frame: REJOIN + 1, offset: period - 0.5, pick: ofFrame(REJOIN + 1) },
        ]);
        expectAgreedAndNobodyLate(r);
        // REJOIN - 1's three and the three copies of REJOIN after its deadline are below the floor; REJOIN's in-time
        // copies are not (the fresh voter refuses them as too far ahead, as the first ones).
        expect(beforeReset(r.fw)).toBe(6);
        expect(r.fw.counters['voter.rejected.duplicate']).toBe(3);
      });
    },
  );
