/**
 * Faults carried out on boards that run in this process (BoardSlots): channel and replica behaviours, board
 * crash/hang/stall, and link rules on the boards' transports. The emulated bench uses all of it; the process
 * bench uses the link and voter-link part on its own board.
 */
import type { Prng } from '../../src/core/prng.ts';
import type { ChannelFaultKind } from '../../src/runtime/loop/channel-fault.ts';
import { behaviour } from '../../src/sim/byzantine.ts';
import { describeTarget } from '../scenario/targets.ts';
import type { BenchFault, FaultHandle } from './bench.ts';
import { CHANNEL_KIND_OF, REPLICA_BEHAVIOUR_OF } from './bench.ts';
import { type BoardSlot, describeAction, linkAction, notOutputs, outputsOf } from './board-slot.ts';

const no = (reason: string): FaultHandle => ({ applied: false, reason });

/**
 * The `voter hang` fault on the voter's board (`slot`): its frame loop hangs and its watchdog resets it `severity`
 * frames later (Board.hangVoter; the firmware needs a test build, which the run selects).
 */
export function voterFault(slot: BoardSlot, fault: BenchFault): FaultHandle {
  if (fault.type !== 'hang') return no(`the voter takes no '${fault.type}' fault (only hang)`);
  const r = slot.runtime.hangVoter(fault.severity ?? 20, fault.frame);
  return r.applied ? { applied: true, detail: r.detail } : no(r.reason);
}

/** A link-like fault on the path from `from`'s board into the voter's board, only for channel c's OUTPUTs. */
export function voterLinkFault(
  voterSlot: BoardSlot,
  fromBoard: string,
  channel: number,
  type: string,
  severity: number | undefined,
): FaultHandle {
  const action = linkAction(type, severity);
  if (action === undefined) return no(`voter-link has no '${type}' fault`);
  const id = voterSlot.transport.add({
    peer: fromBoard,
    dir: 'in',
    action,
    match: outputsOf(channel),
    label: `fault.voter-link.c${channel}`,
  });
  return {
    applied: true,
    detail: `outputs of c${channel} into the voter: ${describeAction(action)}`,
    clear: () => {
      voterSlot.transport.remove(id);
      return `voter link of c${channel} restored`;
    },
  };
}

/** A link-like fault on the link a-b, laid on `slot` (the board at end a) for both directions toward `peer`. */
export function linkFault(
  slot: BoardSlot,
  peer: string,
  type: string,
  severity: number | undefined,
): FaultHandle {
  const action = linkAction(type, severity);
  if (action === undefined) return no(`a link has no '${type}' fault`);
  const self = slot.runtime.name;
  const id = slot.transport.add({ peer, dir: 'both', action, label: `fault.link.${self}-${peer}` });
  return {
    applied: true,
    detail: `link ${self}-${peer}: ${describeAction(action)}`,
    clear: () => {
      slot.transport.remove(id);
      return `link ${self}-${peer} restored`;
    },
  };
}

export function channelFault(slot: BoardSlot, fault: BenchFault): FaultHandle {
  const channel = slot.runtime.channel;
  if (channel === undefined) return no(`board ${slot.runtime.name} hosts no channel`);
  const t = fault.target;
  const who = describeTarget(t);
  if (fault.type === 'crash') {
    channel.stop();
    return { applied: true, detail: `${who}: crashed (stopped for good)` };
  }
  const kind = (CHANNEL_KIND_OF[fault.type] ?? fault.type) as ChannelFaultKind;
  channel.inject({ kind, fromFrame: fault.frame });
  return {
    applied: true,
    detail: `channel c${channel.id}: ${kind}`,
    clear: () => {
      channel.clearFault();
      return `channel c${channel.id} repaired`;
    },
  };
}

