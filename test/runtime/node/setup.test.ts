/**
 * What a board process needs before it flies: its transport from the config, its keys from a key directory, and
 * the `triplex node` / `triplex keys gen --config` command lines with their exit codes.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryHub } from '../../../src/io/memory.ts';
import { SerialTransport } from '../../../src/io/serial.ts';
import { UdpTransport } from '../../../src/io/udp.ts';
import { ConfigError, loadTopology, parseTopology, type Topology } from '../../../src/runtime/config.ts';
import { generateKeySet, KeyFileError } from '../../../src/runtime/keyfiles.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { boardPrincipals, loadBoardKeys } from '../../../src/runtime/node/keys.ts';
import { createBoardTransport } from '../../../src/runtime/node/transports.ts';
import { runToExit, triplexCommand } from '../../../src/runtime/process/child.ts';

const dir = mkdtempSync(join(tmpdir(), 'triplex-node-setup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const laptop = loadTopology('config/laptop.json');
const mesh = loadTopology('config/serial-mesh.json');

function withLinks(t: Topology, links: unknown[]): Topology {
  const { file: _f, replicas: _r, channels: _c, voters: _v, inputs: _i, budget: _b, ...raw } = t;
  return parseTopology({ ...raw, links }, 'test.json');
}

describe('transport of a board from the config', () => {
  it('memory links need the process hub, and say so naming the file and field', () => {
    expect(() => createBoardTransport(laptop, 'b0')).toThrow(ConfigError);
    expect(() => createBoardTransport(laptop, 'b0')).toThrow(
      /config\/laptop.json: links.0.type: memory links/,
    );
    expect(createBoardTransport(laptop, 'b0', { memoryHub: new MemoryHub() }).self).toBe('b0');
  });

  it('serial: one port per link naming the board, at its own device path', () => {
    const t = createBoardTransport(mesh, 'b1', { checkDevices: false });
    expect(t).toBeInstanceOf(SerialTransport);
    expect([...t.peers].sort()).toEqual(['aiu', 'b0', 'b2', 'mon']);
  });

  it('a missing serial device is a ConfigError naming the link and board', () => {
    expect(() => createBoardTransport(mesh, 'b1')).toThrow(
      /serial-mesh.json: links.0.devices.b1: serial device \/dev\/ttyUSB0 does not exist/,
    );
  });

  it('udp: basePort + board index for every board', () => {
    const t = withLinks(mesh, [{ type: 'udp', basePort: 40100 }]);
    const u = createBoardTransport(t, 'b0') as UdpTransport;
    expect(u).toBeInstanceOf(UdpTransport);
    expect([...u.peers].sort()).toEqual(['aiu', 'b1', 'b2', 'mon']);
  });

  it('an unknown board, or a board on two link types, is refused', () => {
    expect(() => createBoardTransport(mesh, 'nope')).toThrow(/boards: no board named 'nope'/);
    const mixed = withLinks(mesh, [...mesh.links, { type: 'udp', basePort: 40200 }]);
    expect(() => createBoardTransport(mixed, 'b0')).toThrow(/links of several types \(serial, udp\)/);
  });

  it('an emulated CAN bus without a pty path says how to get one', () => {
    const t = withLinks(mesh, [{ type: 'can', driver: 'emulated', bitrate: 1_000_000 }]);
    expect(() => createBoardTransport(t, 'b0')).toThrow(/links.0.devices.b0: an emulated CAN bus is joined/);
  });
});

describe('board keys from a key directory', () => {
  const keys = join(dir, 'keys');
  const ready = generateKeySet(keys, topologyPrincipals(mesh));

  it('loads only the principals the board hosts, and they authenticate to each other', async () => {
    await ready;
    expect(boardPrincipals(mesh, 'b0').map((p) => p.name)).toEqual(['replica-1', 'channel-0']);
    expect(boardPrincipals(mesh, 'aiu').map((p) => p.name)).toEqual([
      'input-0',
      'input-1',
      'input-2',
      'voter-0',
    ]);
    const b0 = await loadBoardKeys(keys, mesh, 'b0');
    const aiu = await loadBoardKeys(keys, mesh, 'aiu');
    const msg = new TextEncoder().encode('output frame 7');
    const tag = b0.ring(principalOf.channel(0)).tag(principalOf.voter(0), msg);
    expect(aiu.ring(principalOf.voter(0)).verify(principalOf.channel(0), msg, tag)).toBe(true);
    expect(() => b0.ring(principalOf.voter(0))).toThrow(/does not host principal 300/);
    const sig = b0.signer(1).sign(msg);
    expect(sig.length).toBe(64);
    expect(aiu.replicaPublicKeys.get(1)).toEqual(b0.signer(1).publicKey);
  });

  it('refuses a private key file readable by others, naming it', async () => {
    await ready;
    const other = join(dir, 'keys-open');
    await generateKeySet(other, topologyPrincipals(mesh));
    chmodSync(join(other, 'replica-1.key'), 0o644);
    await expect(loadBoardKeys(other, mesh, 'b0')).rejects.toThrow(KeyFileError);
    await expect(loadBoardKeys(other, mesh, 'b0')).rejects.toThrow(
      /replica-1.key: private key file is readable/,
    );
  });

  it('refuses a key set made for another topology', async () => {
    const small = join(dir, 'keys-small');
    await generateKeySet(small, [{ id: 0, name: 'replica-0' }]);
    await expect(loadBoardKeys(small, mesh, 'b0')).rejects.toThrow(/does not list principal replica-1/);
  });
});

function triplex(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return runToExit(triplexCommand(args), { timeoutMs: 60_000 });
}

describe('command lines', () => {
  it('keys gen --config writes a key set `triplex node` loads; node exits 2 on a missing port', async () => {
    const out = join(dir, 'cli-keys');
    const gen = await triplex(['keys', 'gen', '--config', 'config/serial-mesh.json', '--out', out]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(existsSync(join(out, 'aiu.voter-0.key'))).toBe(true);
    const node = await triplex([
      'node',
      '--config',
      'config/serial-mesh.json',
      '--board',
      'b0',
      '--keys',
      out,
    ]);
    expect(node.code).toBe(2);
    expect(node.stderr).toMatch(/links.0.devices.b0: serial device \/dev\/ttyUSB0 does not exist/);
  });

  it('node: bad arguments, a bad config and missing keys exit 2 with a clear message', async () => {
    const noBoard = await triplex(['node', '--config', 'config/serial-mesh.json']);
    expect([noBoard.code, noBoard.stderr]).toEqual([2, expect.stringMatching(/--board NAME is required/)]);
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, '{"name": "x", "f": 0}');
    const bad = await triplex(['node', '--config', badFile, '--board', 'b0']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/bad.json: f: /)]);
    const noKeys = await triplex([
      'node',
      '--config',
      'config/serial-mesh.json',
      '--board',
      'b0',
      '--keys',
      join(dir, 'none'),
    ]);
    expect([noKeys.code, noKeys.stderr]).toEqual([
      2,
      expect.stringMatching(/public.json: key file is missing/),
    ]);
    const rig = await triplex([
      'node',
      '--config',
      'config/serial-mesh.json',
      '--board',
      'b0',
      '--rig',
      'emulated',
    ]);
    expect([rig.code, rig.stderr]).toEqual([
      2,
      expect.stringMatching(/--rig runs on the voter's board 'aiu'/),
    ]);
  }, 30_000);
});
