/**
 * Checkpoints: this replica's own state snapshots at every K-th executed batch, the signed CHECKPOINT votes of
 * every replica, the stable checkpoint and its proof (q matching signatures), and the evidence that peers are
 * past our window. When a checkpoint becomes stable, every part truncates what it no longer needs.
 */
import { assert } from '../assert.ts';
import { bytesEqual, hex } from '../bytes.ts';
import { authPayload, encodeMessage } from '../codec/encode.ts';
import type { Checkpoint } from '../codec/messages.ts';
import type { ReplicaId } from './config.ts';
import { type Ctx, isPrimary, validReplica } from './context.ts';
import { encodeReplicaState } from './snapshot.ts';
import { payloadOf } from './wire-views.ts';

/** A checkpoint as carried inside a certificate (no kind tag of its own). */
export type CheckpointBody = Omit<Checkpoint, 'kind'>;

interface OwnSnapshot {
  readonly bytes: Uint8Array;
  readonly digest: Uint8Array;
}

export class Checkpoints {
  /** The proof of the stable checkpoint h (empty at h = 0). */
  stableProof: readonly CheckpointBody[] = [];
  private readonly votes = new Map<number, Map<ReplicaId, Checkpoint>>();
  /** Highest checkpoint seq announced above our window, per replica (evidence that we fell behind). */
  private readonly ahead = new Map<ReplicaId, number>();
  private readonly snapshots = new Map<number, OwnSnapshot>();

  constructor(private readonly ctx: Ctx) {}

  /** Signed CHECKPOINTs held (all seqs, all replicas). */
  get held(): number {
    let n = 0;
    for (const m of this.votes.values()) n += m.size;
    return n;
  }

  /** Replicas that announced a checkpoint above our window. */
  get aheadCount(): number {
    return this.ahead.size;
  }

  snapshot(seq: number): OwnSnapshot | undefined {
    return this.snapshots.get(seq);
  }

  /** A snapshot installed by state transfer (verified against the stable proof by the caller). */
  saveSnapshot(seq: number, bytes: Uint8Array, digest: Uint8Array): void {
    this.snapshots.set(seq, { bytes, digest });
  }

  /** This replica's own CHECKPOINTs still held (for retransmission). */
  own(): Checkpoint[] {
    const out: Checkpoint[] = [];
    for (const bySeq of this.votes.values()) {
      const own = bySeq.get(this.ctx.id);
      if (own !== undefined) out.push(own);
    }
    return out;
  }

  /** Batch `seq` (a multiple of K) executed: snapshot, sign and multicast our CHECKPOINT. */
  take(seq: number): void {
    const ctx = this.ctx;
    const bytes = encodeReplicaState(ctx.service.snapshot(seq), ctx.requests.replies);
    const digest = ctx.crypto.digest(bytes);
    this.snapshots.set(seq, { bytes, digest });
    const unsigned: Checkpoint = {
      kind: 'checkpoint',
      seq,
      stateDigest: digest,
      replica: ctx.id,
      signature: new Uint8Array(64),
    };
    const message: Checkpoint = { ...unsigned, signature: ctx.crypto.sign(authPayload(unsigned)) };
    this.record(message);
    ctx.out.multicast(message, encodeMessage(message));
    ctx.out.emit({ type: 'checkpoint', seq, stateDigest: digest });
    this.checkStable(seq);
  }

  /**
   * A signed CHECKPOINT. Everything that makes it useless is decided before its signature is checked, so a
   * replayed one costs a map lookup: at or below our stable checkpoint, a vote we already hold from its replica
   * for that seq (the first one counts), or no higher than what that replica already announced above our window.
   */
  onCheckpoint(from: number, cp: Checkpoint, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { config, log, out } = ctx;
    if (!validReplica(config, cp.replica)) {
      out.reject('bad-replica-id', from, 'checkpoint');
      return;
    }
    if (cp.seq === 0 || cp.seq % config.checkpointInterval !== 0) {
      out.reject('not-a-checkpoint-seq', from, 'checkpoint');
      return;
    }
    if (cp.seq <= log.low) return; // already stable here: a harmless retransmission
    const beyond = cp.seq > log.high;
    if (beyond && (this.ahead.get(cp.replica) ?? 0) >= cp.seq) return; // nothing new about that replica
    if (!beyond && this.votes.get(cp.seq)?.has(cp.replica) === true) return; // a duplicate: first one counts
    if (!ctx.crypto.verifySignature(cp.replica, payloadOf(bytes, cp), cp.signature)) {
      out.reject('bad-signature', from, 'checkpoint');
      return;
    }
    if (beyond) {
      // Beyond our window: keep only the evidence that we fell behind (bounded: one number per replica).
      this.ahead.set(cp.replica, cp.seq);
      return;
    }
    this.record(cp);
    this.checkStable(cp.seq);
  }

  private record(cp: Checkpoint): void {
    let bySeq = this.votes.get(cp.seq);
    if (bySeq === undefined) {
      bySeq = new Map();
      this.votes.set(cp.seq, bySeq);
    }
    // First message per replica wins: a Byzantine replica cannot vote twice by changing its digest.
    if (!bySeq.has(cp.replica)) bySeq.set(cp.replica, cp);
  }

