/**
 * Key files for a topology in a temporary directory, and WireKeys of any of its boards over a named state
 * directory (a board restarted is the same board and state loaded again), for the WireKeys tests; and the
 * EPOCH-REPORT a principal can tag with its own key file (what its board, faulty or not, can send).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authPayload, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { EpochReport } from '../../../src/core/codec/messages.ts';
import { epochReportKey } from '../../../src/core/crypto/hkdf.ts';
import { keyedMac, type MacBackendName, macTag } from '../../../src/core/crypto/mac.ts';
import { x25519Agree } from '../../../src/core/crypto/sign.ts';
import type { Topology } from '../../../src/runtime/config.ts';
import {
  generateKeySet,
  loadPrivateKey,
  loadPublicKeys,
  privateKeyPath,
} from '../../../src/runtime/keyfiles.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { REPORT_TAG_BYTES, WireKeys } from '../../../src/runtime/recovery/wire-keys.ts';

export interface LoadedKeys {
  readonly keys: WireKeys;
  readonly counters: Counters;
}

export interface KeyBench {
  readonly dir: string;
  readonly keysDir: string;
  /** `board`'s keys over state directory `state` (under `dir`): a start, or a restart if loaded before. */
  load(board: string, state: string): Promise<LoadedKeys>;
  close(): void;
}

export async function keyBench(topology: Topology, prefix: string, now: () => number): Promise<KeyBench> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const keysDir = join(dir, 'keys');
  await generateKeySet(keysDir, topologyPrincipals(topology));
  return {
    dir,
    keysDir,
    async load(board, state) {
      const counters = new Counters();
      const keys = await WireKeys.load({
        topology,
        board,
        keysDir,
        stateDir: join(dir, state),
        counters,
        now,
      });
      return { keys, counters };
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * An EPOCH-REPORT about `subject` from principal `name` ("I hold your epoch `epoch` under `publicKey`"), tagged
 * under the key derived from `name`'s key file and `subject`'s public key. `claimedNode`: the reporter id the
 * message names, if not `name`'s own (a lie about who reports).
 */
export async function taggedEpochReport(o: {
  readonly keysDir: string;
  readonly name: string;
  readonly subject: number;
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly claimedNode?: number;
  readonly macBackend?: MacBackendName;
}): Promise<Uint8Array> {
  const own = await loadPrivateKey(privateKeyPath(o.keysDir, o.name));
  const publics = await loadPublicKeys(join(o.keysDir, 'public.json'));
  const theirs = publics.principals.find((p) => p.id === o.subject);
  if (theirs === undefined) throw new Error(`no public key of principal ${o.subject}`);
  const agreed = x25519Agree(own.x25519Private, theirs.x25519Public);
  if (!agreed.ok) throw new Error(agreed.reason);
  const unsigned: EpochReport = {
    kind: 'epoch-report',
    node: o.claimedNode ?? own.id,
    subject: o.subject,
    epoch: o.epoch,
    publicKey: o.publicKey,
    tag: new Uint8Array(0),
  };
  const mac = keyedMac(epochReportKey(agreed.sharedSecret, own.id, o.subject), o.macBackend);
  return encodeMessage({ ...unsigned, tag: macTag(mac, authPayload(unsigned), REPORT_TAG_BYTES) });
}
