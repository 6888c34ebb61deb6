/**
 * `triplex keys ...`: key set management.
 *
 *   triplex keys gen --out DIR --principals name:id,name:id,... [--force]
 *   triplex keys gen --out DIR --config FILE [--force]     (every principal of a topology)
 *   triplex keys check --dir DIR
 */
import { join } from 'node:path';
import { ConfigError, loadTopology } from '../runtime/config.ts';
import {
  buildKeyRing,
  generateKeySet,
  KeyFileError,
  loadPrivateKey,
  loadPublicKeys,
  type PrincipalSpec,
  PUBLIC_FILE_NAME,
  privateKeyPath,
  validatePrincipals,
} from '../runtime/keyfiles.ts';
import { topologyPrincipals } from '../runtime/loop/keys.ts';
import { EXIT, KEYS_CHECK_OPTIONS, KEYS_GEN_OPTIONS, parseOptions } from './args.ts';

const USAGE = `usage:
  triplex keys gen --out DIR --principals name:id,name:id,... [--force]
      write one private key file per principal (DIR/<name>.key, mode 0600) and DIR/${PUBLIC_FILE_NAME}
  triplex keys gen --out DIR --config FILE [--force]
      the same for every principal of a topology (replica-N, channel-N, input-N, voter-N): what
      \`triplex node --keys DIR\` loads; copy public.json and a board's own .key files to each board
  triplex keys check --dir DIR
      load DIR/${PUBLIC_FILE_NAME} and every private key file it lists, and derive their MAC keys`;

/** Exit codes: 0 done, 1 the operation failed (key files), 2 bad command line. */
export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'gen':
      return await keysGen(rest);
    case 'check':
      return await keysCheck(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    default:
      return usageError(`unknown keys subcommand "${sub}"`);
  }
}

async function keysGen(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv, KEYS_GEN_OPTIONS);
  if (!parsed.ok) return usageError(parsed.message);
  if (parsed.values.help) return help();
  const { out, principals, config } = parsed.values;
  const force = parsed.values.force === true;
  if (out === undefined || out === '') return usageError('--out DIR is required');
  if (config !== undefined && principals !== undefined)
    return usageError('give --config FILE or --principals, not both');
  let list: PrincipalsResult;
  if (config !== undefined) {
    try {
      list = { ok: true, principals: topologyPrincipals(loadTopology(config)) };
    } catch (err) {
      if (err instanceof ConfigError) return usageError(err.message);
      throw err;
    }
  } else {
    if (principals === undefined || principals === '')
      return usageError('--principals name:id,... or --config FILE is required');
    list = parsePrincipals(principals);
  }
  if (!list.ok) return usageError(list.message);

  try {
    const written = await generateKeySet(out, list.principals, { force });
    for (const f of written.privateFiles)
      console.log(`wrote ${f.file} (private key of ${f.name}, id ${f.id}, mode 0600)`);
    console.log(`wrote ${written.publicFile} (public keys of ${written.privateFiles.length} principals)`);
    return 0;
  } catch (err) {
    return failure(err);
  }
}

async function keysCheck(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv, KEYS_CHECK_OPTIONS);
  if (!parsed.ok) return usageError(parsed.message);
  if (parsed.values.help) return help();
  const dir = parsed.values.dir;
  if (dir === undefined || dir === '') return usageError('--dir DIR is required');
  try {
    const publics = await loadPublicKeys(join(dir, PUBLIC_FILE_NAME));
    for (const p of publics.principals) {
      const self = await loadPrivateKey(privateKeyPath(dir, p.name));
      const ring = buildKeyRing(self, publics);
      console.log(`ok ${self.file} (id ${self.id}, MAC keys with ${ring.peers().length} principals)`);
    }
    return 0;
  } catch (err) {
    return failure(err);
  }
}

type PrincipalsResult = { ok: true; principals: PrincipalSpec[] } | { ok: false; message: string };

/** "fcc1:0,fcc2:1" -> [{ name: 'fcc1', id: 0 }, { name: 'fcc2', id: 1 }], validated. */
export function parsePrincipals(text: string): PrincipalsResult {
  const principals: PrincipalSpec[] = [];
  for (const item of text.split(',')) {
    const match = /^([^:]+):(\d{1,5})$/.exec(item.trim());
    if (match === null)
      return { ok: false, message: `bad principal "${item}": expected name:id (for example fcc1:0)` };
    principals.push({ name: match[1]!, id: Number(match[2]) });
  }
  try {
    validatePrincipals(principals);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  return { ok: true, principals };
}

function help(): number {
  console.log(USAGE);
  return EXIT.ok;
}

function usageError(message: string): number {
  console.error(`triplex keys: ${message}\n${USAGE}`);
  return EXIT.usage;
}

function failure(err: unknown): number {
  // A KeyFileError names the file; other errors (mkdir refused, disk full) carry node's message.
  const message = err instanceof KeyFileError || err instanceof Error ? err.message : String(err);
  console.error(`triplex keys: ${message}`);
  return EXIT.failed;
}
