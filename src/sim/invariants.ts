/**
 * Invariant checkers, run on every simulator step that could break them. A violation throws with the seed
 * and the exact command that replays the run.
 */
import type { ExecutedRequest } from '../core/pbft/types.ts';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
    readonly seed: number,
    readonly replay: string,
  ) {
    super(`invariant "${invariant}" violated (seed ${seed}): ${detail}\n  replay: ${replay}`);
    this.name = 'InvariantViolation';
  }
}

interface ReplicaTrack {
  /** Highest executed seq (or restored-to seq after state transfer). */
  last: number;
  readonly executed: Set<string>;
}

interface Issued {
  readonly opHex: string;
  readonly issuedAt: number;
  completedAt: number | undefined;
}

export class InvariantChecker {
  /** seq -> batch digest (hex) first committed by a correct replica, and by whom. */
  private readonly committed = new Map<number, { digest: string; replica: number }>();
  private readonly replicas = new Map<number, ReplicaTrack>();
  private readonly issued = new Map<string, Issued>();
  private readonly faultyIssued = new Map<string, Set<string>>();
  checks = 0;

  constructor(
    private readonly seed: number,
    private readonly replay: string,
  ) {}

  private fail(invariant: string, detail: string): never {
    throw new InvariantViolation(invariant, detail, this.seed, this.replay);
  }

  private track(replica: number): ReplicaTrack {
    let t = this.replicas.get(replica);
    if (t === undefined) {
      t = { last: 0, executed: new Set() };
      this.replicas.set(replica, t);
    }
    return t;
  }

  /** A correct client issued a request. */
  onIssue(client: number, timestamp: number, op: Uint8Array, now: number): void {
    this.issued.set(`${client}:${timestamp}`, { opHex: hexOf(op), issuedAt: now, completedAt: undefined });
  }

  /**
   * A faulty (flooding) client sent a request: executing it is valid (the client did issue it), but nobody
   * waits for it, so liveness does not judge it. Several ops may share a timestamp; each is remembered.
   */
  onFaultyIssue(client: number, timestamp: number, op: Uint8Array): void {
    const key = `${client}:${timestamp}`;
    let ops = this.faultyIssued.get(key);
    if (ops === undefined) {
      ops = new Set();
      this.faultyIssued.set(key, ops);
    }
    ops.add(hexOf(op));
  }

  /** A correct client accepted a result (f+1 matching replies). */
  onResult(client: number, timestamp: number, now: number): void {
    const i = this.issued.get(`${client}:${timestamp}`);
    if (i === undefined) this.fail('results only for issued requests', `client ${client} ts ${timestamp}`);
    i.completedAt ??= now;
  }

  /** A correct replica executed batch `seq`. */
  onExecute(
    replica: number,
    seq: number,
    batchDigest: Uint8Array,
    requests: readonly ExecutedRequest[],
  ): void {
    this.checks++;
    const digest = hexOf(batchDigest);
    const first = this.committed.get(seq);
    if (first === undefined) this.committed.set(seq, { digest, replica });
    else if (first.digest !== digest) {
      this.fail(
        'agreement: one batch per sequence number',
        `seq ${seq}: replica ${first.replica} executed ${first.digest.slice(0, 16)}, replica ${replica} executed ${digest.slice(0, 16)}`,
      );
    }
    const t = this.track(replica);
    // Execution strictly in order, so equal batches at every common seq make the logs prefixes of each other.
    if (seq !== t.last + 1)
      this.fail('committed logs are prefixes', `replica ${replica} executed ${seq} after ${t.last}`);
    t.last = seq;
    for (const r of requests) {
      const key = `${r.client}:${r.timestamp}`;
      const issued = this.issued.get(key);
      const byFaulty = this.faultyIssued.get(key);
      if (issued === undefined && byFaulty === undefined)
        this.fail('validity: executed requests were issued', `replica ${replica} executed ${key}`);
      if (issued !== undefined ? issued.opHex !== hexOf(r.op) : !byFaulty!.has(hexOf(r.op)))
        this.fail('validity: executed requests were issued', `${key} op differs`);
      if (t.executed.has(key))
        this.fail('no request executes twice', `replica ${replica} executed ${key} again`);
      t.executed.add(key);
    }
  }

  /** A correct replica jumped to `seq` by state transfer (verified against a stable checkpoint). */
  onRestore(replica: number, seq: number): void {
    const t = this.track(replica);
    if (seq <= t.last)
      this.fail('state transfer moves forward', `replica ${replica} restored ${seq} at ${t.last}`);
    t.last = seq;
  }

  /**
   * Liveness after GST: every request issued by a correct client completes by max(issuedAt, gst) + bound.
   * Requests issued later than `end - bound` are not judged (the run ended before their deadline).
   */
  checkLiveness(gst: number, bound: number, end: number): void {
    for (const [key, i] of this.issued) {
      const deadline = Math.max(i.issuedAt, gst) + bound;
      if (i.completedAt === undefined) {
        if (deadline <= end)
          this.fail('liveness after GST', `${key} issued at ${i.issuedAt} not done by ${deadline}`);
      } else if (i.completedAt > deadline) {
        this.fail(
          'liveness after GST',
          `${key} issued at ${i.issuedAt} done at ${i.completedAt} > ${deadline}`,
        );
      }
    }
  }

  /** Requests issued and completed so far. */
  counts(): { issued: number; completed: number } {
    let completed = 0;
    for (const i of this.issued.values()) if (i.completedAt !== undefined) completed++;
    return { issued: this.issued.size, completed };
  }
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
