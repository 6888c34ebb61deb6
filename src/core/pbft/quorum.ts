/**
 * Every certificate size of a PBFT group, as a function of n (replicas) and f (faults tolerated), in one place.
 * Two kinds of certificate exist:
 *  - a quorum q = ceil((n + f + 1) / 2): any two quorums of n replicas share 2q - n >= f + 1 replicas, so at
 *    least one correct one, and two conflicting quorum certificates cannot both form; and q <= n - f, so the
 *    correct replicas alone make a quorum (liveness). For n = 3f + 1 this is the familiar 2f + 1; for larger n
 *    it is more (n = 5, f = 1: q = 4). A fixed 2f + 1 with n > 3f + 1 lets two quorums share only faulty
 *    replicas, and an equivocating primary then gets two batches committed at one sequence number;
 *  - a weak certificate f + 1: at least one of its members is correct.
 *
 * @example
 * const q = quorums(4, 1); // q.quorum === 3, q.weak === 2, q.prepares === 2
 */

/** The quorum size q = ceil((n + f + 1) / 2) of a group of n >= 3f + 1 replicas tolerating f faults. */
export function quorumSize(n: number, f: number): number {
  return Math.ceil((n + f + 1) / 2);
}

/** f + 1: a set this large holds at least one correct replica. */
export function weakSize(f: number): number {
  return f + 1;
}

export interface Quorums {
  /** q (see `quorumSize`). */
  readonly quorum: number;
  /** f + 1. */
  readonly weak: number;
  /** PREPAREs from distinct backups that, with the PRE-PREPARE, prove a batch prepared (q - 1). */
  readonly prepares: number;
  /** Matching COMMITs (the replica's own included) that prove a batch committed (q). */
  readonly commits: number;
  /** Matching signed CHECKPOINTs that make a checkpoint stable, and the size of its proof (q). */
  readonly checkpointProof: number;
  /** VIEW-CHANGEs a NEW-VIEW carries, and that start the view-change timer (q). */
  readonly viewChanges: number;
  /** VIEW-CHANGEs for higher views that make a replica join the smallest of them (f + 1). */
  readonly joinViewChange: number;
  /** NEW-VIEW condition A1: VIEW-CHANGEs with no conflicting prepared entry (q). */
  readonly newViewNoConflict: number;
  /** NEW-VIEW condition A2: VIEW-CHANGEs that pre-prepared the batch in that view or later (f + 1). */
  readonly newViewPrePrepared: number;
  /** NEW-VIEW condition B: VIEW-CHANGEs with no prepared entry, for the null batch (q). */
  readonly newViewNull: number;
  /** Replicas (the primary by its PRE-PREPARE, backups by PREPAREs) whose word makes a batch's requests authentic (f + 1). */
  readonly vouch: number;
  /** Replicas announcing checkpoints above our window that prove we fell behind (f + 1). */
  readonly behind: number;
  /** Matching replies a client needs (f + 1). */
  readonly reply: number;
  /**
   * Replicas vouching for a request before a backup may blame the primary for leaving it out (2f + 1: at
   * least f + 1 of them are correct, and their vouches reach the primary, which then proposes the request).
   */
  readonly suspect: number;
}

/** All certificate sizes of a group of `n` replicas tolerating `f` faults. */
export function quorums(n: number, f: number): Quorums {
  const q = quorumSize(n, f);
  const weak = weakSize(f);
  return {
    quorum: q,
    weak,
    prepares: q - 1,
    commits: q,
    checkpointProof: q,
    viewChanges: q,
    joinViewChange: weak,
    newViewNoConflict: q,
    newViewPrePrepared: weak,
    newViewNull: q,
    vouch: weak,
    behind: weak,
    reply: weak,
    suspect: 2 * f + 1,
  };
}
