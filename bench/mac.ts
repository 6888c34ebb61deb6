/**
 * MAC and signature throughput, per second: `npx tsx bench/mac.ts` prints JSON.
 * Compares the midstate (plain JavaScript from precomputed key blocks), node:crypto and @noble/hashes
 * HMAC-SHA-256 backends (the default backend in
 * src/core/crypto/mac.ts is chosen from these numbers) and measures ed25519 via node:crypto.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { KeyRing, type PrincipalId } from '../src/core/crypto/keyring.ts';
import {
  DEFAULT_MAC_BACKEND,
  DEFAULT_TAG_LENGTH,
  keyedMac,
  type MacBackendName,
} from '../src/core/crypto/mac.ts';
import { ed25519Verify, SigningKey } from '../src/core/crypto/sign.ts';

const CASE_MS = 300;
const WARMUP_MS = 50;
const BATCH = 64;
const ROUNDS = 3;
/** Hard cap on iterations per case, whatever the clock says. */
const MAX_ITERATIONS = 50_000_000;
const RECEIVERS: readonly PrincipalId[] = [0, 1, 2, 3];
const CLIENT: PrincipalId = 100;

/** Operations per second of `op`, run in batches for about `ms` milliseconds. */
function perSecond(op: (i: number) => unknown, ms = CASE_MS): number {
  let sink = 0;
  const warmEnd = performance.now() + WARMUP_MS;
  for (let i = 0; performance.now() < warmEnd && i < MAX_ITERATIONS; i += BATCH) {
    for (let j = 0; j < BATCH; j++) sink ^= op(i + j) === undefined ? 0 : 1;
  }
  const start = performance.now();
  const end = start + ms;
  let count = 0;
  while (performance.now() < end && count < MAX_ITERATIONS) {
    for (let j = 0; j < BATCH; j++) sink ^= op(count + j) === undefined ? 0 : 1;
    count += BATCH;
  }
  const elapsed = performance.now() - start;
  if (sink === 42) console.error('unreachable'); // keeps the results observably used
  return Math.round((count / elapsed) * 1000);
}

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

type Case = { readonly group: string; readonly name: string; readonly op: (i: number) => unknown };

function macCases(backend: MacBackendName): Case[] {
  const group = `hmacSha256.${backend}`;
  const mac = keyedMac(filled(32, 1), backend);
  const small = filled(64, 2);
  const large = filled(1024, 3);
  const b40 = filled(40, 4);
  const b128 = filled(128, 4);
  const b256 = filled(256, 4);
  const master = filled(32, 9);
  const all = [...RECEIVERS, CLIENT];
  const client = KeyRing.fromMaster(master, CLIENT, all, { backend });
  const replicas = RECEIVERS.map((r) => KeyRing.fromMaster(master, r, all, { backend }));
  const tags = client.authenticator(RECEIVERS, small);
  return [
    { group, name: 'tag40B', op: () => mac.mac(b40, DEFAULT_TAG_LENGTH) },
    { group, name: 'tag64B', op: () => mac.mac(small, DEFAULT_TAG_LENGTH) },
    { group, name: 'tag128B', op: () => mac.mac(b128, DEFAULT_TAG_LENGTH) },
    { group, name: 'tag256B', op: () => mac.mac(b256, DEFAULT_TAG_LENGTH) },
    { group, name: 'tag1KiB', op: () => mac.mac(large, DEFAULT_TAG_LENGTH) },
    { group, name: 'authenticatorMakeN4', op: () => client.authenticator(RECEIVERS, small) },
    {
      // One receiver checking its own slot (what each replica does per message), rotating receivers.
      group,
      name: 'authenticatorVerifyN4',
      op: (i) => {
        if (!replicas[i & 3]!.verifyAuthenticator(CLIENT, RECEIVERS, small, tags))
          throw new Error('bench bug');
        return true;
      },
    },
  ];
}

function signatureCases(): Case[] {
  const group = 'ed25519Node';
  const signer = SigningKey.fromSeed(filled(32, 5));
  const msg = filled(64, 6);
  const sig = signer.sign(msg);
  return [
    { group, name: 'sign64B', op: () => signer.sign(msg) },
    {
      group,
      name: 'verify64B',
      op: () => {
        if (!ed25519Verify(signer.publicKey, msg, sig)) throw new Error('bench bug');
        return true;
      },
    },
  ];
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Runs every case ROUNDS times, interleaved (so load from other processes hits all cases
 * alike), and returns the median operations per second of each.
 */
export async function benchMacs(): Promise<object> {
  const cases = [...macCases('midstate'), ...macCases('node'), ...macCases('noble'), ...signatureCases()];
  const samples = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) samples.get(c)!.push(perSecond(c.op));
  }
  const result: Record<string, Record<string, number>> = {};
  for (const c of cases) {
    result[c.group] ??= {};
    result[c.group]![c.name] = median(samples.get(c)!);
  }
  const node = result['hmacSha256.node'] ?? {};
  const noble = result['hmacSha256.noble'] ?? {};
  const midstate = result['hmacSha256.midstate'] ?? {};
  const over = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Math.round((v / (b[k] ?? v)) * 100) / 100]));
  return {
    bench: 'mac',
    unit: 'ops/s (median of rounds)',
    caseMs: CASE_MS,
    rounds: ROUNDS,
    tagLength: DEFAULT_TAG_LENGTH,
    authenticatorReceivers: RECEIVERS.length,
    nodeVersion: process.version,
    hmacSha256: { midstate, node, noble },
    midstateOverNode: over(midstate, node),
    nodeOverNoble: over(node, noble),
    defaultBackend: DEFAULT_MAC_BACKEND,
    ed25519Node: result['ed25519Node'],
  };
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  console.log(JSON.stringify(await benchMacs(), null, 2));
}
