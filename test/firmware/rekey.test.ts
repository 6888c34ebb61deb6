/**
 * REKEY (firmware-bridge/src/rekey.h, src/runtime/firmware/rekey.ts): the firmware voter follows proactive
 * recovery. The rig seals a channel's new pairwise key for the unit's current boot; the unit takes it only with
 * an authentic tag and a generation above the current one, then verifies that channel's OUTPUTs under it (and
 * no longer under the old one). A forged, replayed, wrongly bound or malformed REKEY is refused and counted.
 * Then the whole laptop loop with recovery on, in lockstep: every channel and the voter restart with fresh keys
 * and the firmware voter flies the default scenario with every assertion held, and the TypeScript voter's trace.
 */
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { generateCorpus, SETUPS } from '../../bench/firmware/corpus.ts';
import { startUnit } from '../../bench/firmware/harness.ts';
import { Rig } from '../../hil/rig.ts';
import { defaultScenario } from '../../hil/scenario.ts';
import { loadTopology, type Topology, type VoterImpl } from '../../src/runtime/config.ts';
import { sealRekey } from '../../src/runtime/firmware/rekey.ts';
import type { FirmwareTarget, Request } from '../../src/runtime/firmware/unit.ts';
import { Fleet } from '../../src/runtime/loop/fleet.ts';
import { plantPortsOf } from '../../src/runtime/loop/ports.ts';
import { inProcessLoop } from '../../src/runtime/node/control-loop.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { answerOf, firmwareFixture, signedOutput, voterCounters } from './fixture.ts';

const { host, m3, work } = firmwareFixture('firmware rekey test', 'rekey', ['host', 'm3']);

async function rekeyOnTheLink(target: FirmwareTarget): Promise<string[]> {
  const corpus = generateCorpus(SETUPS[0]!, 0, 11);
  const unit = await startUnit(corpus, target, 'sync', join(work, target));
  const said: string[] = [];
  try {
    const fresh = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
    const output = (frame: number, key: Uint8Array): Uint8Array => signedOutput(corpus, frame, 1, 0.01, key);
    const ask = (r: Request): string => answerOf(unit.requestSync(r));
    const deliver = (frame: number, key: Uint8Array) =>
      ask({ type: 'deliver', time: frame * 20 + 1, message: output(frame, key) });
    const { bootCount: boot, epoch } = unit.boots[0]!;
    const base = { heartbeatKey: corpus.heartbeatKey, epoch, bootCount: boot, channel: 1, key: fresh };
    const sealed1 = sealRekey({ ...base, generation: 1 });
    const rekey1 = { type: 'rekey' as const, channel: 1, generation: 1, ...sealed1 };
    said.push(deliver(0, fresh)); // not yet its key: bad MAC (17)
    said.push(ask(rekey1));
    said.push(deliver(0, fresh)); // now it is: buffered (0)
    said.push(deliver(1, corpus.keys[1]!)); // the old key no longer verifies
    said.push(ask(rekey1)); // replayed: stale
    const forged = sealed1.tag.slice();
    forged[0]! ^= 1;
    said.push(ask({ ...rekey1, generation: 2, tag: forged }));
    const otherBoot = sealRekey({ ...base, generation: 2, bootCount: boot + 1 });
    said.push(ask({ type: 'rekey', channel: 1, generation: 2, ...otherBoot })); // sealed for another boot
    const otherChannel = sealRekey({ ...base, generation: 2, channel: 2 });
    said.push(ask({ type: 'rekey', channel: 1, generation: 2, ...otherChannel })); // tag of another channel
    said.push(
      ask({ type: 'rekey', channel: 9, generation: 2, ...sealRekey({ ...base, generation: 2, channel: 9 }) }),
    );
    said.push(deliver(1, fresh)); // still the generation-1 key
    said.push(`link errors ${(await unit.status()).linkErrors}`);
  } finally {
    await unit.close();
  }
  return said;
}

const EXPECTED = [
  'offer 17',
  'rekeyed 1 1',
  'offer 0',
  'offer 17',
  'error rekey-stale',
  'error rekey-bad-tag',
  'error rekey-bad-tag',
  'error rekey-bad-tag',
  'error malformed-request',
  'offer 0',
  'link errors 5',
];

describe.skipIf(!host.ok)('REKEY: a channel key replaced over the link, authenticated', () => {
  it('host build: takes an authentic, fresh REKEY; refuses forged, replayed, rebound and malformed ones', async () => {
    expect(await rekeyOnTheLink('host')).toEqual(EXPECTED);
  });
  it.skipIf(!m3.ok)('Cortex-M3 under QEMU: the same', async () => {
    expect(await rekeyOnTheLink('qemu')).toEqual(EXPECTED);
  });
});

const laptop = loadTopology('config/laptop.json');

/** The default scenario with the config's proactive recovery on (as `triplex sim` flies it), lockstep. */
async function flyWithRecovery(voterImpl: VoterImpl) {
  const topology: Topology = { ...laptop, voterImpl };
  const scheduler = new VirtualScheduler();
  let system: Fleet | undefined;
  const rig = new Rig({
    topology,
    scheduler,
    scenario: defaultScenario(14, 'primary'),
    seed: 5,
    logger: pino({ level: 'silent' }),
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
    loop: (ports) => {
      system = new Fleet({
        topology,
        scheduler,
        seed: 5,
        logger: pino({ level: 'silent' }),
        virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
        recovery: {},
        ...plantPortsOf(ports),
      });
      return inProcessLoop(system);
    },
  });
  try {
    const result = await rig.runVirtual((t) => scheduler.runUntil(t));
    return { result, counters: rig.system.counters.toJSON(), recovery: system?.recovery?.report() };
  } finally {
    await rig.system.close();
  }
}

describe.skipIf(!host.ok)('proactive recovery with the firmware voter (lockstep)', () => {
  it('every channel and the voter restart with fresh keys; the unit is rekeyed and every assertion holds', async () => {
    const ts = await flyWithRecovery('ts');
    const fw = await flyWithRecovery('firmware-host');
    expect(ts.result.passed).toBe(true);
    const failed = fw.result.assertions.filter((a) => !a.passed);
    expect(failed).toEqual([]);
    expect(fw.counters['recovery.restarted']).toBeGreaterThanOrEqual(5);
    // Each channel restart rekeys one channel, each voter restart all three: all taken.
    expect(fw.counters['firmware.rekey']).toBeGreaterThanOrEqual(3);
    expect(fw.counters['firmware.rekey-refused']).toBeUndefined();
    // Outputs under a key the voter no longer holds: the in-flight ones at a restart, as with the TypeScript voter.
    expect(fw.counters['voter.rejected.bad-mac'] ?? 0).toBeLessThanOrEqual(
      (ts.counters['voter.rejected.bad-mac'] ?? 0) + 3,
    );
    expect(fw.result.trace.frames.filter((f) => f.outcome === 'write').length).toBeGreaterThan(
      0.97 * fw.result.trace.frames.length,
    );
    // Through every restart, the voter's own included (REKEY with handover, voting state kept on both sides):
    // the TypeScript voter's trace, frame by frame, and its voter counters.
    expect(fw.result.trace).toEqual(ts.result.trace);
    expect(voterCounters(fw.counters)).toEqual(voterCounters(ts.counters));
  }, 120_000);
});
