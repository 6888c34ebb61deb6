/**
 * The link between the rig and the firmware actuator interface unit (firmware-bridge/src/link.h): one serial
 * frame (COBS + CRC-32C, src/core/codec/framing/serial-frame.ts) per payload; the first byte says what it is.
 * Every request carries a sequence number and, except HANG, gets exactly one response with it, so the unit
 * can run in lockstep. Time travels in the requests (virtual, frame-stepped): the unit has no clock of its own
 * in the vote, which is what makes it decide exactly as the TypeScript voter.
 *
 * @example
 * const bytes = encodeSerialFrame(encodeRequest({ type: 'tick', seq: 7, time: 16, frame: 0 }));
 * const r = decodeResponse(payload, shape); // { type: 'tick', seq: 7, decision: {...} }
 */
import { DecodeFailure, Reader, type RejectionReason, Writer } from '../../core/codec/wire.ts';

export const REQUEST = {
  deliver: 0x01,
  tick: 0x02,
  status: 0x03,
  ping: 0x04,
  rekey: 0x05,
  hang: 0x7e,
} as const;
export const RESPONSE = {
  boot: 0x80,
  offer: 0x81,
  tick: 0x82,
  status: 0x83,
  pong: 0x84,
  judgment: 0x85,
  rekeyed: 0x86,
  error: 0x8f,
} as const;

export type FirmwareRequest =
  /** A network message (the bytes a channel sent) arrived at `time`. */
  | { readonly type: 'deliver'; readonly seq: number; readonly time: number; readonly message: Uint8Array }
  /** Frame `frame`'s deadline timer fired at `time` (VoterHost.armFrame). */
  | { readonly type: 'tick'; readonly seq: number; readonly time: number; readonly frame: number }
  | { readonly type: 'status'; readonly seq: number }
  | { readonly type: 'ping'; readonly seq: number }
  /**
   * Channel `channel` (index) has a new pairwise key, sealed for the unit's current boot (rekey.ts sealRekey);
   * `generation` above the channel's current one. `handover`: the voter's own restart, made before break (the
   * previous key still verifies the frames up to the one open now; firmware-bridge/src/rekey.h).
   */
  | {
      readonly type: 'rekey';
      readonly seq: number;
      readonly channel: number;
      readonly generation: number;
      readonly handover?: boolean;
      readonly sealed: Uint8Array;
      readonly tag: Uint8Array;
    }
  /** Test builds only: the unit hangs inside its frame loop. Never answered. */
  | { readonly type: 'hang'; readonly seq: number };

export function encodeRequest(r: FirmwareRequest): Uint8Array {
  const w = new Writer(64 + (r.type === 'deliver' ? r.message.length : 0));
  w.u8(REQUEST[r.type]);
  w.uvar(r.seq);
  if (r.type === 'deliver') {
    w.f64(r.time);
    w.raw(r.message);
  } else if (r.type === 'tick') {
    w.f64(r.time);
    w.uvar(r.frame);
  } else if (r.type === 'rekey') {
    w.u8(r.channel);
    w.uvar(r.generation);
    w.u8(r.handover === true ? 1 : 0);
    w.raw(r.sealed);
    w.raw(r.tag);
  }
  return w.finish();
}

/** What the unit did with one delivered message (firmware-bridge/src/link.h offer codes). */
export type OfferCode =
  | { readonly kind: 'buffered' }
  | { readonly kind: 'monitored' }
  /** voter.ts RejectReason, or a VoterHost check (unknown-channel, bad-mac, malformed). */
  | { readonly kind: 'voter-rejected'; readonly reason: string }
  /** The codec's RejectionReason, or 'unhandled-kind' for a kind the unit does not consume. */
  | { readonly kind: 'decode-rejected'; readonly reason: RejectionReason | 'unhandled-kind' };

