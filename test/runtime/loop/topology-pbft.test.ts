/**
 * A topology's PBFT timeouts follow its frame rate and its `timing.viewChangeTimeoutFrames`: checked on the
 * config values and on four replica hosts on virtual time, where a new primary that never sends its NEW-VIEW is
 * left after exactly the configured number of frame periods.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../../../src/core/pbft/client.ts';
import { keyRingCrypto } from '../../../src/core/pbft/crypto.ts';
import { Replica } from '../../../src/core/pbft/replica.ts';
import type { ReplicaEvent } from '../../../src/core/pbft/types.ts';
import type { Topology } from '../../../src/runtime/config.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { ReplicaHost } from '../../../src/runtime/loop/replica-host.ts';
import { FrameLogService, loopChannelConfig } from '../../../src/runtime/loop/service.ts';
import {
  MIN_REQUEST_TIMEOUT_MS,
  REQUEST_TIMEOUT_FRAMES,
  topologyPbftConfig,
} from '../../../src/runtime/loop/topology-pbft.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { keys, sampleOp, silent, topology } from './fixtures.ts';

function at(frameRateHz: number, viewChangeTimeoutFrames: number): Topology {
  return { ...topology, frameRateHz, timing: { ...topology.timing, viewChangeTimeoutFrames } };
}

describe('topology PBFT timeouts', () => {
  it('scale with the frame period: the view-change timeout is viewChangeTimeoutFrames periods', () => {
    const slow = topologyPbftConfig(at(10, 25));
    expect(slow.viewChangeTimeoutTicks).toBe(2500);
    expect(slow.maxViewChangeTimeoutTicks).toBe(2500 * 16);
    expect(slow.requestTimeoutTicks).toBe(REQUEST_TIMEOUT_FRAMES * 100);
    expect(slow.stallTicks).toBe(400);
    const fast = topologyPbftConfig(at(400, 40));
    expect(fast.viewChangeTimeoutTicks).toBe(100);
    expect(fast.requestTimeoutTicks).toBe(MIN_REQUEST_TIMEOUT_MS); // five periods are 12.5 ms: the floor
    expect(fast.stallTicks).toBe(10);
  });

  for (const [rate, frames] of [
    [50, 10],
    [20, 6],
  ] as const) {
    it(`a new primary that never sends NEW-VIEW is left after ${frames} periods at ${rate} Hz`, () => {
      const t = at(rate, frames);
      const config = topologyPbftConfig(t);
      const periodMs = 1000 / rate;
      const scheduler = new VirtualScheduler();
      const events: { replica: number; at: number; event: ReplicaEvent }[] = [];
      const hosts: ReplicaHost[] = [];
      const client = new Client({
        id: principalOf.input(0),
        config,
        crypto: keyRingCrypto(keys.ring(principalOf.input(0)), undefined, keys.replicaPublicKeys),
        retransmitTicks: 1_000_000,
      });
      const deliver = (from: number, to: number, bytes: Uint8Array): void => {
        const copy = bytes.slice();
        scheduler.at(scheduler.now() + 0.5, () => hosts[to]!.receive(from, copy));
      };
      for (let id = 0; id < config.n; id++) {
        const replica = new Replica({
          id,
          config,
          crypto: keyRingCrypto(keys.ring(principalOf.replica(id)), keys.signer(id), keys.replicaPublicKeys),
          service: new FrameLogService(loopChannelConfig(topology)),
        });
        hosts.push(
          new ReplicaHost({
            replica,
            routes: {
              toReplica: (to, bytes) => deliver(id, to, bytes),
              toOtherReplicas: (bytes) => {
                for (let to = 0; to < config.n; to++) if (to !== id) deliver(id, to, bytes);
              },
              toClient: () => {},
            },
            counters: new Counters(),
            log: silent,
            onEvent: (event) => events.push({ replica: id, at: scheduler.now(), event }),
          }),
        );
      }
      // Replica 1, the primary of view 1, takes part in the view change but withholds its NEW-VIEW.
      hosts[1]!.becomeByzantine({
        step: (input) =>
          hosts[1]!.replica
            .step(input)
            .filter((a) => !((a.kind === 'multicast' || a.kind === 'send') && a.message.kind === 'new-view')),
      });
      hosts[0]!.stop(); // the primary of view 0 crashed
      for (let k = 0; k < 400; k++) {
        const r = client.submit(sampleOp(0, k, 0.1, 0.01), scheduler.now());
        if (r.ok)
          for (const a of r.actions)
            if (a.kind === 'multicast') for (const h of hosts) h.receive(-1, a.bytes);
        for (let ms = 0; ms < periodMs; ms++) {
          scheduler.runUntil(k * periodMs + ms);
          for (const h of hosts) h.tick(Math.round(scheduler.now()));
        }
        for (const h of hosts) h.frame();
        if (events.some((e) => e.replica >= 2 && e.event.type === 'view-change' && e.event.view === 2)) break;
      }
      const viewChanges = events.filter((e) => e.event.type === 'view-change' && e.replica >= 2);
      const toOne = viewChanges.filter((e) => e.event.type === 'view-change' && e.event.view === 1);
      const toTwo = viewChanges.filter((e) => e.event.type === 'view-change' && e.event.view === 2);
      expect(toOne.length, JSON.stringify(viewChanges)).toBe(2);
      expect(toTwo.length, JSON.stringify(viewChanges)).toBeGreaterThan(0);
      const first = toTwo[0]!;
      expect(first.event.type === 'view-change' && first.event.reason).toBe('view-change-timeout');
      // The timer is armed once a quorum of VIEW-CHANGEs is held, within a tick or two of the first one.
      const waited = first.at - Math.max(...toOne.map((e) => e.at));
      expect(waited).toBeGreaterThanOrEqual(frames * periodMs - 2);
      expect(waited).toBeLessThanOrEqual(frames * periodMs + 3);
    });
  }
});
