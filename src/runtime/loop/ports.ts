/**
 * The ports of the frame path, declared once. Every hand-over of a control frame from one role to the next is
 * one of these interfaces, so a reader (and a tool) can follow a frame without chasing closures:
 *
 * ```
 * input unit --RequestSink--> link --ReplicaInbox--> replica host --(frame clock cut)--> PBFT ordering
 * replica host --ExecutedBatchSink--> channel host --OutputSink--> link --VoterInbox--> voter host
 * replicated service --CertifiedStateSink--> channel host (the checkpoint's abstract state, after a state transfer)
 * voter host --ActuatorPort--> actuator (the HIL rig's emulated one, or a board's own)
 * replica host --ReplicaRoutes--> link (PRE-PREPARE, PREPARE, COMMIT, ... and REPLY --ReplyInbox--> input unit)
 * ```
 *
 * Observers (`ChannelHealthSink`, `ChannelCommandTap`, `ReplicaEventTap`) see the frame go by; they never
 * change it. What the plant side plugs in is bundled as `PlantPorts`: the rig, `triplex node --rig` and a
 * board with a real actuator all plug into the same `ActuatorPort`.
 *
 * @example
 * const ports: PlantPorts = {
 *   actuator: { write: (decision) => servo.set(decision.value.elevator) },
 *   channelHealth: { channelEvents: (events) => status.note(events) },
 * };
 * new Board({ ...options, ...ports });
 */
import type { Output, Reply } from '../../core/codec/messages.ts';
import type { Command } from '../../core/control/spec.ts';
import type { ReplicaAction, ReplicaEvent } from '../../core/pbft/types.ts';
import type { ChannelEvent, DecisionRecord } from '../../core/vote/voter.ts';
import type { ChannelState } from './channel-state.ts';

// ---------------------------------------------------------------- between the roles of the loop

/** An input unit's encoded, MAC'd REQUEST on its way to every replica. */
export interface RequestSink {
  toReplicas(bytes: Uint8Array): void;
  /** To replica `id` only: what a two-faced unit uses to tell replicas different things. */
  toReplica(id: number, bytes: Uint8Array): void;
}

/** A board's replica role: the bytes of a replica-bound message off the link (decoded once, by the replica). */
export interface ReplicaInbox {
  receive(from: number, bytes: Uint8Array): void;
}

/** Where a replica's own messages go (replicas by PBFT id, clients by principal id). */
export interface ReplicaRoutes {
  /** Deliver bytes to replica `id`'s board. */
  toReplica(id: number, bytes: Uint8Array): void;
  /**
   * Deliver bytes to every other replica's board: one broadcast on a shared medium (a CAN bus), one copy per
   * board elsewhere. The bytes carry one authenticator with a tag for each receiver, so one copy serves all.
   */
  toOtherReplicas(bytes: Uint8Array): void;
  /** Deliver bytes to the board of client (input unit principal) `client`. */
  toClient(client: number, bytes: Uint8Array): void;
}

/** A committed batch, executed in sequence order, as the replica hands it over. */
export type ExecutedBatch = Extract<ReplicaAction, { kind: 'execute' }>;

/** The co-located channel's side of the replica: every executed batch, in sequence order, exactly once. */
export interface ExecutedBatchSink {
  executed(batch: ExecutedBatch): void;
}

/**
 * The co-located channel's side of the replicated service: the reference abstract state after batch `seq`,
 * taken from a checkpoint the replica restored by state transfer (certified by 2f+1 replicas).
 */
export interface CertifiedStateSink {
  certified(seq: number, state: ChannelState): void;
}

/** A channel's encoded, MAC'd OUTPUT on its way to the voter's board. */
export interface OutputSink {
  toVoter(bytes: Uint8Array): void;
}

/** The voter's board: an OUTPUT off the link (decoded, not yet authenticated). */
export interface VoterInbox {
  output(message: Output): void;
}

/** The input units' board: a REPLY off the link (decoded, not yet authenticated: its tag is over `bytes`). */
export interface ReplyInbox {
  reply(from: number, message: Reply, bytes: Uint8Array, now: number): void;
}

