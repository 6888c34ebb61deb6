/**
 * Any ControlLoop (src/runtime/node/control-loop.ts) as a bench: the in-process Fleet of `triplex sim` and
 * the ProcessLoop of board processes. A ControlLoop offers channel faults, replica behaviours and board
 * crashes; every other fault is reported as not applied. Its samples always come from every unit at once.
 */
import type { Prng } from '../../src/core/prng.ts';
import type { ChannelHealth } from '../../src/core/vote/voter.ts';
import type { ChannelFaultKind } from '../../src/runtime/loop/channel-fault.ts';
import { plantPortsFrom } from '../../src/runtime/loop/ports.ts';
import type { ControlLoop, ControlLoopFactory } from '../../src/runtime/node/control-loop.ts';
import { behaviour } from '../../src/sim/byzantine.ts';
import type { Bench, BenchFactory, BenchFault, BoardInfo, FaultHandle, UnitSample } from './bench.ts';
import { CHANNEL_KIND_OF, REPLICA_BEHAVIOUR_OF } from './bench.ts';

export class LoopBench implements Bench {
  readonly timing: 'lockstep' | 'realtime';

  constructor(
    readonly loop: ControlLoop,
    virtual: boolean,
    private readonly gst: () => number,
  ) {
    this.timing = virtual ? 'lockstep' : 'realtime';
  }

  get periodMs(): number {
    return this.loop.periodMs;
  }

  get counters() {
    return this.loop.counters;
  }

  start(): Promise<void> {
    return this.loop.start();
  }

  frameTime(frame: number): number {
    return this.loop.frameTime(frame);
  }

  /** A ControlLoop has every unit submit: a silent unit's slot carries no pitch (the closest it offers). */
  startFrame(frame: number, samples: readonly (UnitSample | null)[]): void {
    this.loop.startFrame(
      frame,
      samples.map((s) => s ?? { stick: 0, pitch: null }),
    );
  }

  view(): { view: number; primary: number } {
    return this.loop.view();
  }

  apply(fault: BenchFault, rng: Prng): FaultHandle {
    const t = fault.target;
    const unreachable = (what: string): FaultHandle => ({
      applied: false,
      reason: `${what} cannot be reached from the rig`,
    });
    if (t.component === 'channel' && fault.type !== 'crash' && fault.type !== 'delayed') {
      const kind = (CHANNEL_KIND_OF[fault.type] ?? fault.type) as ChannelFaultKind;
      if (!this.loop.injectChannelFault(t.channel, { kind, fromFrame: fault.frame })) {
        return unreachable(`channel c${t.channel}`);
      }
      return {
        applied: true,
        detail: `channel c${t.channel}: ${kind}`,
        clear: () => {
          this.loop.clearChannelFault(t.channel);
          return `channel c${t.channel} repaired`;
        },
      };
    }
    if (t.component === 'board' && (fault.type === 'crash' || fault.type === 'off')) {
      return this.loop.crashBoard(t.board)
        ? { applied: true, detail: `board ${t.board}` }
        : unreachable(`board ${t.board}`);
    }
    if (
      t.component === 'replica' &&
      (REPLICA_BEHAVIOUR_OF[fault.type] !== undefined || isCatalog(fault.type))
    ) {
      const entry = behaviour(REPLICA_BEHAVIOUR_OF[fault.type] ?? fault.type);
      const own = rng.fork();
      const gst = this.gst();
      const applied = this.loop.makeReplicaByzantine(t.replica, (inside) =>
        entry.create({
          id: t.replica,
          config: inside.config,
          crypto: inside.crypto,
          rng: own,
          nodes: inside.nodes,
          replica: inside.replica,
          gst,
        }),
      );
      return applied
        ? { applied: true, detail: `r${t.replica}: ${entry.name} (${entry.summary})` }
        : unreachable(`replica r${t.replica}`);
    }
    return { applied: false, reason: `this control loop offers no control for ${t.component} ${fault.type}` };
  }

  channelRunning(channel: number): boolean {
    return this.loop.channelRunning(channel);
  }

  voterHealth(): readonly ChannelHealth[] {
    return this.loop.voterHealth();
  }

  boards(): readonly BoardInfo[] {
    return [];
  }

  close(): Promise<void> {
    return this.loop.close();
  }
}

function isCatalog(name: string): boolean {
  try {
    behaviour(name);
    return true;
  } catch {
    return false;
  }
}

/** A bench factory around a ControlLoop factory: the hooks become the loop's callbacks. */
export function loopBench(loop: ControlLoopFactory, virtual: boolean, gst: () => number): BenchFactory {
  return (hooks) =>
    new LoopBench(
      loop(
        plantPortsFrom({
          onDecision: hooks.onDecision,
          onChannelEvents: hooks.onChannelEvents,
          onChannelCommand: (channel, frame, cmd) => hooks.onOutput(channel, frame, cmd),
          ...(hooks.onVoterEvent ? { onVoterEvent: hooks.onVoterEvent } : {}),
        }),
      ),
      virtual,
      gst,
    );
}
