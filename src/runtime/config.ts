/**
 * Topology configuration: boards, the roles on each, links, f, timing. Validated on load; every error names the
 * file, the field and what is wrong; a topology that cannot meet its declared f is refused.
 *
 * @example
 * const topo = loadTopology('config/laptop.json');
 * topo.replicas.map((r) => r.board); // ['b0', 'b1', 'b2', 'mon']
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { SUPPORTED_FRAME_RATE_HZ } from '../core/control/spec.ts';
import { linkBudgetIssues } from './config-links.ts';
import { hostToolchain, m3Toolchain } from './firmware/toolchain.ts';
import { lineColumn, scanJson } from './json-scan.ts';
import { linkTagIssues } from './link-tags.ts';

/**
 * The frame rates the whole loop can run, and so the bounds of `frameRateHz` and `--rate`: those every control
 * law implementation runs at (SUPPORTED_FRAME_RATE_HZ, src/core/control/spec.ts), which the real scheduler's
 * 1 ms timer resolution also allows.
 */
export const FRAME_RATE_HZ = SUPPORTED_FRAME_RATE_HZ;

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case name: letters, digits, dashes, at most 32');
const role = z.enum(['replica', 'channel', 'voter', 'input']);
const channelImpl = z.enum(['float64', 'fixed-q24', 'modal']);
const voterImpl = z.enum(['ts', 'firmware-host', 'firmware-qemu']);

const serialLink = z.strictObject({
  type: z.literal('serial'),
  /** The two boards this point-to-point link joins. */
  between: z.tuple([name, name]),
  /** Device path on each board, keyed by board name. */
  devices: z.record(name, z.string().min(1)),
  baud: z.number().int().positive().max(16_000_000),
});

const canLink = z.strictObject({
  type: z.literal('can'),
  /** socketcan: a Linux interface (can0, vcan0); slcan: a USB-CAN adapter on a serial port; emulated: laptop bus. */
  driver: z.enum(['socketcan', 'slcan', 'emulated']),
  bitrate: z.number().int().positive().max(1_000_000),
  /** CAN FD data-phase bitrate; absent means classic CAN (8-byte frames). */
  dataBitrate: z.number().int().positive().max(8_000_000).optional(),
  /** Interface name (socketcan) or serial device (slcan) per board; unused for the emulated bus. */
  devices: z.record(name, z.string().min(1)).default({}),
  /**
   * Base CAN identifier. Ids are priority | destination | source (board i is CAN node i); only the top bits of
   * baseId are used, as the priority field (11-bit ids: baseId >> 8), so a lower baseId wins arbitration.
   */
  baseId: z.number().int().min(0).max(0x7ff).default(0x100),
});

const memoryLink = z.strictObject({ type: z.literal('memory') });
const udpLink = z.strictObject({
  type: z.literal('udp'),
  host: z.string().default('127.0.0.1'),
  basePort: z.number().int().min(1024).max(65000),
});

const link = z.discriminatedUnion('type', [memoryLink, udpLink, serialLink, canLink]);

const board = z.strictObject({
  name,
  roles: z.array(role).min(1),
  /** Control-law implementation of the board's channel (dissimilar channels differ here). */
  channelImpl: channelImpl.optional(),
});

