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

describe('VoterHost against one faulty channel and a replaying peer (issue 9)', () => {
  it('authentic outputs for any frame number, and replays of correct ones, cost a correct channel nothing', () => {
    const v = voter();
    const extremes = [0, 1, 5, 9, 64, 1000, 2 ** 31, 2 ** 53 - 1];
    const sent: ReturnType<typeof output>[] = [];
    for (let k = 0; k < 60; k++) {
      v.scheduler.runUntil(k * periodMs);
      v.host.armFrame(k);
      v.scheduler.runUntil(k * periodMs + 2);
      // c2 is faulty: it has its own keys and sends, every frame, outputs for frames far behind, far ahead, at
      // the codec's limit, and the current one twice with different values.
      for (const f of extremes) v.host.output(output(2, Math.max(0, k - f), cmd(0.3)));
      for (const f of extremes) v.host.output(output(2, Math.min(2 ** 53 - 1, k + f), cmd(-0.3)));
      v.host.output(output(2, k, cmd(0.1 + 1e-3)));
      v.host.output(output(2, k, cmd(0.5)));
      const mine = [output(0, k, cmd(0.1)), output(1, k, cmd(0.1002))];
      for (const m of mine) v.host.output(m);
      sent.push(...mine);
      // Anyone on the link replays the correct channels' earlier outputs, in time and after their deadline.
      for (const old of sent.slice(-8)) v.host.output(old);
      v.scheduler.runUntil((k + 1) * periodMs - 0.01);
      for (const old of sent.slice(-4)) v.host.output(old);
    }
    expect(v.written.map((d) => d.kind)).toEqual(Array(60).fill('write'));
    expect(v.written.every((d) => Math.abs(d.value.elevator - 0.1) < 1e-3)).toBe(true);
    const [c0, c1] = v.host.voter.health();
    for (const h of [c0!, c1!]) expect(h).toMatchObject({ latched: false, strikes: 0, late: 0, inTime: 60 });
    expect(v.events.filter((e) => e.channel !== 'c2')).toEqual([]);
    expect(v.counters.get('voter.rejected.duplicate')).toBeGreaterThan(0);
    expect(v.counters.get('voter.rejected.too-far-ahead')).toBeGreaterThan(0);
  });
});

describe('VoterHost after a watchdog reset (issue 9)', () => {
  it("a replay of the correct channels' outputs from before the reset counts nothing against them", () => {
    const v = voter();
    const sent: ReturnType<typeof output>[] = [];
    for (let k = 0; k < 30; k++) {
      v.scheduler.runUntil(k * periodMs);
      v.host.armFrame(k);
      if (k === 10) expect(v.host.hang(3)).toMatchObject({ applied: true }); // back (a fresh voter) at frame 14
      v.scheduler.runUntil(k * periodMs + 2);
      for (const c of [0, 1, 2]) {
        const m = output(c, k, cmd(0.1));
        sent.push(m);
        v.host.output(m);
      }
      // Anyone on the link replays the last ten frames' outputs, most of them from before the reset.
      if (k === 16) for (const m of sent.slice(-30)) v.host.output(m);
      v.scheduler.runUntil((k + 1) * periodMs - 0.01);
    }
    // Before: the fresh voter had no receipts for frames 7..13, took each copy as a first, late arrival: late 8.
    for (const h of v.host.voter.health()) expect(h.late, h.channel).toBe(0);
    expect(v.counters.get('voter.rejected.before-reset')).toBeGreaterThan(0);
    expect(v.counters.get('voter.watchdog-reset')).toBe(1);
    expect(v.written.filter((d) => d.frame >= 16).every((d) => d.kind === 'write')).toBe(true);
  });
});
