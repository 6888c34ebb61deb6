import { filter, firstValueFrom, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { CanTransport } from '../../src/io/can.ts';
import { canDataFrame } from '../../src/io/can-frame.ts';
import { listCanInterfaces, loadSocketCan, SocketCanDriver } from '../../src/io/socketcan.ts';
import { TransportConfigError } from '../../src/io/transport.ts';

const moduleError = await loadSocketCan().then(
  () => undefined,
  (err: Error) => err.message,
);
const iface = listCanInterfaces().find((n) => n.startsWith('vcan')) ?? listCanInterfaces()[0];
const skipReason =
  moduleError !== undefined
    ? "the optional 'socketcan' package is not installed"
    : iface === undefined
      ? 'no CAN interface on this machine (no vcan module)'
      : undefined;
if (skipReason !== undefined) console.log(`[socketcan] skipping the live SocketCAN test: ${skipReason}`);

describe('SocketCAN driver', () => {
  it('gives a clear configuration error only when it is used and the package is missing', async () => {
    const driver = new SocketCanDriver({ iface: 'vcan0' }); // constructing it loads nothing
    if (moduleError === undefined) {
      // The package is here: the same call loads it, and the error names the missing interface instead.
      const absent = new SocketCanDriver({ iface: 'triplex-absent' });
      await expect(absent.start()).rejects.toBeInstanceOf(TransportConfigError);
      await expect(absent.start()).rejects.toThrow(/no CAN interface triplex-absent/);
      expect(absent.state.value).toBe('down');
      expect(absent.send(canDataFrame(1, Uint8Array.of(1)))).toBe(false);
      return;
    }
    await expect(driver.start()).rejects.toBeInstanceOf(TransportConfigError);
    await expect(driver.start()).rejects.toThrow(/optional 'socketcan' package/);
    expect(driver.send(canDataFrame(1, Uint8Array.of(1)))).toBe(false);
  });

  it('refuses frames too long for the interface before they reach the addon', () => {
    const classic = new SocketCanDriver({ iface: 'vcan0' });
    expect(classic.send(canDataFrame(1, new Uint8Array(9)))).toBe(false);
    expect(classic.send(canDataFrame(1, new Uint8Array(12), { fd: true }))).toBe(false);
    const fd = new SocketCanDriver({ iface: 'vcan0', fd: true });
    expect(fd.send(canDataFrame(1, new Uint8Array(65), { fd: true }))).toBe(false);
    expect(classic.counters.snapshot().errors['bad-frame']).toBe(2);
  });

  it.skipIf(skipReason !== undefined)('carries messages between two nodes on a live interface', async () => {
    const nodes = { a: 1, b: 2 };
    const a = new CanTransport({ self: 'a', nodes, driver: new SocketCanDriver({ iface: iface! }) });
    const b = new CanTransport({ self: 'b', nodes, driver: new SocketCanDriver({ iface: iface! }) });
    await Promise.all([a.start(), b.start()]);
    await firstValueFrom(b.state$.pipe(filter((s) => s === 'up')));
    const got = firstValueFrom(b.received$.pipe(take(1)));
    a.send(
      'b',
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    expect((await got).bytes.length).toBe(100);
    await Promise.all([a.close(), b.close()]);
  });
});
