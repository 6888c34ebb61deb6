/**
 * The fault grid: every component x type cell is either applicable (with a meaning and, per backend, whether the
 * rig can reach it) or void with a reason; every catalog behaviour is a cell by its name; the library covers every
 * applicable cell; and the in-process bench really applies every cell the grid says it can (and reports the
 * others as not applied, never silently).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EmulatedBench } from '../../hil/bench/emulated.ts';
import { allCells, BACKENDS, COMPONENTS, cell, GENERIC_TYPES, severityOf } from '../../hil/grid.ts';
import { coverage, loadLibrary } from '../../hil/library.ts';
import { checkTarget, resolveTarget } from '../../hil/scenario/targets.ts';
import { Prng } from '../../src/core/prng.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { CHANNEL_FAULT_KINDS } from '../../src/runtime/loop/channel-fault.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';
import { behaviours } from '../../src/sim/byzantine.ts';

const topology = loadTopology('config/laptop.json');

/** A target of each component in the laptop topology. */
const TARGETS: Record<string, number | string> = {
  channel: 1,
  replica: 'primary',
  'input-unit': 1,
  sensor: 2,
  link: 'b0-b1',
  board: 'b2',
  'voter-link': 1,
};

describe('the fault grid', () => {
  it('has every generic type on every component, and every catalog behaviour by name', () => {
    for (const c of COMPONENTS) for (const t of GENERIC_TYPES) expect(cell(c, t), `${c} ${t}`).toBeDefined();
    for (const b of behaviours()) expect(cell('replica', b.name)?.applies, b.name).toBe(true);
    for (const k of CHANNEL_FAULT_KINDS) expect(cell('channel', k)?.applies, k).toBe(true);
    expect(cell('replica', 'no-such-behaviour')).toBeUndefined();
  });

  it('says why a void cell does not apply, and where an applicable one can be reached', () => {
    for (const c of allCells()) {
      if (!c.applies) {
        expect(c.why.length, `${c.component} ${c.type}`).toBeGreaterThan(10);
        continue;
      }
      expect(c.meaning.length).toBeGreaterThan(5);
      for (const b of BACKENDS) {
        const r = c.reach[b];
        expect(
          r === true || (typeof r === 'string' && r.length > 10),
          `${c.component} ${c.type} on ${b}`,
        ).toBe(true);
      }
      expect(c.reach['in-process'], `${c.component} ${c.type}: everything applies in this process`).toBe(
        true,
      );
      if (c.severity) expect(severityOf(c, undefined, 20)).toBeGreaterThan(0);
    }
  });

  it('the library covers every applicable cell', () => {
    const library = loadLibrary();
    expect(library.filter((e) => e.error).map((e) => e.error!.message)).toEqual([]);
    const missing = coverage(library)
      .filter((c) => c.cell.applies && c.scenarios.length === 0)
      .map((c) => `${c.cell.component} ${c.cell.type}`);
    expect(missing).toEqual([]);
  });

  it('the CI subset touches every component', () => {
    const ci = loadLibrary().filter((e) => e.loaded?.scenario.spec?.tags.includes('ci'));
    const touched = new Set(ci.flatMap((e) => e.loaded!.scenario.faults!.map((f) => f.component)));
    expect([...touched].sort()).toEqual([...COMPONENTS].sort());
  });
});

describe('the in-process bench applies what the grid says it can', () => {
  it('every applicable cell that the bench carries out (not sensors or input units: the rig does those)', async () => {
    const scheduler = new VirtualScheduler();
    const hooks = { onDecision: () => {}, onChannelEvents: () => {}, onOutput: () => {} };
    for (const c of allCells()) {
      if (!c.applies || c.component === 'sensor' || c.component === 'input-unit' || c.type === 'intermittent')
        continue;
      const target = TARGETS[c.component]!;
      expect(checkTarget(c.component, target, topology)).toBeUndefined();
      const bench = new EmulatedBench(
        {
          topology,
          scheduler,
          seed: 1,
          logger: pino({ level: 'silent' }),
          virtual: { minDelayMs: 0.1, maxDelayMs: 0.2 },
        },
        hooks,
      );
      await bench.start();
      const h = bench.apply(
        {
          target: resolveTarget(c.component, target, topology, 0),
          type: c.type,
          severity: severityOf(c, undefined, 20),
          frame: 0,
        },
        new Prng(1),
      );
      expect(h.applied, `${c.component} ${c.type}: ${h.applied ? '' : h.reason}`).toBe(true);
      if (h.applied && c.endable) expect(h.clear, `${c.component} ${c.type} can end`).toBeDefined();
      await bench.close();
    }
  });
});
