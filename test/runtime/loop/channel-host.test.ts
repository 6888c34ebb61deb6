/**
 * One compute channel on its own: executed batches in, authentic OUTPUTs out, through its ports. The expected
 * commands come from a second copy of the same law stepped on the same inputs.
 */
import { describe, expect, it } from 'vitest';
import { authPayload, decodeMessage } from '../../../src/core/codec/encode.ts';
import type { Output } from '../../../src/core/codec/messages.ts';
import { createPitchLaw } from '../../../src/core/control/index.ts';
import { type Command, defaultPitchLawSpec } from '../../../src/core/control/spec.ts';
import { pitchFrameInputsConfig } from '../../../src/core/frame/inputs.ts';
import { Prng } from '../../../src/core/prng.ts';
import { ChannelHost } from '../../../src/runtime/loop/channel-host.ts';
import { commandFromFields } from '../../../src/runtime/loop/command-codec.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { INPUT_BASE, principalOf } from '../../../src/runtime/loop/principals.ts';
import { sameChannelState } from '../../../src/runtime/recovery/laptop.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { batch, executed, frameBatch, keys, periodMs, sampleOp, silent, topology } from './fixtures.ts';

const spec = defaultPitchLawSpec(topology.frameRateHz);
const voterRing = keys.ring(principalOf.voter(0));

interface Sent {
  readonly at: number;
  readonly message: Output;
  readonly command: Command;
}

function channel(id = 1, impl: 'float64' | 'fixed-q24' | 'modal' = 'fixed-q24', stateHistory = false) {
  const scheduler = new VirtualScheduler();
  const counters = new Counters();
  const sent: Sent[] = [];
  const tapped: [number, number, Command][] = [];
  const host = new ChannelHost({
    id,
    law: createPitchLaw(impl, spec),
    ring: keys.ring(principalOf.channel(id)),
    voterPrincipal: principalOf.voter(0),
    inputs: pitchFrameInputsConfig({ units: 3, firstClient: INPUT_BASE, spec }),
    periodMs,
    scheduler,
    rng: new Prng(3),
    counters,
    log: silent,
    output: {
      toVoter: (bytes) => {
        const d = decodeMessage(bytes);
        if (!d.ok || d.message.kind !== 'output')
          throw new Error('channel sent something that is not an OUTPUT');
        const m = d.message;
        sent.push({ at: scheduler.now(), message: m, command: commandFromFields(m.discrete, m.analog)! });
      },
    },
    commands: { channelCommand: (c, f, cmd) => tapped.push([c, f, cmd]) },
    stateHistory,
  });
  return { host, scheduler, counters, sent, tapped, reference: createPitchLaw(impl, spec) };
}

const pitch = [0.01, 0.011, 0.009];

