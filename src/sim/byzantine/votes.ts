/**
 * Catalog entries that abuse the votes a backup sends: stray PREPAREs for empty and future slots (issue 9,
 * class 4: a slot created early must not start a timer early), and a backup that votes one digest to some
 * replicas and another to the rest.
 */
import { encodeMessage } from '../../core/codec/encode.ts';
import { DIGEST_BYTES, type Message } from '../../core/codec/messages.ts';
import { othersOf } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import { strayVotes } from './attacks.ts';
import { forgedVote } from './forge.ts';
import { registerBehaviour } from './registry.ts';
import { forgerOf, withTickAttack } from './wrap.ts';

registerBehaviour({
  name: 'stray-prepare',
  summary:
    'Sends authentic PREPAREs (and some COMMITs) for empty and future slots, at seq 0, beyond the window, for the next view and in the primary’s name, to start timers and fill slots.',
  role: 'any',
  create(ctx) {
    const forger = forgerOf(ctx);
    return withTickAttack(ctx, 0.25, (k) => strayVotes(forger, ctx.config, k));
  },
});

registerBehaviour({
  name: 'equivocating-backup',
  summary:
    'Votes honestly to half of the replicas and, for the same (view, seq), PREPAREs and COMMITs a random digest to the other half.',
  role: 'any',
  create(ctx) {
    const others = othersOf(ctx.config, ctx.id);
    const honest = new Set(others.slice(0, Math.ceil(others.length / 2)));
    const forger = forgerOf(ctx);
    return {
      step(input) {
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          const vote =
            a.kind === 'multicast' && (a.message.kind === 'prepare' || a.message.kind === 'commit');
          if (!vote) {
            out.push(a);
            continue;
          }
          const m = a.message as Extract<Message, { kind: 'prepare' | 'commit' }>;
          const lie = forgedVote(
            forger,
            m.kind,
            { view: m.view, seq: m.seq, batchDigest: ctx.rng.bytes(DIGEST_BYTES), replica: ctx.id },
            others,
          );
          const lieBytes = encodeMessage(lie);
          for (const to of others) {
            if (honest.has(to)) out.push({ kind: 'send', to, message: m, bytes: a.bytes });
            else out.push({ kind: 'send', to, message: lie, bytes: lieBytes });
          }
        }
        return out;
      },
    };
  },
});