const schema = z.strictObject({
  name: z.string().min(1),
  f: z.number().int().min(1).max(10),
  frameRateHz: z.number().min(FRAME_RATE_HZ.min).max(FRAME_RATE_HZ.max),
  /** Input units (PBFT clients), each with its own stick and pitch sensor; hosted on the input boards. */
  inputUnits: z.number().int().min(1).max(16).default(3),
  boards: z.array(board).min(1).max(64),
  links: z.array(link).min(1),
  timing: z
    .strictObject({
      /** The voter's deadline within a frame, as a fraction of the frame period. */
      deadlineFraction: z.number().gt(0).max(1).default(0.8),
      checkpointInterval: z.number().int().min(1).max(10_000).default(32),
      /** High watermark = low watermark + window; a multiple of the checkpoint interval. */
      watermarkWindow: z.number().int().min(2).max(100_000).default(128),
      viewChangeTimeoutFrames: z.number().int().min(2).max(100_000).default(25),
    })
    .prefault({}),
  voter: z
    .strictObject({
      /** Analog tolerance on the elevator command, radians. */
      tolerance: z.number().positive().default(0.01),
      persistence: z.number().int().min(1).max(1000).default(3),
      probationFrames: z.number().int().min(1).max(100_000).default(50),
      failsafeAfterMisses: z.number().int().min(1).max(10_000).default(5),
    })
    .prefault({}),
  recovery: z
    .strictObject({
      /** Nodes that may be down for a proactive restart at the same time. */
      k: z.number().int().min(0).max(10).default(1),
      /** Every node restarts once per period. 0 disables proactive recovery. */
      periodSeconds: z.number().min(0).default(0),
    })
    .prefault({}),
  crypto: z
    .strictObject({
      tagBytes: z.number().int().min(8).max(32).default(8),
      /**
       * Shorter MAC tags for the ordering traffic on a link kind (replica to replica, input unit to replica),
       * down to the kind's floor (link-tags.ts: 4 bytes on CAN and serial, 8 on UDP and memory); OUTPUTs to the
       * voter keep tagBytes. Absent: tagBytes everywhere.
       */
      linkTagBytes: z
        .strictObject({
          can: z.number().int().min(1).max(32).optional(),
          serial: z.number().int().min(1).max(32).optional(),
          udp: z.number().int().min(1).max(32).optional(),
          memory: z.number().int().min(1).max(32).optional(),
        })
        .optional(),
      /**
       * HMAC-SHA-256 implementation (identical tags): 'midstate' (default: the key's blocks compressed once, in
       * JavaScript, for messages up to three blocks; node:crypto above), 'node' (node:crypto's createHmac for
       * every message) or 'noble' (@noble/hashes). src/core/crypto/mac.ts says why; bench/mac.ts measures.
       */
      macBackend: z.enum(['midstate', 'node', 'noble']).default('midstate'),
    })
    .prefault({}),
  /**
   * The voter's implementation: the TypeScript voter (`ts`), or the C99 firmware of firmware-bridge/ as the voter
   * board's actuator interface unit, its POSIX host build (`firmware-host`) or its Cortex-M3 build under QEMU
   * (`firmware-qemu`). Same decisions, bit for bit (the differential test); the board that hosts the voter
   * needs the toolchain (`voterImplProblem`).
   */
  voterImpl: voterImpl.default('ts'),
});

export type TopologyFile = z.infer<typeof schema>;
export type LinkConfig = z.infer<typeof link>;
export type Role = z.infer<typeof role>;
export type ChannelImpl = z.infer<typeof channelImpl>;
export type VoterImpl = z.infer<typeof voterImpl>;
/** The values of `voterImpl` (and of `triplex sim --voter`). */
export const VOTER_IMPLS: readonly VoterImpl[] = voterImpl.options;

/** A role instance with the id it carries in its role's id space (replica 0..n-1, channel 0..m-1). */
export interface RoleSlot {
  readonly board: string;
  readonly id: number;
}

export interface FaultBudget {
  readonly n: number;
  readonly m: number;
  readonly f: number;
  readonly k: number;
  /** Ordering stays live while k nodes recover: n >= 3f + 2k + 1. */
  readonly orderingLiveDuringRecovery: boolean;
  /** Voting stays live while k channels recover: m >= 2f + k + 1. */
  readonly votingLiveDuringRecovery: boolean;
  /** Fraction of time some node is recovering, during which one more fault can stall progress (0 if closed). */
  readonly windowOfVulnerability: number;
  readonly summary: string;
}

export interface Topology extends TopologyFile {
  readonly file: string;
  readonly replicas: readonly RoleSlot[];
  readonly channels: readonly (RoleSlot & { readonly impl: ChannelImpl })[];
  readonly voters: readonly RoleSlot[];
  readonly inputs: readonly RoleSlot[];
  readonly budget: FaultBudget;
}

