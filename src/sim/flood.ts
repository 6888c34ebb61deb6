/**
 * The flooding client of the Byzantine catalog: a client with valid keys that sends far more than it should.
 * Every tick it multicasts a burst of authentic requests to all replicas: fresh timestamps (trying to get many
 * requests pending at once), replays of its older requests (stale timestamps), and requests with the same
 * timestamp but another op. A correct group absorbs it: a replica keeps at most one pending request per client
 * and drops stale ones, so the flood costs the flooder's own slot and some MAC checks, not the correct clients'
 * liveness (checked by the simulator within the stated bound).
 */
import { encodeMessage, requestAuthPayload } from '../core/codec/encode.ts';
import type { Request } from '../core/codec/messages.ts';
import type { NodeCrypto } from '../core/pbft/crypto.ts';
import type { Prng } from '../core/prng.ts';

export const FLOOD_SUMMARY =
  'A client with valid keys multicasting bursts of authentic requests every tick: fresh, replayed and conflicting.';

/** Requests per tick and flooder: enough to fill any per-client queue many times over. */
export const FLOOD_BURST = 6;
/** Bound on the replays kept (TIGER_STYLE: every queue has a limit). */
const MAX_REMEMBERED = 64;

export interface FloodRequest {
  readonly timestamp: number;
  readonly op: Uint8Array;
  readonly bytes: Uint8Array;
}

export class FloodingClient {
  private timestamp = 0;
  private readonly sent: FloodRequest[] = [];

  constructor(
    readonly id: number,
    private readonly replicas: readonly number[],
    private readonly crypto: NodeCrypto,
    private readonly rng: Prng,
  ) {}

  /** One tick's burst. Fresh requests are returned so the checker can count them as issued. */
  burst(): { fresh: FloodRequest[]; all: Uint8Array[] } {
    const fresh: FloodRequest[] = [];
    const all: Uint8Array[] = [];
    for (let i = 0; i < FLOOD_BURST; i++) {
      const kind = this.rng.int(3);
      const old = this.sent[this.rng.int(Math.max(1, this.sent.length))];
      if (kind === 1 && old !== undefined) {
        all.push(old.bytes); // replay
      } else if (kind === 2 && old !== undefined) {
        const r = this.make(old.timestamp); // same timestamp, another op
        fresh.push(r);
        all.push(r.bytes);
      } else {
        const r = this.make(++this.timestamp);
        fresh.push(r);
        all.push(r.bytes);
        this.sent.push(r);
        if (this.sent.length > MAX_REMEMBERED) this.sent.shift();
      }
    }
    return { fresh, all };
  }

  private make(timestamp: number): FloodRequest {
    const op = this.rng.bytes(1 + this.rng.int(16));
    const unsigned: Request = { client: this.id, timestamp, op, auth: [] };
    const auth = this.crypto.authenticator(this.replicas, requestAuthPayload(unsigned));
    return { timestamp, op, bytes: encodeMessage({ kind: 'request', ...unsigned, auth }) };
  }
}