// ---------------------------------------------------------------- what the plant side plugs in

/**
 * The actuator: the voter's decision for each frame, once per frame (write, hold or failsafe, with the value to
 * apply). The HIL rig's emulated actuator and a board's real one implement the same port.
 */
export interface ActuatorPort {
  write(decision: DecisionRecord<Command>): void;
}

/** Strikes, latches and reintegrations of channels, as the voter finds them. */
export interface ChannelHealthSink {
  channelEvents(events: readonly ChannelEvent[]): void;
}

/** Every command a channel sends to the voter (after any injected fault), when it is sent: the recorder's trace. */
export interface ChannelCommandTap {
  channelCommand(channel: number, frame: number, command: Command): void;
}

/** Every event of a board's replica (view changes, checkpoints, rejections). */
export interface ReplicaEventTap {
  replicaEvent(replica: number, event: ReplicaEvent): void;
}

/**
 * What happened to the voter itself (not to a channel): its frame loop hung, its watchdog reset it, it voted
 * again. The report's events; a hung voter's frames are the actuator's holds.
 */
export interface VoterEvent {
  readonly kind: 'hung' | 'reset' | 'rejoined';
  /** The frame it happened in (the frame the voter's board had started last). */
  readonly frame: number;
  readonly detail: string;
}

export interface VoterEventTap {
  voterEvent(event: VoterEvent): void;
}

/** What the plant side plugs into one board, or into a whole loop. Every port is optional. */
export interface PlantPorts {
  readonly actuator?: ActuatorPort;
  readonly channelHealth?: ChannelHealthSink;
  readonly channelCommands?: ChannelCommandTap;
  readonly replicaEvents?: ReplicaEventTap;
  readonly voterEvents?: VoterEventTap;
  /**
   * The callback names of the old form are refused at compile time: spread into options they would otherwise
   * be silently ignored (wrap them with `plantPortsFrom`).
   */
  readonly onDecision?: never;
  readonly onChannelEvents?: never;
  readonly onChannelCommand?: never;
  readonly onReplicaEvent?: never;
  readonly onVoterEvent?: never;
}

/**
 * The plant ports in callback form: the shape the rig and older callers build. Adapter only; new code plugs
 * `PlantPorts` in directly.
 */
export interface BoardCallbacks {
  readonly onDecision?: (record: DecisionRecord<Command>) => void;
  readonly onChannelEvents?: (events: readonly ChannelEvent[]) => void;
  readonly onChannelCommand?: (channel: number, frame: number, command: Command) => void;
  readonly onReplicaEvent?: (replica: number, event: ReplicaEvent) => void;
  readonly onVoterEvent?: (event: VoterEvent) => void;
}

/** `PlantPorts` from callbacks (an absent callback leaves its port unplugged). */
export function plantPortsFrom(c: BoardCallbacks): PlantPorts {
  const { onDecision, onChannelEvents, onChannelCommand, onReplicaEvent, onVoterEvent } = c;
  return {
    ...(onDecision ? { actuator: { write: onDecision } } : {}),
    ...(onChannelEvents ? { channelHealth: { channelEvents: onChannelEvents } } : {}),
    ...(onChannelCommand ? { channelCommands: { channelCommand: onChannelCommand } } : {}),
    ...(onReplicaEvent ? { replicaEvents: { replicaEvent: onReplicaEvent } } : {}),
    ...(onVoterEvent ? { voterEvents: { voterEvent: onVoterEvent } } : {}),
  };
}

/** Only the plant ports of a larger options object (so spreading options never leaks other fields). */
export function plantPortsOf(o: PlantPorts): PlantPorts {
  return {
    ...(o.actuator ? { actuator: o.actuator } : {}),
    ...(o.channelHealth ? { channelHealth: o.channelHealth } : {}),
    ...(o.channelCommands ? { channelCommands: o.channelCommands } : {}),
    ...(o.replicaEvents ? { replicaEvents: o.replicaEvents } : {}),
    ...(o.voterEvents ? { voterEvents: o.voterEvents } : {}),
  };
}
