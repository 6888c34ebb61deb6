/**
 * Input voter: per sensor field (stick command, pitch angle, ...), one value voted across the input units'
 * samples of a frame, with per-unit strikes, latching and probation: the output voter's round (select.ts)
 * and health book (health.ts), not a second copy. Pure and deterministic; every channel runs it on the
 * same committed batch (src/core/frame/inputs.ts) and so derives the same values and the same health.
 *
 * Rules, per field x (fields in configuration order, units 0..units-1 in order):
 * - a unit reports on x when its sample for the frame has a finite number for x (null: no value);
 * - L = units latched on x; quorum q = max(1, f - L + 1);
 * - the round of select.ts over the reports (agree: |a - b| <= tolerance_x): V, R, supporters;
 * - value_x = R if writable (|supporters| >= q), else null (the law then holds, spec.ts);
 * - if judgeable (|V| >= 2 * max(0, f - L) + 1), every unit that reported on x (latched or not) is judged
 *   against R by x's health book; a missing or invalid value is never a strike.
 * Why q = f - L + 1 and not f + 1 as at the actuator: no correct unit is ever latched (the argument in
 * select.ts, with units for channels), so the L latched units are faulty and at most f - L unlatched ones
 * are; f - L + 1 supporters therefore include a correct unit, and a triplex with one latched liar degrades
 * to the remaining healthy sensors instead of holding whenever one sample misses its batch.
 *
 * @example
 * const voter = new InputVoter(pitchInputVoterConfig({ units: 3, frameRate: 50 }));
 * const vote = voter.vote(7, [{ stick: 0.1, pitch: 0.02 }, { stick: 0.1, pitch: 0.021 }, { stick: 0.1, pitch: 0.9 }]);
 * vote.fields.pitch.value; // 0.021 (the median); unit 2 gets a strike on pitch
 */
import { HealthBook, type HealthRules, type MemberState, validateHealthRules } from './health.ts';
import { type FieldRules, voteRound, withinTolerance } from './select.ts';

export interface InputFieldRule {
  readonly field: string;
  /** Two units' values agree when |a - b| <= tolerance. */
  readonly tolerance: number;
}

export interface InputVoterConfig extends HealthRules {
  /** Input units, indexed 0..units-1. */
  readonly units: number;
  /** Lying units tolerated (units >= 2f + 1 for f > 0). */
  readonly f: number;
  readonly fields: readonly InputFieldRule[];
}

/** One unit's values for a frame, per field; null or absent = no value on that field. */
export type UnitValues = Readonly<Record<string, number | null | undefined>>;

export interface FieldVote {
  readonly field: string;
  /** The voted value, or null when none could be voted. */
  readonly value: number | null;
  /** Units that reported on the field, not latched (V). */
  readonly voters: readonly number[];
  /** Units of V within tolerance of the voted value. */
  readonly supporters: readonly number[];
  /** Strikes and credits were given this frame. */
  readonly judged: boolean;
  /** Units struck this frame. */
  readonly dissenters: readonly number[];
}

export type InputEvent =
  | {
      readonly kind: 'strike';
      readonly unit: number;
      readonly field: string;
      readonly frame: number;
      readonly strikes: number;
    }
  | {
      readonly kind: 'latched' | 'reintegrated';
      readonly unit: number;
      readonly field: string;
      readonly frame: number;
    };

export interface InputVote {
  readonly frame: number;
  readonly fields: Readonly<Record<string, FieldVote>>;
  readonly events: readonly InputEvent[];
}

export interface UnitFieldHealth {
  readonly latched: boolean;
  readonly strikes: number;
  readonly probation: number;
  readonly latchCount: number;
}

/** The voter's carried state: per field (configuration order), per unit. */
export interface InputVoterState {
  readonly fields: readonly (readonly MemberState[])[];
}

type Value = { readonly value: number };

export class InputVoter {
  readonly config: InputVoterConfig;
  private readonly books: HealthBook[];

  constructor(config: InputVoterConfig) {
    validateInputVoterConfig(config);
    this.config = config;
    this.books = config.fields.map(() => new HealthBook(config.units, config));
  }

