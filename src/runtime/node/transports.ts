/**
 * The transport of one board, built from the topology's links: what `triplex node` runs its Board on.
 *
 * - memory: boards inside one process only (pass the process's hub);
 * - udp: every board listens on host:basePort + its index in `boards` and reaches every other board the same way;
 * - serial: a mesh of point-to-point links; this board's transport has one serial port per link whose `between`
 *   names it, opened at `devices[board]`;
 * - can: one bus; board i is CAN node i. `slcan` opens a USB-CAN adapter at `devices[board]`; `emulated` opens the
 *   SLCAN pseudo-terminal the emulated bus presents at `devices[board]` (`triplex sim --processes` sets that up);
 *   `socketcan` opens the interface named in `devices[board]`.
 *
 * One transport type per board: a board on links of two types is refused (a bridging transport does not exist).
 * Every refusal is a ConfigError naming the config file and the field.
 */
import { existsSync } from 'node:fs';
import { CanTransport } from '../../io/can.ts';
import type { CanDriver } from '../../io/can-driver.ts';
import { peerMessageLimits } from '../../io/ingress-budget.ts';
import type { MemoryHub } from '../../io/memory.ts';
import { type SerialPeerLink, SerialTransport } from '../../io/serial.ts';
import { SlcanHost } from '../../io/slcan.ts';
import { SocketCanDriver } from '../../io/socketcan.ts';
import type { Transport } from '../../io/transport.ts';
import { UdpTransport, udpIngressLimits } from '../../io/udp.ts';
import { ConfigError, type LinkConfig, type Topology } from '../config.ts';

import { CAN_LINK_MAX_MESSAGE, LINK_MAX_MESSAGE } from '../link-limits.ts';

export { LINK_MAX_MESSAGE } from '../link-limits.ts';

export interface BoardTransportOptions {
  /** The in-process hub, for memory links (the laptop's single-process system). */
  readonly memoryHub?: MemoryHub;
  /** Check that serial and SLCAN device paths exist before opening (default true). */
  readonly checkDevices?: boolean;
  /** Pace serial writes at the configured baud rate (default true: pseudo-terminals ignore baud). */
  readonly pace?: boolean;
  /** Serial/SLCAN reconnect back-off (default: the device's). */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number };
}

interface IndexedLink {
  readonly index: number;
  readonly link: LinkConfig;
}

/** The links `board` is on, with their index in `links` (for error messages). */
export function linksOfBoard(t: Topology, board: string): IndexedLink[] {
  return t.links
    .map((link, index) => ({ index, link }))
    .filter(({ link }) => {
      if (link.type === 'serial') return link.between.includes(board);
      return true; // memory, udp and can join every board
    });
}

/** Builds (does not start) the transport of `board`. Throws ConfigError. */
export function createBoardTransport(t: Topology, board: string, o: BoardTransportOptions = {}): Transport {
  const index = t.boards.findIndex((b) => b.name === board);
  if (index < 0) {
    throw new ConfigError(
      t.file,
      'boards',
      `no board named '${board}' (have ${t.boards.map((b) => b.name).join(', ')})`,
    );
  }
  const links = linksOfBoard(t, board);
  if (links.length === 0) throw new ConfigError(t.file, 'links', `board '${board}' is on no link`);
  const types = [...new Set(links.map((l) => l.link.type))];
  if (types.length > 1) {
    throw new ConfigError(
      t.file,
      'links',
      `board '${board}' is on links of several types (${types.join(', ')}); one link type per board is supported`,
    );
  }
  const first = links[0]!;
  switch (first.link.type) {
    case 'memory':
      return memoryTransport(t, board, first.index, o);
    case 'udp':
      return udpTransport(t, board, index, first.index, first.link);
    case 'serial':
      return serialTransport(t, board, links, o);
    case 'can':
      if (links.length > 1)
        throw new ConfigError(t.file, `links.${links[1]!.index}`, 'a second CAN bus is not supported');
      return canTransport(t, board, first.index, first.link, o);
  }
}

function memoryTransport(t: Topology, board: string, at: number, o: BoardTransportOptions): Transport {
  if (o.memoryHub === undefined) {
    throw new ConfigError(
      t.file,
      `links.${at}.type`,
      'memory links join boards inside one process; a board process needs a udp, serial or can link',
    );
  }
  return o.memoryHub.join(board);
}

