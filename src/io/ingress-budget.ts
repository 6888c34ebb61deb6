/**
 * A receive budget for one link: a token bucket of bytes, refilled at the most the link can carry. A serial
 * link to one peer is that peer's alone, so whatever arrives on it faster than its wire could carry comes from
 * a faulty peer (or a pseudo-terminal that is not a wire at all); without a bound, one board writing garbage
 * frames at memory speed into a pty kept a correct board's event loop busy deframing and decoding them (about
 * 1 us per 8-byte frame: 64 KiB per read turn was some 60 ms of work, three frame periods at 50 Hz).
 *
 * Pure apart from the clock the caller passes in (milliseconds).
 *
 * @example
 * const budget = new IngressBudget({ bytesPerSecond: 115_200, burstBytes: 512 * 1024, now: () => performance.now() });
 * if (!budget.take(chunk.length)) counters.error('over-rate', chunk.length); // dropped, counted
 */

export interface IngressBudgetOptions {
  /** Sustained rate allowed, bytes per second. */
  readonly bytesPerSecond: number;
  /** Bytes allowed at once (a whole largest frame, and what a stalled receiver finds queued). */
  readonly burstBytes: number;
  /** The time now, in milliseconds (monotonic). */
  readonly now: () => number;
}

export class IngressBudget {
  private tokens: number;
  private last: number;

  constructor(private readonly o: IngressBudgetOptions) {
    if (!(o.bytesPerSecond > 0) || !Number.isFinite(o.bytesPerSecond))
      throw new RangeError(`IngressBudget: bytesPerSecond must be positive, got ${o.bytesPerSecond}`);
    if (!(o.burstBytes >= 1) || !Number.isFinite(o.burstBytes))
      throw new RangeError(`IngressBudget: burstBytes must be at least 1, got ${o.burstBytes}`);
    this.tokens = o.burstBytes;
    this.last = o.now();
  }

  /** Whether `n` bytes fit the budget now; when they do, they are spent. A refusal spends nothing. */
  take(n: number): boolean {
    const now = this.o.now();
    // A clock that steps back refills nothing (and does not drain either).
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.o.burstBytes, this.tokens + (elapsed * this.o.bytesPerSecond) / 1000);
    if (n > this.tokens) return false;
    this.tokens -= n;
    return true;
  }

  /** Bytes that would be taken now without a refusal (for tests and status). */
  available(): number {
    return Math.floor(this.tokens);
  }
}
