/**
 * A voter host under virtual time, as the runtime's voter host drives the voter: offers in arrival order,
 * `decide` as soon as an offer says the next frame is ready, and at the frame's deadline otherwise. Written
 * against the API both this voter and the one of c4c883f offer (`majorityReady`, `events`), so that the
 * regression tests can be run against the old code.
 */
import type { ChannelEvent, CommandShape, DecisionRecord, Voter } from '../../../src/core/vote/index.ts';

export interface Arrival<C> {
  readonly channel: string;
  readonly command: C;
  readonly time: number;
}

export interface FrameRun<C extends CommandShape<C>> {
  readonly record: DecisionRecord<C>;
  /** Every channel event this frame's calls produced (strikes of this or earlier frames). */
  readonly events: ChannelEvent[];
}

type AnyResult = {
  accepted: boolean;
  ready?: boolean;
  majorityReady?: boolean;
  events?: readonly ChannelEvent[];
};

/** Run one frame: the arrivals (any order; sorted by time, stably) and the deadline. */
export function runFrame<C extends CommandShape<C>>(
  voter: Voter<C>,
  frame: number,
  arrivals: readonly Arrival<C>[],
): FrameRun<C> {
  const deadline = voter.deadlineOf(frame);
  const events: ChannelEvent[] = [];
  let record: DecisionRecord<C> | undefined;
  const decide = (now: number) => {
    const r = voter.decide(frame, now);
    events.push(...r.events);
    // A declined early decision (closeDue made the frame unready) leaves the frame to its deadline.
    if (r.kind !== 'declined') record = r;
  };
  const sorted = [...arrivals].sort((a, b) => a.time - b.time);
  let deadlinePassed = false;
  const atDeadline = () => {
    if (deadlinePassed) return;
    deadlinePassed = true;
    const closeDue = (voter as unknown as { closeDue?: (now: number) => { events: ChannelEvent[] }[] })
      .closeDue;
    if (closeDue !== undefined) for (const j of closeDue.call(voter, deadline)) events.push(...j.events);
    if (voter.frame === frame) decide(deadline);
  };
  for (const a of sorted) {
    if (a.time > deadline) atDeadline();
    const r = voter.offer(frame, a.channel, a.command, a.time) as AnyResult;
    if (r.accepted) events.push(...(r.events ?? []));
    const ready = r.ready ?? r.majorityReady ?? false;
    if (r.accepted && ready && voter.frame === frame && a.time <= deadline) decide(a.time);
  }
  atDeadline();
  if (record === undefined) throw new Error(`frame ${frame} was never decided`);
  return { record, events };
}