function udpTransport(
  t: Topology,
  board: string,
  index: number,
  at: number,
  link: Extract<LinkConfig, { type: 'udp' }>,
): Transport {
  const top = link.basePort + t.boards.length - 1;
  if (top > 65535) {
    throw new ConfigError(
      t.file,
      `links.${at}.basePort`,
      `basePort + ${t.boards.length - 1} boards exceeds 65535`,
    );
  }
  const peers: Record<string, { host: string; port: number }> = {};
  t.boards.forEach((b, i) => {
    if (b.name !== board) peers[b.name] = { host: link.host, port: link.basePort + i };
  });
  return new UdpTransport({
    self: board,
    bind: { host: link.host, port: link.basePort + index },
    peers,
    ingress: udpIngressLimits(t.frameRateHz),
  });
}

function serialTransport(
  t: Topology,
  board: string,
  links: readonly IndexedLink[],
  o: BoardTransportOptions,
): Transport {
  const peers: Record<string, SerialPeerLink> = {};
  for (const { index, link } of links) {
    if (link.type !== 'serial') continue;
    const peer = link.between[0] === board ? link.between[1] : link.between[0];
    if (peer === board)
      throw new ConfigError(t.file, `links.${index}.between`, `links board '${board}' to itself`);
    if (peers[peer] !== undefined) {
      throw new ConfigError(
        t.file,
        `links.${index}.between`,
        `a second serial link between '${board}' and '${peer}'`,
      );
    }
    const path = link.devices[board]!; // the loader checked that both ends have a device
    checkDevice(t, `links.${index}.devices.${board}`, path, o);
    peers[peer] = { path, baudRate: link.baud, pace: o.pace ?? true };
  }
  return new SerialTransport({
    self: board,
    links: peers,
    maxMessage: LINK_MAX_MESSAGE,
    maxQueueBytes: 1 << 20,
    ...(o.reconnect ? { reconnect: { ...o.reconnect } } : {}),
  });
}

function canTransport(
  t: Topology,
  board: string,
  at: number,
  link: Extract<LinkConfig, { type: 'can' }>,
  o: BoardTransportOptions,
): Transport {
  // Standard 11-bit ids address 15 nodes; more boards need extended ids.
  const extended = t.boards.length > 15;
  const nodes = Object.fromEntries(t.boards.map((b, i) => [b.name, i]));
  const device = link.devices[board];
  const field = `links.${at}.devices.${board}`;
  let driver: CanDriver;
  if (link.driver === 'socketcan') {
    if (device === undefined) throw new ConfigError(t.file, field, 'no CAN interface for this board');
    driver = new SocketCanDriver({ iface: device, fd: link.dataBitrate !== undefined });
  } else {
    if (device === undefined) {
      throw new ConfigError(
        t.file,
        field,
        link.driver === 'emulated'
          ? 'an emulated CAN bus is joined through the SLCAN pty it presents: set the path here, or run `triplex sim --processes --link can`'
          : 'no SLCAN serial device for this board',
      );
    }
    checkDevice(t, field, device, o);
    try {
      driver = new SlcanHost({
        path: device,
        bitrate: link.bitrate,
        ...(link.dataBitrate !== undefined ? { dataBitrate: link.dataBitrate } : {}),
        ...(o.reconnect ? { reconnect: { ...o.reconnect } } : {}),
      });
    } catch (e) {
      throw new ConfigError(t.file, `links.${at}.bitrate`, (e as Error).message);
    }
  }
  // The base id's top bits (11-bit: 3 priority bits) set this link's arbitration priority.
  const priority = extended ? (link.baseId >> 6) & 0x1f : (link.baseId >> 8) & 0x7;
  // CAN messages are segmented with a 12-bit length: a larger message (a big NEW-VIEW) is refused and counted.
  return new CanTransport({
    self: board,
    nodes,
    driver,
    extended,
    priority,
    maxMessage: CAN_LINK_MAX_MESSAGE,
    ingress: peerMessageLimits(t.frameRateHz, CAN_LINK_MAX_MESSAGE),
  });
}

function checkDevice(t: Topology, field: string, path: string, o: BoardTransportOptions): void {
  if (o.checkDevices === false || existsSync(path)) return;
  throw new ConfigError(
    t.file,
    field,
    `serial device ${path} does not exist (is the adapter plugged in? \`triplex ports\` lists serial ports)`,
  );
}
