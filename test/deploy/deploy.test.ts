/**
 * deploy/: the systemd units pass `systemd-analyze verify` (where systemd-analyze exists; skipped with the
 * reason printed otherwise), say what the design needs, and install.sh lays out a board correctly into a scratch
 * root (--root: no users, owners or systemctl), with only the board's own private keys, mode 0600.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { boardInfo, boardInfoLines } from '../../deploy/board-info.ts';
import { loadTopology } from '../../src/runtime/config.ts';
import { generateKeySet, KeyFileError, loadPrivateKey } from '../../src/runtime/keyfiles.ts';
import { topologyPrincipals } from '../../src/runtime/loop/keys.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const UNIT = join(DEPLOY, 'systemd', 'triplex-board@.service');
const DROPINS = join(DEPLOY, 'systemd', 'triplex-board@.service.d');
const scratch = mkdtempSync(join(tmpdir(), 'triplex-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }), 120_000);

const analyze = '/usr/bin/systemd-analyze';
const analyzeProblem = existsSync(analyze)
  ? spawnSync(analyze, ['--version']).status === 0
    ? undefined
    : `${analyze} does not run here`
  : `${analyze} is not installed`;
if (analyzeProblem !== undefined) console.log(`skipping systemd-analyze verify: ${analyzeProblem}`);

let n = 0;
/** `systemd-analyze verify` of the unit as instance `board`, with the given drop-ins; stderr is every complaint. */
function verify(
  unitText: string,
  dropins: Record<string, string>,
  board = 'b0',
): { status: number | null; stderr: string } {
  const dir = join(scratch, `units-${n++}`);
  mkdirSync(join(dir, 'triplex-board@.service.d'), { recursive: true });
  writeFileSync(join(dir, 'triplex-board@.service'), unitText);
  for (const [name, text] of Object.entries(dropins))
    writeFileSync(join(dir, 'triplex-board@.service.d', name), text);
  symlinkSync('triplex-board@.service', join(dir, `triplex-board@${board}.service`));
  const r = spawnSync(analyze, ['verify', '--man=no', join(dir, `triplex-board@${board}.service`)], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr };
}

const unit = readFileSync(UNIT, 'utf8');
const realtime = readFileSync(join(DROPINS, '10-realtime.conf'), 'utf8');
const devices = readFileSync(join(DROPINS, '20-devices.conf.example'), 'utf8');
const settings = (text: string): string[] => text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l));

