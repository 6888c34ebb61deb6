/**
 * Output voting for one actuator: exact majority on discrete fields, mid-value select with tolerance on
 * analog fields, strikes / latching / probation, hold-last on a miss, failsafe after N misses, and a
 * record of every decision. It never writes a command fewer than f+1 channels support.
 *
 * @example
 * const voter = new Voter(pitchVoterConfig({ channels: ['a', 'b', 'c'], frameRate: 50 }));
 * voter.offer(0, 'a', cmdA, 0.003);
 * voter.offer(0, 'b', cmdB, 0.004);               // { ready: true } once f+1 agree within the early band
 * const record = voter.decide(0, 0.004);          // write / hold / failsafe, with contributors (or declined)
 * voter.closeDue(0.016);                          // at the deadline: judge the frame (strikes)
 *
 * Input voting (input-voter.ts) uses the same round and health book per sensor field.
 */

export { HealthBook, type HealthRules, type MemberState, type Verdict } from './health.ts';
export {
  type FieldVote,
  type InputEvent,
  type InputFieldRule,
  type InputVote,
  InputVoter,
  type InputVoterConfig,
  type InputVoterState,
  type UnitFieldHealth,
  type UnitValues,
} from './input-voter.ts';
export {
  PITCH_INPUT_FIELDS,
  type PitchInputVoterOptions,
  type PitchVoterOptions,
  pitchInputVoterConfig,
  pitchVoterConfig,
} from './pitch.ts';
export { ReceiptRing } from './receipts.ts';
export {
  type Round,
  type RoundReason,
  referenceOf,
  voteRound,
  withinEarlyBand,
  withinTolerance,
} from './select.ts';
export {
  type AnalogField,
  type ChannelEvent,
  type ChannelHealth,
  type CommandShape,
  DEFAULT_RECEIPT_WINDOW,
  type Decision,
  type DecisionKind,
  type DecisionReason,
  type DecisionRecord,
  type DeclinedDecision,
  type FieldValue,
  type FrameJudgment,
  majority,
  midValue,
  type OfferResult,
  type RejectReason,
  Voter,
  type VoterConfig,
  type VoterStats,
  type VoterTiming,
} from './voter.ts';
