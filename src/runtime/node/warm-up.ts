/**
 * JIT warm-up for a board process: fly a throwaway in-process copy of the topology (every board on a memory hub)
 * for a few hundred frames under virtual time, before the real links and clock start. Cold code paths cost
 * 20-40 ms per frame at first, and a board process that pays that during the first real frames misses them.
 */
import pino from 'pino';
import type { Topology } from '../config.ts';
import { Fleet } from '../loop/fleet.ts';
import { VirtualScheduler } from '../scheduler.ts';

/** Runs `frames` frames of the whole loop in virtual time; returns the wall time it took (ms). */
export async function warmUp(topology: Topology, frames = 150): Promise<number> {
  const started = performance.now();
  const scheduler = new VirtualScheduler();
  const system = new Fleet({
    // The TypeScript voter whatever voterImpl says: a firmware voter is not JIT-compiled, and starting one (a
    // make and a unit per board process) made board processes miss their ready deadline.
    topology: { ...topology, voterImpl: 'ts' },
    scheduler,
    seed: 0,
    logger: pino({ level: 'silent' }),
    virtual: { minDelayMs: 0.05, maxDelayMs: 0.2 },
  });
  await system.start();
  const samples = Array.from({ length: topology.inputUnits }, (_, u) => ({ stick: 0.1, pitch: 0.01 * u }));
  for (let f = 0; f < frames; f++) scheduler.at(system.frameTime(f), () => system.startFrame(f, samples));
  scheduler.runUntil(system.frameTime(frames + 1));
  await system.close();
  return performance.now() - started;
}
