/**
 * The fault grid: every fault a scenario can name is one cell, component x type, as PX4's
 * `failure <component> <type>` names them. The generic types (off, stuck, garbage, ...) exist for every
 * component where they mean something; the catalog types are the Byzantine behaviours by their registered names
 * (replica behaviours from src/sim/byzantine.ts, channel behaviours from src/runtime/loop/channel-fault.ts).
 *
 * For each cell the grid says what it does, what `severity` means there, and, per backend (where the target
 * runs: in this process, an emulated board process, real hardware), whether the rig can apply it and if not why.
 * The benches consult this table before applying anything, so the table and `triplex hil list --grid` cannot
 * disagree with what a run does.
 *
 * @example
 * cell('link', 'delayed'); // { applies: true, meaning: 'every message on the link arrives late', ... }
 * cell('link', 'crash');   // { applies: false, why: 'a link has no process to crash: use off' }
 */
import { CHANNEL_FAULT_KINDS } from '../src/runtime/loop/channel-fault.ts';
import { behaviours } from '../src/sim/byzantine.ts';

export const COMPONENTS = [
  'channel',
  'replica',
  'input-unit',
  'sensor',
  'link',
  'board',
  'voter-link',
  'voter',
] as const;
export type Component = (typeof COMPONENTS)[number];

export const GENERIC_TYPES = [
  'off',
  'stuck',
  'garbage',
  'wrong',
  'slow',
  'delayed',
  'intermittent',
  'crash',
  'hang',
] as const;
export type GenericType = (typeof GENERIC_TYPES)[number];

/** Where a fault's target runs, which decides whether the rig can reach it. */
export type Backend = 'in-process' | 'child' | 'real';
export const BACKENDS: readonly Backend[] = ['in-process', 'child', 'real'];

export interface Severity {
  readonly unit: string;
  readonly meaning: string;
  /** The value used when a scenario gives none. */
  readonly fallback: number;
  readonly min: number;
  readonly max: number;
}

/** A cell that means something: how it is carried out and where it can be. */
export interface AppliesCell {
  readonly applies: true;
  readonly component: Component;
  readonly type: string;
  readonly meaning: string;
  readonly severity?: Severity;
  /** Whether an `until` time ends the fault (false: the fault is permanent, e.g. a crash without recovery). */
  readonly endable: boolean;
  /** The rig applies it itself on the actuator/input side, whatever runs the target. */
  readonly rigSide: boolean;
  /** Per backend: true, or why the rig cannot apply it there. */
  readonly reach: Readonly<Record<Backend, true | string>>;
  /** A catalog behaviour by name (the type is its registered name). */
  readonly catalog?: 'replica' | 'channel';
}

export interface VoidCell {
  readonly applies: false;
  readonly component: Component;
  readonly type: string;
  readonly why: string;
}

export type Cell = AppliesCell | VoidCell;

const NO_IPC_REPLICA =
  'a board process takes no Byzantine replica behaviour over its control channel (only channel faults)';
const NO_REAL_CONTROL =
  'real hardware: the rig protocol carries no fault commands to a board yet (docs/RIG-PROTOCOL.md, "Not yet")';
const NO_ROLE_STOP = 'a board process has no command to stop one role: use `board crash`';
const DUTY: Severity = {
  unit: 'fraction',
  meaning: 'fraction of each period the fault is on',
  fallback: 0.5,
  min: 0.01,
  max: 1,
};
const everywhere = { 'in-process': true, child: true, real: true } as const;
const inProcessOnly = (why: string): Record<Backend, true | string> => ({
  'in-process': true,
  child: why,
  real: NO_REAL_CONTROL,
});
const processes = (childWhy: true | string): Record<Backend, true | string> => ({
  'in-process': true,
  child: childWhy,
  real: NO_REAL_CONTROL,
});

type Spec = Omit<AppliesCell, 'applies' | 'component' | 'type' | 'rigSide'> & { rigSide?: boolean };
type Row = Partial<Record<GenericType, Spec | string>>;

