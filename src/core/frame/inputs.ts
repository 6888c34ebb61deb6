/**
 * From one committed batch to one control frame's law inputs: a small deterministic state machine (the last
 * executed frame and the input units' health), run by every channel on the same batches in the same order,
 * so every channel derives the same inputs and the same health (interactive consistency).
 *
 * step(requests), in order:
 * 1. Each request (at most `maxRequests`; the rest counted 'excess'): its client must be an input unit
 *    (unit = client - firstClient in [0, units), else counted 'foreign'); its op must decode as a sample
 *    (sample.ts, else 'malformed') whose unit field is that unit (else 'impostor': a unit cannot speak for
 *    another).
 * 2. The batch's frame F: window.ts `voteFrame(lastFrame, claims, { f, window })`. No frame: nothing else
 *    changes (the caller skips the batch).
 * 3. Per unit, its first sample in batch order whose frame is F is used; its other samples are counted
 *    (stale: frame <= lastFrame; ahead: past the window; off-frame: in the window but not F; duplicate: a
 *    second sample for F). A unit with no sample for F is counted missing.
 * 4. Values: stick = the sample's stick; pitch = the sample's pitch when pitchValid and isPlausiblePitch
 *    (spec.ts, on the decoded binary64), else no value (counted 'implausible' when pitchValid).
 * 5. Input voting (input-voter.ts) on fields stick, pitch. Law inputs: pitchCommand = voted stick,
 *    pitch = voted pitch, sensorMode = sensorModeOf(|pitch supporters|) ('no-sensor' when no pitch).
 * 6. skipped = F - lastFrame - 1 (0 at the first frame); lastFrame = F.
 *
 * The carried state (exportState) is what a rebuilt channel must take from its peers together with the
 * law's abstract state: the voted inputs depend on which units are latched.
 *
 * @example
 * const machine = new FrameInputsMachine(pitchFrameInputsConfig({ units: 3, firstClient: 100, frameRate: 50 }));
 * const out = machine.step(batch.requests);
 * if (out.kind === 'frame') law.step(out.inputs);
 */
import { isPlausiblePitch, type LawInputs, type PitchLawSpec, sensorModeOf } from '../control/spec.ts';
import type { ExecutedRequest } from '../pbft/types.ts';
import {
  type InputEvent,
  type InputVote,
  InputVoter,
  type InputVoterConfig,
  type InputVoterState,
  type UnitFieldHealth,
  type UnitValues,
} from '../vote/input-voter.ts';
import { PITCH_INPUT_FIELDS, pitchInputVoterConfig } from '../vote/pitch.ts';
import { decodeInputSample, type InputSample } from './sample.ts';
import { classifyClaim, validateWindowRules, voteFrame } from './window.ts';

export interface FrameInputsConfig {
  /** Principal id of input unit 0; unit u is client firstClient + u. */
  readonly firstClient: number;
  /** Frames past the last executed one a unit's frame may claim and be in the window. */
  readonly window: number;
  /** For the plausibility of a pitch reading (maxPlausiblePitch). */
  readonly spec: PitchLawSpec;
  /** Fields must be exactly PITCH_INPUT_FIELDS (stick, pitch); `units` and `f` apply to frames too. */
  readonly voter: InputVoterConfig;
  /** Requests examined per batch (default 16 per unit). */
  readonly maxRequests?: number;
}

export interface PitchFrameInputsOptions {
  readonly units: number;
  readonly firstClient: number;
  readonly spec: PitchLawSpec;
  /** Default 2 s of frames, at least 8. */
  readonly window?: number;
}

/** The configuration for the pitch law at the spec's frame rate, with the default input voter. */
export function pitchFrameInputsConfig(o: PitchFrameInputsOptions): FrameInputsConfig {
  const rate = o.spec.frameRate;
  return {
    firstClient: o.firstClient,
    window: o.window ?? Math.max(8, Math.round(2 * rate)),
    spec: o.spec,
    voter: pitchInputVoterConfig({ units: o.units, frameRate: rate }),
  };
}

