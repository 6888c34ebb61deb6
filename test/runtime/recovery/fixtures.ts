/** Shared set-up of the recovery tests: the laptop loop with proactive recovery, flown under virtual time. */
import pino from 'pino';
import { Rig, type RigResult } from '../../../hil/rig.ts';
import type { Scenario } from '../../../hil/scenario.ts';
import { loadTopology, type Topology } from '../../../src/runtime/config.ts';
import { Fleet, type RecoveryTuning } from '../../../src/runtime/loop/fleet.ts';
import { plantPortsOf } from '../../../src/runtime/loop/ports.ts';
import { inProcessLoop } from '../../../src/runtime/node/control-loop.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';

export const laptop = loadTopology('config/laptop.json');
export const closedWindow = loadTopology('config/closed-window.json');
const silent = pino({ level: 'silent' });

/** Flies `scenario` on the laptop topology with recovery tuned by `tuning`; the result and the system. */
export async function flyWithRecovery(
  scenario: Scenario,
  seed: number,
  tuning: RecoveryTuning,
  topology: Topology = laptop,
  setup?: (system: Fleet, scheduler: VirtualScheduler) => void,
): Promise<{ result: RigResult; system: Fleet }> {
  const scheduler = new VirtualScheduler();
  let system: Fleet | undefined;
  const rig = new Rig({
    topology,
    scheduler,
    scenario,
    seed,
    logger: silent,
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
    loop: (ports) => {
      system = new Fleet({
        topology,
        scheduler,
        seed,
        logger: silent,
        virtual: { minDelayMs: 0.05, maxDelayMs: 0.6 },
        recovery: tuning,
        ...plantPortsOf(ports),
      });
      setup?.(system, scheduler);
      return inProcessLoop(system);
    },
  });
  const result = await rig.runVirtual((t) => scheduler.runUntil(t));
  return { result, system: system! };
}
