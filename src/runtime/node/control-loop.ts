/**
 * The control loop as the plant side (the HIL rig) sees it: start a frame with the sampled inputs, take the
 * voter's decisions at the `ActuatorPort` and watch the channels through the other `PlantPorts` (ports.ts), and
 * reach into the boards for fault injection. Two implementations: every board in this process (`inProcessLoop`, the laptop's Fleet), or
 * only the voter/input board here and the others in their own processes (`ProcessLoop`, process-loop.ts).
 */

import type { UnitHealth } from '../../core/frame/inputs.ts';
import type { ReplicaStepper } from '../../core/pbft/types.ts';
import type { ChannelHealth } from '../../core/vote/voter.ts';
import type { ReplicaInside } from '../loop/board.ts';
import type { ChannelFault } from '../loop/channel-fault.ts';
import type { Counters } from '../loop/counters.ts';
import { Fleet, type FleetOptions } from '../loop/fleet.ts';
import type { InputFault } from '../loop/input-fault.ts';
import { type PlantPorts, plantPortsOf } from '../loop/ports.ts';

export type FrameSamples = readonly { stick: number; pitch: number | null }[];

export interface ControlLoop {
  readonly periodMs: number;
  /** Counters of the boards in this process. */
  readonly counters: Counters;
  /** Whether channel faults and board crashes can be injected (false on a bench with no control path). */
  readonly canInjectFaults: boolean;
  start(): Promise<void>;
  /** Time at which frame k starts (scheduler ms). */
  frameTime(frame: number): number;
  /** Frame k starts now: input units submit their samples and the voter arms the frame's deadline. */
  startFrame(frame: number, samples: FrameSamples): void;
  /** The current view and primary, as far as this side knows. */
  view(): { view: number; primary: number };
  /** Make channel c Byzantine; false when it cannot be reached. */
  injectChannelFault(channel: number, fault: ChannelFault): boolean;
  clearChannelFault(channel: number): boolean;
  /** Make input unit u Byzantine (input-fault.ts); false when it cannot be reached. */
  injectInputFault(unit: number, fault: InputFault): boolean;
  clearInputFault(unit: number): boolean;
  /** Make replica `id` Byzantine (`make` wraps the correct replica); false when it cannot be reached. */
  makeReplicaByzantine(id: number, make: (inside: ReplicaInside) => ReplicaStepper): boolean;
  /** Kill a board as a process crash would; false when it cannot be reached. */
  crashBoard(board: string): boolean;
  /** Whether channel c's process/role is still running. */
  channelRunning(channel: number): boolean;
  voterHealth(): readonly ChannelHealth[];
  /** Each input unit's health as the channels' input voters judge it (empty when no channel is in reach). */
  inputHealth(): readonly UnitHealth[];
  /**
   * When frame k's authentic channel outputs reached this board, ms after the frame's start, ascending (board
   * processes: the links' latency shows here); undefined where not measured (in-process).
   */
  outputArrivalMs?(frame: number): readonly number[] | undefined;
  close(): Promise<void>;
}

/** A ControlLoop factory: the rig passes the ports it plugs in (its actuator first) when it builds the loop. */
export type ControlLoopFactory = (ports: PlantPorts) => ControlLoop;

/** The single-process laptop system (every board on a memory hub) as a ControlLoop. */
export function inProcessLoop(system: Fleet): ControlLoop {
  return {
    periodMs: system.periodMs,
    counters: system.counters,
    canInjectFaults: true,
    start: () => system.start(),
    frameTime: (frame) => system.frameTime(frame),
    startFrame: (frame, samples) => system.startFrame(frame, samples),
    view: () => system.view(),
    injectChannelFault: (channel, fault) => {
      const host = system.channels[channel];
      host?.inject(fault);
      return host !== undefined;
    },
    clearChannelFault: (channel) => {
      const host = system.channels[channel];
      host?.clearFault();
      return host !== undefined;
    },
    injectInputFault: (unit, fault) => system.injectInputFault(unit, fault),
    clearInputFault: (unit) => system.clearInputFault(unit),
    makeReplicaByzantine: (id, make) => system.makeReplicaByzantine(id, make),
    crashBoard: (board) => {
      if (!system.boards.has(board)) return false;
      system.crashBoard(board);
      return true;
    },
    channelRunning: (channel) => system.channels[channel]?.running ?? false,
    voterHealth: () => system.voter.health(),
    inputHealth: () => system.inputHealth(),
    close: () => system.close(),
  };
}

/** A factory for the in-process system; `options` without the ports the rig supplies. */
export function inProcessLoopFactory(options: Omit<FleetOptions, keyof PlantPorts>): ControlLoopFactory {
  return (ports) => inProcessLoop(new Fleet({ ...options, ...plantPortsOf(ports) }));
}