export type BatchOutcome =
  | {
      readonly kind: 'frame';
      readonly frame: number;
      /** 'resync': the frame moved past the window on a quorum of units (window.ts). */
      readonly how: 'window' | 'resync';
      /** Frames between the last executed one and this one. */
      readonly skipped: number;
      readonly inputs: LawInputs;
      readonly vote: InputVote;
      /** Units whose sample was used, ascending. */
      readonly used: readonly number[];
      readonly events: readonly InputEvent[];
    }
  | {
      readonly kind: 'none';
      readonly reason: 'no-samples' | 'no-quorum';
      readonly events: readonly InputEvent[];
    };

/**
 * Per-unit counters. Every authentic sample lands in exactly one of used, stale, ahead, offFrame, duplicate;
 * missing counts executed frames with no sample of the unit; malformed and impostor count refused requests;
 * implausible counts used samples whose pitch reading was dropped.
 */
export interface UnitCounters {
  used: number;
  missing: number;
  stale: number;
  ahead: number;
  offFrame: number;
  duplicate: number;
  malformed: number;
  impostor: number;
  implausible: number;
}

export interface UnitHealth extends Readonly<UnitCounters> {
  readonly unit: number;
  /** Latched on any field. */
  readonly latched: boolean;
  readonly fields: Readonly<Record<string, UnitFieldHealth>>;
}

export interface FrameInputsStats {
  readonly frames: number;
  readonly noQuorum: number;
  readonly noSamples: number;
  readonly resyncs: number;
  readonly skippedFrames: number;
  readonly foreign: number;
  readonly excess: number;
}

/** The carried state (BASE): the last executed frame and the input voter's health. */
export interface FrameInputsState {
  readonly lastFrame: number;
  readonly voter: InputVoterState;
}

export class FrameInputsMachine {
  readonly config: FrameInputsConfig;
  private readonly voter: InputVoter;
  private readonly counters: UnitCounters[];
  private last = -1;
  private readonly stats_ = {
    frames: 0,
    noQuorum: 0,
    noSamples: 0,
    resyncs: 0,
    skippedFrames: 0,
    foreign: 0,
    excess: 0,
  };

  constructor(config: FrameInputsConfig, state?: FrameInputsState) {
    validateConfig(config);
    this.config = config;
    this.voter = new InputVoter(config.voter);
    this.counters = Array.from({ length: config.voter.units }, () => ({
      used: 0,
      missing: 0,
      stale: 0,
      ahead: 0,
      offFrame: 0,
      duplicate: 0,
      malformed: 0,
      impostor: 0,
      implausible: 0,
    }));
    if (state !== undefined) this.importState(state);
  }

  /** The last executed frame (-1 before the first). */
  get lastFrame(): number {
    return this.last;
  }

  /** One committed batch's executed requests (rules: header). */
  step(requests: readonly ExecutedRequest[]): BatchOutcome {
    const units = this.config.voter.units;
    const samples = this.authenticSamples(requests);
    if (samples.every((s) => s.length === 0)) {
      this.stats_.noSamples++;
      return { kind: 'none', reason: 'no-samples', events: [] };
    }
    const claims = samples.map((s) => s.map((x) => x.frame));
    const vote = voteFrame(this.last, claims, { f: this.config.voter.f, window: this.config.window });
    if (vote.frame === undefined) {
      for (let u = 0; u < units; u++)
        for (const s of samples[u] as InputSample[]) this.countUnused(u, s.frame, -1);
      this.stats_.noQuorum++;
      return { kind: 'none', reason: 'no-quorum', events: [] };
    }
    const frame = vote.frame;
    const values: (UnitValues | undefined)[] = [];
    const used: number[] = [];
    for (let u = 0; u < units; u++) {
      const c = this.counters[u] as UnitCounters;
      let chosen: InputSample | undefined;
      for (const s of samples[u] as InputSample[]) {
        if (s.frame === frame && chosen === undefined) chosen = s;
        else this.countUnused(u, s.frame, frame);
      }
      if (chosen === undefined) {
        c.missing++;
        values.push(undefined);
        continue;
      }
      c.used++;
      used.push(u);
      const plausible = chosen.pitchValid && isPlausiblePitch(this.config.spec, chosen.pitch);
      if (chosen.pitchValid && !plausible) c.implausible++;
      values.push({ stick: chosen.stick, pitch: plausible ? chosen.pitch : null });
    }
    const inputVote = this.voter.vote(frame, values);
    const stick = inputVote.fields.stick;
    const pitch = inputVote.fields.pitch;
    const inputs: LawInputs = {
      pitchCommand: stick?.value ?? null,
      pitch: pitch?.value ?? null,
      sensorMode:
        pitch === undefined || pitch.value === null ? 'no-sensor' : sensorModeOf(pitch.supporters.length),
    };
    const skipped = this.last < 0 ? 0 : frame - this.last - 1;
    this.last = frame;
    this.stats_.frames++;
    this.stats_.skippedFrames += skipped;
    if (vote.how === 'resync') this.stats_.resyncs++;
    return {
      kind: 'frame',
      frame,
      how: vote.how,
      skipped,
      inputs,
      vote: inputVote,
      used,
      events: inputVote.events,
    };
  }