  /** Vote one frame. `samples[u]` is unit u's values, or undefined when it has no usable sample. */
  vote(frame: number, samples: readonly (UnitValues | undefined)[]): InputVote {
    const fields: Record<string, FieldVote> = {};
    const events: InputEvent[] = [];
    this.config.fields.forEach((rule, k) => {
      fields[rule.field] = this.voteField(frame, rule, this.books[k] as HealthBook, samples, events);
    });
    return { frame, fields, events };
  }

  /** Health of unit u on every field. */
  health(unit: number): Readonly<Record<string, UnitFieldHealth>> {
    const out: Record<string, UnitFieldHealth> = {};
    this.config.fields.forEach((rule, k) => {
      const s = (this.books[k] as HealthBook).state(unit);
      out[rule.field] = {
        latched: s.latched,
        strikes: s.strikes,
        probation: s.probation,
        latchCount: s.latchCount,
      };
    });
    return out;
  }

  exportState(): InputVoterState {
    return { fields: this.books.map((b) => b.export()) };
  }

  /** Take a peer's state (a rebuilt channel); throws RangeError on a malformed one. */
  importState(state: InputVoterState): void {
    if (!Array.isArray(state?.fields) || state.fields.length !== this.books.length)
      throw new RangeError('InputVoter.importState: wrong number of fields');
    state.fields.forEach((members, k) => {
      (this.books[k] as HealthBook).import(members);
    });
  }

  private voteField(
    frame: number,
    rule: InputFieldRule,
    book: HealthBook,
    samples: readonly (UnitValues | undefined)[],
    events: InputEvent[],
  ): FieldVote {
    const reports: (Value | undefined)[] = [];
    for (let u = 0; u < this.config.units; u++) {
      const v = samples[u]?.[rule.field];
      reports.push(typeof v === 'number' && Number.isFinite(v) ? { value: v } : undefined);
    }
    const rules: FieldRules<Value> = {
      analog: [{ field: 'value', tolerance: rule.tolerance }],
      discrete: [],
    };
    const latched = book.latchedFlags();
    const latchedCount = book.latchedCount();
    const quorum = Math.max(1, this.config.f - latchedCount + 1);
    const round = voteRound({ reports, latched, f: this.config.f, quorum }, rules, (a, b) =>
      withinTolerance(a, b, rules),
    );
    const dissenters: number[] = [];
    if (round.judgeable && round.reference !== null) {
      for (let u = 0; u < reports.length; u++) {
        const report = reports[u];
        if (report === undefined) continue;
        const verdict = book.judge(u, withinTolerance(report, round.reference, rules));
        if (verdict.kind === 'agree') {
          if (verdict.reintegrated) events.push({ kind: 'reintegrated', unit: u, field: rule.field, frame });
          continue;
        }
        dissenters.push(u);
        events.push({ kind: 'strike', unit: u, field: rule.field, frame, strikes: verdict.strikes });
        if (verdict.latched) events.push({ kind: 'latched', unit: u, field: rule.field, frame });
      }
    }
    return {
      field: rule.field,
      value: round.writable && round.reference !== null ? round.reference.value : null,
      voters: round.voters,
      supporters: round.writable ? round.supporters : [],
      judged: round.judgeable,
      dissenters,
    };
  }
}

export function validateInputVoterConfig(c: InputVoterConfig): void {
  const fail = (msg: string): never => {
    throw new RangeError(`InputVoterConfig: ${msg}`);
  };
  if (!Number.isSafeInteger(c.units) || c.units < 1 || c.units > 64)
    fail(`units must be in [1, 64], got ${c.units}`);
  if (!Number.isSafeInteger(c.f) || c.f < 0) fail(`f must be a non-negative integer, got ${c.f}`);
  if (c.f > 0 && c.units < 2 * c.f + 1) fail(`units = ${c.units} < 2f+1 = ${2 * c.f + 1}`);
  if (c.fields.length === 0) fail('no fields to vote');
  if (new Set(c.fields.map((x) => x.field)).size !== c.fields.length) fail('field names must be unique');
  for (const x of c.fields)
    if (!(x.tolerance >= 0) || !Number.isFinite(x.tolerance)) fail(`bad tolerance for ${x.field}`);
  validateHealthRules(c, 'InputVoterConfig');
}
