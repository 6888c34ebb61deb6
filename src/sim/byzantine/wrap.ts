/**
 * The shape most catalog behaviours share: run the wrapped correct replica, and on some ticks add attack
 * traffic built from what the replica knows (its view, watermark and progress).
 */
import { decodeMessage } from '../../core/codec/encode.ts';
import { MESSAGE_KINDS, type MessageKind, type MessageOf } from '../../core/codec/messages.ts';
import type { ReplicaInput, StepOutput } from '../../core/pbft/types.ts';
import type { Aimed, Knowledge } from './attacks.ts';
import type { Forger } from './forge.ts';
import type { Behaviour, ByzantineContext } from './registry.ts';

/** What the faulty replica knows, read from the correct replica it wraps. */
export function knowledgeOf(ctx: ByzantineContext): Knowledge {
  const s = ctx.replica.status();
  return { view: s.view, low: s.lowWatermark, lastExecuted: s.lastExecuted };
}

/** The faulty replica as a forger: its id, its own keys, its stream of randomness. */
export function forgerOf(ctx: ByzantineContext): Forger {
  return { id: ctx.id, crypto: ctx.crypto, rng: ctx.rng };
}

/** Raw sends for aimed messages (`to` undefined: every other replica). */
export function sends(ctx: ByzantineContext, messages: readonly Aimed[]): StepOutput[] {
  const out: StepOutput[] = [];
  for (const m of messages) {
    if (m.to !== undefined) out.push({ kind: 'raw', to: m.to, bytes: m.bytes });
    else
      for (let to = 0; to < ctx.config.n; to++)
        if (to !== ctx.id) out.push({ kind: 'raw', to, bytes: m.bytes });
  }
  return out;
}

/**
 * A correct replica that, on each tick with probability `chance`, also sends what `attack` builds.
 * `observe` (optional) sees every input first, for behaviours that learn from traffic.
 */
export function withTickAttack(
  ctx: ByzantineContext,
  chance: number,
  attack: (k: Knowledge) => readonly Aimed[],
  observe?: (input: ReplicaInput) => void,
): Behaviour {
  return {
    step(input) {
      observe?.(input);
      const out: StepOutput[] = ctx.replica.step(input);
      if (input.kind === 'tick' && ctx.rng.chance(chance)) out.push(...sends(ctx, attack(knowledgeOf(ctx))));
      return out;
    },
  };
}

/** The message in `input` when it is received bytes of `kind` that decode (a cheap peek at the kind tag first). */
export function received<K extends MessageKind>(input: ReplicaInput, kind: K): MessageOf<K> | undefined {
  if (input.kind !== 'receive' || input.bytes[1] !== MESSAGE_KINDS.indexOf(kind)) return undefined;
  const d = decodeMessage(input.bytes);
  return d.ok && d.message.kind === kind ? (d.message as MessageOf<K>) : undefined;
}