const linkish = (what: string, reach: Record<Backend, true | string>): Row => ({
  off: { meaning: `every message on the ${what} is lost`, endable: true, reach },
  garbage: {
    meaning: `a fraction of the messages on the ${what} arrive with flipped bits (the receiver must count and drop them)`,
    severity: {
      unit: 'fraction',
      meaning: 'fraction of messages corrupted',
      fallback: 0.3,
      min: 0,
      max: 1,
    },
    endable: true,
    reach,
  },
  delayed: {
    meaning: `every message on the ${what} arrives late by a fixed time`,
    severity: {
      unit: 'ms',
      meaning: 'added latency',
      fallback: Number.NaN,
      min: 0,
      max: 60_000,
    },
    endable: true,
    reach,
  },
  slow: {
    meaning: `the ${what} carries only so many bytes a second; a bounded queue holds the rest, overflow is dropped and counted`,
    severity: {
      unit: 'bytes/s',
      meaning: 'throughput',
      fallback: 20_000,
      min: 100,
      max: 1e9,
    },
    endable: true,
    reach,
  },
  intermittent: {
    meaning: `the ${what} drops everything for part of each period`,
    severity: DUTY,
    endable: true,
    reach,
  },
  stuck: `a ${what} has no state of its own to freeze: use off or delayed`,
  wrong: `a ${what} cannot forge authenticated values: corrupted bytes are garbage`,
  crash: `a ${what} has no process to crash: use off`,
  hang: `a ${what} has no process to hang: use off or delayed`,
});

const ROWS: Record<Component, Row> = {
  channel: {
    off: { meaning: 'sends no output (silent)', endable: true, reach: processes(true) },
    stuck: { meaning: 'repeats its first faulty output every frame', endable: true, reach: processes(true) },
    garbage: {
      meaning: 'sends random elevator commands across the travel',
      endable: true,
      reach: processes(true),
    },
    wrong: {
      meaning: 'sends plausible but wrong commands (the correct one plus an oscillation of 0.1 rad)',
      endable: true,
      reach: processes(true),
    },
    slow: {
      meaning: 'sends each output one frame period late (after the deadline)',
      endable: true,
      reach: processes(true),
    },
    delayed: {
      meaning: "the channel's outputs reach the voter late by a fixed time (applied at the voter's input)",
      severity: { unit: 'ms', meaning: 'added latency', fallback: Number.NaN, min: 0, max: 60_000 },
      endable: true,
      rigSide: true,
      reach: everywhere,
    },
    intermittent: {
      meaning: 'silent for part of each period, correct otherwise',
      severity: DUTY,
      endable: true,
      reach: processes(true),
    },
    crash: {
      meaning: 'the channel role stops for good (the board and its replica keep running)',
      endable: false,
      reach: inProcessOnly(NO_ROLE_STOP),
    },
    hang: {
      meaning: 'the channel stops producing outputs until the fault ends',
      endable: true,
      reach: processes(true),
    },
  },
  replica: {
    off: { meaning: 'catalog silent: processes everything, sends nothing', endable: true, reach: repl() },
    stuck: 'a replica has no single output to freeze: use hang (frozen) or off (mute)',
    garbage: {
      meaning: 'catalog random-bytes: correct, and also sends random byte strings',
      endable: true,
      reach: repl(),
    },
    wrong: {
      meaning: 'catalog equivocate: as primary, sends conflicting batches for one sequence number',
      endable: true,
      reach: repl(),
    },
    slow: {
      meaning: 'catalog slow-primary: as primary, holds every PRE-PREPARE just under the request timeout',
      endable: true,
      reach: repl(),
    },
    delayed: {
      meaning: "every message the replica's board sends arrives late by a fixed time",
      severity: { unit: 'ms', meaning: 'added latency', fallback: Number.NaN, min: 0, max: 60_000 },
      endable: true,
      reach: repl(),
    },
    intermittent: {
      meaning: 'mute (catalog silent) for part of each period, correct otherwise',
      severity: DUTY,
      endable: true,
      reach: repl(),
    },
    crash: { meaning: 'the replica role stops for good', endable: false, reach: repl() },
    hang: {
      meaning: 'the replica processes nothing and sends nothing until the fault ends, then catches up',
      endable: true,
      reach: repl(),
    },
  },
  'input-unit': rigRow('input unit', {
    off: 'submits no sample',
    stuck: 'submits its first faulty sample (stick and pitch) again every frame',
    garbage: 'submits random stick and pitch values',
    wrong: 'submits stick and pitch offset by a constant',
    slow: 'submits each sample late by a fixed time',
    delayed: 'submits stale values: the sample of several frames ago, under the current frame number',
    intermittent: 'submits nothing for part of each period',
    crash: 'stops for good',
    hang: 'submits nothing until the fault ends',
  }),
  sensor: rigRow('sensor', {
    off: 'reads no data (a dead sensor)',
    stuck: 'repeats its last good reading',
    garbage: 'reads uniform noise over a wide range (often implausible)',
    wrong: 'reads the true angle plus a constant bias',
    slow: 'updates only every few frames and holds in between',
    delayed: 'reads the angle of several frames ago',
    intermittent: 'reads no data for part of each period',
    crash: 'reads no data for good',
    hang: 'freezes at its last reading until the fault ends',
  }),
  link: linkish('link', {
    'in-process': true,
    child: 'only links with the rig board at one end are reachable: the rig applies them on its side',
    real: 'only links with the rig board at one end are reachable: the rig applies them on its side',
  }),
  board: {
    off: { meaning: 'power off: every role goes silent and deaf for good', endable: false, reach: boards() },
    crash: {
      meaning: 'the process dies (SIGKILL for a board process): silent and deaf for good',
      endable: false,
      reach: boards(),
    },
    hang: {
      meaning:
        'the board stops (SIGSTOP for a board process) and resumes when the fault ends; in this process its links go silent and deaf meanwhile',
      endable: true,
      reach: boards(),
    },
    slow: {
      meaning:
        'an overloaded host: the board stalls for a while every second (SIGSTOP/SIGCONT for a process)',
      severity: { unit: 'ms', meaning: 'stall per second', fallback: 100, min: 1, max: 1000 },
      endable: true,
      reach: boards(),
    },
    intermittent: {
      meaning: 'hangs for part of each period, runs otherwise',
      severity: DUTY,
      endable: true,
      reach: boards(),
    },
    delayed: {
      meaning: 'every message the board sends or receives arrives late by a fixed time',
      severity: { unit: 'ms', meaning: 'added latency', fallback: Number.NaN, min: 0, max: 60_000 },
      endable: true,
      reach: inProcessOnly('only its link to the rig board is reachable: use `link delayed`'),
    },
    garbage: {
      meaning: 'a fraction of every message the board sends is corrupted',
      severity: { unit: 'fraction', meaning: 'fraction corrupted', fallback: 0.3, min: 0, max: 1 },
      endable: true,
      reach: inProcessOnly('only its link to the rig board is reachable: use `link garbage`'),
    },
    stuck: 'a board as a whole has no output to freeze: use hang',
    wrong: 'a board lies through its roles: use channel wrong or a replica behaviour',
  },
  'voter-link': linkish('path from one channel to the voter', everywhere),
  voter: voterRow(),
};

