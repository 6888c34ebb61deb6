/**
 * Key files for a topology. Each principal has an ed25519 identity key pair (signatures) and
 * an X25519 static key pair (key agreement); pairwise MAC keys are derived by X25519 + HKDF,
 * so no pairwise secret is ever written or distributed.
 *
 * On disk, in one directory:
 * - `<board>.<name>.key` (`b0.replica-1.key`: the board it goes to, then the principal), or `<name>.key` for a
 *   principal given without a board: one per principal, mode 0600, JSON
 *   `{ version, id, name, ed25519Seed, x25519Private, ed25519Public, x25519Public }` (hex); a voter's file also
 *   `heartbeatKey` (32 random bytes, hex: the key its firmware tags heartbeats with; a secret of its board alone).
 * - `public.json`: `{ version, principals: [{ id, name, ed25519Public, x25519Public }] }`.
 *
 * Loading checks everything and throws a KeyFileError naming the file and the fault.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, readdirSync, type Stats } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hex } from '../core/bytes.ts';
import { constantTimeEqual } from '../core/crypto/ct.ts';
import { pairwiseKey } from '../core/crypto/hkdf.ts';
import { KeyRing, type PrincipalId } from '../core/crypto/keyring.ts';
import type { MacBackendName } from '../core/crypto/mac.ts';
import { ed25519PublicKey, KEY_LENGTH, x25519Agree, x25519PublicKey } from '../core/crypto/sign.ts';

/** Key file format version written and accepted. */
export const KEY_FILE_VERSION = 1;
/** Name of the public directory file inside a key directory. */
export const PUBLIC_FILE_NAME = 'public.json';
/** Key files are small; anything bigger is not ours (and is not read into memory). */
const MAX_KEY_FILE_BYTES = 1 << 20;
/** Most principals in one key set (u16 ids; far more than any topology here). */
export const MAX_PRINCIPALS = 4096;
/** Principal names become file names: letters, digits, '-', '_' only. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A key file could not be written or loaded; `file` names it and the message says why. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  readonly file: string;
  readonly reason: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.file = file;
    this.reason = reason;
  }
}

/** A principal in a topology: numeric id on the wire, name for files and logs. */
export interface PrincipalSpec {
  readonly id: PrincipalId;
  readonly name: string;
  /** The board whose private key file this is: it names the file (`<board>.<name>.key`). */
  readonly board?: string;
  /** Its key file also holds a heartbeat key (a voter: its firmware tags heartbeats with it). */
  readonly heartbeat?: boolean;
}

/** One principal's public keys, as listed in public.json. */
export interface PublicPrincipal extends PrincipalSpec {
  readonly ed25519Public: Uint8Array;
  readonly x25519Public: Uint8Array;
}

/** A loaded private key file (keeps the path for error messages). */
export interface PrivateKey extends PublicPrincipal {
  readonly file: string;
  readonly ed25519Seed: Uint8Array;
  readonly x25519Private: Uint8Array;
  /** A voter's firmware heartbeat key (32 bytes; field "heartbeatKey", absent in other principals' files). */
  readonly heartbeatKey?: Uint8Array;
}

/** A loaded public directory. */
export interface PublicDirectory {
  readonly file: string;
  readonly principals: readonly PublicPrincipal[];
}

/** Options for generateKeySet. */
export interface GenerateOptions {
  /** Replace existing key files. Without it, any existing target file aborts before writing. */
  readonly force?: boolean;
  /** Source of key bytes; default node:crypto randomBytes. Tests pass a seeded one. */
  readonly random?: (length: number) => Uint8Array;
}

/** What generateKeySet wrote. */
export interface GeneratedKeySet {
  readonly publicFile: string;
  readonly privateFiles: readonly {
    readonly id: PrincipalId;
    readonly name: string;
    readonly board?: string;
    readonly file: string;
  }[];
}

