/**
 * `triplex keys ...`: key set management.
 *
 *   triplex keys gen --out DIR --principals name:id,name:id,... [--force]
 *   triplex keys gen --out DIR --config FILE [--force]     (every principal of a topology)
 *   triplex keys check --dir DIR
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, loadTopology, type Topology } from '../runtime/config.ts';
import {
  buildKeyRing,
  type GeneratedKeySet,
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
import { boardPrincipals } from '../runtime/node/keys.ts';
import { EXIT, KEYS_CHECK_OPTIONS, KEYS_GEN_OPTIONS, parseOptions } from './args.ts';

const USAGE = `usage:
  triplex keys gen --out DIR --principals name:id,name:id,... [--force]
      write one private key file per principal (DIR/<name>.key, mode 0600) and DIR/${PUBLIC_FILE_NAME}
  triplex keys gen --out DIR --config FILE [--force]
      the same for every principal of a topology, each file named by the board it goes to and the
      principal (DIR/b0.replica-1.key, DIR/aiu.voter-0.key): what \`triplex node --keys DIR\` loads;
      it prints which files to copy to which board (public.json and the board's own .key files); a
      voter's file also holds the heartbeat key its firmware (voterImpl firmware-*) tags heartbeats with
  triplex keys check --dir DIR
      load DIR/${PUBLIC_FILE_NAME} and the private key files present (a board holds only its own),
      and derive their MAC keys`;

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
      list = { ok: true, principals: principalsByBoard(loadTopology(config)) };
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
    if (config !== undefined) console.log(placement(written).join('\n'));
    return EXIT.ok;
  } catch (err) {
    return failure(err);
  }
}

/** Every principal of a topology with the board that hosts it: the board names its private key file. */
export function principalsByBoard(t: Topology): PrincipalSpec[] {
  const boardOf = new Map<number, string>();
  for (const b of t.boards) for (const p of boardPrincipals(t, b.name)) boardOf.set(p.id, b.name);
  return topologyPrincipals(t).map((p) => {
    const board = boardOf.get(p.id);
    return board === undefined ? p : { ...p, board };
  });
}

/** Which files go to which board: public.json to all, each board its own private files. */
function placement(written: GeneratedKeySet): string[] {
  const byBoard = new Map<string, string[]>();
  for (const f of written.privateFiles) {
    if (f.board === undefined) continue;
    byBoard.set(f.board, [...(byBoard.get(f.board) ?? []), basename(f.file)]);
  }
  const width = Math.max(...[...byBoard.keys()].map((b) => b.length));
  return [
    '',
    `copy to each board (into its key folder, mode 0600 kept; \`triplex node --keys DIR\` reads it):`,
    ...[...byBoard.entries()].map(
      ([board, files]) => `  board ${board.padEnd(width)}  ${PUBLIC_FILE_NAME} ${files.join(' ')}`,
    ),
    "a board needs no other board's private key file: keep them off it",
  ];
}

async function keysCheck(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv, KEYS_CHECK_OPTIONS);
  if (!parsed.ok) return usageError(parsed.message);
  if (parsed.values.help) return help();
  const dir = parsed.values.dir;
  if (dir === undefined || dir === '') return usageError('--dir DIR is required');
  try {
    const publics = await loadPublicKeys(join(dir, PUBLIC_FILE_NAME));
    // A board's folder holds only its own private files: check those present, name those absent.
    const present = new Set(readdirSync(dir).filter((f) => f.endsWith('.key')));
    const absent: string[] = [];
    for (const p of publics.principals) {
      const file = privateKeyPath(dir, p.name);
      if (!present.has(basename(file))) {
        absent.push(p.name);
        continue;
      }
      const self = await loadPrivateKey(file);
      const ring = buildKeyRing(self, publics);
      const heartbeat = self.heartbeatKey === undefined ? '' : ', a firmware heartbeat key';
      console.log(
        `ok ${self.file} (id ${self.id}, MAC keys with ${ring.peers().length} principals${heartbeat})`,
      );
    }
    if (absent.length === publics.principals.length) {
      console.error(
        `triplex keys: ${dir} holds no private key file of the ${absent.length} principals in ${PUBLIC_FILE_NAME}`,
      );
      return EXIT.failed;
    }
    if (absent.length > 0)
      console.log(`no private key here for: ${absent.join(', ')} (they belong on other boards)`);
    return EXIT.ok;
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
