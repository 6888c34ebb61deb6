/**
 * What deploy/install.sh needs to know about one board of a topology, one fact per line:
 *   role replica-1              a role process the supervisor runs
 *   key replica-1               a private key file (<name>.key) the board needs, and only those
 *   device /dev/ttyAMA0         a serial port the board opens (serial links, SLCAN adapters): DeviceAllow=
 *   can can0                    a SocketCAN interface (no device node: AF_CAN)
 *   recovery <statement line>   what the topology tolerates while a node recovers
 * Exit status 2 with a message on stderr if the config is bad or the board is not in it.
 *
 *   node --import tsx deploy/board-info.ts --config /etc/triplex/topology.json --board b0
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { recoverySchedule } from '../src/core/recovery/schedule.ts';
import { ConfigError, loadTopology, type Topology } from '../src/runtime/config.ts';
import { boardPrincipals } from '../src/runtime/node/keys.ts';

export interface BoardInfo {
  readonly roles: readonly string[];
  readonly keys: readonly string[];
  readonly devices: readonly string[];
  readonly canInterfaces: readonly string[];
  readonly recovery: readonly string[];
}

/** The facts of `board` in `t`. Throws a RangeError if the board is not in the topology. */
export function boardInfo(t: Topology, board: string): BoardInfo {
  if (!t.boards.some((b) => b.name === board)) {
    throw new RangeError(
      `board '${board}' is not in ${t.file} (boards: ${t.boards.map((b) => b.name).join(', ')})`,
    );
  }
  const keys = boardPrincipals(t, board).map((p) => p.name);
  const devices = new Set<string>();
  const canInterfaces = new Set<string>();
  for (const link of t.links) {
    if (link.type === 'serial' && link.between.includes(board)) {
      const d = link.devices[board];
      if (d !== undefined) devices.add(d);
    }
    if (link.type === 'can') {
      const d = link.devices[board];
      if (d === undefined) continue;
      if (link.driver === 'slcan') devices.add(d);
      else if (link.driver === 'socketcan') canInterfaces.add(d);
    }
  }
  const schedule = recoverySchedule(t);
  const recovery = schedule.ok
    ? schedule.schedule.statement.split('\n')
    : [`cannot schedule: ${schedule.detail}`];
  return {
    roles: keys,
    keys,
    devices: [...devices].sort(),
    canInterfaces: [...canInterfaces].sort(),
    recovery,
  };
}

/** The line format install.sh reads. */
export function boardInfoLines(info: BoardInfo): string[] {
  return [
    ...info.roles.map((r) => `role ${r}`),
    ...info.keys.map((k) => `key ${k}`),
    ...info.devices.map((d) => `device ${d}`),
    ...info.canInterfaces.map((c) => `can ${c}`),
    ...info.recovery.map((l) => `recovery ${l}`),
  ];
}

function main(): void {
  const { values } = parseArgs({ options: { config: { type: 'string' }, board: { type: 'string' } } });
  if (values.config === undefined || values.board === undefined) {
    console.error('usage: board-info --config FILE --board NAME');
    process.exit(2);
  }
  try {
    for (const line of boardInfoLines(boardInfo(loadTopology(values.config), values.board)))
      console.log(line);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof RangeError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
