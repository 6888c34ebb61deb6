/**
 * Hardware discovery: for each board of the config, is it there? The rig runs on the voter's board and probes
 * each other board over the rig board's own link to it, in three steps: the port is present, it opens, and the
 * board answers the rig protocol's HELLO (docs/RIG-PROTOCOL.md) with its name, versions, key set id and a MAC
 * within the timeout. A board that passes is real; any other is emulated, with the reason of the step that
 * failed, unless hardware is required (then the missing port is named and the run does not start).
 *
 * A board that answers but is not what the config says (another board's name: crossed cables; another key set;
 * a MAC that does not check) is a bench error, never a silent fallback.
 *
 * @example
 * const d = await discover(topology, { timeoutMs: 1500, pace: true });
 * d.boards.find((b) => b.board === 'b0'); // { kind: 'emulated', why: 'port /dev/ttyUSB0 (links.3.devices.aiu) does not exist', ... }
 */
import { existsSync } from 'node:fs';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { SerialTransport } from '../../src/io/serial.ts';
import type { Transport } from '../../src/io/transport.ts';
import type { LinkConfig, Topology } from '../../src/runtime/config.ts';
import type { BoardKeys } from '../../src/runtime/loop/keys.ts';
import { createBoardTransport, LINK_MAX_MESSAGE } from '../../src/runtime/node/transports.ts';
import { type HelloAck, probeHello } from '../link/hello.ts';
import { keySetId } from '../link/rig-protocol.ts';
import { rigBoardOf } from '../scenario/targets.ts';

export interface BoardVerdict {
  readonly board: string;
  readonly roles: readonly string[];
  readonly kind: 'rig' | 'real' | 'emulated';
  readonly why: string;
  /** How the rig reaches it: the rig board's port, the bus, the hub. */
  readonly link: string;
  readonly hello?: { readonly version: string; readonly wire: number; readonly keyId: string };
  /** The port that was looked for and not found or not answering (for --require-hardware). */
  readonly missing?: string;
}

export interface Discovery {
  readonly linkType: LinkConfig['type'];
  readonly boards: readonly BoardVerdict[];
  /** Bench errors: crossed cables, a foreign key set. The run must not start. */
  readonly errors: readonly string[];
}

export interface DiscoveryOptions {
  /** How long a board has to answer the HELLO (ms). */
  readonly timeoutMs: number;
  /** How long a port has to open (ms, default 1500). */
  readonly openTimeoutMs?: number;
  /** The rig board's keys (check the answers' MACs and key set id); absent: answers are not checked. */
  readonly keys?: BoardKeys;
  readonly pace: boolean;
}

export async function discover(t: Topology, o: DiscoveryOptions): Promise<Discovery> {
  const rig = rigBoardOf(t);
  const type = t.links[0]!.type;
  const errors: string[] = [];
  const others = t.boards.filter((b) => b.name !== rig);
  const rigVerdict: BoardVerdict = {
    board: rig,
    roles: t.boards.find((b) => b.name === rig)!.roles,
    kind: 'rig',
    why: 'hosts the voter and the input units: the rig runs here',
    link: '-',
  };
  let verdicts: BoardVerdict[];
  if (type === 'memory') {
    verdicts = others.map((b) =>
      emulated(b, 'the config joins its boards by an in-memory hub (links: memory)', 'memory hub'),
    );
  } else if (type === 'serial') {
    verdicts = await Promise.all(others.map((b) => probeSerial(t, rig, b, o, errors)));
  } else {
    verdicts = await probeShared(t, rig, others, o, errors);
  }
  return { linkType: type, boards: [rigVerdict, ...verdicts], errors };
}

type BoardSpec = Topology['boards'][number];

function emulated(b: BoardSpec, why: string, link: string, missing?: string): BoardVerdict {
  return { board: b.name, roles: b.roles, kind: 'emulated', why, link, ...(missing ? { missing } : {}) };
}

async function probeSerial(
  t: Topology,
  rig: string,
  b: BoardSpec,
  o: DiscoveryOptions,
  errors: string[],
): Promise<BoardVerdict> {
  const index = t.links.findIndex(
    (l) => l.type === 'serial' && l.between.includes(rig) && l.between.includes(b.name),
  );
  const link = t.links[index] as Extract<LinkConfig, { type: 'serial' }> | undefined;
  if (link === undefined)
    return emulated(b, `no serial link joins it to the rig board '${rig}': it cannot be probed`, '-');
  const path = link.devices[rig]!;
  const field = `links.${index}.devices.${rig}`;
  const where = `${path} (${field})`;
  if (!existsSync(path)) return emulated(b, `port ${where} does not exist`, path, path);
  const transport = new SerialTransport({
    self: rig,
    links: { [b.name]: { path, baudRate: link.baud, pace: o.pace } },
    maxMessage: LINK_MAX_MESSAGE,
    reconnect: { initialMs: 100, maxMs: 500 },
  });
  try {
    await transport.start();
    const opened = await up(transport, o.openTimeoutMs ?? 1500);
    if (!opened) {
      const err = transport.peerStats()[b.name]?.lastError ?? 'unknown error';
      return emulated(b, `port ${where} does not open: ${err}`, path, path);
    }
    return await hello(t, rig, b, transport, where, path, o, errors);
  } finally {
    await transport.close();
  }
}