/** Check a principal list: non-empty, ids u16 and unique, names file-safe and unique. Throws RangeError. */
export function validatePrincipals(principals: readonly PrincipalSpec[]): void {
  if (principals.length === 0) throw new RangeError('at least one principal is needed');
  if (principals.length > MAX_PRINCIPALS) {
    throw new RangeError(`at most ${MAX_PRINCIPALS} principals, got ${principals.length}`);
  }
  const ids = new Set<number>();
  const names = new Set<string>();
  for (const p of principals) {
    if (!Number.isInteger(p.id) || p.id < 0 || p.id > 0xffff) {
      throw new RangeError(
        `principal ${JSON.stringify(p.name)}: id must be an integer from 0 to 65535, got ${p.id}`,
      );
    }
    if (!NAME_PATTERN.test(p.name) || p.name === 'public') {
      throw new RangeError(
        `principal name ${JSON.stringify(p.name)} is not allowed: use 1-64 letters, digits, '-' or '_' (not "public")`,
      );
    }
    if (p.board !== undefined && !NAME_PATTERN.test(p.board)) {
      throw new RangeError(`board name ${JSON.stringify(p.board)} of principal ${p.name} cannot name a file`);
    }
    if (ids.has(p.id)) throw new RangeError(`principal id ${p.id} is listed twice`);
    if (names.has(p.name)) throw new RangeError(`principal name ${JSON.stringify(p.name)} is listed twice`);
    ids.add(p.id);
    names.add(p.name);
  }
}

/**
 * Path of the private key file of principal `name` in `dir`: `<board>.<name>.key` when the board is given;
 * without it, `<name>.key` if present, else the one `<board>.<name>.key` in `dir` (a board's key folder holds
 * only its own). Throws KeyFileError when several boards' files for `name` are in `dir`.
 */
export function privateKeyPath(dir: string, name: string, board?: string): string {
  if (board !== undefined) return join(dir, `${board}.${name}.key`);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return join(dir, `${name}.key`); // reading it reports the missing folder
  }
  if (files.includes(`${name}.key`)) return join(dir, `${name}.key`);
  const named = files.filter(
    (f) => f.endsWith(`.${name}.key`) && NAME_PATTERN.test(f.slice(0, -name.length - 5)),
  );
  if (named.length > 1) {
    throw new KeyFileError(
      join(dir, named[0]!),
      `${dir} holds ${named.length} key files for ${name}: ${named.join(', ')}`,
    );
  }
  return join(dir, named[0] ?? `${name}.key`);
}

/**
 * Write a fresh key set for `principals` into `dir` (created with mode 0700 if missing):
 * one `<name>.key` per principal (mode 0600) and `public.json`. Refuses to overwrite any
 * existing file unless `force`; in that case nothing is written at all.
 */
export async function generateKeySet(
  dir: string,
  principals: readonly PrincipalSpec[],
  options: GenerateOptions = {},
): Promise<GeneratedKeySet> {
  validatePrincipals(principals);
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const publicFile = join(dir, PUBLIC_FILE_NAME);
  const privateFiles = principals.map((p) => ({
    id: p.id,
    name: p.name,
    ...(p.board !== undefined ? { board: p.board } : {}),
    file: p.board !== undefined ? privateKeyPath(dir, p.name, p.board) : join(dir, `${p.name}.key`),
  }));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.force !== true) await refuseExisting([publicFile, ...privateFiles.map((f) => f.file)]);

  const keys = principals.map((p) => newPrivateKey(p, random));
  for (const [i, key] of keys.entries()) {
    await writeFileSecure(privateFiles[i]!.file, privateKeyJson(key), 0o600, options.force === true);
  }
  // The public file goes last: its presence means the set is complete.
  await writeFileSecure(publicFile, publicDirectoryJson(keys), 0o644, options.force === true);
  return { publicFile, privateFiles };
}