/** One thing wrong in a config file: where (field path, and line and column when the text is known) and what. */
export interface ConfigIssue {
  /** Dotted path of the field (`links.3.devices.b0`), `(root)` for the top level, `(file)` for the file itself. */
  readonly field: string;
  readonly problem: string;
  /** 1-based line and column in the file, when the error came from a file's text. */
  readonly line?: number;
  readonly column?: number;
}

/**
 * A config refused, with every issue found in it. The message has one line per issue,
 * `file: field: problem (line L, column C)`, under a count when there are several.
 */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
    issues?: readonly ConfigIssue[],
  ) {
    const all = issues !== undefined && issues.length > 0 ? issues : [{ field, problem }];
    const lines = all.map((i) => formatIssue(file, i));
    super(
      lines.length === 1
        ? lines[0]!
        : [`${file}: ${lines.length} problems`, ...lines.map((l) => `  ${l}`)].join('\n'),
    );
    this.name = 'ConfigError';
    this.issues = all;
  }

  /** A ConfigError listing `issues` (at least one). */
  static of(file: string, issues: readonly ConfigIssue[]): ConfigError {
    const first = issues[0]!;
    return new ConfigError(file, first.field, first.problem, issues);
  }
}

function formatIssue(file: string, i: ConfigIssue): string {
  const at = i.line !== undefined ? ` (line ${i.line}, column ${i.column ?? 1})` : '';
  return `${file}: ${i.field}: ${i.problem}${at}`;
}

const IMPLS: readonly ChannelImpl[] = ['float64', 'fixed-q24', 'modal'];
/** Assumed duration of one proactive restart, used for the window-of-vulnerability estimate. */
const RESTART_SECONDS = 2;
/** A topology is a few kilobytes; a bigger file is not one (and is not scanned). */
const MAX_CONFIG_BYTES = 1 << 20;

/** Reads, parses and validates a topology file. Throws ConfigError listing every issue, with line and column. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '(file)', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      file,
      '(file)',
      `is ${text.length} bytes; a topology is at most ${MAX_CONFIG_BYTES}`,
    );
  }
  const scan = scanJson(text);
  if (!scan.ok) {
    const { line, column } = lineColumn(text, scan.offset);
    throw ConfigError.of(file, [
      { field: '(file)', problem: `not valid JSON: ${scan.problem}`, line, column },
    ]);
  }
  return parseTopology(JSON.parse(text), file, (path, key) => {
    const offset = scan.locate(path, key);
    return offset === undefined ? undefined : lineColumn(text, offset);
  });
}

/** Where a field is in the file: the key's position when `key` is asked for, else the value's. */
export type Locate = (
  path: readonly (string | number)[],
  key?: boolean,
) => { line: number; column: number } | undefined;

type Path = readonly PropertyKey[];

/** Collects the issues of one config, each located in the file when a locator is given. */
class Issues {
  readonly list: ConfigIssue[] = [];
  constructor(private readonly locate?: Locate) {}

  add(path: Path, problem: string, at: 'key' | 'value' = 'value'): void {
    const keys = path.map((p) => (typeof p === 'number' ? p : String(p)));
    const field = keys.length > 0 ? keys.join('.') : '(root)';
    // A missing field has no position of its own: point at the object that lacks it.
    let where = this.locate?.(keys, at === 'key');
    for (let n = keys.length - 1; where === undefined && n >= 0 && this.locate; n--)
      where = this.locate(keys.slice(0, n));
    this.list.push({ field, problem, ...(where ?? {}) });
  }

  /** In file order (issues without a position keep their order, after the located ones). */
  sorted(): ConfigIssue[] {
    const key = (i: ConfigIssue): number => (i.line ?? Number.MAX_SAFE_INTEGER) * 1e6 + (i.column ?? 0);
    return [...this.list].sort((a, b) => key(a) - key(b));
  }
}