describe('ChannelHost', () => {
  it('runs one law step per executed frame and sends the command MAC-authenticated for the voter', () => {
    const c = channel();
    for (let k = 0; k < 5; k++) c.host.executed(frameBatch(k, 0.1 * k, pitch));
    expect(c.sent.map((s) => s.message.frame)).toEqual([0, 1, 2, 3, 4]);
    for (const [k, s] of c.sent.entries()) {
      const want = c.reference.step({ pitchCommand: 0.1 * k, pitchSensors: [0.01, 0.011, 0.009] });
      expect(s.command).toEqual(want);
      expect(s.message.channel).toBe(1);
      expect(voterRing.verify(principalOf.channel(1), authPayload(s.message), s.message.tag)).toBe(true);
    }
    expect(c.tapped.map(([ch, f]) => [ch, f])).toEqual([0, 1, 2, 3, 4].map((f) => [1, f]));
  });

  it('a batch of frames already computed changes nothing; a gap is counted', () => {
    const c = channel();
    c.host.executed(frameBatch(3, 0.1, pitch));
    c.host.executed(frameBatch(3, 0.5, pitch));
    c.host.executed(frameBatch(2, 0.5, pitch));
    c.host.executed(frameBatch(6, 0.1, pitch));
    expect(c.sent.map((s) => s.message.frame)).toEqual([3, 6]);
    expect(c.counters.get('channel.no-frame.no-quorum')).toBe(2);
    expect(c.counters.get('channel.skipped-frames')).toBe(2);
  });

  it('a frame needs samples from a quorum of units (f + 1); malformed and impostor samples do not count', () => {
    const c = channel();
    const impostor = executed(1, sampleOp(1, 0, 0.1, 0.01, 2)); // unit 1 speaking for unit 2
    c.host.executed(
      batch([executed(0, new Uint8Array([1])), impostor, executed(2, sampleOp(2, 0, 0.1, 0.01))]),
    );
    expect(c.sent).toEqual([]);
    expect(c.counters.get('channel.no-frame.no-quorum')).toBe(1);
    c.host.executed(
      batch([
        executed(0, new Uint8Array([1])),
        executed(1, sampleOp(1, 0, 0.1, 0.01)),
        executed(2, sampleOp(2, 0, 0.1, 0.01)),
      ]),
    );
    expect(c.sent).toHaveLength(1);
    const health = c.host.inputHealth();
    expect(health.map((h) => [h.malformed, h.impostor])).toEqual([
      [2, 0],
      [0, 1],
      [0, 0],
    ]);
  });

  it('one unit far in the future is outvoted: the frame stays with the other two', () => {
    const c = channel();
    const lie = (k: number) =>
      batch([
        executed(0, sampleOp(0, k, 0.1, 0.01)),
        executed(1, sampleOp(1, k, 0.1, 0.011)),
        executed(2, sampleOp(2, k + 1_000_000, 0.1, 0.5)),
      ]);
    for (let k = 0; k < 10; k++) c.host.executed(lie(k));
    expect(c.sent.map((s) => s.message.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(c.host.inputHealth()[2]!.ahead).toBe(10);
  });

  it('a unit that keeps lying about its values is latched and reported', () => {
    const c = channel();
    for (let k = 0; k < 12; k++) c.host.executed(frameBatch(k, 0.1, [0.01, 0.011, 0.4]));
    expect(c.host.inputHealth()[2]!.latched).toBe(true);
    expect(c.counters.get('channel.input-latched')).toBeGreaterThanOrEqual(1);
    expect(c.sent.every((s) => s.command.mode !== 'triplex')).toBe(true);
  });

  it('an injected fault changes what is sent from its frame on; clearing it restores the correct command', () => {
    const c = channel();
    const sticks = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4];
    const want = sticks.map((stick) =>
      c.reference.step({ pitchCommand: stick, pitchSensors: [0.01, 0.011, 0.009] }),
    );
    c.host.executed(frameBatch(0, sticks[0]!, pitch));
    c.host.inject({ kind: 'stuck', fromFrame: 2 });
    for (let k = 1; k < 5; k++) c.host.executed(frameBatch(k, sticks[k]!, pitch));
    c.host.clearFault();
    c.host.executed(frameBatch(5, sticks[5]!, pitch));
    const elevators = c.sent.map((s) => s.command.elevator);
    expect(elevators.slice(0, 3)).toEqual(want.slice(0, 3).map((w) => w.elevator));
    expect(elevators.slice(2, 5)).toEqual([elevators[2], elevators[2], elevators[2]]);
    expect(want[3]!.elevator).not.toBe(want[2]!.elevator);
    expect(c.sent[5]!.command).toEqual(want[5]);
  });

  it('a silent channel sends nothing; a late one sends a period after the frame was computed', () => {
    const silentChannel = channel();
    silentChannel.host.inject({ kind: 'silent', fromFrame: 0 });
    silentChannel.host.executed(frameBatch(0, 0.1, pitch));
    silentChannel.scheduler.runUntil(10 * periodMs);
    expect(silentChannel.sent).toEqual([]);

    const late = channel();
    late.host.inject({ kind: 'late', fromFrame: 0 });
    late.scheduler.runUntil(3);
    late.host.executed(frameBatch(0, 0.1, pitch));
    expect(late.sent).toEqual([]);
    late.scheduler.runUntil(3 + periodMs);
    expect(late.sent.map((s) => s.at)).toEqual([3 + periodMs]);
  });

  it('a stopped channel sends nothing, not even an output it had delayed', () => {
    const c = channel();
    c.host.inject({ kind: 'late', fromFrame: 0 });
    c.host.executed(frameBatch(0, 0.1, pitch));
    c.host.stop();
    c.host.executed(frameBatch(1, 0.1, pitch));
    c.scheduler.runUntil(5 * periodMs);
    expect(c.sent).toEqual([]);
    expect(c.host.running).toBe(false);
  });

  it('a channel rebuilt from another implementation’s abstract state computes what the original does', () => {
    const a = channel(0, 'float64');
    const b = channel(2, 'modal');
    for (let k = 0; k < 20; k++) a.host.executed(frameBatch(k, 0.2, pitch));
    const state = a.host.exportState();
    expect(state.frame).toBe(19);
    b.host.importState(state);
    b.host.executed(frameBatch(19, 0.2, pitch));
    expect(b.sent).toEqual([]); // frame 19 is already computed in the imported state
    a.host.executed(frameBatch(20, 0.2, pitch));
    b.host.executed(frameBatch(20, 0.2, pitch));
    expect(b.sent[0]!.command.elevator).toBeCloseTo(a.sent.at(-1)!.command.elevator, 6);
    expect(b.sent[0]!.command.mode).toBe(a.sent.at(-1)!.command.mode);
  });

  it('after batches its replica skipped by state transfer it flies on and resyncs to a state its peers agree on', () => {
    const peer = channel(0, 'float64', true);
    const c = channel(1, 'fixed-q24', true);
    const at = (seq: number, k: number) => ({ ...frameBatch(k, 0.05 * k, pitch), seq });
    for (let k = 0; k < 10; k++) {
      peer.host.executed(at(100 + k, k));
      c.host.executed(at(100 + k, k));
    }
    // Batches 110-114 reach the peer; c's replica jumps from 109 to 115.
    for (let k = 10; k < 15; k++) peer.host.executed(at(100 + k, k));
    c.host.executed(at(115, 15));
    peer.host.executed(at(115, 15));
    expect(c.counters.get('channel.gap')).toBe(1);
    expect(c.host.unverified).toBe(true);
    expect(c.host.rebuilding).toBe(false);
    expect(c.sent.map((x) => x.message.frame).slice(-2)).toEqual([9, 15]); // it flies on
    // Its state lacks batches 110-114: it differs from the peer's after 115.
    const peer115 = peer.host.stateHistory().find((h) => h.seq === 115)!;
    expect(sameChannelState(c.host.exportState(), peer115.state)).toBe(false);
    peer.host.executed(at(116, 16));
    c.host.executed(at(116, 16));
    expect(c.host.resyncRange()).toEqual({ floor: 114, last: 116 });
    expect(c.host.resyncFrom(113, peer115.state)).toBeUndefined(); // before its first batch since the gap
    // The peers' state after 115 (f+1 agreed on it), then its own batch 116 replayed: it computes what they do.
    expect(c.host.resyncFrom(115, peer115.state)).toBe(1);
    expect(c.host.unverified).toBe(false);
    peer.host.executed(at(117, 17));
    c.host.executed(at(117, 17));
    expect(c.sent.at(-1)!.message.frame).toBe(17);
    expect(c.sent.at(-1)!.command.elevator).toBeCloseTo(peer.sent.at(-1)!.command.elevator, 6);
    expect(sameChannelState(c.host.exportState(), peer.host.exportState())).toBe(true);
    // Without proactive recovery nobody keeps states to resync from: the gap is run over, as before.
    const plain = channel(2, 'modal');
    plain.host.executed(at(200, 0));
    plain.host.executed(at(205, 1));
    expect(plain.host.unverified).toBe(false);
    expect(plain.sent).toHaveLength(2);
  });
  it("takes the certified state of its replica's checkpoint over the batches the replica skipped: no gap, exact", () => {
    const peer = channel(0, 'float64', true);
    const c = channel(1, 'fixed-q24', true);
    const at = (seq: number, k: number) => ({ ...frameBatch(k, 0.05 * k, pitch), seq });
    for (let k = 0; k < 10; k++) {
      peer.host.executed(at(100 + k, k));
      c.host.executed(at(100 + k, k));
    }
    for (let k = 10; k < 16; k++) peer.host.executed(at(100 + k, k));
    // c's replica restored the checkpoint after batch 115 (the state there, as the reference channel has it),
    // then hands over 116. A batch at or below 115 that the same step handed over earlier is already in it.
    const certified = peer.host.stateHistory().find((h) => h.seq === 115)!.state;
    c.host.certified(115, certified);
    c.host.executed(at(112, 12));
    c.host.executed(at(116, 16));
    peer.host.executed(at(116, 16));
    expect(c.counters.get('channel.gap')).toBe(0);
    expect(c.counters.get('channel.certified-state')).toBe(1);
    expect(c.host.unverified).toBe(false);
    expect(c.sent.map((x) => x.message.frame).slice(-2)).toEqual([9, 16]);
    expect(c.sent.at(-1)!.command.elevator).toBeCloseTo(peer.sent.at(-1)!.command.elevator, 6);
    expect(sameChannelState(c.host.exportState(), peer.host.exportState())).toBe(true);
    // An older certified state never takes a running channel back.
    c.host.certified(110, peer.host.stateHistory()[0]!.state);
    expect(c.counters.get('channel.certified-state')).toBe(1);
  });

  it('a restarted channel is rebuilt by the certified state, replaying the batches buffered after it', () => {
    const peer = channel(0, 'float64', true);
    const c = channel(2, 'modal', true);
    const at = (seq: number, k: number) => ({ ...frameBatch(k, 0.02 * k, pitch), seq });
    for (let k = 0; k < 20; k++) peer.host.executed(at(k + 1, k));
    c.host.reinstall(createPitchLaw('modal', spec), keys.ring(principalOf.channel(2)));
    expect(c.host.rebuilding).toBe(true);
    c.host.executed(at(18, 17)); // buffered before the state arrives
    c.host.certified(17, peer.host.stateHistory().find((h) => h.seq === 17)!.state);
    expect(c.host.rebuilding).toBe(false);
    expect(c.sent).toEqual([]); // batch 18's frame is past: replayed, not sent
    c.host.executed(at(19, 18));
    c.host.executed(at(20, 19));
    expect(c.counters.get('channel.gap')).toBe(0);
    expect(c.sent.map((x) => x.message.frame)).toEqual([18, 19]);
    const peer19 = peer.sent.find((x) => x.message.frame === 19)!;
    expect(c.sent.at(-1)!.command.elevator).toBeCloseTo(peer19.command.elevator, 6);
  });
});
