/**
 * The actuator interface unit on its own: OUTPUTs in through its inbox, one decision per frame out through the
 * actuator port, channel health through its sink. Virtual time: frame k starts at k periods.
 */
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../src/core/control/spec.ts';
import type { ChannelEvent, DecisionRecord } from '../../../src/core/vote/voter.ts';
import { topologyVoterConfig } from '../../../src/runtime/loop/board.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { VoterHost } from '../../../src/runtime/loop/voter-host.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { keys, output, periodMs, silent, topology } from './fixtures.ts';

const cmd = (elevator: number): Command => ({ elevator, mode: 'triplex', commandLimited: false });

function voter() {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const written: DecisionRecord<Command>[] = [];
  const events: ChannelEvent[] = [];
  const host = new VoterHost({
    config: topologyVoterConfig(topology),
    ring: keys.ring(principalOf.voter(0)),
    scheduler,
    counters,
    log: silent,
    actuator: { write: (d) => written.push(d) },
    health: { channelEvents: (e) => events.push(...e) },
  });
  /** Frame k: arm it at its start, deliver `outs` (channel -> elevator) shortly after, run to the frame's end. */
  const frame = (k: number, outs: Record<number, number>, forge = false): void => {
    scheduler.runUntil(k * periodMs);
    host.armFrame(k);
    scheduler.runUntil(k * periodMs + 2);
    for (const [c, e] of Object.entries(outs)) host.output(output(Number(c), k, cmd(e), forge));
    scheduler.runUntil((k + 1) * periodMs - 0.01);
  };
  return { host, scheduler, counters, written, events, frame };
}

describe('VoterHost', () => {
  it('writes each frame once, as soon as a majority agrees, before the deadline', () => {
    const v = voter();
    for (let k = 0; k < 5; k++) v.frame(k, { 0: 0.1, 1: 0.1005, 2: 0.0998 });
    expect(v.written.map((d) => [d.frame, d.kind, d.early])).toEqual(
      [0, 1, 2, 3, 4].map((k) => [k, 'write', true]),
    );
    for (const d of v.written) {
      expect(d.value.elevator).toBeCloseTo(0.1, 3);
      expect(d.time).toBeLessThan(d.frame * periodMs + periodMs * topology.timing.deadlineFraction);
    }
    expect(v.counters.get('voter.write')).toBe(5);
  });

  it('refuses forged, unknown and malformed outputs, counting each by reason', () => {
    const v = voter();
    v.scheduler.runUntil(0);
    v.host.armFrame(0);
    v.host.output(output(0, 0, cmd(0.1), true));
    v.host.output(output(7, 0, cmd(0.1)));
    v.host.output(output(1, 0, { discrete: [9, 0], analog: [0.1] }));
    v.host.output(output(2, 0, { discrete: [0, 0], analog: [] }));
    expect(v.written).toEqual([]);
    expect(v.counters.get('voter.rejected.bad-mac')).toBe(1);
    expect(v.counters.get('voter.rejected.unknown-channel')).toBe(1);
    expect(v.counters.get('voter.rejected.malformed')).toBe(2);
    expect(v.host.voter.health().every((h) => !h.latched)).toBe(true);
  });

  it('holds at the deadline when no majority reports, then fails safe after the configured misses', () => {
    const v = voter();
    const misses = topology.voter.failsafeAfterMisses;
    for (let k = 0; k < misses + 2; k++) v.frame(k, { 0: 0.1 });
    const kinds = v.written.map((d) => d.kind);
    expect(kinds.slice(0, misses - 1).every((k) => k === 'hold')).toBe(true);
    expect(kinds.at(-1)).toBe('failsafe');
    expect(
      v.written.every((d) => d.time >= d.frame * periodMs + periodMs * topology.timing.deadlineFraction),
    ).toBe(true);
  });

  it('a channel that keeps disagreeing is struck and latched, reported through the health sink', () => {
    const v = voter();
    for (let k = 0; k < topology.voter.persistence + 3; k++) v.frame(k, { 0: 0.1, 1: 0.1, 2: 0.3 });
    expect(v.events.some((e) => e.kind === 'strike' && e.channel === 'c2')).toBe(true);
    expect(v.events.some((e) => e.kind === 'latched' && e.channel === 'c2')).toBe(true);
    expect(v.written.every((d) => d.kind === 'write' && Math.abs(d.value.elevator - 0.1) < 1e-9)).toBe(true);
    expect(v.host.voter.health().find((h) => h.channel === 'c2')?.latched).toBe(true);
  });
});