/**
 * Validates an already-parsed topology object; `file` names its source in errors, `locate` (from loadTopology)
 * adds line and column. Every schema issue is reported at once; the cross-field checks run on a valid schema.
 */
export function parseTopology(raw: unknown, file: string, locate?: Locate): Topology {
  const parsed = schema.safeParse(raw);
  const issues = new Issues(locate);
  if (!parsed.success) {
    describeSchemaIssues(parsed.error.issues, raw, issues);
    throw ConfigError.of(file, issues.sorted());
  }
  const topology = resolve(parsed.data, file, issues);
  if (issues.list.length > 0) throw ConfigError.of(file, issues.sorted());
  return topology;
}

type ZodIssue = z.core.$ZodIssue;

/** Turns zod's issues into plain sentences; an unknown key close to a missing one is reported once, as a typo. */
function describeSchemaIssues(zodIssues: readonly ZodIssue[], raw: unknown, out: Issues): void {
  const typos = new Map<string, string>(); // "path.to.missing" -> the unknown key that is probably it
  for (const issue of zodIssues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(schema, issue.path, raw);
    const present = valueAt(raw, issue.path);
    for (const key of issue.keys) {
      const near = nearest(key, known);
      const missing = near !== undefined && !hasKey(present, near);
      if (missing) typos.set([...issue.path, near].map(String).join('.'), key);
      const hint =
        near === undefined ? '' : missing ? `; did you mean '${near}'?` : ` ('${near}' is given too)`;
      const list = near === undefined && known.length > 0 ? `; known keys: ${known.join(', ')}` : '';
      out.add([...issue.path, key], `unknown key '${key}'${hint}${list}`, 'key');
    }
  }
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') continue;
    const value = valueAt(raw, issue.path);
    if (value === undefined && typos.has(issue.path.map(String).join('.'))) continue; // said as a typo
    out.add(issue.path, problemOf(issue, value));
  }
}

function problemOf(issue: ZodIssue, value: unknown): string {
  const got = describeValue(value);
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined
        ? `is missing (expected ${issue.expected})`
        : `must be ${article(issue.expected)}, got ${got}`;
    case 'too_big': {
      const bound = `${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
      const what = issue.origin === 'array' ? `must list ${bound} entries` : `must be ${bound}`;
      return `${what}, got ${issue.origin === 'array' ? (value as unknown[]).length : got}${boundNote(issue.path)}`;
    }
    case 'too_small': {
      const bound = `${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}`;
      const what = issue.origin === 'array' ? `must list ${bound} entries` : `must be ${bound}`;
      return `${what}, got ${issue.origin === 'array' ? (value as unknown[]).length : got}${boundNote(issue.path)}`;
    }
    case 'invalid_value':
      return `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${got}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator !== undefined)
        return `${got} is not a link type: use "memory", "udp", "serial" or "can"`;
      return `${issue.message}, got ${got}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}, got ${got}`;
    default:
      return `${issue.message}${value === undefined ? '' : `, got ${got}`}`;
  }
}

