/**
 * What every bench does with a board it runs in this process: drive its input units for a frame, tap the
 * authentic OUTPUTs its voter receives (the actuator readback of each channel), and lay link faults on its
 * transport. One home for these, so the emulated and the process bench cannot drift apart.
 */
import { authPayload, decodeMessage } from '../../src/core/codec/encode.ts';
import type { Message } from '../../src/core/codec/messages.ts';
import type { Topology } from '../../src/runtime/config.ts';
import type { Board } from '../../src/runtime/loop/board.ts';
import { commandFromFields } from '../../src/runtime/loop/command-codec.ts';
import type { BoardKeys } from '../../src/runtime/loop/keys.ts';
import { principalOf } from '../../src/runtime/loop/principals.ts';
import type { Scheduler } from '../../src/runtime/scheduler.ts';
import type { FaultyTransport, LinkAction } from '../faults/link.ts';
import type { BenchHooks, UnitSample } from './bench.ts';

export interface BoardSlot {
  readonly runtime: Board;
  readonly transport: FaultyTransport;
}

/**
 * Frame k starts on `runtime`: its voter arms the deadline, each of its input units ticks and submits its sample
 * (now, later, or not at all), as Board.startFrame does for healthy units.
 */
export function driveFrame(
  runtime: Board,
  frame: number,
  samples: readonly (UnitSample | null)[],
  scheduler: Scheduler,
): void {
  const now = Math.round(scheduler.now());
  runtime.voter?.armFrame(frame);
  for (const u of runtime.inputs) {
    u.tick(now);
    const s = samples[u.unit];
    if (s === null || s === undefined) continue;
    if (s.lateMs !== undefined && s.lateMs > 0) {
      scheduler.at(scheduler.now() + s.lateMs, () =>
        u.sample(frame, s.stick, s.pitch, Math.round(scheduler.now())),
      );
    } else {
      u.sample(frame, s.stick, s.pitch, now);
    }
  }
}

/** Wraps the voter role of `runtime` to report every authentic OUTPUT it receives to `hooks.onOutput`. */
export function tapOutputs(runtime: Board, topology: Topology, keys: BoardKeys, hooks: BenchHooks): void {
  const roles = runtime.board.roles;
  const voter = roles.voter;
  if (voter === undefined) throw new Error(`board '${runtime.name}' has no voter`);
  const ring = keys.ring(principalOf.voter(0));
  roles.voter = {
    output: (m) => {
      voter.output(m);
      if (topology.channels[m.channel] === undefined) return;
      if (!ring.verify(principalOf.channel(m.channel), authPayload(m as Message), m.tag)) return;
      const command = commandFromFields(m.discrete, m.analog);
      if (command !== undefined) hooks.onOutput(m.channel, m.frame, command);
    },
  };
}

/** Picks the OUTPUT messages of one channel (a voter-link fault touches nothing else on the wire). */
export function outputsOf(channel: number): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    const d = decodeMessage(bytes);
    return d.ok && d.message.kind === 'output' && d.message.channel === channel;
  };
}

/** Picks everything but OUTPUTs (a replica's traffic on a board that also hosts a channel). */
export function notOutputs(bytes: Uint8Array): boolean {
  const d = decodeMessage(bytes);
  return !d.ok || d.message.kind !== 'output';
}

/** The link action behind a link-like fault type, or undefined when the type is not one. */
export function linkAction(type: string, severity: number | undefined): LinkAction | undefined {
  switch (type) {
    case 'off':
      return { kind: 'drop' };
    case 'garbage':
      return { kind: 'corrupt', fraction: severity ?? 0.3 };
    case 'delayed':
      return { kind: 'delay', ms: severity ?? 0 };
    case 'slow':
      return { kind: 'throttle', bytesPerSecond: severity ?? 20_000 };
    default:
      return undefined;
  }
}

/** Describes a link action for events. */
export function describeAction(a: LinkAction): string {
  switch (a.kind) {
    case 'drop':
      return 'everything dropped';
    case 'corrupt':
      return `${Math.round(a.fraction * 100)}% of messages corrupted`;
    case 'delay':
      return `+${a.ms} ms`;
    case 'throttle':
      return `${a.bytesPerSecond} bytes/s`;
    case 'hold':
      return 'held';
    case 'stall':
      return `stalls ${a.stallMs} ms every ${a.everyMs} ms`;
  }
}