const VOTER_CODES: Record<number, string> = {
  2: 'duplicate',
  3: 'late',
  4: 'stale',
  5: 'too-far-ahead',
  16: 'unknown-channel',
  17: 'bad-mac',
  18: 'malformed',
  // The rejoin floor (rejoin-floor.ts): a frame from before the unit restarted.
  19: 'before-reset',
};

/** fw_decode_status order (firmware-bridge/src/wire.h); index 0 is OK. */
export const DECODE_REASONS: readonly (RejectionReason | 'unhandled-kind')[] = [
  'empty',
  'too-long',
  'bad-version',
  'unknown-kind',
  'truncated',
  'trailing-bytes',
  'non-minimal-varint',
  'integer-out-of-range',
  'non-finite-float',
  'length-over-limit',
  'count-over-limit',
  'bad-fixed-length',
  'unknown-variant',
  'bad-bool',
  'unhandled-kind',
];
export const DECODE_CODE_BASE = 32;
export const OFFER_CODE_COUNT = 48;

export function offerCode(code: number): OfferCode {
  if (code === 0) return { kind: 'buffered' };
  if (code === 1) return { kind: 'monitored' };
  const voter = VOTER_CODES[code];
  if (voter !== undefined) return { kind: 'voter-rejected', reason: voter };
  const reason = DECODE_REASONS[code - DECODE_CODE_BASE - 1];
  if (code > DECODE_CODE_BASE && reason !== undefined) return { kind: 'decode-rejected', reason };
  throw new DecodeFailure('unknown-variant', `offer code ${code}`);
}

/** Field counts the decision records carry (the provisioned config). */
export interface DecisionShape {
  readonly channels: number;
  readonly discrete: number;
  readonly analog: number;
}

export type FirmwareEventKind = 'strike' | 'latched' | 'reintegrated';
const EVENT_KINDS: readonly FirmwareEventKind[] = ['strike', 'latched', 'reintegrated'];
const DECISION_KINDS = ['write', 'hold', 'failsafe'] as const;
const DECISION_REASONS = ['majority', 'no-majority', 'too-few-outputs'] as const;

export interface FirmwareEvent {
  readonly kind: FirmwareEventKind;
  /** Channel index in the provisioned order. */
  readonly channel: number;
  readonly frame: number;
  /** After a strike (0 for the other kinds). */
  readonly strikes: number;
}

/** Fields of a command as an OUTPUT carries them. */
export interface FirmwareFields {
  readonly discrete: readonly number[];
  readonly analog: readonly number[];
}

/** A FrameJudgment with channels as indices and the reference as OUTPUT fields (null: none). */
export interface FirmwareJudgment {
  readonly frame: number;
  readonly time: number;
  readonly reference: FirmwareFields | null;
  readonly judged: boolean;
  readonly agreed: readonly number[];
  readonly dissenters: readonly number[];
  readonly events: readonly FirmwareEvent[];
}

/** A DecisionRecord with channels as indices and the value as OUTPUT fields; its judgments came before it. */
export interface FirmwareDecision extends FirmwareFields {
  readonly frame: number;
  readonly time: number;
  readonly kind: (typeof DECISION_KINDS)[number];
  readonly reason: (typeof DECISION_REASONS)[number];
  readonly early: boolean;
  readonly earlyRound: boolean;
  readonly reported: readonly number[];
  readonly contributors: readonly number[];
  readonly dissenters: readonly number[];
  readonly missing: readonly number[];
  readonly latched: readonly number[];
  readonly strikes: readonly number[];
  /** How many JUDGMENT frames preceded the response (the record's judgments). */
  readonly judgments: number;
  readonly consecutiveMisses: number;
}

export interface FirmwareChannelHealth {
  readonly latched: boolean;
  readonly strikes: number;
  readonly latchCount: number;
  readonly probation: number;
  readonly inTime: number;
  readonly late: number;
  readonly silentFrames: number;
  readonly consecutiveSilent: number;
}