/** Why a bound is where it is, for the fields whose bound is a limit of the code rather than of sense. */
function boundNote(path: readonly PropertyKey[]): string {
  return path.length === 1 && path[0] === 'frameRateHz'
    ? ` (the control laws and the scheduler run ${FRAME_RATE_HZ.min} to ${FRAME_RATE_HZ.max} Hz)`
    : '';
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function hasKey(obj: unknown, key: string): boolean {
  return obj !== null && typeof obj === 'object' && Object.hasOwn(obj, key);
}

interface ZodDefLike {
  readonly type: string;
  readonly shape?: Record<string, { _zod: { def: ZodDefLike } }>;
  readonly element?: { _zod: { def: ZodDefLike } };
  readonly innerType?: { _zod: { def: ZodDefLike } };
  readonly options?: readonly { _zod: { def: ZodDefLike } }[];
  readonly discriminator?: string;
  readonly values?: readonly unknown[];
}

/** Through optional/default/prefault wrappers, and to the option of a discriminated union that `raw` picks. */
function unwrapDef(d0: ZodDefLike, at: readonly PropertyKey[], raw: unknown): ZodDefLike {
  let d = d0;
  for (let i = 0; i < 8 && d.innerType !== undefined; i++) d = d.innerType._zod.def;
  const tagKey = d.discriminator;
  if (d.type === 'union' && d.options !== undefined && tagKey !== undefined) {
    const tag = (valueAt(raw, at) as Record<string, unknown> | undefined)?.[tagKey];
    const match = d.options.find((o) => o._zod.def.shape?.[tagKey]?._zod.def.values?.includes(tag));
    if (match !== undefined) d = match._zod.def;
  }
  return d;
}

/** The keys the schema knows for the object at `path` (the link's own keys for a link, by its `type`). */
function knownKeys(root: z.ZodType, path: readonly PropertyKey[], raw: unknown): string[] {
  let def = (root as unknown as { _zod: { def: ZodDefLike } })._zod.def;
  for (const [i, p] of path.entries()) {
    const d = unwrapDef(def, path.slice(0, i), raw);
    const next = typeof p === 'number' ? d.element : d.shape?.[String(p)];
    if (next === undefined) return [];
    def = next._zod.def;
  }
  const d = unwrapDef(def, path, raw);
  return d.shape ? Object.keys(d.shape) : [];
}

/** The known key nearest to `key` by edit distance (case-insensitive), if it is near enough to be a typo. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  const near = bestD <= Math.max(2, Math.floor(best.length / 3));
  const prefix =
    best.toLowerCase().startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(best.toLowerCase());
  return near || (prefix && Math.min(key.length, best.length) >= 3) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.abs(a.length - b.length) + 64; // not a typo
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function slots(boards: TopologyFile['boards'], r: Role): RoleSlot[] {
  return boards.filter((b) => b.roles.includes(r)).map((b, id) => ({ board: b.name, id }));
}

function resolve(t: TopologyFile, file: string, issues: Issues): Topology {
  checkBoards(t, issues);
  checkLinks(t, issues);
  const replicas = slots(t.boards, 'replica');
  const channels = slots(t.boards, 'channel').map((s, i) => ({
    ...s,
    impl: t.boards.find((b) => b.name === s.board)!.channelImpl ?? IMPLS[i % IMPLS.length]!,
  }));
  const voters = slots(t.boards, 'voter');
  const inputs = slots(t.boards, 'input');
  const budget = faultBudget(replicas.length, channels.length, t.f, t.recovery.k, t.recovery.periodSeconds);
  if (replicas.length < 3 * t.f + 1) {
    issues.add(
      ['boards'],
      `${replicas.length} replicas cannot tolerate f = ${t.f}: need 3f+1 = ${3 * t.f + 1}`,
    );
  }
  if (channels.length < 2 * t.f + 1) {
    issues.add(
      ['boards'],
      `${channels.length} channels cannot tolerate f = ${t.f}: need 2f+1 = ${2 * t.f + 1}`,
    );
  }
  if (voters.length < 1) issues.add(['boards'], 'no board has the voter role');
  if (inputs.length < 1) issues.add(['boards'], 'no board has the input role');
  if (
    t.timing.watermarkWindow % t.timing.checkpointInterval !== 0 ||
    t.timing.watermarkWindow < 2 * t.timing.checkpointInterval
  ) {
    issues.add(
      ['timing', 'watermarkWindow'],
      `must be a multiple of checkpointInterval (${t.timing.checkpointInterval}) and at least twice it, got ${t.timing.watermarkWindow}`,
    );
  }
  const topology: Topology = { ...t, file, replicas, channels, voters, inputs, budget };
  // The links' budget needs a valid group (it encodes the group's largest messages): checked last.
  for (const i of linkTagIssues(topology)) issues.add(i.path, i.problem);
  if (issues.list.length === 0) for (const i of linkBudgetIssues(topology)) issues.add(i.path, i.problem);
  return topology;
}

function checkBoards(t: TopologyFile, issues: Issues): void {
  const seen = new Set<string>();
  t.boards.forEach((b, i) => {
    if (seen.has(b.name)) issues.add(['boards', i, 'name'], `duplicate board name '${b.name}'`);
    seen.add(b.name);
    if (new Set(b.roles).size !== b.roles.length)
      issues.add(['boards', i, 'roles'], 'a role is listed twice');
    if (b.channelImpl !== undefined && !b.roles.includes('channel')) {
      issues.add(['boards', i, 'channelImpl'], 'set on a board without the channel role');
    }
  });
}

function checkLinks(t: TopologyFile, issues: Issues): void {
  const boards = new Set(t.boards.map((b) => b.name));
  t.links.forEach((l, i) => {
    if (l.type === 'serial') {
      for (const [j, b] of l.between.entries()) {
        if (!boards.has(b)) issues.add(['links', i, 'between', j], `unknown board '${b}'`);
        else if (l.devices[b] === undefined)
          issues.add(['links', i, 'devices'], `no device for board '${b}'`);
      }
    }
    if (l.type === 'serial' || l.type === 'can') {
      for (const b of Object.keys(l.devices)) {
        if (!boards.has(b)) issues.add(['links', i, 'devices', b], `unknown board '${b}'`, 'key');
      }
    }
    if (l.type === 'can' && l.driver !== 'emulated') {
      for (const b of boards) {
        if (l.devices[b] === undefined) issues.add(['links', i, 'devices'], `no CAN device for board '${b}'`);
      }
    }
  });
}

/** The fault-budget bounds of the design: agreement 3f+1, execution 2f+1, and the recovery margins. */
export function faultBudget(n: number, m: number, f: number, k: number, periodSeconds: number): FaultBudget {
  const orderingLiveDuringRecovery = n >= 3 * f + 2 * k + 1;
  const votingLiveDuringRecovery = m >= 2 * f + k + 1;
  const closed = k === 0 || periodSeconds === 0 || (orderingLiveDuringRecovery && votingLiveDuringRecovery);
  // Each of the n + m nodes restarts once per period for about RESTART_SECONDS.
  const windowOfVulnerability = closed ? 0 : Math.min(1, ((n + m) * RESTART_SECONDS) / periodSeconds);
  const summary =
    `n=${n} replicas (3f+1=${3 * f + 1}), m=${m} channels (2f+1=${2 * f + 1}), f=${f}, k=${k}: ` +
    (closed
      ? 'no window of vulnerability'
      : `during a restart one more fault can stall ${orderingLiveDuringRecovery ? 'voting' : 'ordering'} ` +
        `(window ${(windowOfVulnerability * 100).toFixed(1)}% of the time; n >= ${3 * f + 2 * k + 1} and m >= ${2 * f + k + 1} close it)`);
  return { n, m, f, k, orderingLiveDuringRecovery, votingLiveDuringRecovery, windowOfVulnerability, summary };
}

/**
 * Why this machine cannot run the topology's voter implementation (the C compiler and make for `firmware-host`;
 * gcc-arm-none-eabi, newlib and qemu-system-arm too for `firmware-qemu`), or undefined when it can (always, for
 * `ts`). Checked where the voter is built, not at load: a board that does not host the voter needs no toolchain.
 *
 * @example
 * const problem = voterImplProblem(topo); // 'voterImpl "firmware-qemu": qemu-system-arm is not installed (...)'
 */
export function voterImplProblem(t: Pick<Topology, 'voterImpl'>): string | undefined {
  if (t.voterImpl === 'ts') return undefined;
  const need = t.voterImpl === 'firmware-qemu' ? m3Toolchain() : hostToolchain();
  return need.ok ? undefined : `voterImpl "${t.voterImpl}": ${need.reason} (or fly with voterImpl "ts")`;
}

/** `voterImplProblem` as a ConfigError naming the file and the field. */
export function checkVoterImpl(t: Topology): void {
  const problem = voterImplProblem(t);
  if (problem !== undefined) throw new ConfigError(t.file, 'voterImpl', problem);
}
