/**
 * The one schema of scenario files (hil/scenarios/*.yaml or .json). Times are seconds of flight, angles radians.
 * Field names are what a test engineer writes; hil/scenario/load.ts turns a validated file into the runtime
 * Scenario and reports every error with the file, the line and the field.
 *
 * @example
 * description: one channel sends random outputs; it is outvoted and latched
 * duration: 8
 * pilot: [{ step: { at: 1, to: 0.2 } }]
 * timeline:
 *   - { at: 3, fault: channel garbage, target: 1 }
 * assertions: { noFailsafe: true, maxFramesWithoutWrite: 0, latched: [{ channel: 1, within: 13 }] }
 */
import { z } from 'zod';

const seconds = z.number().min(0).max(86_400);
const angle = z.number().min(-Math.PI).max(Math.PI);

const step = z.strictObject({ step: z.strictObject({ at: seconds, to: angle }) });
const doublet = z.strictObject({
  doublet: z.strictObject({
    at: seconds,
    amplitude: angle,
    /** Whole doublet: +amplitude for width/2, then -amplitude for width/2. */
    width: z.number().positive().max(600),
  }),
});
const sweep = z.strictObject({
  sweep: z.strictObject({
    at: seconds,
    duration: z.number().positive().max(3600),
    amplitude: angle,
    /** Start and end frequency of a linear chirp, Hz. */
    from: z.number().positive().max(100),
    to: z.number().positive().max(100),
  }),
});
const csv = z.strictObject({
  csv: z.strictObject({
    /** A recorded profile: a CSV file (relative to the scenario file) with a time column and a pitch column. */
    file: z.string().min(1),
    time: z.string().min(1).default('t'),
    column: z.string().min(1).default('pitch'),
  }),
});
export const pilotSegment = z.union([step, doublet, sweep, csv]);

const sensorModel = z.strictObject({
  /** Standard deviation of white measurement noise, rad. */
  noise: z.number().min(0).max(1).default(0.0005),
  bias: angle.default(0),
});

const target = z.union([z.number().int().min(0).max(64), z.string().min(1).max(64)]);

const faultEntry = z.strictObject({
  at: seconds,
  /** When the fault ends (absent: to the end of the run). */
  until: seconds.optional(),
  /** `<component> <type>`, as PX4's `failure <component> <type>`: `channel garbage`, `replica equivocate`. */
  fault: z.string().regex(/^[a-z-]+ [a-z0-9-]+$/, 'must read "<component> <type>", e.g. "channel garbage"'),
  /** Channel or replica id, input unit or sensor index, board name, `primary`, `backup`, or a link `a-b`. */
  target: target.optional(),
  severity: z.number().optional(),
  /** For intermittent faults: the length of one on/off cycle, s. */
  period: z.number().positive().max(3600).optional(),
  /** This fault may be reported as not applied without failing the scenario. */
  allowUnapplied: z.boolean().optional(),
});
const markEntry = z.strictObject({ at: seconds, mark: z.string().min(1).max(200) });
export const timelineEntry = z.union([faultEntry, markEntry]);

const bound = z.number();
const assertions = z.strictObject({
  noFailsafe: z.boolean().optional(),
  /** The longest run of frames without a write the scenario tolerates. */
  maxFramesWithoutWrite: z.number().int().min(0).optional(),
  /** Largest deviation from the fault-free reference run (flown by the rig with the same seed). */
  deviation: z
    .array(
      z.strictObject({
        signal: z.enum(['theta', 'voted', 'elevator']),
        max: z.number().min(0),
        from: seconds.optional(),
        to: seconds.optional(),
      }),
    )
    .optional(),
  /** Channel `channel` is latched within `within` frames of `after` (default: the first fault's start). */
  latched: z
    .array(
      z.strictObject({
        channel: z.number().int().min(0),
        within: z.number().int().min(0),
        after: seconds.optional(),
      }),
    )
    .optional(),
  /** Channels that must never be latched (the correct ones: a fault never costs a correct channel its vote). */
  neverLatched: z.array(z.number().int().min(0)).optional(),
  /** Step-response criteria (src/core/control/metrics.ts) of the pitch angle after the pilot step at `at`. */
  step: z
    .array(
      z.strictObject({
        at: seconds,
        /** Seconds after the step that are measured (default: until the next pilot change or the end). */
        window: z.number().positive().optional(),
        overshootPct: bound.optional(),
        riseTime: bound.optional(),
        settlingTime: bound.optional(),
        steadyStateErrorPct: bound.optional(),
      }),
    )
    .optional(),
  /** Proactive recoveries completed (recovery is not built yet: reported as not applicable). */
  recoveries: z.strictObject({ completed: z.number().int().min(0) }).optional(),
  /** Anything in the run's summary by dotted path (`voter.failsafe`, `counters.voter.write`) and a bound. */
  summary: z
    .array(
      z.strictObject({
        path: z.string().regex(/^[A-Za-z0-9_.-]+$/),
        min: bound.optional(),
        max: bound.optional(),
        equals: z.union([z.number(), z.string(), z.boolean()]).optional(),
      }),
    )
    .optional(),
});

export const scenarioFileSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/)
    .optional(),
  /** One line: what happens. */
  description: z.string().min(1).max(300),
  /** One line: what the system promises for it (shown by `triplex hil list`). */
  promise: z.string().min(1).max(300).optional(),
  tags: z.array(z.string().regex(/^[a-z0-9-]+$/)).optional(),
  /** A topology file (relative to the scenario file; a bare name like `laptop` is config/laptop.json), or inline. */
  config: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).default('laptop'),
  seed: z.number().int().min(0).max(0xffff_ffff).default(1),
  duration: z.number().positive().max(86_400),
  /** Frame rate override, Hz. */
  rate: z.number().positive().max(1000).optional(),
  pilot: z.array(pilotSegment).default([]),
  /** Models of the three pitch sensors (noise, bias); missing ones are the defaults. */
  sensors: z.array(sensorModel).max(3).default([]),
  timeline: z.array(timelineEntry).max(1000).default([]),
  assertions: assertions.prefault({}),
  /** Faults not applied by the backend are reported without failing the scenario. */
  allowUnapplied: z.boolean().default(false),
  /** The scenario is expected to fail until the named issue is fixed (reported as a known failure). */
  knownIssue: z.string().min(1).max(300).optional(),
});

export type ScenarioFile = z.infer<typeof scenarioFileSchema>;
export type PilotSegment = z.infer<typeof pilotSegment>;
export type TimelineEntry = z.infer<typeof timelineEntry>;
export type ScenarioAssertions = z.infer<typeof assertions>;
export type SensorModel = z.infer<typeof sensorModel>;
