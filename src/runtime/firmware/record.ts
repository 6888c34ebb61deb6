/**
 * The firmware's decisions as the TypeScript voter states them: channel indices back to names, OUTPUT fields
 * back to a Command. A firmware decision converted here is deep-equal to the DecisionRecord the TypeScript
 * Voter produces for the same inputs (test/firmware/differential.test.ts shows it frame by frame).
 */
import type { Command } from '../../core/control/spec.ts';
import type { ChannelEvent, ChannelHealth, DecisionRecord, FrameJudgment } from '../../core/vote/voter.ts';
import { commandFromFields } from '../loop/command-codec.ts';
import type {
  FirmwareChannelHealth,
  FirmwareDecision,
  FirmwareEvent,
  FirmwareFields,
  FirmwareJudgment,
} from './protocol.ts';

export function channelEventOf(e: FirmwareEvent, channels: readonly string[]): ChannelEvent {
  const channel = channels[e.channel] ?? `?${e.channel}`;
  return e.kind === 'strike'
    ? { kind: 'strike', channel, frame: e.frame, strikes: e.strikes }
    : { kind: e.kind, channel, frame: e.frame };
}

function commandOf(f: FirmwareFields, what: string): Command {
  const value = commandFromFields(f.discrete, f.analog);
  if (value === undefined)
    throw new RangeError(`firmware ${what} is no command a channel can send: ${f.discrete}`);
  return value;
}

export function judgmentOf(j: FirmwareJudgment, channels: readonly string[]): FrameJudgment<Command> {
  const names = (xs: readonly number[]): string[] => xs.map((i) => channels[i] ?? `?${i}`);
  return {
    frame: j.frame,
    time: j.time,
    reference: j.reference === null ? null : commandOf(j.reference, 'reference'),
    judged: j.judged,
    agreed: names(j.agreed),
    dissenters: names(j.dissenters),
    events: j.events.map((e) => channelEventOf(e, channels)),
  };
}

/** `judgments`: the JUDGMENT frames that came with the decision (FirmwareUnit's Reply.judgmentFrames). */
export function decisionRecordOf(
  d: FirmwareDecision,
  judgments: readonly FirmwareJudgment[],
  channels: readonly string[],
): DecisionRecord<Command> {
  const names = (xs: readonly number[]): string[] => xs.map((i) => channels[i] ?? `?${i}`);
  const js = judgments.map((j) => judgmentOf(j, channels));
  return {
    frame: d.frame,
    time: d.time,
    kind: d.kind,
    value: commandOf(d, 'value'),
    reason: d.reason,
    early: d.early,
    earlyRound: d.earlyRound,
    reported: names(d.reported),
    contributors: names(d.contributors),
    dissenters: names(d.dissenters),
    missing: names(d.missing),
    latched: names(d.latched),
    strikes: Object.fromEntries(channels.map((c, i) => [c, d.strikes[i] ?? 0])),
    events: js.flatMap((j) => j.events),
    judgments: js,
    consecutiveMisses: d.consecutiveMisses,
  };
}

export function channelHealthOf(
  h: readonly FirmwareChannelHealth[],
  channels: readonly string[],
): ChannelHealth[] {
  return channels.map((channel, i) => {
    const s = h[i];
    if (s === undefined) throw new RangeError(`no firmware health for channel ${channel}`);
    return { channel, ...s };
  });
}