  /** Per-unit health and counters, for the status line and the report. */
  health(): UnitHealth[] {
    return this.counters.map((c, unit) => {
      const fields = this.voter.health(unit);
      return { unit, ...c, latched: Object.values(fields).some((h) => h.latched), fields };
    });
  }

  stats(): FrameInputsStats {
    return { ...this.stats_ };
  }

  exportState(): FrameInputsState {
    return { lastFrame: this.last, voter: this.voter.exportState() };
  }

  /** Take a peer's state (a rebuilt channel); throws RangeError on a malformed one. */
  importState(state: FrameInputsState): void {
    if (!Number.isSafeInteger(state?.lastFrame) || state.lastFrame < -1)
      throw new RangeError(`FrameInputsState.lastFrame must be an integer >= -1, got ${state?.lastFrame}`);
    this.voter.importState(state.voter);
    this.last = state.lastFrame;
  }

  /** Authentic samples per unit, in batch order (step 1). */
  private authenticSamples(requests: readonly ExecutedRequest[]): InputSample[][] {
    const units = this.config.voter.units;
    const out: InputSample[][] = Array.from({ length: units }, () => []);
    const limit = this.config.maxRequests ?? 16 * units;
    for (let i = 0; i < requests.length; i++) {
      if (i >= limit) {
        this.stats_.excess += requests.length - limit;
        break;
      }
      const r = requests[i] as ExecutedRequest;
      const unit = r.client - this.config.firstClient;
      if (!Number.isSafeInteger(unit) || unit < 0 || unit >= units) {
        this.stats_.foreign++;
        continue;
      }
      const c = this.counters[unit] as UnitCounters;
      const s = decodeInputSample(r.op);
      if (s === undefined) c.malformed++;
      else if (s.unit !== unit) c.impostor++;
      else (out[unit] as InputSample[]).push(s);
    }
    return out;
  }

  /** A sample not used: stale, ahead, a duplicate of the voted frame, or off-frame (`voted` -1: no frame). */
  private countUnused(unit: number, frame: number, voted: number): void {
    const c = this.counters[unit] as UnitCounters;
    const cls = classifyClaim(this.last, frame, this.config.window);
    if (cls === 'stale') c.stale++;
    else if (cls === 'ahead' && frame !== voted) c.ahead++;
    else if (frame === voted) c.duplicate++;
    else c.offFrame++;
  }
}

function validateConfig(c: FrameInputsConfig): void {
  const names = c.voter.fields.map((x) => x.field);
  if (names.length !== PITCH_INPUT_FIELDS.length || names.some((n, i) => n !== PITCH_INPUT_FIELDS[i]))
    throw new RangeError(`FrameInputsConfig: voter fields must be ${PITCH_INPUT_FIELDS.join(', ')}`);
  if (!Number.isSafeInteger(c.firstClient) || c.firstClient < 0)
    throw new RangeError(`FrameInputsConfig: bad firstClient ${c.firstClient}`);
  if (c.maxRequests !== undefined && (!Number.isSafeInteger(c.maxRequests) || c.maxRequests < 1))
    throw new RangeError(`FrameInputsConfig: bad maxRequests ${c.maxRequests}`);
  validateWindowRules({ f: c.voter.f, window: c.window });
}
