/**
 * Retransmission and state transfer. A replica that waits on work that does not come asks its peers (at most
 * once per stallTicks) for what it misses from lastExecuted+1 on; a peer answers with the signed view-change
 * state, the stable certificate, the PRE-PREPAREs and its own votes of its window, and, when the asker is
 * below its stable checkpoint, the checkpoint's state. Installed state is trusted for its proof alone (q
 * signatures on its digest), never for its sender.
 */
import { bytesEqual } from '../bytes.ts';
import { decodeMessage, encodeMessage, encodeWithAuthenticator } from '../codec/encode.ts';
import type {
  Checkpoint,
  Commit,
  Message,
  PrePrepare,
  Prepare,
  StateReply,
  StateRequest,
} from '../codec/messages.ts';
import { primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, NO_TAG, sendTagged, taggedFromPeer } from './context.ts';
import type { Slot } from './log.ts';
import { decodeReplicaState } from './snapshot.ts';

/** State replies are accepted for this many of our most recent state requests. */
const RECENT_ASKS = 4;

export class StateTransfer {
  private lastStallRequest = Number.NEGATIVE_INFINITY;
  private nonce = 0;
  private readonly lastServed = new Map<ReplicaId, number>();

  constructor(private readonly ctx: Ctx) {}

  /** The next ask goes out at once, whatever the rate limit. */
  allowAskNow(): void {
    this.lastStallRequest = Number.NEGATIVE_INFINITY;
  }

  /** Ask now (evidence that we are behind or wrong arrived). */
  askNow(): void {
    this.allowAskNow();
    this.ask();
  }

  /** Waiting on work that does not arrive: a request not ordered, a slot not committed, peers far ahead. */
  isStalled(): boolean {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    const limit = s.now - config.stallTicks;
    if (ctx.checkpoints.aheadCount > config.f) return true;
    if (!s.active && ctx.views.since <= limit) return true;
    // A seq the NEW-VIEW fixed whose PRE-PREPARE has not come: ask, even if we executed it already (the
    // others may need our votes on it to finish, and we need the PRE-PREPARE to vote).
    if (s.active && s.viewActiveSince <= limit) {
      for (const slot of log.values()) {
        if (slot.fixedDigestHex !== undefined && slot.prePrepare === undefined) return true;
      }
    }
    if (ctx.requests.waiting.waitingSince(limit)) return true;
    for (const slot of log.values()) {
      if (slot.seq <= s.lastExecuted) continue;
      // A slot whose PRE-PREPARE came, or that f+1 replicas voted on (one correct: it exists), and that did not
      // execute. One faulty replica's stray votes alone do not make us ask.
      if (slot.prePreparedAt !== undefined && slot.prePreparedAt <= limit) return true;
      if (slot.prePrepare === undefined && slot.firstSeen <= limit && voters(slot) >= ctx.quorums.weak)
        return true;
    }
    return false;
  }

  /**
   * Ask every peer for what we miss from lastExecuted+1 on, at most once per stallTicks. A backup also vouches
   * again for its oldest unordered requests (requests.ts), in case the client's copy to the primary, or an
   * earlier vouch, was lost; a new primary asks again for batches it must re-propose and does not hold.
   */
  ask(): void {
    const ctx = this.ctx;
    const { s, config } = ctx;
    if (s.now - this.lastStallRequest < config.stallTicks) return;
    this.lastStallRequest = s.now;
    this.nonce++;
    for (const to of ctx.others) {
      const unsigned: StateRequest = {
        kind: 'state-request',
        replica: ctx.id,
        fromSeq: s.lastExecuted + 1,
        nonce: this.nonce,
        tag: NO_TAG,
      };
      sendTagged(ctx, to, unsigned);
    }
    if (!s.active) ctx.views.fetch();
    if (primaryOf(config, s.view) === ctx.id) ctx.fetcher.fetchMissing();
    ctx.requests.revouchStale();
  }

  onStateRequest(from: number, m: StateRequest, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    if (!taggedFromPeer(ctx, from, m, bytes)) return;
    // Serve each peer at most twice per stall period: a flood of requests cannot multiply our work.
    const last = this.lastServed.get(m.replica) ?? Number.NEGATIVE_INFINITY;
    if (s.now - last < config.stallTicks / 2) return;
    this.lastServed.set(m.replica, s.now);
    const to = m.replica;
    if (m.fromSeq <= log.low && log.low > 0) this.sendState(to, m.nonce);
    const budget = { left: config.maxRetransmitMessages };
    const send = (message: Message, messageBytes: Uint8Array | undefined): void => {
      if (budget.left <= 0 || messageBytes === undefined) return;
      budget.left--;
      ctx.out.send(to, message, messageBytes);
    };
    // Signed view-change state first: a peer that missed the NEW-VIEW (or our VIEW-CHANGE) can catch up.
    const nv = ctx.views.lastNewView;
    if (nv !== undefined) send(nv, encodeMessage(nv));
    const ownViewChange = ctx.views.own();
    if (!s.active && ownViewChange !== undefined) send(ownViewChange, encodeMessage(ownViewChange));
    // The stable certificate (signed, so relayable) lets a peer that executed that far make it stable too.
    for (const body of ctx.checkpoints.stableProof) {
      const cp: Checkpoint = { kind: 'checkpoint', ...body };
      send(cp, encodeMessage(cp));
    }
    // Our own votes and PRE-PREPAREs go out under a fresh authenticator: the stored bytes carry MACs under the
    // keys of when they were made, and the asker may have restarted with new keys since (its NEW-KEY accepted):
    // a restarted replica asking for the seqs committed while it rejoined would get only refusals ('bad-mac'),
    // stall, and leave the view alone. A PRE-PREPARE of another primary is relayed as it came (its MACs are not
    // ours to make); the asker can count COMMITs and fetch the batch by digest.
    const own = (bytes: Uint8Array): void => {
      const { message, bytes: fresh } = this.reauthenticated(decodedOrThrow(bytes) as Prepare | Commit);
      send(message, fresh);
    };
    const first = Math.max(m.fromSeq, log.low + 1);
    for (let seq = first; seq <= log.high && budget.left > 0; seq++) {
      const slot = log.get(seq);
      if (slot === undefined) continue;
      if (slot.prePrepare !== undefined && slot.authentic) {
        if (primaryOf(config, slot.prePrepare.view) === ctx.id) {
          const { message, bytes } = this.reauthenticated(slot.prePrepare);
          send(message, bytes);
        } else send(slot.prePrepare, slot.prePrepareBytes);
      }
      if (slot.ownPrepare !== undefined) own(slot.ownPrepare);
      if (slot.ownCommit !== undefined) own(slot.ownCommit);
    }
    for (const own of ctx.checkpoints.own()) send(own, encodeMessage(own));
    ctx.out.emit({ type: 'retransmit', to, messages: config.maxRetransmitMessages - budget.left });
  }

