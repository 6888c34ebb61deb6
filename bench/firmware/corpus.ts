/**
 * A seeded corpus of channel OUTPUT traffic for the differential test: every message is encoded and MAC'd by
 * the TypeScript codec at generation time, so the C firmware and the TypeScript voter can never drift apart
 * silently. Channels agree, disagree, turn Byzantine for episodes (stuck, random, drift, oscillating, silent,
 * late, wrong mode, forged MAC, replays, duplicates, corrupt bytes, malformed fields, unknown ids, far-ahead
 * frames, link corruption, boundary values), then recover, so strikes, latches, probation and reintegration
 * all happen, and holds and failsafes too.
 *
 * Time is virtual (ms on the scheduler), frame-stepped: nothing depends on a wall clock.
 */
import { authPayload, encodeMessage } from '../../src/core/codec/encode.ts';
import { encodeSerialFrame } from '../../src/core/codec/framing/serial-frame.ts';
import type { Output } from '../../src/core/codec/messages.ts';
import { mutateBytes } from '../../src/core/codec/mutate.ts';
import type { Command } from '../../src/core/control/spec.ts';
import { sha256 } from '../../src/core/crypto/digest.ts';
import { keyedMac } from '../../src/core/crypto/mac.ts';
import { Prng } from '../../src/core/prng.ts';
import type { VoterConfig } from '../../src/core/vote/voter.ts';

export interface CorpusSetup {
  readonly name: string;
  readonly channelIds: readonly number[];
  readonly f: number;
  readonly tolerance: number;
  readonly strikeThreshold: number;
  readonly strikeDecayFrames: number;
  readonly probationFrames: number;
  readonly failsafeAfterMisses: number;
  readonly periodMs: number;
  readonly deadlineFraction: number;
  readonly originMs: number;
  readonly firstFrame: number;
  readonly maxFramesAhead: number;
  readonly tagLength: number;
  /** Early-write band as a fraction of the tolerance; null: no early write. */
  readonly earlyBandFraction: number | null;
  readonly receiptWindow: number;
}

/** Three shapes of voter: the laptop's m = 3, a wide m = 5 with f = 2, and an exact-tolerance m = 4. */
export const SETUPS: readonly CorpusSetup[] = [
  {
    name: 'm3-f1',
    channelIds: [0, 1, 2],
    f: 1,
    tolerance: 0.01,
    strikeThreshold: 4,
    strikeDecayFrames: 5,
    probationFrames: 10,
    failsafeAfterMisses: 5,
    periodMs: 20,
    deadlineFraction: 0.8,
    originMs: 0,
    firstFrame: 0,
    maxFramesAhead: 8,
    tagLength: 8,
    earlyBandFraction: 0.5,
    receiptWindow: 64,
  },
  {
    name: 'm5-f2',
    channelIds: [0, 1, 2, 3, 4],
    f: 2,
    tolerance: 0.005,
    strikeThreshold: 3,
    strikeDecayFrames: 3,
    probationFrames: 6,
    failsafeAfterMisses: 3,
    periodMs: 1000 / 30,
    // Past the next frame's start: outputs of two frames in flight at once, early decisions, stale replays.
    deadlineFraction: 1.6,
    originMs: 0,
    firstFrame: 0,
    maxFramesAhead: 4,
    tagLength: 16,
    earlyBandFraction: 1,
    receiptWindow: 16,
  },
  {
    name: 'm4-exact',
    channelIds: [3, 5, 7, 9],
    f: 1,
    tolerance: 0,
    strikeThreshold: 2,
    strikeDecayFrames: 1,
    probationFrames: 3,
    failsafeAfterMisses: 2,
    periodMs: 10,
    deadlineFraction: 1,
    originMs: 3.5,
    firstFrame: 5,
    maxFramesAhead: 0,
    tagLength: 32,
    earlyBandFraction: null,
    receiptWindow: 5,
  },
];

export type CorpusEvent =
  /** frame k starts: the rig calls armFrame(k). */
  | { readonly kind: 'arm'; readonly time: number; readonly frame: number }
  /** a network message reaches the voter board. */
  | { readonly kind: 'deliver'; readonly time: number; readonly bytes: Uint8Array }
  /** raw link bytes that must never reach the voter: a corrupted serial frame, or line noise. */
  | { readonly kind: 'link-garbage'; readonly time: number; readonly bytes: Uint8Array };

export interface Corpus {
  readonly setup: CorpusSetup;
  readonly config: VoterConfig<Command>;
  readonly keys: readonly Uint8Array[];
  readonly heartbeatKey: Uint8Array;
  readonly frames: number;
  readonly events: readonly CorpusEvent[];
  /** OUTPUT messages generated (delivered or corrupted in transit). */
  readonly outputs: number;
  /** By behaviour, for the report. */
  readonly kinds: Readonly<Record<string, number>>;
}

const BEHAVIOURS = [
  'stuck',
  'random',
  'drift',
  'oscillating',
  'silent',
  'late',
  'wrong-mode',
  'forged',
  'replay',
  'duplicate',
  'corrupt',
  'malformed',
  'unknown-id',
  'far-ahead',
  'link-corrupt',
  'early-next',
  'boundary',
  'extreme',
  'other-kind',
] as const;
type Behaviour = (typeof BEHAVIOURS)[number] | 'correct';

