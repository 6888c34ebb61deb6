/**
 * Shared set-up for the frame path's unit tests: the laptop topology, keys derived from a fixed seed, a silent
 * logger, and helpers that build what one role receives (executed batches, authentic OUTPUTs and REPLYs).
 */
import pino from 'pino';
import { authPayload, encodeMessage } from '../../../src/core/codec/encode.ts';
import type { Output, Reply } from '../../../src/core/codec/messages.ts';
import type { Command } from '../../../src/core/control/spec.ts';
import { encodeInputSample, type InputSample } from '../../../src/core/frame/sample.ts';
import type { ExecutedRequest } from '../../../src/core/pbft/types.ts';
import { loadTopology } from '../../../src/runtime/config.ts';
import { commandFields } from '../../../src/runtime/loop/command-codec.ts';
import { seededKeys } from '../../../src/runtime/loop/keys.ts';
import type { ExecutedBatch } from '../../../src/runtime/loop/ports.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';

export const topology = loadTopology('config/laptop.json');
export const keys = seededKeys(topology, 7);
export const silent = pino({ level: 'silent' });
export const periodMs = 1000 / topology.frameRateHz;

/** A sample as unit `unit` would send it (its own unit number unless `claim` overrides it). */
export function sampleOp(
  unit: number,
  frame: number,
  stick: number,
  pitch: number | null,
  claim = unit,
): Uint8Array {
  const s: InputSample = {
    frame,
    unit: claim,
    stick,
    pitchValid: pitch !== null,
    pitch: pitch ?? 0,
  };
  return encodeInputSample(s);
}

export function executed(unit: number, op: Uint8Array, timestamp = 1): ExecutedRequest {
  return { client: principalOf.input(unit), timestamp, op, result: new Uint8Array(0) };
}

let seq = 0;
/** A committed batch as the replica hands it to the channel. */
export function batch(requests: readonly ExecutedRequest[]): ExecutedBatch {
  seq++;
  return { kind: 'execute', seq, view: 0, batchDigest: new Uint8Array(32), requests };
}

/** One frame's batch with every unit's sample (stick and pitch per unit). */
export function frameBatch(frame: number, stick: number, pitch: readonly (number | null)[]): ExecutedBatch {
  return batch(pitch.map((p, u) => executed(u, sampleOp(u, frame, stick, p), frame + 1)));
}

/** An OUTPUT of channel `channel` for `frame`, MAC'd for the voter (or with a bad tag); raw fields allowed. */
export function output(
  channel: number,
  frame: number,
  command: Command | { discrete: number[]; analog: number[] },
  forge = false,
): Output {
  const fields = 'elevator' in command ? commandFields(command) : command;
  const unsigned: Output = { kind: 'output', frame, channel, ...fields, tag: new Uint8Array(0) };
  const tag = keys.ring(principalOf.channel(channel)).tag(principalOf.voter(0), authPayload(unsigned));
  if (forge) tag[0]! ^= 1;
  return { ...unsigned, tag };
}

/** A REPLY from replica `replica` to input unit `unit`, MAC'd for the unit. */
export function reply(replica: number, unit: number, timestamp: number, result: Uint8Array, view = 0): Reply {
  const unsigned: Reply = {
    kind: 'reply',
    view,
    client: principalOf.input(unit),
    timestamp,
    replica,
    result,
    tag: new Uint8Array(0),
  };
  const tag = keys.ring(principalOf.replica(replica)).tag(principalOf.input(unit), authPayload(unsigned));
  return { ...unsigned, tag };
}

export const encode = encodeMessage;
