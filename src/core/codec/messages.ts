/**
 * Every message of triplex, described once. The wire form is one canonical byte string per message:
 *   [WIRE_VERSION][kind tag][fields in schema order]
 * so that correct replicas compute identical digests on any platform.
 *
 * Authentication fields (`auth`: a MAC authenticator with one tag per receiver; `tag`: a single MAC;
 * `signature`: ed25519) are always the last field and are not covered by themselves: see `authPayload`.
 */
import { array, bool, bytes, f64, fixedBytes, type Infer, struct, u8, union, uvar } from './schema.ts';

export const WIRE_VERSION = 1;
export const DIGEST_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;

const digest = fixedBytes(DIGEST_BYTES);
const signature = fixedBytes(SIGNATURE_BYTES);
const tag = bytes('maxTagBytes');
/** One MAC tag per receiver, in the receiver order the topology fixes (replica ids ascending). */
const authenticator = array(tag, 'maxReceivers');

/** A client (input unit) request. `op` is opaque to ordering (the control layer encodes a frame's sample in it). */
export const requestSchema = struct({
  client: uvar,
  timestamp: uvar,
  op: bytes('maxOpBytes'),
  auth: authenticator,
});

/** A batch either carries the requests in full or only their digests (where every replica already holds them). */
export const batchSchema = union({
  full: struct({ requests: array(requestSchema, 'maxBatchRequests') }),
  digests: struct({ digests: array(digest, 'maxBatchRequests') }),
});

const orderFields = { view: uvar, seq: uvar, batchDigest: digest, replica: uvar };

const checkpointSchema = struct({ seq: uvar, stateDigest: digest, replica: uvar, signature });
/** A prepared (P) or pre-prepared (Q) entry of a VIEW-CHANGE: batch `batchDigest` at `seq` in `view`. */
const certEntrySchema = struct({ seq: uvar, view: uvar, batchDigest: digest });

const viewChangeSchema = struct({
  newView: uvar,
  replica: uvar,
  stableSeq: uvar,
  stableDigest: digest,
  checkpointProof: array(checkpointSchema, 'maxCheckpointProof'),
  prepared: array(certEntrySchema, 'maxCertEntries'),
  prePrepared: array(certEntrySchema, 'maxCertEntries'),
  signature,
});

/** One input unit's health for one field, as an input voter carries it (src/core/vote/health.ts). */
const memberStateSchema = struct({
  strikes: uvar,
  agreeStreak: uvar,
  latched: bool,
  probation: uvar,
  latchCount: uvar,
});

/**
 * A channel's abstract state after batch `seq` (the BASE idea: one form for every implementation of the law).
 * `framePlusOne`: the last frame its input machine executed, plus one (0: none yet). `inputs`: per voted field,
 * per unit.
 */
export const channelStateSchema = struct({
  seq: uvar,
  framePlusOne: uvar,
  primed: bool,
  referenceFilter: f64,
  integrator: f64,
  rateEstimate: f64,
  lastMeasurement: f64,
  lastElevator: f64,
  inputs: array(array(memberStateSchema, 'maxReceivers'), 'maxOutputFields'),
});

const committedEntrySchema = struct({ seq: uvar, view: uvar, batchDigest: digest, batch: batchSchema });