/** A bus or UDP: one rig transport, every board probed on it. */
async function probeShared(
  t: Topology,
  rig: string,
  others: readonly BoardSpec[],
  o: DiscoveryOptions,
  errors: string[],
): Promise<BoardVerdict[]> {
  const index = 0;
  const link = t.links[index]!;
  if (link.type === 'can' && link.driver === 'emulated') {
    return others.map((b) =>
      emulated(b, 'the config names the emulated CAN bus (driver: emulated)', 'emulated CAN bus'),
    );
  }
  const device = link.type === 'can' ? link.devices[rig] : undefined;
  const where =
    link.type === 'can'
      ? `${link.driver} ${device ?? '(none)'} (links.${index}.devices.${rig})`
      : link.type === 'udp'
        ? `udp ${link.host}:${link.basePort}+`
        : link.type;
  if (link.type === 'can') {
    const present =
      device !== undefined &&
      (link.driver === 'socketcan' ? existsSync(`/sys/class/net/${device}`) : existsSync(device));
    if (!present)
      return others.map((b) =>
        emulated(b, `the rig's CAN interface ${where} does not exist`, where, device ?? where),
      );
  }
  let transport: Transport;
  try {
    transport = createBoardTransport(t, rig, { pace: o.pace });
    await transport.start();
  } catch (e) {
    return others.map((b) =>
      emulated(b, `the rig's link ${where} cannot be opened: ${(e as Error).message}`, where, where),
    );
  }
  try {
    if (!(await up(transport, o.openTimeoutMs ?? 1500))) {
      return others.map((b) => emulated(b, `the rig's link ${where} does not come up`, where, where));
    }
    return await Promise.all(others.map((b) => hello(t, rig, b, transport, where, where, o, errors)));
  } finally {
    await transport.close();
  }
}

async function hello(
  t: Topology,
  rig: string,
  b: BoardSpec,
  transport: Transport,
  where: string,
  link: string,
  o: DiscoveryOptions,
  errors: string[],
): Promise<BoardVerdict> {
  const nonce = (t.boards.findIndex((x) => x.name === b.name) * 7919 + 1) >>> 0;
  const answer = await probeHello(transport, b.name, {
    rig,
    timeoutMs: o.timeoutMs,
    nonce,
    ...(o.keys ? { keys: o.keys } : {}),
  });
  if (!answer.answered) return emulated(b, `port ${where} opens but ${answer.reason}`, link, link);
  const problem = check(answer.ack, b.name, answer.authentic, o.keys);
  if (problem !== undefined) errors.push(`board ${b.name} at ${where}: ${problem}`);
  const checked =
    answer.authentic === true ? 'MAC checked' : 'MAC not checked: the rig has no key files (--keys)';
  return {
    board: b.name,
    roles: b.roles,
    kind: 'real',
    why: `answered the rig hello on ${where} in ${Math.round(answer.ms)} ms (${checked})`,
    link,
    hello: { version: answer.ack.version, wire: answer.ack.wire, keyId: answer.ack.keyId },
  };
}

function check(
  ack: HelloAck,
  board: string,
  authentic: boolean | undefined,
  keys: BoardKeys | undefined,
): string | undefined {
  if (ack.board !== board) return `answers as board '${ack.board}', expected '${board}': check the wiring`;
  if (keys !== undefined) {
    const mine = keySetId(keys.replicaPublicKeys);
    if (ack.keyId !== mine)
      return `holds key set ${ack.keyId}, the rig's is ${mine}: copy the same key directory to every board`;
    if (authentic === false) return `its MAC does not check with the rig's keys (key set ${ack.keyId})`;
  }
  return undefined;
}

async function up(transport: Transport, ms: number): Promise<boolean> {
  try {
    await firstValueFrom(
      transport.state$.pipe(
        filter((s) => s === 'up'),
        timeout(ms),
      ),
    );
    return true;
  } catch {
    return false;
  }
}
