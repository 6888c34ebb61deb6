/**
 * Catalog entry against the store of old-view batches (issue 9, class 2): the content a replica keeps so that
 * a NEW-VIEW can re-propose a batch must not be evictable by PRE-PREPAREs anyone can make.
 */
import type { StepOutput } from '../../core/pbft/types.ts';
import { oldViewBatches } from './attacks.ts';
import { registerBehaviour } from './registry.ts';
import { forgerOf, knowledgeOf, sends } from './wrap.ts';

/** Bytes per forged PRE-PREPARE in the simulator (large enough to press on a byte budget, small enough to run). */
const SIM_MAX_BATCH_BYTES = 8 * 1024;
/** Forged PRE-PREPAREs per tick: more than a correct primary proposes, so the flood outruns the real batches. */
const PER_TICK = 10;

registerBehaviour({
  name: 'old-view-batches',
  summary:
    'Floods PRE-PREPAREs for old views with distinct, correctly hashed batches near the high watermark (unauthenticated, or self-authenticated for views it led) to evict the store of old-view batches; as primary it proposes nothing, so that views change and old views exist.',
  role: 'any',
  create(ctx) {
    const forger = forgerOf(ctx);
    return {
      step(input) {
        const out: StepOutput[] = ctx.replica
          .step(input)
          .filter((a) => a.kind !== 'multicast' || a.message.kind !== 'pre-prepare');
        if (input.kind === 'tick') {
          const k = knowledgeOf(ctx);
          out.push(
            ...sends(
              ctx,
              oldViewBatches(forger, ctx.config, k, { count: PER_TICK, maxBytes: SIM_MAX_BATCH_BYTES }),
            ),
          );
        }
        return out;
      },
    };
  },
});
