import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keysCommand, parsePrincipals } from '../../src/cli/keys.ts';
import { Prng } from '../../src/core/prng.ts';
import {
  buildKeyRing,
  generateKeySet,
  KeyFileError,
  loadPrivateKey,
  loadPublicKeys,
  type PrincipalSpec,
  privateKeyPath,
} from '../../src/runtime/keyfiles.ts';

const topology: readonly PrincipalSpec[] = [
  { name: 'fcc1', id: 0 },
  { name: 'fcc2', id: 1 },
  { name: 'fcc3', id: 2 },
  { name: 'monitor', id: 3 },
];

/** Seeded key bytes so a failing run can be replayed. */
function seededRandom(seed: number): (n: number) => Uint8Array {
  const rng = new Prng(seed);
  return (n) => Uint8Array.from({ length: n }, () => rng.u32() & 0xff);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'triplex-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectKeyFileError(promise: Promise<unknown>, file: string, reason: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyFileError);
  const kfe = err as KeyFileError;
  expect(kfe.file).toBe(file);
  expect(kfe.message).toContain(file);
  expect(kfe.message).toMatch(reason);
}

/** Rewrite one field of a JSON key file (keeping its 0600 mode). */
async function editJson(file: string, edit: (obj: Record<string, unknown>) => void): Promise<void> {
  const obj = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(obj);
  await writeFile(file, JSON.stringify(obj));
}

