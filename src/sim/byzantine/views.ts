/**
 * Catalog entries that attack the view change from a faulty replica: invalid NEW-VIEWs at huge views (issue 9,
 * class 1), and a primary that withholds its proposals and NEW-VIEW from some replicas.
 */
import { authPayload, encodeMessage } from '../../core/codec/encode.ts';
import type { NewView } from '../../core/codec/messages.ts';
import { othersOf } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import { invalidNewView, NULL_BATCH_DIGEST } from './attacks.ts';
import { registerBehaviour } from './registry.ts';
import { forgerOf, knowledgeOf, sends } from './wrap.ts';

registerBehaviour({
  name: 'huge-new-view',
  summary:
    'Sends signed but invalid NEW-VIEWs (empty or lone V set, random O set) for huge views it leads, up to 2^53-1 and beyond what the codec encodes; tampers with the O set of its own NEW-VIEWs.',
  role: 'any',
  create(ctx) {
    const forger = forgerOf(ctx);
    return {
      step(input) {
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          if (a.kind === 'multicast' && a.message.kind === 'new-view') {
            // Its own legitimate NEW-VIEW, with one choice too many: the view is right, the content is not.
            const nv = tamperedNewView(a.message, ctx.crypto.sign.bind(ctx.crypto), ctx.rng.int(3));
            out.push({ kind: 'multicast', message: nv, bytes: encodeMessage(nv) });
          } else out.push(a);
        }
        if (input.kind === 'tick' && ctx.rng.chance(0.2))
          out.push(...sends(ctx, [invalidNewView(forger, ctx.config, knowledgeOf(ctx))]));
        return out;
      },
    };
  },
});

/** A NEW-VIEW whose O set no longer follows from its V set: an extra choice, a dropped one, or a changed digest. */
function tamperedNewView(nv: NewView, sign: (data: Uint8Array) => Uint8Array, how: number): NewView {
  const last = nv.prePrepares.at(-1);
  const next = (last?.seq ?? 0) + 1;
  let prePrepares = [...nv.prePrepares, { seq: next, batchDigest: NULL_BATCH_DIGEST.map((b) => b ^ 1) }];
  if (how === 1 && nv.prePrepares.length > 0) prePrepares = nv.prePrepares.slice(0, -1);
  if (how === 2 && last !== undefined)
    prePrepares = [
      ...nv.prePrepares.slice(0, -1),
      { seq: last.seq, batchDigest: last.batchDigest.map((b) => b ^ 0x80) },
    ];
  const unsigned: NewView = { ...nv, prePrepares, signature: new Uint8Array(64) };
  return { ...unsigned, signature: sign(authPayload(unsigned)) };
}

registerBehaviour({
  name: 'partial-primary',
  summary:
    'As primary, sends its PRE-PREPAREs and NEW-VIEWs to all backups but f (the left-out ones must catch up by retransmission).',
  role: 'primary',
  create(ctx) {
    const backups = othersOf(ctx.config, ctx.id);
    // f left out: the others and the primary are n - f replicas, a quorum for any n >= 3f+1.
    const chosen = backups.slice(0, backups.length - ctx.config.f);
    return {
      step(input) {
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          const partial =
            a.kind === 'multicast' && (a.message.kind === 'pre-prepare' || a.message.kind === 'new-view');
          if (!partial) out.push(a);
          else for (const to of chosen) out.push({ kind: 'send', to, message: a.message, bytes: a.bytes });
        }
        return out;
      },
    };
  },
});
