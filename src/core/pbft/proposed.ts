/**
 * Rule P1 (requests.ts): per client, the newest timestamp of its requests in a batch proposed or accepted in this
 * view and not executed here yet, whether or not this replica held that request itself. A new primary learns some
 * requests only from the batches a NEW-VIEW carries over; without this, the client's retransmission reaching it
 * before that batch executes became a fresh pending request, proposed again at a later seq, which backups that
 * executed the carried-over batch refuse ('stale-request'): that PRE-PREPARE never prepares and a correct primary
 * is voted out (sim:seeds seed 3041). Bounded (oldest out): losing an entry only loses this protection for that
 * client. Cleared at every view change.
 *
 * @example
 * const proposed = new ProposedInView(4 * config.maxPendingRequests);
 * proposed.note(r.client, r.timestamp); // a PRE-PREPARE of this view holds r
 * proposed.covers(retransmission);      // true: held in flight, never proposed again
 */
import type { Request } from '../codec/messages.ts';
import type { ClientId } from './config.ts';

export class ProposedInView {
  private readonly newest = new Map<ClientId, number>();

  constructor(private readonly capacity: number) {}

  /** Whether `request`, or a newer one of its client, is in a batch of this view not executed here yet. */
  covers(request: Request): boolean {
    const ts = this.newest.get(request.client);
    return ts !== undefined && request.timestamp <= ts;
  }

  /** A batch of this view holds `client`'s request at `timestamp`. */
  note(client: ClientId, timestamp: number): void {
    const known = this.newest.get(client);
    if (known !== undefined && known >= timestamp) return;
    this.newest.delete(client);
    this.newest.set(client, timestamp);
    if (this.newest.size > this.capacity) {
      const oldest = this.newest.keys().next().value;
      if (oldest !== undefined) this.newest.delete(oldest);
    }
  }

  /** `client`'s request at `timestamp` executed here. */
  executed(client: ClientId, timestamp: number): void {
    const ts = this.newest.get(client);
    if (ts !== undefined && ts <= timestamp) this.newest.delete(client);
  }

  /** A new view: its batches are noted afresh. */
  clear(): void {
    this.newest.clear();
  }
}