describe('systemd units', () => {
  it.skipIf(analyzeProblem !== undefined)('systemd-analyze verify passes, without a single complaint', () => {
    const r = verify(unit, { '10-realtime.conf': realtime, '20-devices.conf': devices });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(analyzeProblem !== undefined)('and it would catch a broken unit (the check can fail)', () => {
    const broken = verify(unit.replace('ProtectSystem=strict', 'ProtectSystem=strickt'), {});
    expect(broken.stderr).toMatch(/protect system value, ignoring: strickt/i);
    const missing = verify(unit.replace('/usr/bin/node', '/usr/bin/no-such-node'), {});
    expect(missing.status).not.toBe(0);
  });

  it('says what the design asks for', () => {
    const s = settings(unit);
    for (const want of [
      'Type=notify',
      'NotifyAccess=main',
      'WatchdogSec=5s',
      'Restart=always',
      'User=triplex',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=',
      'DevicePolicy=closed',
      'RestrictAddressFamilies=AF_UNIX AF_CAN AF_INET',
      'MemoryDenyWriteExecute=no',
      'KillMode=control-group',
    ]) {
      expect(s).toContain(want);
    }
    expect(unit).toMatch(/JIT/); // the reason for MemoryDenyWriteExecute=no is stated
    expect(settings(realtime)).toEqual(
      expect.arrayContaining(['CPUSchedulingPolicy=fifo', 'CPUSchedulingPriority=40']),
    );
    expect(realtime).toMatch(/fallback/);
    // The process systemd starts is the one that notifies: bin/triplex.mjs runs the CLI in-process.
    expect(s.find((l) => l.startsWith('ExecStart='))).toMatch(
      /^ExecStart=\/usr\/bin\/node \/opt\/triplex\/bin\/triplex\.mjs node --board %i/,
    );
    expect(readFileSync(join(ROOT, 'bin', 'triplex.mjs'), 'utf8')).not.toMatch(/spawn/);
  });

  it("the hardware watchdog is systemd's", () => {
    const w = readFileSync(join(DEPLOY, 'systemd', 'system.conf.d', '50-triplex-watchdog.conf'), 'utf8');
    expect(settings(w)).toContain('RuntimeWatchdogSec=10s');
  });
});

describe('board-info', () => {
  it("lists a serial board's roles, its own keys only, and its ports", () => {
    const t = loadTopology(join(ROOT, 'config', 'serial-mesh.json'));
    const b0 = boardInfo(t, 'b0');
    expect(b0.keys).toEqual(['replica-1', 'channel-0']);
    expect(b0.devices.length).toBeGreaterThan(0);
    expect(b0.devices.every((d) => d.startsWith('/dev/'))).toBe(true);
    const aiu = boardInfo(t, 'aiu');
    expect(aiu.keys).toEqual(['input-0', 'input-1', 'input-2', 'voter-0']);
    expect(() => boardInfo(t, 'nope')).toThrow(/not in/);
    expect(boardInfoLines(b0).filter((l) => l.startsWith('recovery ')).length).toBeGreaterThan(0);
  });
});

describe('install.sh', () => {
  it('is valid sh and documents itself', () => {
    expect(spawnSync('/bin/sh', ['-n', join(DEPLOY, 'install.sh')]).status).toBe(0);
    const help = spawnSync('/bin/sh', [join(DEPLOY, 'install.sh'), '--help'], { encoding: 'utf8' });
    expect(help.stdout).toContain('--board');
    const bad = spawnSync('/bin/sh', [join(DEPLOY, 'install.sh'), '--board', 'b0'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--config');
  });

  it('installs a board into a scratch root: its keys only, mode 0600 in a 0700 directory, its ports allowed', async () => {
    const config = join(ROOT, 'config', 'serial-mesh.json');
    const keys = join(scratch, 'keys');
    const t = loadTopology(config);
    let seed = 1;
    await generateKeySet(keys, topologyPrincipals(t), { random: (len) => new Uint8Array(len).fill(seed++) });
    const root = join(scratch, 'root');
    const r = spawnSync(
      '/bin/sh',
      [
        join(DEPLOY, 'install.sh'),
        '--board',
        'b0',
        '--config',
        config,
        '--keys',
        keys,
        '--root',
        root,
        '--realtime',
        'yes',
        '--hardware-watchdog',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('not installing');
    expect(r.stdout).toContain('safe throughout');

    const keyDir = join(root, 'etc', 'triplex', 'keys');
    const mode = (p: string) => statSync(p).mode & 0o777;
    expect(mode(keyDir)).toBe(0o700);
    expect(mode(join(keyDir, 'replica-1.key'))).toBe(0o600);
    expect(mode(join(keyDir, 'channel-0.key'))).toBe(0o600);
    expect(mode(join(keyDir, 'public.json'))).toBe(0o644);
    expect(existsSync(join(keyDir, 'replica-0.key'))).toBe(false); // mon's
    expect(existsSync(join(keyDir, 'voter-0.key'))).toBe(false); // aiu's
    expect(mode(join(root, 'etc', 'triplex', 'topology.json'))).toBe(0o640);
    // The installed key loads; the same file made group-readable is refused by the runtime.
    await expect(loadPrivateKey(join(keyDir, 'replica-1.key'))).resolves.toMatchObject({ name: 'replica-1' });
    const loose = join(scratch, 'loose.key');
    cpSync(join(keyDir, 'replica-1.key'), loose);
    chmodSync(loose, 0o640);
    await expect(loadPrivateKey(loose)).rejects.toBeInstanceOf(KeyFileError);

    const dropins = join(root, 'etc', 'systemd', 'system', 'triplex-board@.service.d');
    const deviceConf = readFileSync(join(dropins, '20-devices.conf'), 'utf8');
    for (const d of boardInfo(t, 'b0').devices) expect(deviceConf).toContain(`DeviceAllow=${d} rw`);
    expect(existsSync(join(dropins, '10-realtime.conf'))).toBe(true);
    expect(existsSync(join(root, 'etc', 'systemd', 'system.conf.d', '50-triplex-watchdog.conf'))).toBe(true);
    expect(existsSync(join(root, 'opt', 'triplex', 'src', 'cli', 'main.ts'))).toBe(true);
    expect(existsSync(join(root, 'opt', 'triplex', 'keys'))).toBe(false);

    if (analyzeProblem === undefined) {
      const installed = readFileSync(
        join(root, 'etc', 'systemd', 'system', 'triplex-board@.service'),
        'utf8',
      );
      const v = verify(installed, {
        '10-realtime.conf': readFileSync(join(dropins, '10-realtime.conf'), 'utf8'),
        '20-devices.conf': deviceConf,
      });
      expect(v.stderr).toBe('');
    }
  });

  it('--dry-run changes nothing', () => {
    const root = join(scratch, 'dry');
    const r = spawnSync(
      '/bin/sh',
      [
        join(DEPLOY, 'install.sh'),
        '--board',
        'aiu',
        '--config',
        join(ROOT, 'config', 'serial-mesh.json'),
        '--keys',
        join(scratch, 'keys'),
        '--root',
        root,
        '--dry-run',
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('+ install -m 0600');
    expect(existsSync(root)).toBe(false);
  });
});
