/**
 * Catalog entries that flood a correct replica from a keyed faulty replica: the early buffer a replica keeps
 * during a view change (issue 9, class 2), retransmission and state-transfer requests (work amplification),
 * and `keyed-flood`, a mix of every flood of the catalog (what bench/flood.ts sends as "a keyed faulty
 * replica").
 */
import type { PbftConfig } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import {
  type Aimed,
  earlyBufferFlood,
  invalidNewView,
  type Knowledge,
  oldViewBatches,
  ReplayMemory,
  retransmitRequests,
  strayVotes,
} from './attacks.ts';
import type { Forger } from './forge.ts';
import { registerBehaviour } from './registry.ts';
import { forgerOf, knowledgeOf, received, sends } from './wrap.ts';

/** Bytes per large forged message in the simulator (the benchmark goes up to the codec's limits). */
const SIM_MAX_BYTES = 8 * 1024;

registerBehaviour({
  name: 'early-flood',
  summary:
    'When a view change starts, floods the view being installed and the next two with authentic PREPAREs and COMMITs across the window and large PRE-PREPAREs, aimed at the buffer kept until the NEW-VIEW.',
  role: 'any',
  create(ctx) {
    const forger = forgerOf(ctx);
    let changingTo = 0;
    return {
      step(input) {
        const vc = received(input, 'view-change');
        if (vc !== undefined) changingTo = Math.max(changingTo, vc.newView);
        const out: StepOutput[] = ctx.replica.step(input);
        if (input.kind !== 'tick') return out;
        const k = knowledgeOf(ctx);
        const status = ctx.replica.status();
        const changing = !status.active || changingTo > k.view;
        if (!changing && !ctx.rng.chance(0.1)) return out;
        const target: Knowledge = { ...k, view: Math.max(k.view, changingTo) };
        out.push(
          ...sends(
            ctx,
            earlyBufferFlood(forger, ctx.config, target, {
              count: changing ? 8 : 2,
              maxBytes: SIM_MAX_BYTES,
            }),
          ),
        );
        return out;
      },
    };
  },
});

registerBehaviour({
  name: 'retransmit-amplifier',
  summary:
    'Asks every peer, every tick, for state from seq 0 and 1 and far ahead (fresh and huge nonces) and for the VIEW-CHANGEs of this, the next and the last view.',
  role: 'any',
  create(ctx) {
    const forger = forgerOf(ctx);
    let nonce = 0;
    return {
      step(input) {
        const out: StepOutput[] = ctx.replica.step(input);
        if (input.kind === 'tick' && ctx.rng.chance(0.5))
          out.push(...sends(ctx, retransmitRequests(forger, ctx.config, knowledgeOf(ctx), ++nonce)));
        return out;
      },
    };
  },
});

/** One tick's worth of the keyed mix: every flood of the catalog, picked at random. */
export class KeyedFloodMix {
  private nonce = 0;
  /** Signed messages seen (CHECKPOINTs, VIEW-CHANGEs) to replay. */
  readonly replays: ReplayMemory<Uint8Array>;

  constructor(
    private readonly forger: Forger,
    private readonly config: PbftConfig,
    private readonly maxBytes: number,
    private readonly largeShare?: number,
  ) {
    this.replays = new ReplayMemory(64, forger.rng);
  }

  next(k: Knowledge): Aimed[] {
    const rng = this.forger.rng;
    const sized = {
      count: 2,
      maxBytes: this.maxBytes,
      ...(this.largeShare === undefined ? {} : { largeShare: this.largeShare }),
    };
    switch (rng.int(6)) {
      case 0:
        return [invalidNewView(this.forger, this.config, k)];
      case 1:
        return oldViewBatches(this.forger, this.config, k.view === 0 ? { ...k, view: 1 } : k, sized);
      case 2:
        return strayVotes(this.forger, this.config, k);
      case 3:
        return earlyBufferFlood(this.forger, this.config, k, sized);
      case 4:
        return retransmitRequests(this.forger, this.config, k, ++this.nonce);
      default: {
        const replay = this.replays.pick();
        return replay === undefined
          ? strayVotes(this.forger, this.config, k)
          : [{ to: undefined, bytes: replay }];
      }
    }
  }
}

registerBehaviour({
  name: 'keyed-flood',
  summary:
    'Correct, and every tick also sends one of the catalog’s floods with its own keys: invalid NEW-VIEWs, old-view batches, stray votes, early-buffer floods, state requests, replays.',
  role: 'any',
  create(ctx) {
    const mix = new KeyedFloodMix(forgerOf(ctx), ctx.config, SIM_MAX_BYTES);
    return {
      step(input) {
        if (input.kind === 'receive') {
          if (received(input, 'checkpoint') !== undefined || received(input, 'view-change') !== undefined)
            mix.replays.remember(input.bytes);
        }
        const out: StepOutput[] = ctx.replica.step(input);
        if (input.kind === 'tick') out.push(...sends(ctx, mix.next(knowledgeOf(ctx))));
        return out;
      },
    };
  },
});
