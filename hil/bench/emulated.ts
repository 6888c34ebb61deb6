/**
 * The emulated bench: every board of the topology in this process, each a Board on a memory hub behind a
 * FaultyTransport. Under a VirtualScheduler (lockstep) every message is a scheduler event after a seeded link
 * delay, so a run is bit-for-bit repeatable from its seed; under a RealScheduler it flies on real timers.
 *
 * Seeds: keys, link delays and each board's stream are forked from `seed` in a fixed order; faults draw from
 * the rig's own stream, so adding a fault never changes the link delays.
 */
import type { Logger } from 'pino';
import { Prng } from '../../src/core/prng.ts';
import type { ChannelHealth } from '../../src/core/vote/voter.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import type { Topology } from '../../src/runtime/config.ts';
import type { FirmwareVoterBoardOptions } from '../../src/runtime/firmware/voter-board.ts';
import { Board } from '../../src/runtime/loop/board.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { plantPortsFrom } from '../../src/runtime/loop/ports.ts';
import type { Scheduler } from '../../src/runtime/scheduler.ts';
import { FaultyTransport } from '../faults/link.ts';
import { rigBoardOf } from '../scenario/targets.ts';
import type { Bench, BenchFault, BenchHooks, BoardInfo, FaultHandle, UnitSample } from './bench.ts';
import { type BoardSlot, driveFrame, tapOutputs } from './board-slot.ts';
import {
  boardFault,
  channelFault,
  linkFault,
  replicaFault,
  voterFault,
  voterLinkFault,
} from './slot-faults.ts';

export interface EmulatedBenchOptions {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly seed: number;
  readonly logger: Logger;
  /** Lockstep: seeded link delays in ms (virtual time). Absent: real timers. */
  readonly virtual?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** Why each board is emulated here (discovery's verdicts), for the board table. */
  readonly why?: Readonly<Record<string, string>>;
  /** How the voter board runs a firmware voter (voterImpl firmware-*): test hooks for the `voter hang` fault. */
  readonly firmware?: FirmwareVoterBoardOptions;
}

export class EmulatedBench implements Bench {
  readonly timing: 'lockstep' | 'realtime';
  readonly periodMs: number;
  readonly counters = new Counters();
  private readonly slots = new Map<string, BoardSlot>();
  private readonly rigBoard: string;

  constructor(
    private readonly o: EmulatedBenchOptions,
    hooks: BenchHooks,
  ) {
    const t = o.topology;
    this.timing = o.virtual ? 'lockstep' : 'realtime';
    this.periodMs = 1000 / t.frameRateHz;
    this.rigBoard = rigBoardOf(t);
    const rng = new Prng(o.seed);
    const keys = seededKeys(t, rng.u32());
    const hub = new MemoryHub({ delivery: o.virtual ? 'sync' : 'microtask' });
    const delayRng = rng.fork();
    const v = o.virtual;
    const linkDelayMs = v ? () => v.minDelayMs + delayRng.float() * (v.maxDelayMs - v.minDelayMs) : undefined;
    for (const b of t.boards) {
      const transport = new FaultyTransport(hub.join(b.name), o.scheduler, rng.fork(), this.counters);
      const isRig = b.name === this.rigBoard;
      const runtime = new Board({
        topology: t,
        board: b.name,
        transport,
        scheduler: o.scheduler,
        keys,
        logger: o.logger,
        counters: this.counters,
        rng: rng.fork(),
        ...(linkDelayMs ? { linkDelayMs } : {}),
        ...(isRig
          ? plantPortsFrom({
              onDecision: hooks.onDecision,
              onChannelEvents: hooks.onChannelEvents,
              ...(hooks.onVoterEvent ? { onVoterEvent: hooks.onVoterEvent } : {}),
            })
          : {}),
        ...(isRig && o.firmware ? { firmware: o.firmware } : {}),
      });
      if (isRig) tapOutputs(runtime, t, keys, hooks);
      this.slots.set(b.name, { runtime, transport });
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.slots.values()].map((s) => s.runtime.start()));
  }

  frameTime(frame: number): number {
    return frame * this.periodMs;
  }

  startFrame(frame: number, samples: readonly (UnitSample | null)[]): void {
    for (const s of this.slots.values()) {
      if (s.runtime.inputs.length > 0 || s.runtime.voter !== undefined) {
        driveFrame(s.runtime, frame, samples, this.o.scheduler);
      }
    }
  }

  view(): { view: number; primary: number } {
    let best = { view: 0, primary: 0 };
    for (const r of this.o.topology.replicas) {
      const host = this.slots.get(r.board)?.runtime.replica;
      if (host === undefined || !host.running) continue;
      const s = host.replica.status();
      if (s.view >= best.view) best = { view: s.view, primary: s.primary };
    }
    return best;
  }

  apply(fault: BenchFault, rng: Prng): FaultHandle {
    const t = fault.target;
    const rig = this.slots.get(this.rigBoard)!;
    switch (t.component) {
      case 'channel':
        if (fault.type === 'delayed')
          return voterLinkFault(rig, t.board, t.channel, 'delayed', fault.severity);
        return channelFault(this.slots.get(t.board)!, fault);
      case 'voter-link':
        return voterLinkFault(rig, t.board, t.channel, fault.type, fault.severity);
      case 'replica':
        return replicaFault(this.slots.get(t.board)!, fault, rng, this.o.scheduler.now());
      case 'board':
        return boardFault(this.slots.get(t.board)!, fault);
      case 'link':
        return linkFault(this.slots.get(t.ends[0])!, t.ends[1], fault.type, fault.severity);
      case 'voter':
        return voterFault(rig, fault);
      case 'input-unit':
      case 'sensor':
        return { applied: false, reason: 'input units and sensors are faulted by the rig, not the bench' };
    }
  }

  channelRunning(channel: number): boolean {
    const board = this.o.topology.channels[channel]?.board;
    const slot = board === undefined ? undefined : this.slots.get(board);
    if (slot === undefined || !slot.runtime.board.alive) return false;
    return slot.runtime.channel?.running ?? false;
  }

  voterHealth(): readonly ChannelHealth[] {
    return this.slots.get(this.rigBoard)?.runtime.voter?.health() ?? [];
  }

  boards(): readonly BoardInfo[] {
    return this.o.topology.boards.map((b) => ({
      name: b.name,
      roles: b.roles,
      mode: b.name === this.rigBoard ? 'rig' : 'in-process',
      link: 'memory hub (this process)',
      why:
        b.name === this.rigBoard
          ? 'hosts the voter and the input units: the rig runs here'
          : (this.o.why?.[b.name] ?? `emulated in this process (${this.timing})`),
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.slots.values()].map((s) => s.runtime.close()));
  }
}