export interface FirmwareStatus {
  readonly nextFrame: number;
  readonly bootCount: number;
  readonly resetCause: number;
  readonly decisions: { readonly write: number; readonly hold: number; readonly failsafe: number };
  /** Count per offer code (index = code). */
  readonly offerCodes: readonly number[];
  readonly deframer: {
    readonly accepted: number;
    readonly cobs: number;
    readonly crc: number;
    readonly 'too-long': number;
    readonly empty: number;
  };
  readonly linkErrors: number;
  /** DELIVER and TICK requests handled, and their cost in platform ticks (25 MHz SysTick on the Cortex-M3). */
  readonly work: { readonly requests: number; readonly ticks: number; readonly maxTicks: number };
  /** Stack high-water mark, bytes (0 on the host build). */
  readonly stackUsed: number;
  /** Early decisions declined because closeDue made the frame not ready (voter.ts would throw there). */
  readonly declined: number;
  /** The watchdog timeout the unit programmed, ms from the last stroke to the reset (fw_board_watchdog_ms). */
  readonly watchdogMs: number;
  /** This boot's epoch from NVM (firmware-bridge/src/nvm.h; 0: none, every REKEY refused). */
  readonly epoch: number;
  /** REKEY requests by outcome this boot. */
  readonly rekeys: {
    readonly ok: number;
    readonly malformed: number;
    readonly 'bad-tag': number;
    readonly stale: number;
    readonly 'no-epoch': number;
  };
  readonly channels: readonly FirmwareChannelHealth[];
}

export type ProvisionStatus =
  | 'ok'
  | 'too-short'
  | 'bad-magic'
  | 'bad-crc'
  | 'bad-version'
  | 'malformed'
  | 'out-of-bounds'
  | 'bad-config'
  | 'duplicate-channel'
  | 'missing';
const PROVISION_STATUS: readonly ProvisionStatus[] = [
  'ok',
  'too-short',
  'bad-magic',
  'bad-crc',
  'bad-version',
  'malformed',
  'out-of-bounds',
  'bad-config',
  'duplicate-channel',
  'missing',
];

export type FirmwareError =
  | 'unknown-request'
  | 'malformed-request'
  | 'not-provisioned'
  /** A REKEY whose tag did not verify (forged, corrupted, or sealed for another boot). */
  | 'rekey-bad-tag'
  /** A REKEY whose generation is not above the channel's current one (a replay). */
  | 'rekey-stale'
  /** A REKEY to a unit without a boot epoch (no NVM): a replay could not be told from a fresh one. */
  | 'rekey-no-epoch';
const ERRORS: readonly FirmwareError[] = [
  'unknown-request',
  'malformed-request',
  'not-provisioned',
  'rekey-bad-tag',
  'rekey-stale',
  'rekey-no-epoch',
];

export type FirmwareResponse =
  | {
      readonly type: 'boot';
      readonly provision: ProvisionStatus;
      /** 0 power-on, 1 watchdog. */
      readonly resetCause: number;
      readonly bootCount: number;
      /** The boot epoch from NVM (0: none). */
      readonly epoch: number;
      /** A canonical heartbeat message (empty when unprovisioned). */
      readonly heartbeat: Uint8Array;
    }
  | {
      readonly type: 'offer';
      readonly seq: number;
      readonly code: number;
      /** Buffered and the next frame may be decided now (OfferResult.ready). */
      readonly ready: boolean;
      /** Monitored: the events of the judgment it completed, or of its own comparison. */
      readonly events: readonly FirmwareEvent[];
      /** JUDGMENT frames that preceded this response for the offer itself (monitored). */
      readonly judgments: number;
      readonly decision: FirmwareDecision | null;
    }
  | { readonly type: 'judgment'; readonly seq: number; readonly judgment: FirmwareJudgment }
  | { readonly type: 'tick'; readonly seq: number; readonly decision: FirmwareDecision | null }
  | { readonly type: 'status'; readonly seq: number; readonly status: FirmwareStatus }
  | { readonly type: 'pong'; readonly seq: number; readonly heartbeat: Uint8Array }
  | {
      readonly type: 'rekeyed';
      readonly seq: number;
      readonly channel: number;
      readonly generation: number;
      /** A handover's end: the previous key verifies frames below it until frame until - 1 is decided (0: none). */
      readonly until: number;
    }
  | { readonly type: 'error'; readonly seq: number; readonly error: FirmwareError };