  /** `m` (ours) under an authenticator made now, with the keys held now. */
  private reauthenticated<M extends PrePrepare | Prepare | Commit>(m: M): { message: M; bytes: Uint8Array } {
    const ctx = this.ctx;
    const { bytes, auth } = encodeWithAuthenticator({ ...m, auth: [] } as M, (payload) =>
      ctx.crypto.authenticator(ctx.others, payload),
    );
    return { message: { ...m, auth } as M, bytes };
  }

  private sendState(to: ReplicaId, nonce: number): void {
    const ctx = this.ctx;
    const low = ctx.log.low;
    const snapshot = ctx.checkpoints.snapshot(low);
    if (snapshot === undefined || snapshot.bytes.length > ctx.config.limits.maxSnapshotBytes) return;
    const unsigned: StateReply = {
      kind: 'state-reply',
      replica: ctx.id,
      nonce,
      stableSeq: low,
      stableDigest: snapshot.digest,
      checkpointProof: ctx.checkpoints.stableProof,
      snapshot: snapshot.bytes,
      entries: [],
      more: false,
      tag: NO_TAG,
    };
    sendTagged(ctx, to, unsigned);
  }

  /**
   * Install a peer's stable checkpoint. Trust comes from the proof alone: q distinct valid signatures on
   * (seq, digest) and a snapshot hashing to that digest; the sender may be Byzantine.
   */
  onStateReply(from: number, m: StateReply, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { s, out } = ctx;
    if (!taggedFromPeer(ctx, from, m, bytes)) return;
    // Answers to one of our last few asks (a retry must not make a slow answer useless); the proof below, not
    // the nonce, is what makes the state trustworthy, and it must move us forward.
    const recentAsk = m.nonce <= this.nonce && m.nonce > this.nonce - RECENT_ASKS;
    // It must move us forward, and never below our stable checkpoint (a NEW-VIEW may have moved that above
    // our execution; an older proof relayed now must not pull the watermark back).
    if (!recentAsk || m.stableSeq <= s.lastExecuted || m.stableSeq < ctx.log.low) return; // stale: ignore
    if (!ctx.checkpoints.validProof(m.stableSeq, m.stableDigest, m.checkpointProof)) {
      out.reject('bad-state', from, m.kind);
      return;
    }
    if (!bytesEqual(ctx.crypto.digest(m.snapshot), m.stableDigest)) {
      out.reject('bad-state', from, m.kind);
      return;
    }
    const state = decodeReplicaState(m.snapshot);
    if (!state.ok) {
      out.reject('bad-state', from, m.kind);
      return;
    }
    ctx.service.restore(state.app);
    const replies = ctx.requests.replies;
    replies.clear();
    for (const [c, r] of state.replies) replies.set(c, r);
    s.lastExecuted = m.stableSeq;
    // A restore is progress: the request timer measures from here, not from the last batch executed before it.
    // Otherwise a replica catching up by state transfer finds the slots it held from before its restore
    // overdue at once and votes alone to leave a view whose primary is fine (issue 13). Only a valid proof (q
    // signatures) gets here, and restores only move forward, so no faulty peer can hold this timer back.
    s.progressAt = s.now;
    ctx.checkpoints.saveSnapshot(m.stableSeq, m.snapshot, m.stableDigest);
    ctx.requests.dropExecuted();
    ctx.checkpoints.makeStable(m.stableSeq, m.checkpointProof); // a no-op when it is our stable checkpoint
    out.emit({ type: 'state-restored', seq: m.stableSeq, from: m.replica });
    ctx.agreement.executeReady();
  }
}

/** Distinct replicas that voted (PREPARE or COMMIT) on a slot. */
function voters(slot: Slot): number {
  const all = new Set<ReplicaId>(slot.prepares.keys());
  for (const r of slot.commits.keys()) all.add(r);
  return all.size;
}

function decodedOrThrow(bytes: Uint8Array): Message {
  const d = decodeMessage(bytes);
  if (!d.ok) throw new Error(`invariant: own message does not decode: ${d.reason}`);
  return d.message;
}