export function voterConfigOf(s: CorpusSetup): VoterConfig<Command> {
  return {
    channels: s.channelIds.map((id) => `c${id}`),
    f: s.f,
    analog: [
      {
        field: 'elevator',
        tolerance: s.tolerance,
        ...(s.earlyBandFraction === null ? {} : { earlyBand: s.tolerance * s.earlyBandFraction }),
      },
    ],
    discrete: ['mode', 'commandLimited'],
    strikeThreshold: s.strikeThreshold,
    strikeDecayFrames: s.strikeDecayFrames,
    probationFrames: s.probationFrames,
    failsafeAfterMisses: s.failsafeAfterMisses,
    failsafe: { elevator: 0, mode: 'no-sensor', commandLimited: true },
    initial: { elevator: 0, mode: 'triplex', commandLimited: false },
    timing: { origin: s.originMs, period: s.periodMs, deadline: s.periodMs * s.deadlineFraction },
    firstFrame: s.firstFrame,
    maxFramesAhead: s.maxFramesAhead,
    receiptWindow: s.receiptWindow,
  };
}

interface ChannelPlan {
  behaviour: Behaviour;
  from: number;
  until: number;
  stuck: number;
}

/**
 * Generate `frames` frames of traffic for `setup`, deterministically from `seed`. `faults: false` gives the
 * typical frame: every channel correct and in time, no garbage (what fw:size measures cycles on).
 */
