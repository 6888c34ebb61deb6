/**
 * Messages of the view being installed that arrive before its NEW-VIEW (the NEW-VIEW may be overtaken by the
 * new primary's PRE-PREPAREs and the votes on them). Dropping them would leave this replica unable to vote
 * until a retransmission, so they are kept, bounded, and replayed once the NEW-VIEW is accepted.
 */
import { assert } from '../assert.ts';
import type { Commit, PrePrepare, Prepare } from '../codec/messages.ts';
import type { Ctx } from './context.ts';

/** Messages buffered while a NEW-VIEW is awaited (a view's worth for a group of a few replicas). */
const EARLY_BUFFER_LIMIT = 1024;

type EarlyMessage = PrePrepare | Prepare | Commit;

interface Entry {
  readonly from: number;
  readonly message: EarlyMessage;
  readonly bytes: Uint8Array;
}

export class EarlyBuffer {
  private entries: Entry[] = [];

  constructor(private readonly ctx: Ctx) {}

  get size(): number {
    return this.entries.length;
  }

  /** Keep `message` if it belongs to the view being installed; returns whether it was taken (or refused). */
  offer(from: number, message: EarlyMessage, bytes: Uint8Array): boolean {
    const { s } = this.ctx;
    if (s.active || message.view !== s.view) return false;
    if (this.entries.length >= EARLY_BUFFER_LIMIT) {
      this.ctx.out.reject('view-change-in-progress', from, message.kind);
      return true;
    }
    this.entries.push({ from, message, bytes });
    return true;
  }

  checkInvariants(): void {
    assert(this.entries.length <= EARLY_BUFFER_LIMIT, 'early buffer over its limit', {
      size: this.entries.length,
    });
  }

  clear(): void {
    this.entries = [];
  }

  /** The view became active: hand back what was kept for it, in arrival order; the buffer is empty after. */
  drain(): Entry[] {
    const entries = this.entries;
    this.entries = [];
    return entries.filter((e) => e.message.view === this.ctx.s.view);
  }
}
