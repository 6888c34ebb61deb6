/**
 * A role made Byzantine (a catalog behaviour injected into it, standing for corrupted memory) is correct again
 * after its next proactive restart, and the voter reintegrates it: the fault does not survive the restart.
 * On the n = 6, m = 4 topology (config/closed-window.json) one fault and one restart are masked together, so
 * the actuator misses no frame while the faulty role waits for its turn.
 */
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../../hil/scenario.ts';
import { Prng } from '../../../src/core/prng.ts';
import { behaviour } from '../../../src/sim/byzantine.ts';
import { closedWindow, flyWithRecovery } from './fixtures.ts';

const scenario: Scenario = {
  name: 'byzantine-then-restart',
  description: 'one role Byzantine until its proactive restart',
  durationS: 14,
  pilot: [
    { atS: 1, pitch: 0.2 },
    { atS: 8, pitch: -0.1 },
  ],
  events: [],
  maxConsecutiveMisses: 0,
};

describe('a Byzantine role is correct again after its proactive restart (virtual time, n=6 m=4)', () => {
  it('replica: a catalog behaviour (random-bytes) is gone after the board restarts; it rejoins and orders again', async () => {
    const target = closedWindow.replicas.find((r) => r.id === 5)!; // the first step of every period
    const seen: { atMs: number; byzantine: boolean; executed: number }[] = [];
    const { result, system } = await flyWithRecovery(
      scenario,
      31,
      { periodSeconds: 8 },
      closedWindow,
      (s, clock) => {
        clock.at(2000, () => {
          const ok = s.makeReplicaByzantine(5, (inside) =>
            behaviour('random-bytes').create({
              id: 5,
              config: inside.config,
              crypto: inside.crypto,
              rng: new Prng(5),
              nodes: inside.nodes,
              replica: inside.replica,
              gst: 0,
            }),
          );
          expect(ok).toBe(true);
        });
        for (const t of [5000, 13_000]) {
          clock.at(t, () => {
            const host = s.boards.get(target.board)!.replica!;
            seen.push({ atMs: t, byzantine: host.byzantine, executed: host.replica.status().lastExecuted });
          });
        }
      },
    );
    const report = system.recovery!.report();
    const restart = report.records.find((r) => r.board === target.board && r.startedAtMs > 2000)!;
    expect(restart.rejoinedAtMs).toBeDefined();
    expect(seen[0]!.byzantine).toBe(true); // Byzantine until its turn (period 1 starts at 9 s)
    expect(seen[1]!.byzantine).toBe(false);
    const others = system.replicas
      .filter((r) => r.replica.id !== 5)
      .map((r) => r.replica.status().lastExecuted);
    expect(system.replicas[5]!.replica.status().lastExecuted).toBeGreaterThanOrEqual(Math.min(...others) - 2);
    expect(result.trace.frames.filter((f) => f.outcome !== 'write')).toEqual([]);
  });

  it('channel: a Byzantine channel latched by the voter is correct after its proactive restart and reintegrated after probation', async () => {
    const { result, system } = await flyWithRecovery(
      scenario,
      32,
      { periodSeconds: 8, restartLatched: false },
      closedWindow,
      (s, clock) => {
        clock.at(2000, () => s.channels[3]!.inject({ kind: 'random', fromFrame: 0 }));
      },
    );
    const events = result.trace.events.filter((e) => e.detail.startsWith('c3 '));
    const latched = events.find((e) => e.kind === 'channel-latched');
    const back = events.find((e) => e.kind === 'channel-reintegrated');
    expect(latched).toBeDefined();
    expect(back).toBeDefined();
    const restart = system
      .recovery!.report()
      .records.find((r) => r.roles.some((x) => x.kind === 'channel' && x.id === 3) && r.startedAtMs > 2000)!;
    expect(restart.cause).toBe('proactive');
    const restartFrame = Math.floor(restart.startedAtMs / (1000 / closedWindow.frameRateHz));
    // Reintegrated after its restart and a probation, not before; never latched again.
    expect(back!.frame).toBeGreaterThanOrEqual(restartFrame + closedWindow.voter.probationFrames);
    expect(events.filter((e) => e.kind === 'channel-latched' && e.frame > restartFrame)).toEqual([]);
    expect(result.trace.frames.filter((f) => f.outcome !== 'write')).toEqual([]);
  });
});