export function generateCorpus(setup: CorpusSetup, frames: number, seed: number, faults = true): Corpus {
  const rng = new Prng(seed);
  const text = new TextEncoder();
  const keys = setup.channelIds.map((id) => sha256(text.encode(`triplex/fw-corpus/${seed}/${id}`)));
  const heartbeatKey = sha256(text.encode(`triplex/fw-corpus/${seed}/heartbeat`));
  const macs = keys.map((k) => keyedMac(k));
  const config = voterConfigOf(setup);
  const m = setup.channelIds.length;
  const events: CorpusEvent[] = [];
  const kinds: Record<string, number> = {};
  const sent: Uint8Array[] = [];
  const plans: ChannelPlan[] = setup.channelIds.map(() => ({
    behaviour: 'correct',
    from: 0,
    until: 0,
    stuck: 0,
  }));
  let outputs = 0;
  let elevator = 0;
  let mode = 0;
  let limited = 0;
  let outage = -1; // a stretch where most channels are silent (misses, then failsafe)

  const sign = (o: Omit<Output, 'kind' | 'tag'>, key: number): Uint8Array => {
    const unsigned: Output = { kind: 'output', ...o, tag: new Uint8Array(0) };
    const tag = macs[key]!.mac(authPayload(unsigned), setup.tagLength);
    return encodeMessage({ ...unsigned, tag });
  };
  const deliver = (time: number, bytes: Uint8Array, kind: string): void => {
    events.push({ kind: 'deliver', time, bytes });
    sent.push(bytes);
    if (sent.length > 64) sent.shift();
    outputs++;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  };

  for (let k = setup.firstFrame; k < setup.firstFrame + frames; k++) {
    const start = setup.originMs + k * setup.periodMs;
    const deadline = start + setup.periodMs * setup.deadlineFraction;
    events.push({ kind: 'arm', time: start, frame: k });
    elevator = Math.max(-0.4, Math.min(0.4, elevator + (rng.float() - 0.5) * 0.02));
    if (rng.chance(0.02)) mode = rng.int(4);
    if (rng.chance(0.02)) limited = 1 - limited;
    if (faults && outage < k && rng.chance(0.004)) outage = k + 2 + rng.int(3 * setup.failsafeAfterMisses);
    // Edge frames: correct channels send one exact value, and one channel the farthest value still within
    // tolerance of it (or the nearest one beyond): the `<=` on the tolerance must agree to the last bit.
    const edge = rng.chance(0.08)
      ? { channel: rng.int(m), up: rng.chance(0.5), beyond: rng.chance(0.3) }
      : null;
    const exact = Math.round(elevator * 1024) / 1024;
    for (let c = 0; c < m; c++) {
      const plan = plans[c]!;
      if (k >= plan.until) {
        // Mostly one faulty channel at a time (within f), sometimes more (no majority).
        const faulty = plans.filter((p, i) => i !== c && p.behaviour !== 'correct').length;
        const startFault = faults && rng.chance(faulty < setup.f ? 0.3 : 0.03);
        plan.behaviour = startFault ? BEHAVIOURS[rng.int(BEHAVIOURS.length)]! : 'correct';
        plan.from = k;
        plan.until = k + (startFault ? 3 + rng.int(40) : 1 + rng.int(30));
        plan.stuck = elevator;
      }
      const id = setup.channelIds[c]!;
      const silentNow = k <= outage && c > 0;
      if (silentNow) continue;
      const noise = (rng.float() - 0.5) * setup.tolerance * 0.8;
      let value = elevator + noise;
      if (edge !== null) {
        value =
          edge.channel === c
            ? edgeValue(exact, setup.tolerance, edge.up, edge.beyond)
            : rng.chance(0.1)
              ? -0
              : exact;
        if (exact !== 0 && Object.is(value, -0)) value = exact;
      }
      let discrete = [mode, limited];
      let time = start + rng.float() * (deadline - start);
      if (faults && rng.chance(0.05)) time = start; // ties with the arm and with each other
      if (faults && rng.chance(0.03)) time = deadline; // exactly at the deadline: still in time
      const b = plan.behaviour;
      const since = k - plan.from;
      switch (b) {
        case 'stuck':
          value = plan.stuck;
          break;
        case 'random':
          value = (rng.float() * 2 - 1) * 0.436;
          break;
        case 'drift':
          value = elevator + 0.002 * since;
          break;
        case 'oscillating':
          value = elevator + 0.1 * Math.sin(since * 0.7);
          break;
        case 'silent':
          continue;
        case 'late':
          time = deadline + 0.001 + rng.float() * setup.periodMs;
          break;
        case 'wrong-mode':
          discrete = [(mode + 1 + rng.int(3)) % 4, limited];
          break;
        case 'boundary': {
          // Exactly at the tolerance from the true value, or signed zeros: the `<=` and the sort must agree.
          const pick = rng.int(3);
          value = pick === 0 ? elevator + setup.tolerance : pick === 1 ? elevator - setup.tolerance : -0;
          break;
        }
        case 'extreme':
          value = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e300, -5e-324][rng.int(5)]!;
          break;
        default:
          break;
      }
      const frame =
        b === 'far-ahead' ? k + setup.maxFramesAhead + 1 + rng.int(4) : b === 'early-next' ? k + 1 : k;
      const bytes =
        b === 'malformed'
          ? sign({ frame, channel: id, discrete: rng.chance(0.5) ? [7, 0] : [mode], analog: [value] }, c)
          : b === 'unknown-id'
            ? sign({ frame, channel: 1000 + rng.int(5), discrete, analog: [value] }, c)
            : sign({ frame, channel: id, discrete, analog: [value] }, c);
      if (b === 'other-kind') {
        // A heartbeat, or a PBFT message on the wrong board: decoded, and not the voter's business.
        const other = rng.chance(0.5)
          ? encodeMessage({ kind: 'heartbeat', node: id, role: 1, counter: k, status: 0, tag: rng.bytes(8) })
          : encodeMessage({
              kind: 'prepare',
              view: 0,
              seq: k,
              batchDigest: rng.bytes(32),
              replica: 1,
              auth: [],
            });
        deliver(time, other, b);
        continue;
      }
      if (b === 'forged') {
        const forged = bytes.slice();
        forged[forged.length - 1 - rng.int(setup.tagLength)]! ^= 1 << rng.int(8);
        deliver(time, forged, b);
        continue;
      }
      if (b === 'corrupt') {
        deliver(time, mutateBytes(bytes, rng), b);
        continue;
      }
      if (b === 'link-corrupt') {
        events.push({ kind: 'link-garbage', time, bytes: corruptFrame(encodeSerialFrame(bytes), rng) });
        outputs++;
        kinds[b] = (kinds[b] ?? 0) + 1;
        continue;
      }
      deliver(time, bytes, b);
      if (b === 'duplicate') deliver(time + rng.float(), bytes, b);
      if (b === 'replay' && sent.length > 1) deliver(time, sent[rng.int(sent.length - 1)]!, b);
    }
    if (faults && rng.chance(0.02)) {
      const noise = rng.bytes(1 + rng.int(40));
      events.push({ kind: 'link-garbage', time: start + rng.float() * setup.periodMs, bytes: noise });
    }
  }
  // Scheduler order: by time, ties in generation order (a stable sort, as the VirtualScheduler).
  const ordered = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.time - b.e.time || a.i - b.i);
  return {
    setup,
    config,
    keys,
    heartbeatKey,
    frames,
    events: ordered.map((x) => x.e),
    outputs,
    kinds,
  };
}

function nextAfter(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 === up ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/** The farthest double from v (above or below) still within tol of it, or the nearest one beyond. */
export function edgeValue(v: number, tol: number, up: boolean, beyond: boolean): number {
  let w = up ? v + tol : v - tol;
  for (let i = 0; i < 64 && !(Math.abs(w - v) <= tol); i++) w = nextAfter(w, !up);
  for (let i = 0; i < 64 && Math.abs(nextAfter(w, up) - v) <= tol; i++) w = nextAfter(w, up);
  return beyond ? nextAfter(w, up) : w;
}

/** One bit flipped inside a serial frame, never creating or removing a delimiter: the CRC must catch it. */
function corruptFrame(frame: Uint8Array, rng: Prng): Uint8Array {
  const out = frame.slice();
  for (let tries = 0; tries < 64; tries++) {
    const at = 1 + rng.int(out.length - 2);
    const flipped = out[at]! ^ (1 << rng.int(8));
    if (out[at] !== 0 && flipped !== 0) {
      out[at] = flipped;
      return out;
    }
  }
  return out;
}