/** Load and check a private key file: owner-only mode, JSON shape, hex, sizes, publics match. */
export async function loadPrivateKey(file: string): Promise<PrivateKey> {
  const json = await readJsonFile(file, 'private');
  const obj = expectObject(file, json, 'file');
  expectVersion(file, obj);
  const id = expectId(file, obj, 'id');
  const name = expectName(file, obj, 'name');
  const ed25519Seed = expectKey(file, obj, 'ed25519Seed');
  const x25519Private = expectKey(file, obj, 'x25519Private');
  const ed25519Public = expectKey(file, obj, 'ed25519Public');
  const x25519Public = expectKey(file, obj, 'x25519Public');
  if (!constantTimeEqual(ed25519PublicKey(ed25519Seed), ed25519Public)) {
    throw new KeyFileError(file, 'field "ed25519Public" does not match the public key of "ed25519Seed"');
  }
  if (!constantTimeEqual(x25519PublicKey(x25519Private), x25519Public)) {
    throw new KeyFileError(file, 'field "x25519Public" does not match the public key of "x25519Private"');
  }
  const heartbeatKey = obj['heartbeatKey'] === undefined ? undefined : expectKey(file, obj, 'heartbeatKey');
  return {
    file,
    id,
    name,
    ed25519Seed,
    x25519Private,
    ed25519Public,
    x25519Public,
    ...(heartbeatKey ? { heartbeatKey } : {}),
  };
}

/** Load and check a public directory file: JSON shape, unique ids and names, key sizes. */
export async function loadPublicKeys(file: string): Promise<PublicDirectory> {
  const json = await readJsonFile(file, 'public');
  const obj = expectObject(file, json, 'file');
  expectVersion(file, obj);
  const list = obj['principals'];
  if (!Array.isArray(list)) throw new KeyFileError(file, 'field "principals" is missing or not an array');
  if (list.length === 0 || list.length > MAX_PRINCIPALS) {
    throw new KeyFileError(
      file,
      `field "principals" must list 1 to ${MAX_PRINCIPALS} principals, got ${list.length}`,
    );
  }
  const principals = list.map((entry: unknown, i: number): PublicPrincipal => {
    const where = `principals[${i}]`;
    const p = expectObject(file, entry, where);
    return {
      id: expectId(file, p, 'id', where),
      name: expectName(file, p, 'name', where),
      ed25519Public: expectKey(file, p, 'ed25519Public', where),
      x25519Public: expectKey(file, p, 'x25519Public', where),
    };
  });
  try {
    validatePrincipals(principals);
  } catch (err) {
    throw new KeyFileError(file, (err as Error).message);
  }
  return { file, principals };
}

/**
 * The MAC key ring of `self`: a pairwise key with every principal in `publics` (itself
 * included, for loopback), each derived from X25519(self, peer) by HKDF at key epoch 0.
 * Checks that `publics` lists `self` with the same public keys as its private file.
 */
export function buildKeyRing(
  self: PrivateKey,
  publics: PublicDirectory,
  tagLength?: number,
  backend?: MacBackendName,
  /** Per-peer tag lengths (the link between the two: link-tags.ts). */
  peerTagLengths?: ReadonlyMap<number, number>,
): KeyRing {
  const listed = publics.principals.find((p) => p.id === self.id);
  if (listed === undefined) {
    throw new KeyFileError(
      publics.file,
      `does not list principal id ${self.id} (${self.name}) of ${self.file}`,
    );
  }
  if (listed.name !== self.name) {
    throw new KeyFileError(
      publics.file,
      `lists id ${self.id} as "${listed.name}" but ${self.file} names it "${self.name}"`,
    );
  }
  if (
    !constantTimeEqual(listed.ed25519Public, self.ed25519Public) ||
    !constantTimeEqual(listed.x25519Public, self.x25519Public)
  ) {
    throw new KeyFileError(
      publics.file,
      `public keys of "${self.name}" (id ${self.id}) do not match the private key ${self.file}`,
    );
  }
  const keys = publics.principals.map((peer) => [peer.id, agreedKey(self, peer, publics.file)] as const);
  return new KeyRing({
    self: self.id,
    keys,
    tagLength,
    backend,
    ...(peerTagLengths !== undefined ? { peerTagLengths } : {}),
  });
}

/**
 * The pairwise MAC key of `self` with principal `peer` of `publics` (X25519 + HKDF at key epoch 0, as in the
 * ring): what a firmware voter is provisioned with. Throws KeyFileError when `peer` is not listed.
 */
