/**
 * Learning the batches the group commits in a view this replica has left (issue 13).
 *
 * Why. A correct replica can leave a view alone: its request timer fires for a slot whose votes it lost or has
 * not read yet (a lossy link, a host stall), and it takes f+1 VIEW-CHANGEs to move anyone else, so the others
 * go on ordering in the view it left. Its VIEW-CHANGE promised that it sends nothing more in that view, so it
 * accepts none of that view's agreement, and before this part it advanced only by state transfer at stable
 * checkpoints: its co-located channel, which consumes the batches its replica executes, saw gaps (176 batches in
 * a process-mode soak, b0 alone in view 37 while the others ordered in view 36) and stopped matching its peers.
 *
 * Rule. A batch d is committed at (v, n) once q distinct replicas sent COMMIT(v, n, d): that is PBFT's committed
 * predicate, and it does not depend on who holds the certificate. A replica whose view is above v that holds
 * such a certificate (COMMITs it received after leaving v, plus those its slot for n kept from v) and a batch
 * hashing to d (the old-view PRE-PREPARE's batch, batch-store.ts, or the PRE-PREPARE its slot still holds)
 * executes d at n, strictly in sequence order, exactly as it would execute a batch it committed itself.
 *
 * The same holds in the replica's current view: a backup that lost a PREPARE cannot prepare, so it sends no
 * COMMIT, but q COMMITs of the others for the PRE-PREPARE it holds prove the batch committed, and it executes it
 * at once instead of waiting for a retransmission while its request timer runs (issue 13: that wait is how a
 * backup on a lossy link ends up voting alone to leave a view whose primary is fine). It sends nothing for it
 * either; should its PREPAREs come later it prepares and commits as usual, and nothing executes twice.
 *
 * Why that is safe (agreement). Of the q replicas that sent COMMIT(v, n, d) at least q - f are correct, and a
 * correct replica sends COMMIT only once it prepared d at (v, n). Any NEW-VIEW for a view above v carries q
 * VIEW-CHANGEs, and q + (q - f) - n >= 1 (q = ceil((n + f + 1) / 2), quorum.ts), so one of them is from a correct
 * replica that prepared d at (v, n) before it left v: by the argument of new-view.ts every later view fixes d at
 * n (or starts from a stable checkpoint at or above n, whose state includes d at n). So d at n is what every
 * correct replica executes at n, whichever view it commits in, and executing it in sequence order leaves this
 * replica in the group's state. Request validity holds too: q - f >= f + 1 correct replicas accepted the batch,
 * so its requests are authentic (the rule in replica.ts); the reply cache skips any it executed already.
 *
 * Why the view change keeps its argument. Learning sends nothing for view v: no PREPARE, no COMMIT, and no P or
 * Q entry changes (the slot's pInfo and qInfo are untouched), so this replica's VIEW-CHANGEs for any later view
 * report exactly what it prepared and pre-prepared, and every quorum-intersection argument of new-view.ts stands
 * as it was. The promise a VIEW-CHANGE makes is about what its sender sends, never about what it executes. What
 * changes is the execution point and, at a checkpoint seq, the replica's own signed CHECKPOINT, which is
 * view-independent (the state digest after n, the group's) and lets its log be garbage-collected with the group's
 * stable checkpoints (checkpoints.ts). A NEW-VIEW that later carries d at n re-runs agreement there without
 * executing it again (execution only ever moves to lastExecuted + 1).
 *
 * Bounds (what a faulty peer can fill). One COMMIT per (replica, seq), for seqs inside the watermark window above
 * the last executed seq: at most (n - 1) x L entries, dropped as execution passes them. Only from replicas with
 * keys (its MAC for us verifies, else 'bad-mac'), never our own id ('bad-replica-id'), outside the window
 * 'outside-watermarks'; all counted. A later COMMIT of the same replica for the same seq replaces its entry only
 * for a higher view (a correct replica commits a seq at most once per view; the first one of a view counts), so a
 * faulty replica cannot grow its share by naming many views. Batch contents come only from the batch store or
 * the log, each hashed to its digest before it was kept there (old-view batches within the per-primary byte
 * budget of batch-store.ts). Cost per COMMIT: one MAC check and one count over at most n entries.
 *
 * What it does not do. It does not bring the replica back to the group's view: views never go backwards (a
 * VIEW-CHANGE cannot be withdrawn, or a NEW-VIEW built on it could miss what its sender prepared afterwards). The
 * replica rejoins at the group's next view change (the others hold its VIEW-CHANGE already; the runtime's
 * planned handovers are view changes too), or joins a higher view once f+1 replicas are there (view-change.ts,
 * maybeJoin); meanwhile its view-change timer does not run, since it starts only at q VIEW-CHANGEs for its view
 * (view-change.ts, armTimer), so a lone replica does not escalate to v + 2, v + 3.
 */
import { assert } from '../assert.ts';
import { fromHex, hex } from '../bytes.ts';
import type { Batch, Commit } from '../codec/messages.ts';
import { othersOf, type ReplicaId } from './config.ts';
import { type Ctx, validReplica } from './context.ts';
import { payloadOf } from './wire-views.ts';

interface Vote {
  readonly view: number;
  readonly digestHex: string;
  readonly digest: Uint8Array;
}