/**
 * The voter is the last line: the only fault it takes is the one its watchdog answers. It runs on the rig's own
 * board, in the rig's process, whichever bench flies the others.
 */
function voterRow(): Row {
  const lastLine = (what: string) =>
    `the voter is the last line, not a fault the system tolerates: ${what}; use hang (its watchdog resets it)`;
  return {
    hang: {
      meaning:
        "the voter's frame loop hangs: no decision reaches the actuator (it holds) until the watchdog resets the voter, which then knows nothing, counts the frames it missed and rejoins with the failsafe command once they reach failsafeAfterMisses (firmware: a test build's HANG, the host's CPU watchdog or QEMU's CMSDK watchdog; TypeScript: a fresh voter)",
      severity: {
        unit: 'frames',
        meaning: 'frames after the one it hangs in until the reset voter hears its link again',
        fallback: 20,
        min: 1,
        max: 10_000,
      },
      endable: false,
      reach: everywhere,
    },
    off: lastLine('nothing would decide'),
    crash: lastLine('nothing would restart it'),
    stuck: lastLine('a stuck voter writing a stale value is the failure it exists to prevent'),
    garbage: lastLine('its outputs go to the actuator, not to a voter'),
    wrong: lastLine('nothing downstream outvotes it'),
    slow: lastLine('its deadline is the frame deadline'),
    delayed: 'the voter has no output link to delay: use channel delayed or voter-link delayed',
    intermittent: lastLine('a voter that decides some frames is a hang that ends'),
  };
}