export function pairwiseKeyWith(self: PrivateKey, publics: PublicDirectory, peer: PrincipalId): Uint8Array {
  const listed = publics.principals.find((p) => p.id === peer);
  if (listed === undefined) throw new KeyFileError(publics.file, `does not list principal id ${peer}`);
  return agreedKey(self, listed, publics.file);
}

function agreedKey(self: PrivateKey, peer: PublicPrincipal, file: string): Uint8Array {
  const agreed = x25519Agree(self.x25519Private, peer.x25519Public);
  if (!agreed.ok) {
    throw new KeyFileError(file, `x25519Public of "${peer.name}" is unusable (${agreed.reason})`);
  }
  return pairwiseKey(agreed.sharedSecret, self.id, peer.id, 0);
}

type KeyMaterial = Omit<PrivateKey, 'file'>;

function newPrivateKey(p: PrincipalSpec, random: (n: number) => Uint8Array): KeyMaterial {
  const ed25519Seed = takeKeyBytes(random);
  const x25519Private = takeKeyBytes(random);
  return {
    id: p.id,
    name: p.name,
    ed25519Seed,
    x25519Private,
    ed25519Public: ed25519PublicKey(ed25519Seed),
    x25519Public: x25519PublicKey(x25519Private),
    ...(p.heartbeat === true ? { heartbeatKey: takeKeyBytes(random) } : {}),
  };
}

function takeKeyBytes(random: (n: number) => Uint8Array): Uint8Array {
  const bytes = random(KEY_LENGTH);
  if (bytes.length !== KEY_LENGTH)
    throw new Error(`random source returned ${bytes.length} bytes, not ${KEY_LENGTH}`);
  return bytes;
}

