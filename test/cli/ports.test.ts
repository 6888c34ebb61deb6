import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listPorts, scanDev } from '../../src/cli/ports.ts';

const hasSocat = spawnSync('socat', ['-V']).status === 0;
if (!hasSocat)
  console.warn(
    'ports test: socat not installed, skipping the pseudo-terminal scan (bash .ci/run installs it)',
  );

describe('triplex ports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-ports-'));
  const socat = hasSocat
    ? spawn('socat', [
        `pty,raw,echo=0,link=${join(dir, 'ttyUSB0')}`,
        `pty,raw,echo=0,link=${join(dir, 'ttyACM3')}`,
      ])
    : undefined;
  afterAll(() => socat?.kill());

  it.skipIf(!hasSocat)('finds serial devices by name when scanning a dev folder', async () => {
    for (let i = 0; i < 100 && !existsSync(join(dir, 'ttyACM3')); i++)
      await new Promise((r) => setTimeout(r, 20));
    const ports = scanDev(dir).map((p) => p.path);
    expect(ports).toEqual([join(dir, 'ttyACM3'), join(dir, 'ttyUSB0')]);
  });

  it('scanning a folder that does not exist gives an empty list, not an error', () => {
    expect(scanDev(join(dir, 'missing'))).toEqual([]);
  });

  it('lists ports even where udev is missing (falls back and says why)', async () => {
    const result = await listPorts(dir);
    if (result.fallbackReason !== undefined) {
      // No udev: the list is the scan of the folder asked for (the socat links when socat is here).
      expect(result.fallbackReason).toMatch(new RegExp(`scanned ${dir}$`));
      expect(result.ports).toEqual(scanDev(dir));
      expect(result.ports.every((p) => p.source === 'dev-scan')).toBe(true);
    } else {
      // udev answered: every entry is serialport's, with a device path.
      expect(result.ports.every((p) => p.source === 'serialport' && p.path.length > 0)).toBe(true);
    }
  });
});
