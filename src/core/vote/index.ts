/**
 * Output voting for one actuator: exact majority on discrete fields, mid-value select with tolerance on
 * analog fields, strikes / latching / probation, hold-last on a miss, failsafe after N misses, and a
 * record of every decision. It never writes a command fewer than f+1 channels support.
 *
 * @example
 * const voter = new Voter(pitchVoterConfig({ channels: ['a', 'b', 'c'], frameRate: 50 }));
 * voter.offer(0, 'a', cmdA, 0.003);
 * voter.offer(0, 'b', cmdB, 0.004);               // { majorityReady: true } once f+1 agree
 * const record = voter.decide(0, 0.004);          // write / hold / failsafe, with contributors
 */
export { type PitchVoterOptions, pitchVoterConfig } from './pitch.ts';
export {
  type AnalogField,
  type ChannelEvent,
  type ChannelHealth,
  type CommandShape,
  type DecisionKind,
  type DecisionReason,
  type DecisionRecord,
  type FieldValue,
  majority,
  midValue,
  type OfferResult,
  type RejectReason,
  Voter,
  type VoterConfig,
  type VoterStats,
  type VoterTiming,
} from './voter.ts';
