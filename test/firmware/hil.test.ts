/**
 * HIL scenarios from the library flown with the firmware voter, exactly as `triplex hil run NAME --lockstep
 * --voter IMPL` flies them (runScenario: emulated bench, lockstep, report folder): the C firmware's host build
 * and its Cortex-M3 build under QEMU (-icount) pass the scenario's assertions, and fly the TypeScript voter's
 * trace frame by frame (trace.csv byte for byte) with the same voter events in the summary.
 *
 * - channel-garbage: a channel sends random commands; it is outvoted and latched.
 * - voter-hang: the `voter hang` scenario fault. The firmware (a test build, chosen because the scenario names
 *   a voter fault) hangs in its frame loop on HANG; its watchdog resets it (host: CPU-time watchdog and
 *   re-exec; QEMU: the CMSDK watchdog with -action watchdog=reset); the actuator holds while it is down, its
 *   first decision after the reset is the failsafe command, then it writes again; the report says so.
 *
 * Replay: npx tsx src/cli/main.ts hil run <name> --lockstep --voter firmware-host
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadLibrary } from '../../hil/library.ts';
import type { ScenarioOutcome } from '../../hil/output/outcome.ts';
import { runScenario } from '../../hil/run.ts';
import type { LoadedScenario } from '../../hil/scenario/load.ts';
import type { VoterImpl } from '../../src/runtime/config.ts';
import type { Trace } from '../../src/runtime/report/trace.ts';
import { firmwareFixture } from './fixture.ts';

const {
  host,
  m3,
  work: dir,
} = firmwareFixture('firmware HIL test', 'hil', ['host', 'host-test', 'm3', 'm3-test']);
const references = new Map<string, Trace>();

function scenario(name: string): LoadedScenario {
  const entry = loadLibrary().find((e) => e.loaded?.scenario.name === name);
  if (entry?.loaded === undefined) throw new Error(`no library scenario ${name}`);
  return entry.loaded;
}

interface Flight {
  readonly outcome: ScenarioOutcome;
  readonly csv: string;
  readonly summary: Record<string, unknown>;
}

async function fly(name: string, voterImpl: VoterImpl): Promise<Flight> {
  const loaded = scenario(name);
  const out = join(dir, voterImpl);
  const outcome = await runScenario(
    { ...loaded, topology: { ...loaded.topology, voterImpl } },
    {
      timing: 'lockstep',
      out,
      logger: pino({ level: 'silent' }),
      requireHardware: false,
      pace: false,
      probeTimeoutMs: 200,
      references,
    },
  );
  return {
    outcome,
    csv: readFileSync(join(out, name, 'trace.csv'), 'utf8'),
    summary: JSON.parse(readFileSync(join(out, name, 'summary.json'), 'utf8')) as Record<string, unknown>,
  };
}

const flights = new Map<string, Promise<Flight>>();
/** Each flight once per file (the TypeScript one is the reference of both firmware builds). */
const flown = (name: string, impl: VoterImpl): Promise<Flight> => {
  const key = `${name}/${impl}`;
  if (!flights.has(key)) flights.set(key, fly(name, impl));
  return flights.get(key)!;
};

function expectPassedLikeTypeScript(fw: Flight, ts: Flight, impl: VoterImpl): void {
  const failed = fw.outcome.assertions.filter((a) => !a.passed);
  expect(
    failed,
    `replay: npx tsx src/cli/main.ts hil run ${fw.outcome.name} --lockstep --voter ${impl}`,
  ).toEqual([]);
  expect(fw.outcome.verdict).toBe('pass');
  expect(fw.outcome.faults.every((f) => f.status === 'applied')).toBe(true);
  expect(fw.outcome.assertions.map((a) => [a.name, a.passed])).toEqual(
    ts.outcome.assertions.map((a) => [a.name, a.passed]),
  );
  expect(fw.summary.voterImpl).toBe(impl);
  expect(fw.csv).toBe(ts.csv);
  expect(fw.summary.voter).toEqual(ts.summary.voter);
}

describe.skipIf(!host.ok)('library scenarios with the firmware voter (lockstep)', () => {
  for (const name of ['channel-garbage', 'voter-hang']) {
    it(`${name}: host build, the TypeScript voter's trace and assertions`, async () => {
      const ts = await flown(name, 'ts');
      expect(ts.outcome.verdict).toBe('pass');
      expectPassedLikeTypeScript(await flown(name, 'firmware-host'), ts, 'firmware-host');
    }, 120_000);

    it.skipIf(!m3.ok)(
      `${name}: Cortex-M3 build under QEMU, the same`,
      async () => {
        expectPassedLikeTypeScript(
          await flown(name, 'firmware-qemu'),
          await flown(name, 'ts'),
          'firmware-qemu',
        );
      },
      180_000,
    );
  }

  it('voter-hang: the watchdog resets the firmware, the actuator holds, then fails safe, and the report says so', async () => {
    for (const impl of ['firmware-host', ...(m3.ok ? ['firmware-qemu' as const] : [])] as const) {
      const { summary, csv } = await flown('voter-hang', impl);
      const outcomes = csv
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(',')[6]);
      // Hung in frame 100 for the watchdog's 5 more frames: 6 holds (no decision), then the reset unit's
      // failsafe command (frame 106), then writes to the end (README "A hang, frame by frame").
      expect(outcomes.slice(95, 100)).toEqual(Array(5).fill('write'));
      expect(outcomes.slice(100, 106)).toEqual(Array(6).fill('hold'));
      expect(outcomes[106]).toBe('failsafe');
      expect(new Set(outcomes.slice(107))).toEqual(new Set(['write']));
      const target = impl === 'firmware-host' ? 'host' : 'qemu';
      expect(summary.voterEvents).toEqual([
        expect.stringMatching(
          new RegExp(
            `^frame 100 hung: firmware ${target} hung .*watchdog reset it \\(boot 1, cause watchdog\\)`,
          ),
        ),
        `frame 106 reset: firmware ${target} reset by its watchdog (boot 1, cause watchdog); down for frames 100-105`,
        expect.stringMatching(/^frame 106 rejoined: votes again from frame 106: first decision failsafe/),
      ]);
      expect(summary.counters).toMatchObject({
        'voter.hang': 1,
        'voter.watchdog-reset': 1,
        'firmware.watchdog-boot': 1,
      });
      expect((summary.counters as Record<string, number>)['firmware.unit-failed']).toBeUndefined();
    }
  }, 180_000);
});
