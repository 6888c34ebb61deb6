/**
 * The replicated service of the ordering group in the control loop. Every replica (the monitor included)
 * executes the committed batches on it, so checkpoints and state transfer cover what it holds:
 *
 * - per input unit, the newest frame executed; each request is answered with that frame number (the unit's
 *   acknowledgement);
 * - the reference channel: the input machine and the reference implementation of the law (float64) run on every
 *   batch exactly as a channel runs them, so each checkpoint carries the channels' abstract state after its
 *   batch (the BASE idea: the abstract state is part of the state the checkpoint digest certifies). A replica
 *   that catches up by state transfer hands that state to its co-located channel (`CertifiedStateSink`), which
 *   would otherwise never see the batches the replica skipped: a restarted channel is rebuilt, and a running one
 *   whose replica fell behind stays exact, without asking any peer, even when no two peers could agree on a
 *   state (one restarting, one behind).
 *
 * Deterministic across replicas: the same batches in the same order and IEEE double arithmetic give the same
 * bits on every board running the same code (the law's coefficients come from Math.exp once, at construction;
 * boards of one group run one Node version). The snapshot is canonical (units ascending).
 *
 * @example
 * const service = new FrameLogService({ inputs, spec, certified: channel });
 * const replica = new Replica({ ..., service });
 */

import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import { channelStateSchema, type WireChannelState } from '../../core/codec/messages.ts';
import { array, struct, uvar } from '../../core/codec/schema.ts';
import { DecodeFailure, Reader, Writer } from '../../core/codec/wire.ts';
import { createPitchLaw } from '../../core/control/index.ts';
import { defaultPitchLawSpec, type PitchLaw, type PitchLawSpec } from '../../core/control/spec.ts';
import {
  type FrameInputsConfig,
  FrameInputsMachine,
  pitchFrameInputsConfig,
} from '../../core/frame/inputs.ts';
import { decodeInputSample } from '../../core/frame/sample.ts';
import type { ExecutedRequest, Service } from '../../core/pbft/types.ts';
import type { Topology } from '../config.ts';
import { channelStateOf, fromWire, toWire } from './channel-state.ts';
import type { CertifiedStateSink } from './ports.ts';
import { INPUT_BASE } from './principals.ts';

const unitsSchema = array(struct({ client: uvar, frame: uvar }), 'maxBatchRequests');

export interface FrameLogServiceOptions {
  /** The channels' input machine (the same config every channel of the topology runs). */
  readonly inputs: FrameInputsConfig;
  /** The law's spec (the reference implementation runs it). */
  readonly spec: PitchLawSpec;
  /** The co-located channel, told the certified state after each state transfer (absent: no channel). */
  readonly certified?: CertifiedStateSink;
}

/** The law's spec and the input machine every channel of topology `t` runs (and the reference channel). */
export function loopChannelConfig(t: Topology): { spec: PitchLawSpec; inputs: FrameInputsConfig } {
  const spec = defaultPitchLawSpec(t.frameRateHz);
  return { spec, inputs: pitchFrameInputsConfig({ units: t.inputUnits, firstClient: INPUT_BASE, spec }) };
}

export class FrameLogService implements Service {
  private readonly newest = new Map<number, number>();
  private inputs: FrameInputsMachine;
  private law: PitchLaw;
  /** The batch being executed: its requests reach the reference channel once the batch is complete. */
  private pending: { seq: number; requests: ExecutedRequest[] } | undefined;

  constructor(private readonly o: FrameLogServiceOptions) {
    this.inputs = new FrameInputsMachine(o.inputs);
    this.law = createPitchLaw('float64', o.spec);
  }

  execute(client: number, op: Uint8Array, seq: number): Uint8Array {
    const sample = decodeInputSample(op);
    const frame = sample?.frame ?? 0;
    if (frame > (this.newest.get(client) ?? -1)) this.newest.set(client, frame);
    if (this.pending !== undefined && this.pending.seq !== seq) this.flush();
    this.pending ??= { seq, requests: [] };
    this.pending.requests.push({ client, timestamp: 0, op, result: EMPTY });
    const w = new Writer(8);
    w.uvar(frame);
    return w.finish();
  }

  /** The state after batch `seq` (checkpoints take it right after executing `seq`). */
  snapshot(seq = 0): Uint8Array {
    this.flush();
    const units = [...this.newest.entries()]
      .sort(([a], [b]) => a - b)
      .map(([client, frame]) => ({ client, frame }));
    const w = new Writer();
    unitsSchema.write(w, units);
    channelStateSchema.write(w, toWire(seq, channelStateOf(this.inputs, this.law)));
    return w.finish();
  }

  /**
   * A certified snapshot (its digest matched a stable checkpoint 2f+1 replicas signed). Malformed bytes could
   * only come from 2f+1 faulty replicas (beyond the fault assumption): refused with a RangeError, nothing applied.
   */
  restore(snapshot: Uint8Array): void {
    const decoded = decodeSnapshot(snapshot, this.o.inputs.voter.units);
    if (decoded === undefined)
      throw new RangeError('FrameLogService.restore: not a snapshot of this topology');
    this.pending = undefined;
    this.newest.clear();
    for (const u of decoded.units) this.newest.set(u.client, u.frame);
    const state = decoded.channel;
    this.inputs = new FrameInputsMachine(this.o.inputs, state.inputs);
    this.law = createPitchLaw('float64', this.o.spec, state.state);
    this.o.certified?.certified(decoded.seq, state);
  }

  /** Run the completed batch through the reference channel, as a channel does (ChannelHost.run). */
  private flush(): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    const out = this.inputs.step(p.requests);
    if (out.kind === 'frame') this.law.step(out.inputs);
  }
}

const EMPTY = new Uint8Array(0);

function decodeSnapshot(
  bytes: Uint8Array,
  units: number,
):
  | {
      units: readonly { readonly client: number; readonly frame: number }[];
      seq: number;
      channel: NonNullable<ReturnType<typeof fromWire>>;
    }
  | undefined {
  try {
    const r = new Reader(bytes);
    const decodedUnits = unitsSchema.read(r, DEFAULT_LIMITS, 'units');
    const wire: WireChannelState = channelStateSchema.read(r, DEFAULT_LIMITS, 'channel');
    if (r.remaining !== 0) return undefined;
    const channel = fromWire(wire, units);
    if (channel === undefined) return undefined;
    return { units: decodedUnits, seq: wire.seq, channel };
  } catch (e) {
    if (e instanceof DecodeFailure) return undefined;
    throw e;
  }
}

/**
 * The largest snapshot of a topology with `units` input units and `fields` voted fields once frame numbers,
 * sequence numbers and the health counters reach `counter` (what state transfer must carry).
 */
export function maxSnapshotBytes(units: number, fields: number, counter: number): number {
  const w = new Writer();
  unitsSchema.write(
    w,
    Array.from({ length: units }, (_, i) => ({ client: INPUT_BASE + i, frame: counter })),
  );
  const member = {
    strikes: counter,
    agreeStreak: counter,
    latched: true,
    probation: counter,
    latchCount: counter,
  };
  channelStateSchema.write(w, {
    seq: counter,
    framePlusOne: counter,
    primed: true,
    referenceFilter: 1,
    integrator: 1,
    rateEstimate: 1,
    lastMeasurement: 1,
    lastElevator: 1,
    inputs: Array.from({ length: fields }, () => Array.from({ length: units }, () => ({ ...member }))),
  });
  return w.finish().length;
}