export function replicaFault(slot: BoardSlot, fault: BenchFault, rng: Prng, now: number): FaultHandle {
  const host = slot.runtime.replica;
  if (host === undefined || fault.target.component !== 'replica')
    return no(`board ${slot.runtime.name} hosts no replica`);
  const id = fault.target.replica;
  if (fault.type === 'crash') {
    host.stop();
    return { applied: true, detail: `replica r${id}: crashed (stopped for good)` };
  }
  if (fault.type === 'delayed') {
    const ms = fault.severity ?? 0;
    const rule = slot.transport.add({
      peer: '*',
      dir: 'out',
      action: { kind: 'delay', ms },
      match: notOutputs,
      label: `fault.replica.r${id}`,
    });
    return {
      applied: true,
      detail: `replica r${id}: every message it sends +${ms} ms`,
      clear: () => {
        slot.transport.remove(rule);
        return `replica r${id}: delays removed`;
      },
    };
  }
  const restore = (): string => {
    slot.runtime.makeReplicaByzantine((inside) => inside.replica);
    return `replica r${id} correct again`;
  };
  if (fault.type === 'hang') {
    slot.runtime.makeReplicaByzantine(() => ({ step: () => [] }));
    return { applied: true, detail: `replica r${id}: hung (processes and sends nothing)`, clear: restore };
  }
  const entry = behaviour(REPLICA_BEHAVIOUR_OF[fault.type] ?? fault.type);
  const own = rng.fork();
  slot.runtime.makeReplicaByzantine((inside) =>
    entry.create({
      id,
      config: inside.config,
      crypto: inside.crypto,
      rng: own,
      nodes: inside.nodes,
      replica: inside.replica,
      gst: now,
    }),
  );
  return { applied: true, detail: `r${id}: ${entry.name} (${entry.summary})`, clear: restore };
}

/** Board faults in this process: crash for good, hang (silent and deaf, then catch up), stall, delays, garbage. */
export function boardFault(slot: BoardSlot, fault: BenchFault): FaultHandle {
  const name = slot.runtime.name;
  const rule = (
    action: Parameters<BoardSlot['transport']['add']>[0]['action'],
    detail: string,
    dir: 'both' | 'out' = 'both',
  ): FaultHandle => {
    const id = slot.transport.add({ peer: '*', dir, action, label: `fault.board.${name}` });
    return {
      applied: true,
      detail: `board ${name}: ${detail}`,
      clear: () => {
        slot.transport.remove(id);
        return `board ${name} running again`;
      },
    };
  };
  switch (fault.type) {
    case 'off':
    case 'crash':
      slot.runtime.crash();
      return { applied: true, detail: `board ${name}` };
    case 'hang': {
      // A stopped process sends nothing; what reaches it waits in the OS buffers until it resumes.
      const mute = slot.transport.add({
        peer: '*',
        dir: 'out',
        action: { kind: 'drop' },
        label: `fault.board.${name}`,
      });
      const deaf = slot.transport.add({
        peer: '*',
        dir: 'in',
        action: { kind: 'hold' },
        label: `fault.board.${name}`,
      });
      return {
        applied: true,
        detail: `board ${name}: hung (sends nothing; its input waits until it resumes)`,
        clear: () => {
          slot.transport.remove(mute);
          slot.transport.remove(deaf);
          return `board ${name} resumed`;
        },
      };
    }
    case 'slow': {
      const stallMs = fault.severity ?? 100;
      return rule({ kind: 'stall', stallMs, everyMs: 1000 }, `stalls ${stallMs} ms every second`);
    }
    case 'delayed':
      return rule({ kind: 'delay', ms: fault.severity ?? 0 }, `every message +${fault.severity ?? 0} ms`);
    case 'garbage':
      return rule(
        { kind: 'corrupt', fraction: fault.severity ?? 0.3 },
        `${Math.round((fault.severity ?? 0.3) * 100)}% of what it sends corrupted`,
        'out',
      );
    default:
      return no(`a board has no '${fault.type}' fault`);
  }
}