export type DecodeResponseResult =
  | { readonly ok: true; readonly response: FirmwareResponse }
  | { readonly ok: false; readonly detail: string };

function list(r: Reader, what: string): number[] {
  const n = r.u8(what);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u8(what));
  return out;
}

function events(r: Reader): FirmwareEvent[] {
  const n = r.u8('events');
  const out: FirmwareEvent[] = [];
  for (let i = 0; i < n; i++) {
    const kind = EVENT_KINDS[r.u8('event.kind')];
    if (kind === undefined) throw new DecodeFailure('unknown-variant', 'event kind');
    const channel = r.u8('event.channel');
    const frame = r.uvar('event.frame');
    out.push({ kind, channel, frame, strikes: r.u8('event.strikes') });
  }
  return out;
}

/** Any binary64, infinities included: a reference R may overflow to +Infinity (mid-value of -MAX and MAX). */
function anyF64(r: Reader, what: string): number {
  const b = r.raw(8, what);
  return new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false);
}

function fields(r: Reader, shape: DecisionShape, what: string): FirmwareFields {
  const discrete = Array.from({ length: shape.discrete }, () => r.uvar(`${what}.discrete`));
  const analog = Array.from({ length: shape.analog }, () => anyF64(r, `${what}.analog`));
  return { discrete, analog };
}

function judgment(r: Reader, shape: DecisionShape): FirmwareJudgment {
  const frame = r.uvar('frame');
  const time = r.f64('time');
  const reference = r.u8('reference?') === 1 ? fields(r, shape, 'reference') : null;
  const judged = r.u8('judged') === 1;
  const agreed = list(r, 'agreed');
  const dissenters = list(r, 'dissenters');
  return { frame, time, reference, judged, agreed, dissenters, events: events(r) };
}

function decision(r: Reader, shape: DecisionShape): FirmwareDecision | null {
  if (r.u8('decision?') === 0) return null;
  const frame = r.uvar('frame');
  const time = r.f64('time');
  const kind = DECISION_KINDS[r.u8('kind')];
  const reason = DECISION_REASONS[r.u8('reason')];
  if (kind === undefined || reason === undefined) throw new DecodeFailure('unknown-variant', 'decision kind');
  const early = r.u8('early') === 1;
  const earlyRound = r.u8('earlyRound') === 1;
  const value = fields(r, shape, 'value');
  const reported = list(r, 'reported');
  const contributors = list(r, 'contributors');
  const dissenters = list(r, 'dissenters');
  const missing = list(r, 'missing');
  const latched = list(r, 'latched');
  const strikes = Array.from({ length: shape.channels }, () => r.u8('strikes'));
  const judgments = r.u8('judgments');
  const consecutiveMisses = r.uvar('consecutiveMisses');
  return {
    frame,
    time,
    kind,
    reason,
    early,
    earlyRound,
    ...value,
    reported,
    contributors,
    dissenters,
    missing,
    latched,
    strikes,
    judgments,
    consecutiveMisses,
  };
}

