/**
 * The replicated service of the ordering group in the control loop: it keeps, per input unit, the newest
 * frame executed, and answers each request with that frame number (the unit's acknowledgement). The channel
 * consumes the executed batches themselves; this state exists so checkpoints and state transfer cover
 * something every replica (the monitor included) holds identically.
 */

import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import { array, struct, uvar } from '../../core/codec/schema.ts';
import { Reader, Writer } from '../../core/codec/wire.ts';
import { decodeInputSample } from '../../core/frame/sample.ts';
import type { Service } from '../../core/pbft/types.ts';

const snapshotSchema = struct({ units: array(struct({ client: uvar, frame: uvar }), 'maxBatchRequests') });

export class FrameLogService implements Service {
  private readonly newest = new Map<number, number>();

  execute(client: number, op: Uint8Array): Uint8Array {
    const sample = decodeInputSample(op);
    const frame = sample?.frame ?? 0;
    if (frame > (this.newest.get(client) ?? -1)) this.newest.set(client, frame);
    const w = new Writer(8);
    w.uvar(frame);
    return w.finish();
  }

  snapshot(): Uint8Array {
    const units = [...this.newest.entries()]
      .sort(([a], [b]) => a - b)
      .map(([client, frame]) => ({ client, frame }));
    const w = new Writer();
    snapshotSchema.write(w, { units });
    return w.finish();
  }

  restore(snapshot: Uint8Array): void {
    const s = snapshotSchema.read(new Reader(snapshot), DEFAULT_LIMITS, 'snapshot');
    this.newest.clear();
    for (const u of s.units) this.newest.set(u.client, u.frame);
  }
}
