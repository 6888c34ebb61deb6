/**
 * The actuator's own loss-of-command timeout (src/runtime/firmware/actuator.ts CommandWatch, used by the rig):
 * from the failsafeAfterMisses-th consecutive frame without a written command it is at its failsafe position,
 * whatever the voter does. With the unit's watchdog (half of those frames) a hang never reaches it (voter-hang,
 * hil.test.ts); a hang longer than that does, and then the three voter implementations fly the same trace in
 * lockstep: README "A hang, frame by frame".
 *
 * Replay: npx vitest run test/firmware/actuator.test.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLibrary } from '../../hil/library.ts';
import { runScenario } from '../../hil/run.ts';
import type { LoadedScenario } from '../../hil/scenario/load.ts';
import type { VoterImpl } from '../../src/runtime/config.ts';
import { CommandWatch } from '../../src/runtime/firmware/actuator.ts';
import {
  BUILD_TIMEOUT_MS,
  buildFor,
  hostToolchain,
  m3Toolchain,
} from '../../src/runtime/firmware/toolchain.ts';

describe('CommandWatch: the actuator fails safe on its own after N frames without a written command', () => {
  it('holds without a command, fails safe from the N-th frame without a write, recovers on a write', () => {
    const watch = new CommandWatch(3);
    const seq = ['write', undefined, 'hold', undefined, undefined, 'hold', 'write', undefined] as const;
    expect(seq.map((c) => watch.frame(c).kind)).toEqual([
      'command', // written
      'hold', // 1st frame without a write: no command, keep the position
      'command', // 2nd: the voter's own hold
      'failsafe', // 3rd: the timeout
      'failsafe',
      'failsafe', // a hold command does not end it
      'command', // a write does
      'hold',
    ]);
    expect(watch.framesWithoutWrite).toBe(1);
  });

  it('a voter that fails safe itself on its N-th miss is not overridden (the same frame)', () => {
    const watch = new CommandWatch(3);
    expect(['hold', 'hold', 'failsafe'].map((c) => watch.frame(c as 'hold').kind)).toEqual([
      'command',
      'command',
      'failsafe',
    ]);
  });

  it('refuses a timeout that is not a whole number of frames', () => {
    expect(() => new CommandWatch(0)).toThrow(RangeError);
    expect(() => new CommandWatch(2.5)).toThrow(RangeError);
  });
});

const host = hostToolchain();
const m3 = m3Toolchain();
if (!host.ok) console.warn(`firmware actuator timeout test skipped: ${host.reason}`);
if (!m3.ok) console.warn(`firmware actuator timeout test (QEMU build) skipped: ${m3.reason}`);
const dir = mkdtempSync(join(tmpdir(), 'triplex-fw-actuator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** voter-hang with a hang of 15 frames: longer than failsafeAfterMisses (10), as a watchdog that fires late. */
function longHang(): LoadedScenario {
  const entry = loadLibrary().find((e) => e.loaded?.scenario.name === 'voter-hang');
  if (entry?.loaded === undefined) throw new Error('no library scenario voter-hang');
  const l = entry.loaded;
  const spec = l.scenario.spec!;
  return {
    ...l,
    scenario: {
      ...l.scenario,
      name: 'voter-hang-long',
      faults: (l.scenario.faults ?? []).map((f) => ({ ...f, severity: 15 })),
      spec: { ...spec, assertions: { maxFramesWithoutWrite: 17, neverLatched: [0, 1, 2] } },
    },
  };
}

async function outcomes(impl: VoterImpl): Promise<{ outcomes: string[]; csv: string; passed: boolean }> {
  const l = longHang();
  const out = join(dir, impl);
  const outcome = await runScenario(
    { ...l, topology: { ...l.topology, voterImpl: impl } },
    {
      timing: 'lockstep',
      out,
      logger: pino({ level: 'silent' }),
      requireHardware: false,
      pace: false,
      probeTimeoutMs: 200,
      references: new Map(),
    },
  );
  const csv = readFileSync(join(out, 'voter-hang-long', 'trace.csv'), 'utf8');
  const rows = csv.trim().split('\n').slice(1);
  return { outcomes: rows.map((r) => r.split(',')[6]!), csv, passed: outcome.verdict === 'pass' };
}

beforeAll(() => buildFor(['host-test', 'm3-test']), BUILD_TIMEOUT_MS);

describe('a hang longer than failsafeAfterMisses: the actuator fails safe on its own (lockstep)', () => {
  const impls: VoterImpl[] = ['ts', ...(host.ok ? ['firmware-host' as const] : [])];
  if (host.ok && m3.ok) impls.push('firmware-qemu');
  it(`hold 9 frames, failsafe from the 10th (frame 109) until the reset voter's own failsafe (116), writes from 117: ${impls.join(', ')}`, async () => {
    const runs = [];
    for (const impl of impls) runs.push(await outcomes(impl));
    for (const [i, r] of runs.entries()) {
      const o = r.outcomes;
      expect(r.passed, impls[i]).toBe(true);
      expect(o.slice(95, 100), impls[i]).toEqual(Array(5).fill('write'));
      expect(o.slice(100, 109), impls[i]).toEqual(Array(9).fill('hold'));
      expect(o.slice(109, 117), impls[i]).toEqual(Array(8).fill('failsafe'));
      expect(new Set(o.slice(117)), impls[i]).toEqual(new Set(['write']));
      expect(r.csv, `${impls[i]} flies the TypeScript voter's trace`).toBe(runs[0]!.csv);
    }
  }, 240_000);
});
