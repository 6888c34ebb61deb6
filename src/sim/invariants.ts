/**
 * Invariant checkers, run on every simulator step that could break them. A violation throws with the seed
 * and the exact command that replays the run.
 */
import { hex } from '../core/bytes.ts';
import type { PbftConfig } from '../core/pbft/config.ts';
import type { Replica } from '../core/pbft/replica.ts';
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

/** What the checker last saw of a correct replica's state (public status only). */
interface Seen {
  view: number;
  low: number;
  lastExecuted: number;
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
  private readonly seen = new Map<number, Seen>();
  /** Highest view any correct replica has been in. */
  private maxCorrectView = 0;
  checks = 0;

  constructor(
    private readonly seed: number,
    private readonly replay: string,
    private readonly config?: PbftConfig,
  ) {}

  /** Report a violation (throws): the invariant, what broke it, the seed and the replay command. */
  fail(invariant: string, detail: string): never {
    throw new InvariantViolation(invariant, detail, this.seed, this.replay);
  }

  /**
   * After every step of a correct replica: its own invariants (`Replica.checkInvariants`: log inside the
   * window, committed implies prepared implies pre-prepared, held counts, buffers within budget...), and
   * what its public status must satisfy whatever the faulty nodes send:
   *  - view, low watermark and last executed never decrease;
   *  - views advance one at a time: a correct replica moves to view v only on its own timeout (v = its view + 1),
   *    by joining f+1 replicas (one correct, so already in a view >= v), or on a valid NEW-VIEW (2f+1 signed
   *    VIEW-CHANGEs for v, f+1 of them correct); so no correct replica is ever more than one view above the
   *    highest view a correct replica was in before. A faulty node's huge view must not move anyone;
   *  - the log holds at most a window of slots, held PRE-PREPAREs and pending requests stay within their bounds.
   */
  afterStep(id: number, replica: Replica): void {
    try {
      replica.checkInvariants();
    } catch (e) {
      this.fail(
        'replica invariants (checkInvariants)',
        `replica ${id}: ${e instanceof Error ? e.message : e}`,
      );
    }
    const s = replica.status();
    const before = this.seen.get(id);
    if (before !== undefined) {
      if (s.view < before.view)
        this.fail('views never decrease', `replica ${id}: ${before.view} -> ${s.view}`);
      if (s.lowWatermark < before.low)
        this.fail('low watermark never decreases', `replica ${id}: ${before.low} -> ${s.lowWatermark}`);
      if (s.lastExecuted < before.lastExecuted)
        this.fail(
          'last executed never decreases',
          `replica ${id}: ${before.lastExecuted} -> ${s.lastExecuted}`,
        );
    }
    if (s.view > this.maxCorrectView + 1)
      this.fail(
        'views advance one at a time',
        `replica ${id} moved to view ${s.view}; the highest view of a correct replica was ${this.maxCorrectView}`,
      );
    this.maxCorrectView = Math.max(this.maxCorrectView, s.view);
    const c = this.config;
    if (c !== undefined) {
      if (s.logEntries > c.watermarkWindow)
        this.fail(
          'log within the watermark window',
          `replica ${id}: ${s.logEntries} slots > ${c.watermarkWindow}`,
        );
      if (s.held < 0 || s.held > c.maxHeldPrePrepares)
        this.fail(
          'held PRE-PREPAREs within bounds',
          `replica ${id}: held ${s.held} of ${c.maxHeldPrePrepares}`,
        );
      if (s.pending > c.maxPendingRequests)
        this.fail('pending requests within bounds', `replica ${id}: ${s.pending} > ${c.maxPendingRequests}`);
    }
    if (before === undefined)
      this.seen.set(id, { view: s.view, low: s.lowWatermark, lastExecuted: s.lastExecuted });
    else {
      before.view = s.view;
      before.low = s.lowWatermark;
      before.lastExecuted = s.lastExecuted;
    }
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
    this.issued.set(`${client}:${timestamp}`, { opHex: hex(op), issuedAt: now, completedAt: undefined });
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
    ops.add(hex(op));
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
    const digest = hex(batchDigest);
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
      if (issued !== undefined ? issued.opHex !== hex(r.op) : !byFaulty!.has(hex(r.op)))
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
