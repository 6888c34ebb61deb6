/**
 * Messages signed with a test group's keys, as a node holding those keys (a faulty one, or the test playing it)
 * would send them: requests with tags that verify only where chosen, PRE-PREPAREs, PREPAREs and COMMITs, and
 * empty VIEW-CHANGEs. One place for the tests that craft their own messages.
 *
 * @example
 * const r = signedRequest(g, 100, 1, op(7), (replica) => replica !== 0); // bad only in the primary's slot
 * g.deliver(0, 1, encodeMessage({ kind: 'pre-prepare', ...signedPrePrepare(g, { view: 0, seq: 1, requests: [r] }) }));
 */
import { authPayload, encodeBatch, requestAuthPayload } from '../../../src/core/codec/encode.ts';
import type {
  Commit,
  Message,
  PrePrepare,
  Prepare,
  Request,
  ViewChange,
} from '../../../src/core/codec/messages.ts';
import { allReplicas, othersOf, primaryOf } from '../../../src/core/pbft/config.ts';
import type { Group } from './harness.ts';

/** A request of `client`; the tags of the replicas `validAt` refuses are zeroed (they fail there). */
export function signedRequest(
  g: Group,
  client: number,
  timestamp: number,
  payload: Uint8Array,
  validAt: (replica: number) => boolean = () => true,
): Request {
  const unsigned = { client, timestamp, op: payload, auth: [] as Uint8Array[] };
  const auth = g.keys.cryptoFor(client).authenticator(allReplicas(g.config), requestAuthPayload(unsigned));
  for (let r = 0; r < auth.length; r++) if (!validAt(r)) auth[r] = new Uint8Array(auth[r]!.length);
  return { ...unsigned, auth };
}

/** What a crafted PRE-PREPARE holds; `sender` defaults to the view's primary, `digest` to the batch's own. */
export interface PrePrepareFields {
  readonly view: number;
  readonly seq: number;
  readonly requests: readonly Request[];
  readonly sender?: number;
  readonly digest?: Uint8Array;
  /** Zero every tag of its authenticator (a forgery by a node without the sender's keys). */
  readonly breakMac?: boolean;
}

/** A PRE-PREPARE under `sender`'s own keys (authentic unless `breakMac`). */
export function signedPrePrepare(g: Group, fields: PrePrepareFields): PrePrepare {
  const sender = fields.sender ?? primaryOf(g.config, fields.view);
  const batch = { kind: 'full' as const, requests: [...fields.requests] };
  const crypto = g.keys.cryptoFor(sender);
  const unsigned: PrePrepare = {
    kind: 'pre-prepare',
    view: fields.view,
    seq: fields.seq,
    batchDigest: fields.digest ?? crypto.digest(encodeBatch(batch)),
    replica: sender,
    batch,
    auth: [],
  };
  const auth = crypto.authenticator(othersOf(g.config, sender), authPayload(unsigned));
  return { ...unsigned, auth: fields.breakMac === true ? auth.map((t) => new Uint8Array(t.length)) : auth };
}

/** `replica`'s PREPARE or COMMIT for (view, seq, digest). */
export function signedVote<K extends 'prepare' | 'commit'>(
  g: Group,
  kind: K,
  at: { readonly view: number; readonly seq: number; readonly batchDigest: Uint8Array },
  replica: number,
): K extends 'prepare' ? Prepare : Commit {
  const unsigned = { kind, view: at.view, seq: at.seq, batchDigest: at.batchDigest, replica, auth: [] };
  const auth = g.keys
    .cryptoFor(replica)
    .authenticator(othersOf(g.config, replica), authPayload(unsigned as Message));
  return { ...unsigned, auth } as never;
}

/** `replica`'s signed VIEW-CHANGE to `newView` from the initial state: nothing stable, prepared or pre-prepared. */
export function signedViewChange(g: Group, replica: number, newView: number): ViewChange {
  const unsigned: ViewChange = {
    kind: 'view-change',
    newView,
    replica,
    stableSeq: 0,
    stableDigest: new Uint8Array(32),
    checkpointProof: [],
    prepared: [],
    prePrepared: [],
    signature: new Uint8Array(64),
  };
  return { ...unsigned, signature: g.keys.cryptoFor(replica).sign(authPayload(unsigned)) };
}
