/**
 * `"voterImpl": "firmware-host" | "firmware-qemu"`: the laptop loop (Fleet, what `triplex sim` flies)
 * with the C firmware as the voter board's actuator interface unit, wired by Board, flies the default
 * scenario of `triplex sim` (a Byzantine channel, its repair, the primary's crash) in lockstep on virtual time
 * and gets the TypeScript voter's trace, frame by frame, and its assertions. The unit is provisioned from the
 * board's keys (BoardKeys.rawKey, heartbeatKey) and the voter config Board builds.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rig, type RigResult } from '../../hil/rig.ts';
import { defaultScenario } from '../../hil/scenario.ts';
import { parseSimArgs } from '../../src/cli/args.ts';
import { authPayload, decodeMessage } from '../../src/core/codec/encode.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { Prng } from '../../src/core/prng.ts';
import {
  loadTopology,
  type Topology,
  VOTER_IMPLS,
  type VoterImpl,
  voterImplProblem,
} from '../../src/runtime/config.ts';
import {
  BUILD_TIMEOUT_MS,
  buildFor,
  hostToolchain,
  m3Toolchain,
} from '../../src/runtime/firmware/toolchain.ts';
import { FirmwareVoterRole } from '../../src/runtime/firmware/voter-board.ts';
import { Fleet } from '../../src/runtime/loop/fleet.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

const laptop = loadTopology('config/laptop.json');
const silent = pino({ level: 'silent' });
const virtual = { minDelayMs: 0.05, maxDelayMs: 0.6 };
const host = hostToolchain();
const m3 = m3Toolchain();
if (!host.ok) console.warn(`firmware loop test skipped: ${host.reason}`);
if (!m3.ok) console.warn(`firmware loop test (QEMU build) skipped: ${m3.reason}`);

const SEED = 13;
const scenario = defaultScenario(8, 'primary');
const systems: Fleet[] = [];
afterAll(async () => {
  for (const s of systems) await s.close();
});

async function flyWith(
  voterImpl: VoterImpl,
): Promise<{ result: RigResult; counters: Record<string, number> }> {
  const topology: Topology = { ...laptop, voterImpl };
  const scheduler = new VirtualScheduler();
  const rig = new Rig({ topology, scheduler, scenario, seed: SEED, logger: silent, virtual });
  try {
    const result = await rig.runVirtual((t) => scheduler.runUntil(t));
    return { result, counters: rig.system.counters.toJSON() };
  } finally {
    await rig.system.close();
  }
}

let reference: Awaited<ReturnType<typeof flyWith>> | undefined;
const typescript = async () => {
  reference ??= await flyWith('ts');
  return reference;
};

beforeAll(() => buildFor(['host', 'm3']), BUILD_TIMEOUT_MS);

describe.skipIf(!host.ok)('the firmware voter board is provisioned from the board keys', () => {
  it('boots with the voter ring keys and the heartbeat key, and refuses a key set without one', async () => {
    const topology: Topology = { ...laptop, voterImpl: 'firmware-host' };
    const system = new Fleet({ topology, scheduler: new VirtualScheduler(), seed: 77, logger: silent });
    systems.push(system);
    await system.start();
    const role = system.voter as FirmwareVoterRole;
    expect(role.impl).toBe('firmware-host');
    const boot = role.unit!.boots[0]!;
    expect(boot).toMatchObject({ provision: 'ok', resetCause: 'power-on' });
    // Fleet draws its key seed first: these are the keys its boards hold.
    const keys = seededKeys(topology, new Prng(77).u32());
    const hb = decodeMessage(boot.heartbeat);
    if (!hb.ok || hb.message.kind !== 'heartbeat') throw new Error('no heartbeat in BOOT');
    const tag = keyedMac(keys.heartbeatKey(0)!).mac(authPayload(hb.message), topology.crypto.tagBytes);
    expect(hb.message.tag).toEqual(tag);
    // rawKey is the key the ring MACs with.
    const ring = keys.ring(principalOf.voter(0));
    const data = new TextEncoder().encode('an OUTPUT auth payload');
    for (const c of topology.channels) {
      const raw = keys.rawKey(principalOf.voter(0), principalOf.channel(c.id));
      const t = keyedMac(raw).mac(data, topology.crypto.tagBytes);
      expect(ring.verify(principalOf.channel(c.id), data, t)).toBe(true);
    }
    const noHeartbeat = new FirmwareVoterRole({
      topology,
      target: 'host',
      config: role.config,
      keys: { ...keys, heartbeatKey: () => undefined },
      scheduler: new VirtualScheduler(),
      counters: system.counters,
      log: silent,
    });
    await expect(noHeartbeat.start()).rejects.toThrow(/no heartbeat key for voter-0.*triplex keys gen/);
  });
});

describe('triplex sim --voter', () => {
  it('takes ts, firmware-host or firmware-qemu, and refuses anything else', () => {
    for (const impl of VOTER_IMPLS) {
      const a = parseSimArgs(['--voter', impl]);
      expect(typeof a === 'string' ? a : a.voter).toBe(impl);
    }
    const none = parseSimArgs([]);
    expect(typeof none === 'string' ? none : none.voter).toBeUndefined();
    expect(parseSimArgs(['--voter', 'rust'])).toBe(
      "--voter must be one of ts, firmware-host, firmware-qemu; got 'rust'",
    );
  });
});

describe('voterImpl and the toolchain', () => {
  it('ts needs nothing; a firmware voter names what is missing', () => {
    expect(voterImplProblem({ voterImpl: 'ts' })).toBeUndefined();
    expect(voterImplProblem({ voterImpl: 'firmware-host' })).toBe(
      host.ok ? undefined : expect.stringContaining('voterImpl "firmware-host"'),
    );
    expect(voterImplProblem({ voterImpl: 'firmware-qemu' })).toBe(
      m3.ok ? undefined : expect.stringContaining('voterImpl "firmware-qemu"'),
    );
  });
});

describe.skipIf(!host.ok)("triplex sim's default scenario with the firmware voter (lockstep)", () => {
  it('host build: the TypeScript voter trace, frame by frame, and every assertion held', async () => {
    const ts = await typescript();
    const fw = await flyWith('firmware-host');
    expect(fw.result.assertions.filter((a) => !a.passed)).toEqual([]);
    expect(fw.result.assertions.map((a) => [a.name, a.passed])).toEqual(
      ts.result.assertions.map((a) => [a.name, a.passed]),
    );
    expect(fw.result.trace).toEqual(ts.result.trace);
    expect(fw.counters['voter.write']).toBe(ts.counters['voter.write']);
    expect(fw.counters['voter.write']).toBeGreaterThan(0);
    expect(fw.counters['firmware.request-lost']).toBeUndefined();
  }, 120_000);

  it.skipIf(!m3.ok)(
    'Cortex-M3 build under QEMU: the same trace, every assertion held',
    async () => {
      const ts = await typescript();
      const fw = await flyWith('firmware-qemu');
      expect(fw.result.assertions.filter((a) => !a.passed)).toEqual([]);
      expect(fw.result.trace).toEqual(ts.result.trace);
      expect(fw.counters['voter.write']).toBe(ts.counters['voter.write']);
    },
    300_000,
  );
});
