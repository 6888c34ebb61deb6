/**
 * The channel's abstract state on the wire (CHANNEL-STATE-REPLY): a channel's exported state survives the
 * canonical codec unchanged, whatever the implementation, and a state of the wrong shape is refused.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import { MESSAGE_KINDS, type Message, RECOVERY_KINDS } from '../../../src/core/codec/messages.ts';
import type { ChannelState } from '../../../src/runtime/loop/channel-host.ts';
import { fromWire, toWire } from '../../../src/runtime/loop/channel-state.ts';
import { sameChannelState } from '../../../src/runtime/recovery/laptop.ts';
import { MAX_CHANNEL_STATE_BYTES } from '../../../src/runtime/recovery/wire-rebuild.ts';

const member = (strikes: number) => ({
  strikes,
  agreeStreak: 4,
  latched: strikes > 2,
  probation: 0,
  latchCount: 1,
});
const state: ChannelState = {
  frame: 41,
  state: {
    primed: true,
    referenceFilter: 0.125,
    integrator: -0.0031,
    rateEstimate: 1e-9,
    lastMeasurement: 0.2,
    lastElevator: -0.05,
  },
  inputs: {
    lastFrame: 41,
    voter: {
      fields: [
        [member(0), member(1), member(3)],
        [member(0), member(0), member(0)],
      ],
    },
  },
};

describe('abstract state on the wire', () => {
  it('round-trips a channel state through CHANNEL-STATE-REPLY', () => {
    const m: Message = {
      kind: 'channel-state-reply',
      channel: 1,
      to: 2,
      nonce: 77,
      states: [
        toWire(640, state),
        toWire(641, { ...state, frame: -1, inputs: { ...state.inputs, lastFrame: -1 } }),
      ],
      tag: new Uint8Array(8),
    };
    const bytes = encodeMessage(m);
    expect(bytes.length).toBeLessThan(MAX_CHANNEL_STATE_BYTES);
    const back = decodeMessage(bytes, DEFAULT_LIMITS);
    if (!back.ok || back.message.kind !== 'channel-state-reply') throw new Error('decode failed');
    const first = fromWire(back.message.states[0]!, 3);
    expect(first).toEqual(state);
    expect(sameChannelState(first!, state)).toBe(true);
    expect(fromWire(back.message.states[1]!, 3)?.frame).toBe(-1);
    // Three units expected; a state for two is refused.
    expect(fromWire(back.message.states[0]!, 2)).toBeUndefined();
  });

  it('the recovery kinds are new tags at the end (the firmware knows the count)', () => {
    expect(MESSAGE_KINDS.slice(-3)).toEqual(['channel-state-request', 'channel-state-reply', 'epoch-report']);
    expect([...RECOVERY_KINDS].sort()).toEqual([
      'channel-state-reply',
      'channel-state-request',
      'epoch-report',
      'new-key',
    ]);
  });

  it('refuses a reply that claims more states than the limit before reading them', () => {
    const bytes = encodeMessage({
      kind: 'channel-state-reply',
      channel: 1,
      to: 2,
      nonce: 1,
      states: [],
      tag: new Uint8Array(8),
    });
    // Patch the states count (a one-byte varint 0 after channel, to, nonce) to 200, above a small limit.
    const at = 2 + 3;
    expect(bytes[at]).toBe(0);
    const forged = bytes.slice();
    forged[at] = 100;
    const r = decodeMessage(forged, { ...DEFAULT_LIMITS, maxStateEntries: 16 });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe('count-over-limit');
  });
});
