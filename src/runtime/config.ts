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

/**
 * The frame rates the whole loop can run, and so the bounds of `frameRateHz` and `--rate`. The control laws
 * (src/core/control) are specified and tested for 1 to 1000 Hz: below 1 Hz the fixed-point law's derivative
 * pole underflows Q24, above a few kHz its prefilter does; the real scheduler's timers have 1 ms resolution.
 */
export const FRAME_RATE_HZ = { min: 1, max: 1000 } as const;

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lower-case name: letters, digits, dashes, at most 32');
const role = z.enum(['replica', 'channel', 'voter', 'input']);
const channelImpl = z.enum(['float64', 'fixed-q24', 'modal']);

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
      macBackend: z.enum(['node', 'noble']).default('node'),
    })
    .prefault({}),
});

export type TopologyFile = z.infer<typeof schema>;
export type LinkConfig = z.infer<typeof link>;
export type Role = z.infer<typeof role>;
export type ChannelImpl = z.infer<typeof channelImpl>;

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

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const IMPLS: readonly ChannelImpl[] = ['float64', 'fixed-q24', 'modal'];
/** Assumed duration of one proactive restart, used for the window-of-vulnerability estimate. */
const RESTART_SECONDS = 2;

/** Reads, parses and validates a topology file. Throws ConfigError. */
export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, '(file)', `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, '(file)', `not valid JSON: ${(e as Error).message}`);
  }
  return parseTopology(raw, file);
}

/** Validates an already-parsed topology object; `file` names its source in errors. */
export function parseTopology(raw: unknown, file: string): Topology {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    throw new ConfigError(file, field, issue.message);
  }
  return resolve(parsed.data, file);
}

function slots(boards: TopologyFile['boards'], r: Role): RoleSlot[] {
  return boards.filter((b) => b.roles.includes(r)).map((b, id) => ({ board: b.name, id }));
}

function resolve(t: TopologyFile, file: string): Topology {
  checkBoards(t, file);
  checkLinks(t, file);
  const replicas = slots(t.boards, 'replica');
  const channels = slots(t.boards, 'channel').map((s, i) => ({
    ...s,
    impl: t.boards.find((b) => b.name === s.board)!.channelImpl ?? IMPLS[i % IMPLS.length]!,
  }));
  const voters = slots(t.boards, 'voter');
  const inputs = slots(t.boards, 'input');
  const budget = faultBudget(replicas.length, channels.length, t.f, t.recovery.k, t.recovery.periodSeconds);
  if (replicas.length < 3 * t.f + 1) {
    throw new ConfigError(
      file,
      'boards',
      `${replicas.length} replicas cannot tolerate f = ${t.f}: need 3f+1 = ${3 * t.f + 1}`,
    );
  }
  if (channels.length < 2 * t.f + 1) {
    throw new ConfigError(
      file,
      'boards',
      `${channels.length} channels cannot tolerate f = ${t.f}: need 2f+1 = ${2 * t.f + 1}`,
    );
  }
  if (voters.length < 1) throw new ConfigError(file, 'boards', 'no board has the voter role');
  if (inputs.length < 1) throw new ConfigError(file, 'boards', 'no board has the input role');
  if (
    t.timing.watermarkWindow % t.timing.checkpointInterval !== 0 ||
    t.timing.watermarkWindow < 2 * t.timing.checkpointInterval
  ) {
    throw new ConfigError(
      file,
      'timing.watermarkWindow',
      `must be a multiple of checkpointInterval (${t.timing.checkpointInterval}) and at least twice it`,
    );
  }
  return { ...t, file, replicas, channels, voters, inputs, budget };
}

function checkBoards(t: TopologyFile, file: string): void {
  const seen = new Set<string>();
  t.boards.forEach((b, i) => {
    if (seen.has(b.name)) throw new ConfigError(file, `boards.${i}.name`, `duplicate board name '${b.name}'`);
    seen.add(b.name);
    if (new Set(b.roles).size !== b.roles.length)
      throw new ConfigError(file, `boards.${i}.roles`, 'a role is listed twice');
    if (b.channelImpl !== undefined && !b.roles.includes('channel')) {
      throw new ConfigError(file, `boards.${i}.channelImpl`, 'set on a board without the channel role');
    }
  });
}

function checkLinks(t: TopologyFile, file: string): void {
  const boards = new Set(t.boards.map((b) => b.name));
  t.links.forEach((l, i) => {
    if (l.type === 'serial') {
      for (const [j, b] of l.between.entries()) {
        if (!boards.has(b)) throw new ConfigError(file, `links.${i}.between.${j}`, `unknown board '${b}'`);
        if (l.devices[b] === undefined)
          throw new ConfigError(file, `links.${i}.devices`, `no device for board '${b}'`);
      }
    }
    if (l.type === 'serial' || l.type === 'can') {
      for (const b of Object.keys(l.devices)) {
        if (!boards.has(b)) throw new ConfigError(file, `links.${i}.devices.${b}`, `unknown board '${b}'`);
      }
    }
    if (l.type === 'can' && l.driver !== 'emulated') {
      for (const b of boards) {
        if (l.devices[b] === undefined)
          throw new ConfigError(file, `links.${i}.devices`, `no CAN device for board '${b}'`);
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
