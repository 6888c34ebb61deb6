/**
 * An input unit: samples its stick and pitch sensor each frame and submits the sample as a PBFT request. A
 * sampling device wants the newest sample ordered, not every sample: while a request is outstanding, the next
 * sample waits in a queue of one and a newer sample replaces it (counted as superseded).
 */

import type { Reply } from '../../core/codec/messages.ts';
import type { Client } from '../../core/pbft/client.ts';
import type { ClientAction } from '../../core/pbft/types.ts';
import type { Counters } from './counters.ts';
import { encodeInputSample } from './input-sample.ts';
import type { RequestSink } from './ports.ts';

export class InputUnitHost {
  private waiting: Uint8Array | undefined;
  private stopped = false;

  constructor(
    readonly unit: number,
    private readonly client: Client,
    /** Where this unit's requests go: every replica. */
    private readonly requests: RequestSink,
    private readonly counters: Counters,
  ) {}

  sample(frame: number, stick: number, pitch: number | null, now: number): void {
    if (this.stopped) return;
    const op = encodeInputSample({
      frame,
      unit: this.unit,
      stick,
      pitchValid: pitch !== null && Number.isFinite(pitch),
      pitch: pitch !== null && Number.isFinite(pitch) ? pitch : 0,
    });
    if (this.client.busy) {
      if (this.waiting !== undefined) this.counters.add('input.superseded');
      this.waiting = op;
      return;
    }
    this.submit(op, now);
  }

  /** A REPLY for this unit (its client authenticates it). */
  reply(from: number, message: Reply, now: number): void {
    if (this.stopped) return;
    this.carryOut(this.client.step({ kind: 'deliver', from, message }));
    if (!this.client.busy && this.waiting !== undefined) {
      const op = this.waiting;
      this.waiting = undefined;
      this.submit(op, now);
    }
  }

  tick(now: number): void {
    if (!this.stopped) this.carryOut(this.client.step({ kind: 'tick', now }));
  }

  stop(): void {
    this.stopped = true;
  }

  private submit(op: Uint8Array, now: number): void {
    const r = this.client.submit(op, now);
    if (!r.ok) {
      this.counters.add(`input.${r.reason}`);
      return;
    }
    this.carryOut(r.actions);
  }

  private carryOut(actions: readonly ClientAction[]): void {
    for (const a of actions) {
      if (a.kind === 'multicast') this.requests.toReplicas(a.bytes);
      else if (a.kind === 'result') this.counters.add('input.acknowledged');
      else if (a.event.type === 'retransmit') this.counters.add('input.retransmit');
      else this.counters.add(`input.rejected.${a.event.reason}`);
    }
  }
}
