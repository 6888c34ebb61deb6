/**
 * A replica that restarted with fresh keys asks for the seqs the group committed while it was away
 * (state-transfer.ts, onStateRequest). The peers' stored votes carry authenticators made under the keys of
 * when they voted; sent as stored, every one fails the asker's MAC check and it stalls (in the runtime, until
 * its request timer takes it out of the view alone). Sent under an authenticator made now, it catches up.
 */
import { describe, expect, it } from 'vitest';
import type { ReplicaEvent } from '../../../src/core/pbft/types.ts';
import { Group, op } from './harness.ts';

const CLIENT = 100;
const ASKER = 3;

function badMacs(g: Group, kinds: readonly string[]): number {
  return g.events.filter((e) => {
    const ev = e.event as ReplicaEvent & { reason?: string; kind?: string };
    return (
      e.replica === ASKER &&
      ev.type === 'rejected' &&
      ev.reason === 'bad-mac' &&
      kinds.includes(ev.kind ?? '')
    );
  }).length;
}

describe('retransmissions to a peer that rekeyed', () => {
  it('own PREPAREs, COMMITs and PRE-PREPAREs go out under the keys held now: the asker catches up', () => {
    // No checkpoint within the run: the asker can only catch up from retransmitted votes.
    const g = new Group(1, { checkpointInterval: 64, watermarkWindow: 128 });
    g.filter = (p) => p.to !== ASKER && p.from !== ASKER;
    for (let i = 1; i <= 3; i++) {
      g.submit(CLIENT, op(i));
      g.tick(2);
    }
    const head = g.replicas[0]!.status().lastExecuted;
    expect(head).toBe(3);
    expect(g.replicas[ASKER]!.status().lastExecuted).toBe(0);
    // The asker restarted with fresh keys and every peer accepted its NEW-KEY: each pair with it is rekeyed.
    for (const peer of [0, 1, 2]) {
      const key = new Uint8Array(32).fill(peer + 1);
      g.keys.ring(peer).rekey(ASKER, key);
      g.keys.ring(ASKER).rekey(peer, key);
    }
    g.filter = () => true;
    g.submit(CLIENT, op(4)); // seq 4 shows the asker it is behind: it asks for 1..3
    g.tick(3 * g.config.stallTicks);
    expect(g.replicas[ASKER]!.status().lastExecuted).toBe(4);
    expect(g.eventsOf('retransmit').length).toBeGreaterThan(0);
    // Nothing of the peers' own making fails at the asker; only PRE-PREPAREs relayed by backups can (their MACs
    // are the primary's, made before the rekey).
    expect(badMacs(g, ['prepare', 'commit'])).toBe(0);
  });
});
