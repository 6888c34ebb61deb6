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

export interface DatagramBudgetOptions {
  /** Sustained datagrams per second from one source. */
  readonly datagramsPerSecond: number;
  /** Datagrams one source may send at once (a frame's burst, a state transfer's). */
  readonly burstDatagrams: number;
  /** Sustained bytes per second from one source. */
  readonly bytesPerSecond: number;
  /** Bytes one source may send at once (at least the largest datagram accepted). */
  readonly burstBytes: number;
  /**
   * Sources tracked at once; a new source past this evicts the one heard from least recently (its next
   * datagram starts a full bucket again, which costs nothing a known source could not already spend).
   */
  readonly maxSources: number;
  /** The time now, in milliseconds (monotonic). */
  readonly now: () => number;
}

/** Why a datagram was refused (the transport counts `over-rate:<reason>`). */
export type DatagramRefusal = 'datagrams' | 'bytes';

interface SourceBucket {
  datagrams: number;
  bytes: number;
  last: number;
}

/**
 * A receive budget per source of a datagram socket (UDP): token buckets of datagrams and of bytes for each
 * source address, in a bounded table. One socket serves every peer, so without it one peer flooding datagrams
 * is served first by sheer number: each costs a decode and a MAC check, and the event loop spends itself on the
 * flood while the other peers' datagrams wait behind it (or are dropped by the kernel's full receive buffer).
 * With it, a source past its budget costs one map lookup per datagram, and the others keep theirs.
 *
 * What it cannot do: make room in the kernel's receive buffer (a flood at line rate still fills it; the
 * socket's receive buffer size and the network's own policing are the defence there), or tell a spoofed
 * source address from a real one (the protocol's MACs stand behind the address).
 *
 * @example
 * const budget = new DatagramBudget({ ...UDP_INGRESS_DEFAULTS, now: () => performance.now() });
 * const refused = budget.take(`${rinfo.address}:${rinfo.port}`, msg.length);
 * if (refused !== undefined) counters.error(`over-rate:${refused}`);
 */
export class DatagramBudget {
  private readonly sources = new Map<string, SourceBucket>();
  private readonly refusedBy: Record<DatagramRefusal, number> = { datagrams: 0, bytes: 0 };
  private evictions = 0;

  constructor(private readonly o: DatagramBudgetOptions) {
    for (const k of ['datagramsPerSecond', 'burstDatagrams', 'bytesPerSecond', 'burstBytes'] as const) {
      if (!(o[k] > 0) || !Number.isFinite(o[k]))
        throw new RangeError(`DatagramBudget: ${k} must be positive, got ${o[k]}`);
    }
    if (!Number.isInteger(o.maxSources) || o.maxSources < 1)
      throw new RangeError(`DatagramBudget: maxSources must be a positive integer, got ${o.maxSources}`);
  }

  /**
   * One datagram of `bytes` from `source`: undefined when it fits the source's budget (and is spent), else why
   * not. A refusal spends nothing.
   */
  take(source: string, bytes: number): DatagramRefusal | undefined {
    const now = this.o.now();
    let b = this.sources.get(source);
    if (b === undefined) {
      if (this.sources.size >= this.o.maxSources) {
        // Map iteration is insertion order and every take re-inserts: the first key is the least recent.
        const oldest = this.sources.keys().next().value as string;
        this.sources.delete(oldest);
        this.evictions++;
      }
      b = { datagrams: this.o.burstDatagrams, bytes: this.o.burstBytes, last: now };
    } else {
      this.sources.delete(source);
      // A clock that steps back refills nothing.
      const elapsed = Math.max(0, now - b.last);
      b.last = Math.max(b.last, now);
      b.datagrams = Math.min(
        this.o.burstDatagrams,
        b.datagrams + (elapsed * this.o.datagramsPerSecond) / 1000,
      );
      b.bytes = Math.min(this.o.burstBytes, b.bytes + (elapsed * this.o.bytesPerSecond) / 1000);
    }
    this.sources.set(source, b);
    const refusal: DatagramRefusal | undefined =
      b.datagrams < 1 ? 'datagrams' : bytes > b.bytes ? 'bytes' : undefined;
    if (refusal !== undefined) {
      this.refusedBy[refusal]++;
      return refusal;
    }
    b.datagrams -= 1;
    b.bytes -= bytes;
    return undefined;
  }

  /** Sources tracked now (never more than maxSources). */
  get size(): number {
    return this.sources.size;
  }

  /** Refusals so far by reason, and sources evicted from the table. */
  stats(): { refused: Readonly<Record<DatagramRefusal, number>>; evictions: number; sources: number } {
    return { refused: { ...this.refusedBy }, evictions: this.evictions, sources: this.sources.size };
  }
}

/**
 * Messages one correct peer sends one board per frame, sustained, with room to spare: a frame's ordering
 * messages, requests, VOUCHes, OUTPUT and replies are 2 to 4 per peer in steady flight; 200 a second was the
 * most seen from one peer at 25 Hz across restarts and a state transfer (test/runtime/recovery/wire-fleet.ts).
 */
const MESSAGES_PER_FRAME = 40;
/**
 * Messages one peer may send at once: a restarted replica's catch-up (state transfer, the batches since) was
 * 94 from one peer within one frame. Fixed rather than per frame: a burst costs the receiver's CPU, and 256
 * small messages are some 10 ms of decoding and MAC checks, within a frame even at 50 Hz.
 */
const BURST_MESSAGES = 256;

/**
 * The receive budget of one peer's messages (UDP datagrams, reassembled CAN messages) at `frameRateHz` frames
 * per second (default: the config's maximum, 1000 Hz, so a transport built without a topology never refuses a
 * correct peer). The byte rate and burst let a state transfer's largest messages through back to back.
 */
export function peerMessageLimits(
  frameRateHz = 1000,
  maxMessage = 65_507,
): Omit<DatagramBudgetOptions, 'now'> {
  return {
    datagramsPerSecond: MESSAGES_PER_FRAME * frameRateHz,
    burstDatagrams: BURST_MESSAGES,
    bytesPerSecond: Math.max(16 * maxMessage, 8 << 20),
    burstBytes: Math.max(64 * maxMessage, 4 << 20),
    // A topology has at most 64 boards (config.ts), and only configured peers reach a budget.
    maxSources: 64,
  };
}