  /** A checkpoint is stable at q matching signed CHECKPOINTs; it then becomes the low watermark. */
  private checkStable(seq: number): void {
    const ctx = this.ctx;
    const bySeq = this.votes.get(seq);
    if (bySeq === undefined || seq <= ctx.log.low) return;
    const groups = new Map<string, Checkpoint[]>();
    for (const cp of bySeq.values()) {
      const key = hex(cp.stateDigest);
      const g = groups.get(key) ?? [];
      g.push(cp);
      groups.set(key, g);
    }
    const needed = ctx.quorums.checkpointProof;
    for (const [digestHex, proof] of groups) {
      if (proof.length < needed) continue;
      const own = this.snapshots.get(seq);
      if (own === undefined) {
        // q replicas are past a point we have not executed: fetch their state.
        ctx.transfer.askNow();
        return;
      }
      if (hex(own.digest) !== digestHex) {
        // Our state differs from q others: we are the faulty one. Say so loudly; state transfer repairs it.
        ctx.out.reject('checkpoint-mismatch', ctx.id, 'checkpoint');
        ctx.transfer.askNow();
        return;
      }
      this.makeStable(seq, proof.slice(0, needed));
      return;
    }
  }

  /** The new view starts above our stable checkpoint: take its proof; state transfer fills the gap. */
  adopt(seq: number, proof: readonly CheckpointBody[]): void {
    const own = this.snapshots.get(seq);
    if (own !== undefined && proof[0] !== undefined && bytesEqual(own.digest, proof[0].stateDigest)) {
      this.makeStable(seq, proof);
      return;
    }
    this.makeStable(seq, proof);
    if (this.ctx.s.lastExecuted < seq) this.ctx.transfer.allowAskNow();
  }

  /**
   * `seq` is stable with `proof`: move the low watermark and let every part truncate. The watermark only moves
   * up: a proof for a checkpoint at or below the current one (a relayed older proof) changes nothing.
   */
  makeStable(seq: number, proof: readonly CheckpointBody[]): void {
    const ctx = this.ctx;
    const { log, s, config } = ctx;
    if (seq <= log.low) return;
    log.low = seq;
    this.stableProof = proof;
    const truncated = log.truncate(seq);
    for (const v of this.votes.keys()) if (v <= seq) this.votes.delete(v);
    for (const v of this.snapshots.keys()) if (v < seq) this.snapshots.delete(v);
    ctx.batches.prune(seq, log);
    ctx.views.pruneBelowCurrent();
    ctx.learner.prune();
    for (const [r, v] of this.ahead) if (v <= seq + config.watermarkWindow) this.ahead.delete(r);
    if (s.lastAssigned < seq) s.lastAssigned = seq;
    ctx.out.emit({ type: 'checkpoint-stable', seq, truncated });
    // The window moved: the primary may propose what waited on the high watermark.
    if (isPrimary(ctx) && config.batching.mode === 'size') ctx.agreement.cutBatches();
  }

  /**
   * q to n valid signatures of distinct replicas on (seq, digest). The structure is checked before any
   * signature; a signature this replica already verified (a vote it holds) is not verified again.
   */
  validProof(seq: number, digest: Uint8Array, proof: readonly CheckpointBody[]): boolean {
    const ctx = this.ctx;
    if (proof.length < ctx.quorums.checkpointProof || proof.length > ctx.config.n) return false;
    if (seq === 0 || seq % ctx.config.checkpointInterval !== 0) return false;
    const signers = new Set<ReplicaId>();
    for (const cp of proof) {
      if (cp.seq !== seq || !bytesEqual(cp.stateDigest, digest) || !validReplica(ctx.config, cp.replica))
        return false;
      if (signers.has(cp.replica)) return false;
      signers.add(cp.replica);
    }
    for (const cp of proof) {
      const held = this.votes.get(seq)?.get(cp.replica);
      if (
        held !== undefined &&
        bytesEqual(held.signature, cp.signature) &&
        bytesEqual(held.stateDigest, digest)
      )
        continue;
      if (!ctx.crypto.verifySignature(cp.replica, authPayload({ kind: 'checkpoint', ...cp }), cp.signature)) {
        return false;
      }
    }
    return true;
  }

  /** Votes are for seqs inside the window, one per replica; evidence of peers ahead is above it. */
  checkInvariants(): void {
    const { log, config } = this.ctx;
    for (const [seq, bySeq] of this.votes) {
      assert(seq > log.low && seq <= log.high, 'checkpoint vote outside the window', { seq, low: log.low });
      assert(bySeq.size <= config.n, 'more checkpoint votes than replicas', { seq });
    }
    for (const [r, seq] of this.ahead) assert(seq > log.high, 'ahead evidence inside the window', { r, seq });
    assert(this.ahead.size <= config.n, 'ahead evidence for more replicas than exist');
    if (log.low > 0) {
      assert(
        this.stableProof.length >= this.ctx.quorums.checkpointProof,
        'stable checkpoint without its proof',
        {
          low: log.low,
        },
      );
    }
  }
}