describe('key files', () => {
  it('round trip: generated keys load, private files are 0600, and all rings agree pairwise', async () => {
    const written = await generateKeySet(dir, topology, { random: seededRandom(11) });
    expect(written.privateFiles.map((f) => f.file)).toEqual(topology.map((p) => join(dir, `${p.name}.key`)));
    const publics = await loadPublicKeys(written.publicFile);
    expect(publics.principals.map((p) => [p.name, p.id])).toEqual(topology.map((p) => [p.name, p.id]));

    const rings = [];
    for (const f of written.privateFiles) {
      expect((await stat(f.file)).mode & 0o777).toBe(0o600);
      const key = await loadPrivateKey(f.file);
      expect(key.id).toBe(f.id);
      rings.push(buildKeyRing(key, publics, 12));
    }
    const data = new TextEncoder().encode('COMMIT v=0 n=7');
    for (const sender of rings) {
      const tags = sender.authenticator([0, 1, 2, 3], data);
      expect(tags[0]!.length).toBe(12);
      for (const receiver of rings) {
        expect(receiver.verifyAuthenticator(sender.self, [0, 1, 2, 3], data, tags)).toBe(true);
      }
    }
  });

  it('never overwrites existing keys unless forced', async () => {
    await generateKeySet(dir, topology, { random: seededRandom(1) });
    const before = await readFile(join(dir, 'fcc1.key'), 'utf8');
    await expectKeyFileError(
      generateKeySet(dir, topology),
      join(dir, 'public.json'),
      /already exists.*--force/,
    );
    expect(await readFile(join(dir, 'fcc1.key'), 'utf8')).toBe(before);

    await chmod(join(dir, 'fcc1.key'), 0o644);
    await generateKeySet(dir, topology, { force: true, random: seededRandom(2) });
    expect(await readFile(join(dir, 'fcc1.key'), 'utf8')).not.toBe(before);
    expect((await stat(join(dir, 'fcc1.key'))).mode & 0o777).toBe(0o600); // replaced, not reused
    await loadPrivateKey(join(dir, 'fcc1.key'));
  });

  it('rejects bad principal lists', async () => {
    await expect(generateKeySet(dir, [])).rejects.toThrow(/at least one principal/);
    await expect(
      generateKeySet(dir, [
        { name: 'a', id: 1 },
        { name: 'b', id: 1 },
      ]),
    ).rejects.toThrow(/id 1 is listed twice/);
    await expect(generateKeySet(dir, [{ name: '../evil', id: 1 }])).rejects.toThrow(/not allowed/);
    await expect(generateKeySet(dir, [{ name: 'a', id: 70000 }])).rejects.toThrow(/0 to 65535/);
  });

  describe('each loading failure names the file and the fault', () => {
    let keyFile: string;
    let publicFile: string;
    beforeEach(async () => {
      const written = await generateKeySet(dir, topology, { random: seededRandom(5) });
      keyFile = written.privateFiles[1]!.file;
      publicFile = written.publicFile;
    });

    it('missing file', async () => {
      const missing = join(dir, 'nobody.key');
      await expectKeyFileError(loadPrivateKey(missing), missing, /missing/);
      await rm(publicFile);
      await expectKeyFileError(loadPublicKeys(publicFile), publicFile, /missing/);
    });

    it('not a regular file, or far too big', async () => {
      await expectKeyFileError(loadPrivateKey(dir), dir, /not a regular file/);
      await writeFile(publicFile, ' '.repeat(2 << 20));
      await expectKeyFileError(loadPublicKeys(publicFile), publicFile, /larger than any key file/);
    });

    it('private key readable by group or others', async () => {
      for (const mode of [0o640, 0o604, 0o644, 0o660]) {
        await chmod(keyFile, mode);
        await expectKeyFileError(loadPrivateKey(keyFile), keyFile, new RegExp(`chmod 600 ${keyFile}`));
      }
    });

    it('public directory writable by group or others (issue 9)', async () => {
      for (const mode of [0o664, 0o646, 0o666]) {
        await chmod(publicFile, mode);
        await expectKeyFileError(
          loadPublicKeys(publicFile),
          publicFile,
          new RegExp(`chmod 644 ${publicFile}`),
        );
      }
      await chmod(publicFile, 0o644);
      await expect(loadPublicKeys(publicFile)).resolves.toMatchObject({ file: publicFile });
    });

    it.skipIf(process.geteuid?.() !== 0)(
      'a key file owned by another user (issue 9; needs root to chown, skipped otherwise)',
      async () => {
        for (const file of [keyFile, publicFile]) {
          await chown(file, 12345, 12345);
          const load = file === keyFile ? loadPrivateKey(file) : loadPublicKeys(file);
          await expectKeyFileError(load, file, /owned by user id 12345, not by this user/);
          await chown(file, 0, 0);
        }
        await expect(loadPrivateKey(keyFile)).resolves.toMatchObject({ file: keyFile });
      },
    );

    it('not JSON', async () => {
      await writeFile(keyFile, '{"version": 1, "id": ');
      await expectKeyFileError(loadPrivateKey(keyFile), keyFile, /not valid JSON/);
      await writeFile(publicFile, 'hello');
      await expectKeyFileError(loadPublicKeys(publicFile), publicFile, /not valid JSON/);
      await writeFile(keyFile, '[1, 2]');
      await expectKeyFileError(loadPrivateKey(keyFile), keyFile, /must be a JSON object/);
    });

    it('missing or ill-typed fields', async () => {
      const cases: [string, unknown, RegExp][] = [
        ['version', undefined, /"version" is missing/],
        ['version', 2, /only version 1/],
        ['id', undefined, /"id" is missing/],
        ['id', '1', /"id" must be an integer/],
        ['id', 1.5, /"id" must be an integer/],
        ['name', 7, /"name" must be a name/],
        ['ed25519Seed', undefined, /"ed25519Seed" is missing/],
        ['x25519Private', 1234, /"x25519Private" must be a hex string/],
      ];
      for (const [field, value, reason] of cases) {
        const original = await readFile(keyFile, 'utf8');
        await editJson(keyFile, (o) => {
          if (value === undefined) delete o[field];
          else o[field] = value;
        });
        await expectKeyFileError(loadPrivateKey(keyFile), keyFile, reason);
        await writeFile(keyFile, original);
      }
      await editJson(publicFile, (o) => {
        o['principals'] = 'all of them';
      });
      await expectKeyFileError(
        loadPublicKeys(publicFile),
        publicFile,
        /"principals" is missing or not an array/,
      );
    });

    it('wrong hex and wrong key size', async () => {
      await editJson(keyFile, (o) => {
        o['ed25519Seed'] = 'zz'.repeat(32);
      });
      await expectKeyFileError(loadPrivateKey(keyFile), keyFile, /"ed25519Seed" is not valid hex/);
      await editJson(keyFile, (o) => {
        o['ed25519Seed'] = 'ab'.repeat(31);
      });
      await expectKeyFileError(loadPrivateKey(keyFile), keyFile, /key of 31 bytes; expected 32/);
      await editJson(publicFile, (o) => {
        const list = o['principals'] as Record<string, unknown>[];
        list[2]!['x25519Public'] = 'ab'.repeat(33);
      });
      await expectKeyFileError(
        loadPublicKeys(publicFile),
        publicFile,
        /principals\[2\].*33 bytes; expected 32/,
      );
    });

    it('public key not matching the private key', async () => {
      const original = await readFile(keyFile, 'utf8');
      await editJson(keyFile, (o) => {
        o['x25519Public'] = 'ab'.repeat(32);
      });
      await expectKeyFileError(loadPrivateKey(keyFile), keyFile, /"x25519Public" does not match/);
      await writeFile(keyFile, original);

      // The public directory lists another key for this principal.
      const self = await loadPrivateKey(keyFile);
      await editJson(publicFile, (o) => {
        const list = o['principals'] as Record<string, unknown>[];
        list[1]!['ed25519Public'] = list[0]!['ed25519Public'];
      });
      const publics = await loadPublicKeys(publicFile);
      expect(() => buildKeyRing(self, publics)).toThrow(KeyFileError);
      expect(() => buildKeyRing(self, publics)).toThrow(
        new RegExp(`${publicFile}.*do not match.*${keyFile}`),
      );
    });

    it('duplicate ids in the public directory, a low-order peer key', async () => {
      const self = await loadPrivateKey(keyFile);
      await editJson(publicFile, (o) => {
        const list = o['principals'] as Record<string, unknown>[];
        list[3]!['x25519Public'] = '00'.repeat(32);
      });
      const publics = await loadPublicKeys(publicFile);
      expect(() => buildKeyRing(self, publics)).toThrow(
        /x25519Public of "monitor" is unusable \(low-order-point\)/,
      );
      await editJson(publicFile, (o) => {
        const list = o['principals'] as Record<string, unknown>[];
        list[3]!['id'] = 0;
      });
      await expectKeyFileError(loadPublicKeys(publicFile), publicFile, /id 0 is listed twice/);
    });
  });
});

