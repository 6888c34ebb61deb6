/**
 * Messages of the view being installed that arrive before its NEW-VIEW (the NEW-VIEW may be overtaken by the
 * new primary's PRE-PREPAREs and the votes on them). Dropping them would leave this replica unable to vote
 * until a retransmission, so they are kept and replayed once the NEW-VIEW is accepted.
 *
 * Nothing is kept before its MAC verified: a PRE-PREPARE must come from the view's primary, a vote from another
 * replica, each authenticated for us. What is kept is charged to its (authenticated) sender, in messages and in
 * bytes, so a faulty replica fills only its own share and a peer without keys fills nothing.
 */
import { assert } from '../assert.ts';
import type { Commit, PrePrepare, Prepare } from '../codec/messages.ts';
import { othersOf, primaryOf, type ReplicaId } from './config.ts';
import { type Ctx, validReplica } from './context.ts';
import type { ReplicaRejection } from './types.ts';
import { payloadOf, prePreparePayload } from './wire-views.ts';

type EarlyMessage = PrePrepare | Prepare | Commit;

interface Entry {
  readonly from: number;
  readonly sender: ReplicaId;
  readonly message: EarlyMessage;
  readonly bytes: Uint8Array;
}

interface Share {
  messages: number;
  bytes: number;
}

export class EarlyBuffer {
  private entries: Entry[] = [];
  private readonly shares = new Map<ReplicaId, Share>();

  constructor(private readonly ctx: Ctx) {}

  get size(): number {
    return this.entries.length;
  }

  /** Bytes held, all senders. */
  get bytes(): number {
    let n = 0;
    for (const share of this.shares.values()) n += share.bytes;
    return n;
  }

  /** Keep `message` if it belongs to the view being installed; returns whether it was taken (or refused). */
  offer(from: number, message: EarlyMessage, bytes: Uint8Array): boolean {
    const ctx = this.ctx;
    const { s, config } = ctx;
    if (s.active || message.view !== s.view) return false;
    const problem = this.authenticate(message, bytes);
    if (problem !== undefined) {
      ctx.out.reject(problem, from, message.kind);
      return true;
    }
    const sender = message.replica;
    const share = this.shares.get(sender) ?? { messages: 0, bytes: 0 };
    if (
      share.messages + 1 > config.maxEarlyMessagesPerReplica ||
      share.bytes + bytes.length > config.maxEarlyBytesPerReplica
    ) {
      ctx.out.reject('over-budget', from, message.kind);
      return true;
    }
    share.messages++;
    share.bytes += bytes.length;
    this.shares.set(sender, share);
    this.entries.push({ from, sender, message, bytes });
    return true;
  }

  /** The checks a backup can make before the NEW-VIEW: who sent it, and its MAC for us. */
  private authenticate(m: EarlyMessage, bytes: Uint8Array): ReplicaRejection | undefined {
    const ctx = this.ctx;
    const { config } = ctx;
    if (!validReplica(config, m.replica) || m.replica === ctx.id) return 'bad-replica-id';
    const primary = primaryOf(config, m.view);
    if (m.kind === 'pre-prepare' && m.replica !== primary) return 'not-from-primary';
    if (m.kind === 'prepare' && m.replica === primary) return 'prepare-from-primary';
    const payload = m.kind === 'pre-prepare' ? prePreparePayload(bytes, m) : payloadOf(bytes, m);
    if (!ctx.crypto.verifyAuthenticator(m.replica, othersOf(config, m.replica), payload, m.auth))
      return 'bad-mac';
    return undefined;
  }

  /** Shares add up to what is held and stay within budget. */
  checkInvariants(): void {
    const { config } = this.ctx;
    const sums = new Map<ReplicaId, Share>();
    for (const e of this.entries) {
      const share = sums.get(e.sender) ?? { messages: 0, bytes: 0 };
      share.messages++;
      share.bytes += e.bytes.length;
      sums.set(e.sender, share);
    }
    assert(sums.size === this.shares.size, 'early-buffer shares differ from entries', {
      senders: sums.size,
      shares: this.shares.size,
    });
    for (const [sender, share] of this.shares) {
      const sum = sums.get(sender);
      assert(
        sum !== undefined && sum.messages === share.messages && sum.bytes === share.bytes,
        'early-buffer share differs from its entries',
        { sender },
      );
      assert(
        share.messages <= config.maxEarlyMessagesPerReplica && share.bytes <= config.maxEarlyBytesPerReplica,
        'early-buffer share over budget',
        { sender, messages: share.messages, bytes: share.bytes },
      );
    }
  }

  clear(): void {
    this.entries = [];
    this.shares.clear();
  }

  /** The view became active: hand back what was kept for it, in arrival order; the buffer is empty after. */
  drain(): Entry[] {
    const entries = this.entries;
    this.clear();
    return entries.filter((e) => e.message.view === this.ctx.s.view);
  }
}