function repl(): Record<Backend, true | string> {
  return { 'in-process': true, child: NO_IPC_REPLICA, real: NO_REAL_CONTROL };
}

function boards(): Record<Backend, true | string> {
  return { 'in-process': true, child: true, real: NO_REAL_CONTROL };
}

function rigRow(what: string, meanings: Record<GenericType, string>): Row {
  const severities: Partial<Record<GenericType, Severity>> = {
    garbage: { unit: 'rad', meaning: 'amplitude of the noise', fallback: 1, min: 0, max: 10 },
    wrong: { unit: 'rad', meaning: 'constant offset', fallback: 0.05, min: -10, max: 10 },
    slow:
      what === 'sensor'
        ? { unit: 'frames', meaning: 'frames between updates', fallback: 5, min: 1, max: 10_000 }
        : { unit: 'ms', meaning: 'lateness', fallback: Number.NaN, min: 0, max: 60_000 },
    delayed: { unit: 'frames', meaning: 'age of the values', fallback: 5, min: 1, max: 10_000 },
    intermittent: DUTY,
  };
  const row: Row = {};
  for (const t of GENERIC_TYPES) {
    const severity = severities[t];
    row[t] = {
      meaning: `the ${what} ${meanings[t]}`,
      ...(severity ? { severity } : {}),
      endable: t !== 'crash',
      rigSide: true,
      reach: everywhere,
    };
  }
  return row;
}

/** The catalog's replica behaviours (a behaviour of another role would need an injector the rig does not have). */
function replicaBehaviours(): readonly ReturnType<typeof behaviours>[number][] {
  return behaviours().filter((b) => (b.role as string) === 'any' || (b.role as string) === 'primary');
}

/** Catalog types of a component: replica behaviours and channel behaviours, by name. */
export function catalogTypes(component: Component): readonly string[] {
  if (component === 'replica') return replicaBehaviours().map((b) => b.name);
  if (component === 'channel') return CHANNEL_FAULT_KINDS;
  return [];
}

/** The cell of `component` x `type`; undefined when `type` is neither generic nor a catalog name there. */
export function cell(component: Component, type: string): Cell | undefined {
  const generic = (GENERIC_TYPES as readonly string[]).includes(type)
    ? ROWS[component][type as GenericType]
    : undefined;
  if (typeof generic === 'string') return { applies: false, component, type, why: generic };
  if (generic !== undefined) {
    return { applies: true, component, type, rigSide: false, ...generic };
  }
  if (component === 'replica' && catalogTypes('replica').includes(type)) {
    const entry = behaviours().find((b) => b.name === type)!;
    return {
      applies: true,
      component,
      type,
      meaning: `catalog ${entry.name}${entry.role === 'primary' ? ' (acts while primary)' : ''}: ${entry.summary}`,
      endable: true,
      rigSide: false,
      reach: repl(),
      catalog: 'replica',
    };
  }
  if (component === 'channel' && catalogTypes('channel').includes(type)) {
    return {
      applies: true,
      component,
      type,
      meaning: `channel catalog ${type} (src/runtime/loop/channel-fault.ts)`,
      endable: true,
      rigSide: false,
      reach: processes(true),
      catalog: 'channel',
    };
  }
  return undefined;
}

/** Every type a component accepts (generic first, then its catalog), for messages and listings. */
export function typesOf(component: Component): string[] {
  return [
    ...GENERIC_TYPES,
    ...catalogTypes(component).filter((t) => !GENERIC_TYPES.includes(t as GenericType)),
  ];
}

/** Every cell of the grid, in a stable order. */
export function allCells(): Cell[] {
  return COMPONENTS.flatMap((c) => typesOf(c).map((t) => cell(c, t)!));
}

/** The severity to use: the scenario's, or the cell's fallback (NaN fallbacks mean "half a frame period"). */
export function severityOf(c: AppliesCell, given: number | undefined, periodMs: number): number | undefined {
  if (c.severity === undefined) return undefined;
  if (given !== undefined) return given;
  return Number.isNaN(c.severity.fallback) ? periodMs / 2 : c.severity.fallback;
}
