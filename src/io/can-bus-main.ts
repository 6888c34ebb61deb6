/**
 * The emulated CAN bus as a process of its own: `tsx src/io/can-bus-main.ts DIR BOARD... [--bitrate N]
 * [--data-bitrate N]`. Creates DIR/<board> pty paths (SLCAN adapters), prints one JSON line
 * {"paths": {...}} on stdout when ready, prints bus statistics as JSON on SIGTERM/SIGINT and exits.
 */

import { startEmulatedCanBus } from './can-emu.ts';

async function main(argv: string[]): Promise<void> {
  const positional: string[] = [];
  let bitrate = 1_000_000;
  let dataBitrate: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--bitrate') bitrate = Number(argv[++i]);
    else if (a === '--data-bitrate') dataBitrate = Number(argv[++i]);
    else positional.push(a);
  }
  const [dir, ...boards] = positional;
  if (dir === undefined || boards.length === 0 || !(bitrate > 0)) {
    process.stderr.write('usage: can-bus-main DIR BOARD... [--bitrate N] [--data-bitrate N]\n');
    process.exit(2);
  }
  const setup = await startEmulatedCanBus(dir, boards, dataBitrate ? { bitrate, dataBitrate } : { bitrate });
  process.stdout.write(`${JSON.stringify({ paths: setup.paths })}\n`);
  const stop = async (): Promise<void> => {
    process.stdout.write(`${JSON.stringify({ bus: setup.bus.stats() })}\n`);
    await setup.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`emulated CAN bus: ${err.message}\n`);
  process.exit(1);
});
