/**
 * The HIL rig flies the laptop loop with the firmware unit as its voter (host build, and the Cortex-M3 build
 * under QEMU, both in lockstep on virtual time) and gets the same trace as with the TypeScript voter, frame by
 * frame, and the same assertions; the TypeScript voter runs as a shadow and never differs. A hung unit is
 * reset by its watchdog in flight: the trace shows the holds, the failsafe frame and the rejoin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario } from '../../hil/scenario.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { Prng } from '../../src/core/prng.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { laptopVoterKeys, startFirmwareLoop } from '../../src/runtime/firmware/loop.ts';
import {
  BUILD_TIMEOUT_MS,
  buildFor,
  hostToolchain,
  m3Toolchain,
} from '../../src/runtime/firmware/toolchain.ts';
import type { FirmwareTarget } from '../../src/runtime/firmware/unit.ts';
import { topologyVoterConfig } from '../../src/runtime/loop/board-runtime.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import { LoopSystem } from '../../src/runtime/loop/system.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const topology = loadTopology('config/laptop.json');
const silent = pino({ level: 'silent' });
const virtual = { minDelayMs: 0.05, maxDelayMs: 0.6 };
const host = hostToolchain();
const m3 = m3Toolchain();
if (!host.ok) console.warn(`firmware loop test skipped: ${host.reason}`);
if (!m3.ok) console.warn(`firmware loop test (QEMU build) skipped: ${m3.reason}`);
const work = mkdtempSync(join(tmpdir(), 'triplex-fw-loop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEED = 13;
const scenario = defaultScenario(8, 'primary');

async function flyTypeScript(): Promise<RigResult> {
  const scheduler = new VirtualScheduler();
  const rig = new Rig({ topology, scheduler, scenario, seed: SEED, logger: silent, virtual });
  return rig.runVirtual((t) => scheduler.runUntil(t));
}

async function flyFirmware(target: FirmwareTarget, hangAtFrame?: number) {
  const scheduler = new VirtualScheduler();
  const fw = await startFirmwareLoop({
    topology,
    scheduler,
    seed: new Prng(SEED).u32(), // the seed the rig gives its own loop
    logger: silent,
    virtual,
    target,
    mode: 'sync',
    workDir: join(work, `${target}-${hangAtFrame ?? 'clean'}`),
    testHooks: hangAtFrame !== undefined,
    hangFrames: 6,
  });
  try {
    const rig = new Rig({
      topology,
      scheduler,
      scenario,
      seed: SEED,
      logger: silent,
      virtual,
      loop: fw.factory,
      onFrame: (record) => {
        if (record.frame === hangAtFrame) fw.host().hang();
      },
    });
    const result = await rig.runVirtual((t) => scheduler.runUntil(t));
    return { result, counters: rig.system.counters.toJSON(), boots: fw.unit.boots };
  } finally {
    await fw.close();
  }
}

beforeAll(() => buildFor(['host', 'host-test', 'm3']), BUILD_TIMEOUT_MS);
describe('the firmware loop is provisioned as the laptop loop', () => {
  it('with the voter configuration BoardRuntime builds and the keys the voter ring holds', () => {
    const system = new LoopSystem({ topology, scheduler: new VirtualScheduler(), seed: 77, logger: silent });
    expect(topologyVoterConfig(topology)).toEqual(system.voter.voter.config);
    const ring = seededKeys(topology, new Prng(77).u32()).ring(principalOf.voter(0));
    const keys = laptopVoterKeys(topology, 77);
    const data = new TextEncoder().encode('an OUTPUT auth payload');
    for (const [i, c] of topology.channels.entries()) {
      const tag = keyedMac(keys.channelKeys[i]!).mac(data, topology.crypto.tagBytes);
      expect(ring.verify(principalOf.channel(c.id), data, tag)).toBe(true);
    }
  });
});

describe.skipIf(!host.ok)('the rig flies with the firmware voter', () => {
  let reference: RigResult;

  it('host build: the same trace as the TypeScript voter, frame by frame, and every assertion held', async () => {
    reference = await flyTypeScript();
    const { result, counters } = await flyFirmware('host');
    expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(result.assertions.map((a) => a.name)).toEqual(reference.assertions.map((a) => a.name));
    expect(result.trace).toEqual(reference.trace);
    expect(counters['firmware.shadow-mismatch']).toBeUndefined();
    expect(counters['firmware.voter.write']).toBe(counters['voter.write']);
  });

  it.skipIf(!m3.ok)('Cortex-M3 build under QEMU: the same trace, every assertion held', async () => {
    reference ??= await flyTypeScript();
    const { result, counters } = await flyFirmware('qemu');
    expect(result.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(result.trace).toEqual(reference.trace);
    expect(counters['firmware.shadow-mismatch']).toBeUndefined();
  });

  it('a hung firmware voter in flight: holds, then the failsafe frame, then it votes again', async () => {
    const HANG = 150;
    const { result, boots } = await flyFirmware('host', HANG);
    const outcomes = result.trace.frames.map((f) => f.outcome);
    // The hang is injected after frame HANG is recorded; frames HANG+1 .. HANG+6 get no decision (held).
    expect(outcomes.slice(HANG + 1, HANG + 7)).toEqual(Array(6).fill('hold'));
    expect(outcomes[HANG + 7]).toBe('failsafe');
    expect(outcomes.slice(HANG + 8, HANG + 30).every((o) => o === 'write')).toBe(true);
    expect(outcomes.slice(1, HANG + 1).every((o) => o === 'write')).toBe(true);
    expect(boots.map((b) => b.resetCause)).toEqual(['power-on', 'watchdog']);
    // The report shows it: the failsafe assertion fails for this run.
    expect(result.assertions.find((a) => a.name === 'no-failsafe')?.passed).toBe(false);
  });
});