describe('key files named by board', () => {
  it('a principal given with its board is written as <board>.<name>.key and found without the board', async () => {
    const withBoards: PrincipalSpec[] = [
      { name: 'replica-0', id: 0, board: 'mon' },
      { name: 'replica-1', id: 1, board: 'b0' },
      { name: 'channel-0', id: 200, board: 'b0' },
    ];
    const written = await generateKeySet(dir, withBoards, { random: seededRandom(5) });
    expect(written.privateFiles.map((f) => f.file)).toEqual([
      join(dir, 'mon.replica-0.key'),
      join(dir, 'b0.replica-1.key'),
      join(dir, 'b0.channel-0.key'),
    ]);
    expect(privateKeyPath(dir, 'replica-1')).toBe(join(dir, 'b0.replica-1.key'));
    expect(privateKeyPath(dir, 'replica-1', 'b0')).toBe(join(dir, 'b0.replica-1.key'));
    expect((await loadPrivateKey(privateKeyPath(dir, 'channel-0'))).id).toBe(200);
    // Two boards' files for one principal in one folder: refused, naming both.
    await writeFile(join(dir, 'b9.replica-1.key'), '{}', { mode: 0o600 });
    expect(() => privateKeyPath(dir, 'replica-1')).toThrow(
      /holds 2 key files for replica-1: b0.replica-1.key, b9.replica-1.key/,
    );
    await expect(generateKeySet(dir, [{ name: 'x', id: 9, board: '../up' }])).rejects.toThrow(
      /cannot name a file/,
    );
  });

  it('keys gen --config names each file by board and says which files go to which board', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const out = join(dir, 'mesh');
      expect(await keysCommand(['gen', '--config', 'config/serial-mesh.json', '--out', out])).toBe(0);
      const text = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(text).toContain(
        `wrote ${join(out, 'b0.replica-1.key')} (private key of replica-1, id 1, mode 0600)`,
      );
      expect(text).toMatch(/board b0 +public\.json b0\.replica-1\.key b0\.channel-0\.key/);
      expect(text).toMatch(
        /board aiu +public\.json aiu\.input-0\.key aiu\.input-1\.key aiu\.input-2\.key aiu\.voter-0\.key/,
      );
      // A board's own folder: public.json and its files only; check passes and names what is elsewhere.
      const b0 = join(dir, 'b0-only');
      await mkdir(b0);
      for (const f of ['public.json', 'b0.replica-1.key', 'b0.channel-0.key'])
        await copyFile(join(out, f), join(b0, f));
      expect(await keysCommand(['check', '--dir', b0])).toBe(0);
      const checked = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(checked).toContain(`ok ${join(b0, 'b0.replica-1.key')}`);
      expect(checked).toMatch(
        /no private key here for: replica-0, replica-2.*\(they belong on other boards\)/,
      );
    } finally {
      log.mockRestore();
    }
  });
});

describe('triplex keys (CLI)', () => {
  it('gen writes the key set and reports it; bad args exit 2 with a message', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const out = join(dir, 'set');
      expect(await keysCommand(['gen', '--out', out, '--principals', 'fcc1:0,fcc2:1,fcc3:2,monitor:3'])).toBe(
        0,
      );
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toContain(join(out, 'monitor.key'));
      expect((await stat(join(out, 'fcc2.key'))).mode & 0o777).toBe(0o600);
      expect(await keysCommand(['check', '--dir', out])).toBe(0);

      // Existing keys: refused (exit 1), named.
      expect(await keysCommand(['gen', '--out', out, '--principals', 'fcc1:0'])).toBe(1);
      expect(String(error.mock.lastCall?.[0])).toMatch(/already exists/);
      expect(await keysCommand(['gen', '--out', out, '--principals', 'fcc1:0', '--force'])).toBe(0);

      for (const bad of [
        ['gen'],
        ['gen', '--out', out],
        ['gen', '--out', out, '--principals', 'fcc1'],
        ['gen', '--out', out, '--principals', 'a:1,b:1'],
        ['gen', '--out', out, '--principals', 'a:1', '--bogus'],
        ['frobnicate'],
      ]) {
        expect(await keysCommand(bad)).toBe(2);
        expect(String(error.mock.lastCall?.[0])).toMatch(/^triplex keys: .+\nusage:/);
      }
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  });

  it('parsePrincipals reads name:id lists', () => {
    expect(parsePrincipals('a:0, b:17')).toEqual({
      ok: true,
      principals: [
        { name: 'a', id: 0 },
        { name: 'b', id: 17 },
      ],
    });
    expect(parsePrincipals('a:99999').ok).toBe(false);
    expect(parsePrincipals('a:-1').ok).toBe(false);
  });
});
