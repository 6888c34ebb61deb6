/**
 * An input unit: samples its stick and pitch sensor each frame and submits the sample as a PBFT request. A
 * sampling device wants the newest sample ordered, not every sample, and nothing reads the replicas' REPLYs (the
 * frame's result is the channels' OUTPUT at the voter), so the loop's group lists the units as clients that read
 * no replies (topology-pbft.ts, config.noReplyClients): replicas send them none, and each frame's sample goes out
 * at once under the next timestamp. Nothing is retransmitted: the next frame's sample supersedes an unordered one
 * at the replicas (requests.ts, rules W1 and W2), and a copy lost on its way to the primary reaches it in the
 * backups' vouches. How a unit learns that its sample was ordered: it does not need to.
 *
 * A client that does read replies (a group configured so) keeps PBFT's rule: while a request is outstanding, the
 * next sample waits in a queue of one and a newer sample replaces it (counted as superseded), and it goes out
 * once f+1 replicas replied.
 *
 * A unit can be made Byzantine by name (input-fault.ts): it then lies with its own keys. A two-faced unit signs
 * its second face with a throwaway twin client (same identity, the same timestamp), so that half the replicas
 * get one request and the others a different one under that timestamp.
 *
 * @example
 * const unit = new InputUnitHost({ unit: 0, client, requests, replicas: 4, counters, rng });
 * unit.sample(frame, stick, pitch, now);
 * unit.inject({ kind: 'stuck', fromFrame: 200 });
 */

import type { Reply } from '../../core/codec/messages.ts';
import { encodeInputSample } from '../../core/frame/sample.ts';
import type { Client } from '../../core/pbft/client.ts';
import type { ClientAction } from '../../core/pbft/types.ts';
import type { Prng } from '../../core/prng.ts';
import type { Counters } from './counters.ts';
import { applyInputFault, type InputFault, InputFaultMemory, type UnitSample } from './input-fault.ts';
import type { RequestSink } from './ports.ts';

export interface InputUnitHostOptions {
  readonly unit: number;
  readonly client: Client;
  /** Where this unit's requests go: every replica (or, for a two-faced unit, one at a time). */
  readonly requests: RequestSink;
  /** Replicas, by PBFT id 0..replicas-1. */
  readonly replicas: number;
  readonly counters: Counters;
  /** The unit's own seeded stream (Byzantine behaviours draw from it). */
  readonly rng: Prng;
  /**
   * A fresh client with this unit's identity whose next timestamp is `lastTimestamp + 1`: what a two-faced unit
   * signs its second face with. Absent: the unit cannot be two-faced (it sends its true sample to all).
   */
  readonly twin?: (lastTimestamp: number) => Client;
}

interface Waiting {
  readonly first: Uint8Array;
  /** The other face of a two-faced unit's sample. */
  readonly second: Uint8Array | undefined;
}

export class InputUnitHost {
  readonly unit: number;
  private waiting: Waiting | undefined;
  private stopped = false;
  private fault: InputFault | undefined;
  private memory = new InputFaultMemory();
  private client: Client;

  constructor(private readonly o: InputUnitHostOptions) {
    this.unit = o.unit;
    this.client = o.client;
  }

  /** Restarted from the installed code: a fresh client, nothing queued, no fault; the unit runs again. */
  reinstall(client: Client): void {
    this.client = client;
    this.waiting = undefined;
    this.fault = undefined;
    this.memory = new InputFaultMemory();
    this.stopped = false;
  }

  /** Make this unit Byzantine from `fault.fromFrame` on. */
  inject(fault: InputFault): void {
    this.fault = fault;
    this.memory.stuck = undefined;
  }

  /** The unit is correct again. */
  clearFault(): void {
    this.fault = undefined;
  }

  get faulty(): InputFault | undefined {
    return this.fault;
  }

  sample(frame: number, stick: number, pitch: number | null, now: number): void {
    if (this.stopped) return;
    const send = applyInputFault(this.fault, { frame, stick, pitch }, this.memory, this.o.rng);
    if (send.kind === 'none') return;
    const next: Waiting =
      send.kind === 'all'
        ? { first: this.encode(send.sample), second: undefined }
        : { first: this.encode(send.first), second: this.encode(send.second) };
    if (this.client.busy) {
      if (this.waiting !== undefined) this.o.counters.add('input.superseded');
      this.waiting = next;
      return;
    }
    this.submit(next, now);
  }

  /** A REPLY for this unit (its client authenticates it; a unit that reads none counts it as unexpected). */
  reply(from: number, message: Reply, bytes: Uint8Array, now: number): void {
    if (this.stopped) return;
    this.carryOut(this.client.step({ kind: 'decoded', from, message, bytes }), 'all');
    if (!this.client.busy && this.waiting !== undefined) {
      const next = this.waiting;
      this.waiting = undefined;
      this.submit(next, now);
    }
  }

  tick(now: number): void {
    if (!this.stopped) this.carryOut(this.client.step({ kind: 'tick', now }), 'all');
  }

  stop(): void {
    this.stopped = true;
  }

  private encode(s: UnitSample): Uint8Array {
    const valid = s.pitch !== null && Number.isFinite(s.pitch);
    return encodeInputSample({
      frame: s.frame,
      unit: this.unit,
      stick: s.stick,
      pitchValid: valid,
      pitch: valid ? s.pitch! : 0,
    });
  }

  /** Submits one frame's sample; a two-faced one goes half to the replicas from the client, half from a twin. */
  private submit(next: Waiting, now: number): void {
    const first = this.client.submit(next.first, now);
    if (!first.ok) {
      this.o.counters.add(`input.${first.reason}`);
      return;
    }
    const second =
      next.second === undefined ? undefined : this.o.twin?.(first.timestamp - 1).submit(next.second, now);
    if (second === undefined || !second.ok || second.timestamp !== first.timestamp) {
      this.carryOut(first.actions, 'all');
      return;
    }
    this.carryOut(first.actions, 'first-half');
    this.carryOut(second.actions, 'second-half');
  }

  private carryOut(actions: readonly ClientAction[], to: 'all' | 'first-half' | 'second-half'): void {
    const half = Math.ceil(this.o.replicas / 2);
    for (const a of actions) {
      if (a.kind === 'multicast') {
        if (to === 'all') this.o.requests.toReplicas(a.bytes);
        else if (to === 'first-half') for (let r = 0; r < half; r++) this.o.requests.toReplica(r, a.bytes);
        else for (let r = half; r < this.o.replicas; r++) this.o.requests.toReplica(r, a.bytes);
      } else if (a.kind === 'result') this.o.counters.add('input.acknowledged');
      else if (a.event.type === 'retransmit') this.o.counters.add('input.retransmit');
      else this.o.counters.add(`input.rejected.${a.event.reason}`);
    }
  }
}