function privateKeyJson(k: KeyMaterial): string {
  const body = {
    version: KEY_FILE_VERSION,
    id: k.id,
    name: k.name,
    ed25519Seed: hex(k.ed25519Seed),
    x25519Private: hex(k.x25519Private),
    ed25519Public: hex(k.ed25519Public),
    x25519Public: hex(k.x25519Public),
    ...(k.heartbeatKey ? { heartbeatKey: hex(k.heartbeatKey) } : {}),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

function publicDirectoryJson(keys: readonly KeyMaterial[]): string {
  const principals = keys.map((k) => ({
    id: k.id,
    name: k.name,
    ed25519Public: hex(k.ed25519Public),
    x25519Public: hex(k.x25519Public),
  }));
  return `${JSON.stringify({ version: KEY_FILE_VERSION, principals }, null, 2)}\n`;
}

async function refuseExisting(files: readonly string[]): Promise<void> {
  const existing: string[] = [];
  for (const f of files) {
    if (await exists(f)) existing.push(f);
  }
  if (existing.length > 0) {
    throw new KeyFileError(
      existing[0]!,
      `already exists (${existing.length} key file(s) in the way); use --force to replace`,
    );
  }
}

/**
 * Write `text` with `mode` from the first byte: the file is created exclusively (O_EXCL), so
 * a secret never sits in a file with looser permissions. With `replace`, write a fresh temp
 * file and rename it over the old one (an existing file's mode would otherwise be kept).
 */
async function writeFileSecure(file: string, text: string, mode: number, replace: boolean): Promise<void> {
  const target = replace ? `${file}.tmp-${process.pid}` : file;
  const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(target, flags, mode);
  } catch (err) {
    throw new KeyFileError(target, `cannot create: ${(err as Error).message}`);
  }
  try {
    await handle.chmod(mode); // the umask may have removed bits we want (public.json readable)
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (replace) {
    try {
      await rename(target, file);
    } catch (err) {
      await unlink(target).catch(() => undefined);
      throw new KeyFileError(file, `cannot replace: ${(err as Error).message}`);
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Open, check and parse a key file. The mode and size are checked on the open descriptor
 * (fstat), so the file cannot be swapped between the check and the read.
 */
async function readJsonFile(file: string, kind: 'private' | 'public'): Promise<unknown> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KeyFileError(file, 'key file is missing (no such file)');
    throw new KeyFileError(file, `cannot open: ${(err as Error).message}`);
  }
  let text: string;
  try {
    const info = await handle.stat();
    checkFileInfo(file, info, kind);
    text = await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(file, `cannot read: ${(err as Error).message}`);
  } finally {
    await handle.close();
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KeyFileError(file, `is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * What may be trusted about a key file before its bytes are: a regular file, not too big; a private key
 * readable and writable by its owner alone; a public directory writable by its owner alone (whoever can write
 * it can list their own public key for any principal, derive that principal's MAC keys with us, and speak
 * for it); and either owned by this process's user or by root (a file another user owns is theirs to rewrite,
 * whatever its mode says now).
 */
function checkFileInfo(file: string, info: Stats, kind: 'private' | 'public'): void {
  if (!info.isFile()) throw new KeyFileError(file, 'is not a regular file');
  const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
  if (kind === 'private' && (info.mode & 0o077) !== 0) {
    throw new KeyFileError(
      file,
      `private key file is readable or writable by group/others (mode ${mode}); refusing to use it: run chmod 600 ${file}`,
    );
  }
  if (kind === 'public' && (info.mode & 0o022) !== 0) {
    throw new KeyFileError(
      file,
      `public key directory is writable by group/others (mode ${mode}): anyone who can write it can speak for any principal; refusing to use it: run chmod 644 ${file}`,
    );
  }
  const self = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  if (self !== undefined && info.uid !== self && info.uid !== 0) {
    throw new KeyFileError(
      file,
      `is owned by user id ${info.uid}, not by this user (${self}) or root; refusing to use it: run chown ${self} ${file}`,
    );
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    throw new KeyFileError(file, `is ${info.size} bytes, larger than any key file (${MAX_KEY_FILE_BYTES})`);
  }
}

type JsonObject = Record<string, unknown>;

function expectObject(file: string, x: unknown, where: string): JsonObject {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    throw new KeyFileError(file, `${where} must be a JSON object`);
  }
  return x as JsonObject;
}

function fieldName(field: string, where?: string): string {
  return where === undefined ? `field "${field}"` : `field "${field}" of ${where}`;
}

function expectVersion(file: string, obj: JsonObject): void {
  const v = obj['version'];
  if (v === undefined) throw new KeyFileError(file, 'field "version" is missing');
  if (v !== KEY_FILE_VERSION) {
    throw new KeyFileError(
      file,
      `field "version" is ${JSON.stringify(v)}; only version ${KEY_FILE_VERSION} is supported`,
    );
  }
}

function expectId(file: string, obj: JsonObject, field: string, where?: string): PrincipalId {
  const v = obj[field];
  if (v === undefined) throw new KeyFileError(file, `${fieldName(field, where)} is missing`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new KeyFileError(
      file,
      `${fieldName(field, where)} must be an integer from 0 to 65535, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function expectName(file: string, obj: JsonObject, field: string, where?: string): string {
  const v = obj[field];
  if (v === undefined) throw new KeyFileError(file, `${fieldName(field, where)} is missing`);
  if (typeof v !== 'string' || !NAME_PATTERN.test(v)) {
    throw new KeyFileError(file, `${fieldName(field, where)} must be a name of letters, digits, '-' or '_'`);
  }
  return v;
}

function expectKey(file: string, obj: JsonObject, field: string, where?: string): Uint8Array {
  const v = obj[field];
  const what = fieldName(field, where);
  if (v === undefined) throw new KeyFileError(file, `${what} is missing`);
  if (typeof v !== 'string') throw new KeyFileError(file, `${what} must be a hex string, got ${typeof v}`);
  if (v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) {
    throw new KeyFileError(file, `${what} is not valid hex`);
  }
  const bytes = Uint8Array.from(Buffer.from(v, 'hex'));
  if (bytes.length !== KEY_LENGTH) {
    throw new KeyFileError(file, `${what} is a key of ${bytes.length} bytes; expected ${KEY_LENGTH}`);
  }
  return bytes;
}
