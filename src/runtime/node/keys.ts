/**
 * A board's keys from a key directory written by `triplex keys gen --config FILE --out DIR`: the public directory
 * (public.json, every principal of the topology) and the private key files of the principals this board hosts
 * (replica-N, channel-N, input-N, voter-N). Only those private files are read, so a bench board needs only its
 * own. A private file readable by group or others is refused (keyfiles.ts checks the mode on the open file).
 */
import type { KeyRing } from '../../core/crypto/keyring.ts';
import { SigningKey } from '../../core/crypto/sign.ts';
import type { Topology } from '../config.ts';
import {
  buildKeyRing,
  KeyFileError,
  loadPrivateKey,
  loadPublicKeys,
  type PrivateKey,
  PUBLIC_FILE_NAME,
  pairwiseKeyWith,
  privateKeyPath,
} from '../keyfiles.ts';
import { inputUnitBoard } from '../loop/board.ts';
import { type BoardKeys, topologyPrincipals } from '../loop/keys.ts';
import { principalOf } from '../loop/principals.ts';

/** The principals (id and key-file name) whose private keys `board` holds. */
export function boardPrincipals(t: Topology, board: string): { id: number; name: string }[] {
  const hosted = new Set<number>();
  for (const r of t.replicas) if (r.board === board) hosted.add(principalOf.replica(r.id));
  for (const c of t.channels) if (c.board === board) hosted.add(principalOf.channel(c.id));
  for (const v of t.voters) if (v.board === board) hosted.add(principalOf.voter(v.id));
  for (let u = 0; u < t.inputUnits; u++) if (inputUnitBoard(t, u) === board) hosted.add(principalOf.input(u));
  return topologyPrincipals(t).filter((p) => hosted.has(p.id));
}

/**
 * Loads the keys of `board` from `dir`. Throws KeyFileError naming the file: missing, unreadable, mode too open,
 * or a public directory that does not list the topology's principals under their ids and names.
 */
export async function loadBoardKeys(dir: string, t: Topology, board: string): Promise<BoardKeys> {
  const publicFile = `${dir}/${PUBLIC_FILE_NAME}`;
  const publics = await loadPublicKeys(publicFile);
  for (const p of topologyPrincipals(t)) {
    const listed = publics.principals.find((x) => x.id === p.id);
    if (listed === undefined || listed.name !== p.name) {
      throw new KeyFileError(
        publicFile,
        `does not list principal ${p.name} (id ${p.id}) of ${t.file}; generate the set with \`triplex keys gen --config ${t.file} --out ${dir}\``,
      );
    }
  }
  const rings = new Map<number, KeyRing>();
  const selves = new Map<number, PrivateKey>();
  const signers = new Map<number, SigningKey>();
  for (const p of boardPrincipals(t, board)) {
    const self = await loadPrivateKey(privateKeyPath(dir, p.name));
    if (self.id !== p.id) {
      throw new KeyFileError(
        self.file,
        `holds principal id ${self.id}, but ${p.name} is id ${p.id} in ${t.file}`,
      );
    }
    rings.set(p.id, buildKeyRing(self, publics, t.crypto.tagBytes, t.crypto.macBackend));
    selves.set(p.id, self);
    signers.set(p.id, SigningKey.fromSeed(self.ed25519Seed));
  }
  const replicaPublicKeys = new Map(
    t.replicas.map((r) => {
      const listed = publics.principals.find((x) => x.id === principalOf.replica(r.id))!;
      return [r.id, listed.ed25519Public] as const;
    }),
  );
  return {
    ring: (principal) => {
      const ring = rings.get(principal);
      if (ring === undefined)
        throw new Error(`board '${board}' does not host principal ${principal}: no key loaded`);
      return ring;
    },
    rawKey: (principal, peer) => {
      const self = selves.get(principal);
      if (self === undefined)
        throw new Error(`board '${board}' does not host principal ${principal}: no key loaded`);
      return pairwiseKeyWith(self, publics, peer);
    },
    heartbeatKey: (voter) => selves.get(principalOf.voter(voter))?.heartbeatKey,
    signer: (replica) => {
      const key = signers.get(principalOf.replica(replica));
      if (key === undefined)
        throw new Error(`board '${board}' does not host replica ${replica}: no signing key`);
      return key;
    },
    replicaPublicKeys,
  };
}