/** A batch proven committed at a seq: the view of its certificate, its digest and its content. */
export interface Learned {
  readonly seq: number;
  readonly view: number;
  readonly batchDigest: Uint8Array;
  readonly batch: Batch & { kind: 'full' };
}

export class Learner {
  /** seq -> replica -> its COMMIT for that seq in a view below ours (the highest such view it sent). */
  private readonly votes = new Map<number, Map<ReplicaId, Vote>>();
  private count = 0;

  constructor(private readonly ctx: Ctx) {}

  /** COMMITs of views below ours held. */
  get held(): number {
    let n = 0;
    for (const byReplica of this.votes.values()) n += byReplica.size;
    return n;
  }

  /** Batches executed by learning so far. */
  get learned(): number {
    return this.count;
  }

  /** A COMMIT of a view below ours (agreement.ts routes it here). */
  onCommit(from: number, m: Commit, bytes: Uint8Array): void {
    const ctx = this.ctx;
    const { config, s, log, out } = ctx;
    if (!validReplica(config, m.replica) || m.replica === ctx.id) {
      out.reject('bad-replica-id', from, 'commit');
      return;
    }
    if (m.seq <= s.lastExecuted) return; // executed here already: a late or retransmitted vote, harmless
    if (!log.inWindow(m.seq)) {
      out.reject('outside-watermarks', from, 'commit');
      return;
    }
    const known = this.votes.get(m.seq)?.get(m.replica);
    if (known !== undefined && known.view >= m.view) return; // first one per (replica, seq, view) counts
    if (
      !ctx.crypto.verifyAuthenticator(m.replica, othersOf(config, m.replica), payloadOf(bytes, m), m.auth)
    ) {
      out.reject('bad-mac', from, 'commit');
      return;
    }
    let byReplica = this.votes.get(m.seq);
    if (byReplica === undefined) {
      byReplica = new Map();
      this.votes.set(m.seq, byReplica);
    }
    byReplica.set(m.replica, { view: m.view, digestHex: hex(m.batchDigest), digest: m.batchDigest });
    ctx.agreement.executeReady();
  }

  /**
   * The batch proven committed at `seq` in a view below ours, if this replica holds q matching COMMITs from
   * distinct replicas for it and its content; undefined otherwise.
   */
  committedAt(seq: number): Learned | undefined {
    const ctx = this.ctx;
    const slot = ctx.log.get(seq);
    // The slot's own COMMITs count too, whatever its view: those of the view this replica left (its own among
    // them), and those of its current view when it could not prepare (a PREPARE lost) while q others committed.
    const old = slot !== undefined && slot.commits.size > 0 ? slot : undefined;
    const byReplica = this.votes.get(seq);
    if (byReplica === undefined && old === undefined) return undefined;
    const tally = new Map<string, { view: number; digestHex: string; voters: Set<ReplicaId> }>();
    const add = (view: number, digestHex: string, replica: ReplicaId): void => {
      const key = `${view}:${digestHex}`;
      let t = tally.get(key);
      if (t === undefined) {
        t = { view, digestHex, voters: new Set() };
        tally.set(key, t);
      }
      t.voters.add(replica);
    };
    for (const [r, v] of byReplica ?? []) add(v.view, v.digestHex, r);
    if (old !== undefined) for (const [r, d] of old.commits) add(old.view, d, r);
    for (const t of tally.values()) {
      if (t.voters.size < ctx.quorums.commits) continue;
      const fromSlot =
        old !== undefined && old.view === t.view && old.digestHex === t.digestHex
          ? old.prePrepare
          : undefined;
      const batch = fromSlot?.batch ?? ctx.batches.get(t.digestHex);
      if (batch === undefined || batch.kind !== 'full') continue; // its content has not come yet
      const digest =
        fromSlot?.batchDigest ??
        [...(byReplica?.values() ?? [])].find((v) => v.digestHex === t.digestHex)?.digest ??
        fromHex(t.digestHex);
      return { seq, view: t.view, batchDigest: digest, batch };
    }
    return undefined;
  }

  /** A batch was executed by learning. */
  executed(): void {
    this.count++;
  }

  /** Forget what execution or a stable checkpoint passed. */
  prune(): void {
    const { s, log } = this.ctx;
    for (const seq of this.votes.keys()) if (seq <= s.lastExecuted || seq <= log.low) this.votes.delete(seq);
  }

  /** Votes lie inside the window above the last executed seq, at most one per other replica, below our view. */
  checkInvariants(): void {
    const ctx = this.ctx;
    const { s, log, config } = ctx;
    for (const [seq, byReplica] of this.votes) {
      assert(log.inWindow(seq), 'learned COMMITs outside the window', { seq, low: log.low });
      assert(seq > s.lastExecuted, 'learned COMMITs for an executed seq', { seq, last: s.lastExecuted });
      assert(byReplica.size < config.n, 'learned COMMITs from more replicas than the others', { seq });
      for (const [r, v] of byReplica) {
        assert(r !== ctx.id && validReplica(config, r), 'learned COMMIT filed under a bad replica', {
          seq,
          r,
        });
        assert(v.view < s.view, 'learned COMMIT not from a view below ours', { seq, view: v.view });
      }
    }
  }
}
