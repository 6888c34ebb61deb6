/**
 * Key files for a topology in a temporary directory, and WireKeys of any of its boards over a named state
 * directory (a board restarted is the same board and state loaded again), for the WireKeys tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Topology } from '../../../src/runtime/config.ts';
import { generateKeySet } from '../../../src/runtime/keyfiles.ts';
import { Counters } from '../../../src/runtime/loop/counters.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { WireKeys } from '../../../src/runtime/recovery/wire-keys.ts';

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