export const messageSchema = union({
  request: requestSchema,
  'pre-prepare': struct({ ...orderFields, batch: batchSchema, auth: authenticator }),
  prepare: struct({ ...orderFields, auth: authenticator }),
  commit: struct({ ...orderFields, auth: authenticator }),
  reply: struct({
    view: uvar,
    client: uvar,
    timestamp: uvar,
    replica: uvar,
    result: bytes('maxResultBytes'),
    tag,
  }),
  checkpoint: checkpointSchema,
  'view-change': viewChangeSchema,
  'new-view': struct({
    view: uvar,
    replica: uvar,
    viewChanges: array(viewChangeSchema, 'maxViewChanges'),
    prePrepares: array(struct({ seq: uvar, batchDigest: digest }), 'maxCertEntries'),
    signature,
  }),
  'state-request': struct({ replica: uvar, fromSeq: uvar, nonce: uvar, tag }),
  'state-reply': struct({
    replica: uvar,
    nonce: uvar,
    stableSeq: uvar,
    stableDigest: digest,
    checkpointProof: array(checkpointSchema, 'maxCheckpointProof'),
    snapshot: bytes('maxSnapshotBytes'),
    entries: array(committedEntrySchema, 'maxStateEntries'),
    more: bool,
    tag,
  }),
  output: struct({
    frame: uvar,
    channel: uvar,
    discrete: array(uvar, 'maxOutputFields'),
    analog: array(f64, 'maxOutputFields'),
    tag,
  }),
  heartbeat: struct({ node: uvar, role: u8, counter: uvar, status: u8, tag }),
  /**
   * A restarted principal's fresh X25519 public key at key epoch `epoch`, signed with its long-term identity key
   * (src/core/recovery/new-key.ts: the signature covers a domain label and every other field). `recoveryPoint`:
   * the seq after which it counts again, as it estimates it. Fixed size (about 110 bytes): nothing to bound.
   */
  'new-key': struct({
    node: uvar,
    epoch: uvar,
    recoveryPoint: uvar,
    publicKey: fixedBytes(PUBLIC_KEY_BYTES),
    signature,
  }),
  'view-change-fetch': struct({ view: uvar, replica: uvar, tag }),
  /**
   * A replica vouches that it authenticated `request` itself (its own tag verified) and still waits to see it
   * ordered; sent to every replica, the primary included (so a request the primary could not authenticate
   * reaches it with f+1 vouchers). `auth` is the voucher's authenticator for every other replica.
   */
  vouch: struct({ replica: uvar, request: requestSchema, auth: authenticator }),
  /** Ask a peer for the content of a batch by digest (a new primary that must re-propose it never saw it). */
  'batch-fetch': struct({ replica: uvar, seq: uvar, batchDigest: digest, tag }),
  /** A batch's content; trusted because it hashes to the digest asked for, not for its sender. */
  'batch-reply': struct({ replica: uvar, seq: uvar, batchDigest: digest, batch: batchSchema, tag }),
  /**
   * A restarted channel asks another channel for its recent abstract states (BASE rebuild); `nonce` pairs the
   * reply with this request, so an old reply cannot be replayed into a later rebuild. `tag`: for the asked one.
   */
  'channel-state-request': struct({ channel: uvar, nonce: uvar, tag }),
  /**
   * A channel's abstract states after its last executed batches, oldest first, for the rebuilding `to`. The
   * receiver trusts no single reply: it rebuilds from a state f+1 channels agree on (abstract-match.ts).
   */
  'channel-state-reply': struct({
    channel: uvar,
    to: uvar,
    nonce: uvar,
    states: array(channelStateSchema, 'maxStateEntries'),
    tag,
  }),
  /**
   * Principal `node` refused a NEW-KEY of `subject` as stale: it holds `subject` at key epoch `epoch` with
   * `publicKey` (an earlier, faulty incarnation of the subject may have pushed it there; the key tells the
   * subject whether what is held is its own current key, as after a replay). Tagged under the epoch-report key
   * of the two principals' key files (src/core/crypto/hkdf.ts epochReportKey), which neither end loses at a
   * restart. The subject trusts no single report: it moves above an epoch f+1 boards vouch for (wire-keys.ts).
   */
  'epoch-report': struct({
    node: uvar,
    subject: uvar,
    epoch: uvar,
    publicKey: fixedBytes(PUBLIC_KEY_BYTES),
    tag,
  }),
});

export type Message = Infer<typeof messageSchema>;
export type MessageKind = Message['kind'];
export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>;

export type Request = Infer<typeof requestSchema>;
export type Batch = Infer<typeof batchSchema>;
export type PrePrepare = MessageOf<'pre-prepare'>;
export type Prepare = MessageOf<'prepare'>;
export type Commit = MessageOf<'commit'>;
export type Reply = MessageOf<'reply'>;
export type Checkpoint = MessageOf<'checkpoint'>;
export type ViewChange = MessageOf<'view-change'>;
export type NewView = MessageOf<'new-view'>;
export type StateRequest = MessageOf<'state-request'>;
export type StateReply = MessageOf<'state-reply'>;
export type Output = MessageOf<'output'>;
export type Heartbeat = MessageOf<'heartbeat'>;
export type NewKey = MessageOf<'new-key'>;
export type ViewChangeFetch = MessageOf<'view-change-fetch'>;
export type Vouch = MessageOf<'vouch'>;
export type BatchFetch = MessageOf<'batch-fetch'>;
export type BatchReply = MessageOf<'batch-reply'>;
export type ChannelStateRequest = MessageOf<'channel-state-request'>;
export type ChannelStateReply = MessageOf<'channel-state-reply'>;
export type EpochReport = MessageOf<'epoch-report'>;
export type WireChannelState = Infer<typeof channelStateSchema>;
export type CertEntry = Infer<typeof certEntrySchema>;
export type CommittedEntry = Infer<typeof committedEntrySchema>;

/** Every kind, in tag order (the tag on the wire is the index here). */
export const MESSAGE_KINDS: readonly MessageKind[] = messageSchema.names;

/** Which field authenticates each kind. */
export const AUTH_FIELD: { readonly [K in MessageKind]: 'auth' | 'tag' | 'signature' } = {
  request: 'auth',
  'pre-prepare': 'auth',
  prepare: 'auth',
  commit: 'auth',
  reply: 'tag',
  checkpoint: 'signature',
  'view-change': 'signature',
  'new-view': 'signature',
  'state-request': 'tag',
  'state-reply': 'tag',
  output: 'tag',
  heartbeat: 'tag',
  'new-key': 'signature',
  'view-change-fetch': 'tag',
  vouch: 'auth',
  'batch-fetch': 'tag',
  'batch-reply': 'tag',
  'channel-state-request': 'tag',
  'channel-state-reply': 'tag',
  'epoch-report': 'tag',
};

/** The kinds an ordering replica consumes (a board routes these to its replica). */
export const REPLICA_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'request',
  'pre-prepare',
  'prepare',
  'commit',
  'checkpoint',
  'view-change',
  'new-view',
  'state-request',
  'state-reply',
  'view-change-fetch',
  'vouch',
  'batch-fetch',
  'batch-reply',
]);

/** The kinds of proactive recovery a board's recovery role consumes (key epochs, the channel's abstract state). */
export const RECOVERY_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'new-key',
  'channel-state-request',
  'channel-state-reply',
  'epoch-report',
]);
