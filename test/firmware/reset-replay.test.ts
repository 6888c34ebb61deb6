/**
 * Issue 9, class 8, on the firmware voter: after its watchdog reset, the unit's receipt rings are fresh, so a
 * replay by anyone on the link of the correct channels' outputs from before the reset passes its duplicate
 * check and counts late against every correct channel. The TypeScript VoterHost refuses those frames after a
 * reset (voter-host.ts `floor`, counted voter.rejected.before-reset); the firmware does not yet. `it.fails`
 * until the firmware (firmware-bridge, owner: fw3) refuses them too; then drop `.fails`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS } from '../../bench/firmware/corpus.ts';
import { startUnit } from '../../bench/firmware/harness.ts';
import { authPayload, encodeMessage } from '../../src/core/codec/encode.ts';
import type { Output } from '../../src/core/codec/messages.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { BUILD_TIMEOUT_MS, buildFor, hostToolchain } from '../../src/runtime/firmware/toolchain.ts';
import { FirmwareVoterHost } from '../../src/runtime/firmware/voter-host.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const host = hostToolchain();
if (!host.ok) console.warn(`firmware reset-replay test skipped: ${host.reason}`);
const work = mkdtempSync(join(tmpdir(), 'triplex-fw-replay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HANG_AT = 10;
const DOWN = 3;
const REPLAY_AT = HANG_AT + DOWN + 3;
const FRAMES = 24;

beforeAll(() => buildFor(['host-test']), BUILD_TIMEOUT_MS);
describe.skipIf(!host.ok)('the firmware voter after a watchdog reset (host build, sync)', () => {
  it.fails("a replay of the correct channels' outputs from before the reset counts nothing against them", async () => {
    const corpus = generateCorpus(SETUPS[0]!, 0, 5); // keys and config only
    const unit = await startUnit(corpus, 'host', 'sync', join(work, 'unit'), true, join(work, 'actuator'));
    const scheduler = new VirtualScheduler();
    const voter = new FirmwareVoterHost({
      config: corpus.config,
      unit,
      scheduler,
      counters: new Counters(),
      log: pino({ level: 'silent' }),
      hangFrames: DOWN,
    });
    const macs = corpus.keys.map((k) => keyedMac(k));
    const output = (frame: number, c: number): Uint8Array => {
      const unsigned: Output = {
        kind: 'output',
        frame,
        channel: corpus.setup.channelIds[c]!,
        discrete: [0, 0],
        analog: [0.01],
        tag: new Uint8Array(0),
      };
      return encodeMessage({ ...unsigned, tag: macs[c]!.mac(authPayload(unsigned), corpus.setup.tagLength) });
    };
    const sent: Uint8Array[] = [];
    const period = corpus.config.timing.period;
    for (let k = 0; k < FRAMES; k++) {
      scheduler.at(k * period, () => {
        voter.armFrame(k);
        if (k === HANG_AT) expect(voter.hang()).toMatchObject({ applied: true });
      });
      for (let c = 0; c < 3; c++)
        scheduler.at(k * period + 1 + c, () => {
          const m = output(k, c);
          sent.push(m);
          voter.onBytes(m);
        });
      if (k === REPLAY_AT)
        scheduler.at(k * period + 5, () => {
          for (const m of sent.slice(-30)) voter.onBytes(m);
        });
    }
    let status: Awaited<ReturnType<typeof unit.status>>;
    try {
      scheduler.runUntil((FRAMES + 1) * period);
      status = await unit.status();
    } finally {
      await unit.close();
    }
    expect(status.resetCause).toBe(1); // the watchdog reset happened
    for (const ch of status.channels) expect(ch.late).toBe(0);
  });
});
