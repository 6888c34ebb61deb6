/**
 * `triplex ports`: lists serial ports. serialport's list() needs udevadm, which containers and minimal images
 * lack (it fails with `spawn udevadm ENOENT`); then we scan /dev for the usual UART names instead, and say so.
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, PORTS_OPTIONS, parseOptions } from './args.ts';

export interface PortInfo {
  readonly path: string;
  readonly source: 'serialport' | 'dev-scan';
  readonly manufacturer?: string;
  readonly serialNumber?: string;
  readonly vendorId?: string;
  readonly productId?: string;
  /** Where a symlink (by-id name, socat link) points. */
  readonly target?: string;
}

const DEV_PATTERNS = [
  /^ttyUSB\d+$/,
  /^ttyACM\d+$/,
  /^ttyAMA\d+$/,
  /^ttyS\d+$/,
  /^serial\d+$/,
  /^ttyGS\d+$/,
  /^rfcomm\d+$/,
];

function isCharDevice(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

/** Serial devices by name under `devDir` (and its serial/by-id links), without udev. */
export function scanDev(devDir = '/dev'): PortInfo[] {
  const out: PortInfo[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(devDir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    if (!DEV_PATTERNS.some((p) => p.test(name))) continue;
    const path = join(devDir, name);
    if (isCharDevice(path)) out.push({ path, source: 'dev-scan' });
  }
  const byId = join(devDir, 'serial', 'by-id');
  try {
    for (const name of readdirSync(byId).sort()) {
      const path = join(byId, name);
      out.push({ path, source: 'dev-scan', target: realpathSync(path) });
    }
  } catch {
    // No by-id folder: nothing plugged in through USB, or no udev to make it.
  }
  return out;
}

export interface ListResult {
  readonly ports: PortInfo[];
  /** Why the serialport listing was not used, when it was not. */
  readonly fallbackReason?: string;
}

export async function listPorts(devDir = '/dev'): Promise<ListResult> {
  try {
    const { SerialPort } = await import('serialport');
    const listed = await SerialPort.list();
    const ports: PortInfo[] = listed.map((p) => ({
      path: p.path,
      source: 'serialport',
      ...(p.manufacturer ? { manufacturer: p.manufacturer } : {}),
      ...(p.serialNumber ? { serialNumber: p.serialNumber } : {}),
      ...(p.vendorId ? { vendorId: p.vendorId } : {}),
      ...(p.productId ? { productId: p.productId } : {}),
    }));
    return { ports };
  } catch (e) {
    return {
      ports: scanDev(devDir),
      fallbackReason: `serialport list failed (${(e as Error).message}); scanned ${devDir}`,
    };
  }
}

export async function portsCommand(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv, PORTS_OPTIONS);
  if (!parsed.ok) {
    process.stderr.write(`triplex ports: ${parsed.message}\n`);
    return EXIT.usage;
  }
  const values = parsed.values;
  if (values.help) {
    process.stdout.write(
      'usage: triplex ports [--json] [--dev DIR]\n  lists serial ports (falls back to scanning /dev without udev)\n',
    );
    return 0;
  }
  const result = await listPorts(values.dev ?? '/dev');
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  if (result.fallbackReason) process.stderr.write(`note: ${result.fallbackReason}\n`);
  if (result.ports.length === 0) process.stdout.write('no serial ports found\n');
  for (const p of result.ports) {
    const extra = [p.manufacturer, p.serialNumber, p.target ? `-> ${p.target}` : undefined]
      .filter(Boolean)
      .join(' ');
    process.stdout.write(`${p.path}${extra ? `  ${extra}` : ''}\n`);
  }
  return 0;
}