function status(r: Reader, shape: DecisionShape): FirmwareStatus {
  const nextFrame = r.uvar('nextFrame');
  const bootCount = r.uvar('bootCount');
  const resetCause = r.u8('resetCause');
  const decisions = { write: r.uvar('write'), hold: r.uvar('hold'), failsafe: r.uvar('failsafe') };
  const offerCodes = Array.from({ length: OFFER_CODE_COUNT }, () => r.uvar('offerCodes'));
  const deframer = {
    accepted: r.uvar('accepted'),
    cobs: r.uvar('cobs'),
    crc: r.uvar('crc'),
    'too-long': r.uvar('too-long'),
    empty: r.uvar('empty'),
  };
  const linkErrors = r.uvar('linkErrors');
  const work = { requests: r.uvar('requests'), ticks: r.uvar('ticks'), maxTicks: r.uvar('maxTicks') };
  const stackUsed = r.uvar('stackUsed');
  const declined = r.uvar('declined');
  const watchdogMs = r.uvar('watchdogMs');
  const epoch = r.uvar('epoch');
  const rekeys = {
    ok: r.uvar('rekeys'),
    malformed: r.uvar('rekeys'),
    'bad-tag': r.uvar('rekeys'),
    stale: r.uvar('rekeys'),
    'no-epoch': r.uvar('rekeys'),
  };
  const channels = Array.from({ length: shape.channels }, () => ({
    latched: r.u8('latched') === 1,
    strikes: r.u8('strikes'),
    latchCount: r.uvar('latchCount'),
    probation: r.uvar('probation'),
    inTime: r.uvar('inTime'),
    late: r.uvar('late'),
    silentFrames: r.uvar('silentFrames'),
    consecutiveSilent: r.uvar('consecutiveSilent'),
  }));
  return {
    nextFrame,
    bootCount,
    resetCause,
    decisions,
    offerCodes,
    deframer,
    linkErrors,
    work,
    stackUsed,
    declined,
    watchdogMs,
    epoch,
    rekeys,
    channels,
  };
}

function rest(r: Reader): Uint8Array {
  return r.raw(r.remaining, 'rest');
}

function decodeBody(r: Reader, type: number, shape: DecisionShape): FirmwareResponse {
  if (type === RESPONSE.boot) {
    const provision = PROVISION_STATUS[r.u8('provision')];
    if (provision === undefined) throw new DecodeFailure('unknown-variant', 'provision status');
    const resetCause = r.u8('resetCause');
    const bootCount = r.uvar('bootCount');
    const epoch = r.uvar('epoch');
    return { type: 'boot', provision, resetCause, bootCount, epoch, heartbeat: rest(r) };
  }
  const seq = r.uvar('seq');
  switch (type) {
    case RESPONSE.offer: {
      const code = r.u8('code');
      offerCode(code);
      const ready = r.u8('ready') === 1;
      const evs = events(r);
      const judgments = r.u8('judgments');
      return { type: 'offer', seq, code, ready, events: evs, judgments, decision: decision(r, shape) };
    }
    case RESPONSE.judgment:
      return { type: 'judgment', seq, judgment: judgment(r, shape) };
    case RESPONSE.tick:
      return { type: 'tick', seq, decision: decision(r, shape) };
    case RESPONSE.status:
      return { type: 'status', seq, status: status(r, shape) };
    case RESPONSE.pong:
      return { type: 'pong', seq, heartbeat: rest(r) };
    case RESPONSE.rekeyed:
      return {
        type: 'rekeyed',
        seq,
        channel: r.u8('channel'),
        generation: r.uvar('generation'),
        until: r.uvar('until'),
      };
    case RESPONSE.error: {
      const error = ERRORS[r.u8('error') - 1];
      if (error === undefined) throw new DecodeFailure('unknown-variant', 'error code');
      return { type: 'error', seq, error };
    }
    default:
      throw new DecodeFailure('unknown-variant', `response type ${type}`);
  }
}

/** Total: any payload gives a response or a reason (a unit that sends garbage is a faulty unit, not a crash). */
export function decodeResponse(payload: Uint8Array, shape: DecisionShape): DecodeResponseResult {
  const r = new Reader(payload);
  try {
    const response = decodeBody(r, r.u8('type'), shape);
    if (r.remaining !== 0) return { ok: false, detail: `${r.remaining} trailing bytes` };
    return { ok: true, response };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, detail: `${e.reason}: ${e.detail}` };
    throw e;
  }
}
