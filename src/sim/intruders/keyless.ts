/**
 * A peer with no keys (issue 9, class 2: buffers filled before authentication). It overhears part of the
 * traffic (a shared serial bus or CAN bus) and learns the view and the watermark from it, then sends random
 * bytes, mutated captures, many large messages for the view being installed (the early buffer), PRE-PREPAREs
 * of old views with distinct batches (the store of old-view batches) and invalid NEW-VIEWs at huge views and
 * beyond the codec's range. Nothing it sends can authenticate; every byte of it must be counted and dropped
 * within a budget.
 */
import { decodeMessage } from '../../core/codec/encode.ts';
import type { Message } from '../../core/codec/messages.ts';
import type { PbftConfig } from '../../core/pbft/config.ts';
import type { Prng } from '../../core/prng.ts';
import {
  type Aimed,
  earlyBufferFlood,
  type FloodSize,
  invalidNewView,
  type Knowledge,
  oldViewBatches,
  ReplayMemory,
} from '../byzantine/attacks.ts';
import { type Forger, garbage, mutateCapture } from '../byzantine/forge.ts';
import { type Intruder, registerIntruder } from './registry.ts';

/** Bytes per large message in the simulator (the benchmark uses the codec's limits). */
const SIM_MAX_BYTES = 8 * 1024;
/** Share of overheard traffic it keeps (decoding everything would make the sniffer the bottleneck). */
const KEEP = 0.2;

/** What a sniffer learns from overheard messages: the highest view, checkpoint and committed seq. */
export class Eavesdropper {
  private view = 0;
  private low = 0;
  private lastExecuted = 0;
  readonly captures: ReplayMemory<Uint8Array>;

  constructor(
    private readonly config: PbftConfig,
    private readonly rng: Prng,
  ) {
    this.captures = new ReplayMemory(64, rng);
  }

  overhear(bytes: Uint8Array): void {
    if (!this.rng.chance(KEEP)) return;
    this.captures.remember(bytes);
    const d = decodeMessage(bytes, this.config.limits);
    if (d.ok) this.learn(d.message);
  }

  private learn(m: Message): void {
    switch (m.kind) {
      case 'pre-prepare':
      case 'prepare':
      case 'commit':
        this.view = Math.max(this.view, m.view);
        if (m.kind === 'commit') this.lastExecuted = Math.max(this.lastExecuted, m.seq - 1);
        break;
      case 'view-change':
        this.view = Math.max(this.view, m.newView);
        break;
      case 'checkpoint':
        this.low = Math.max(this.low, m.seq - this.config.checkpointInterval);
        break;
      default:
        break;
    }
  }

  knowledge(): Knowledge {
    return { view: this.view, low: this.low, lastExecuted: Math.max(this.lastExecuted, this.low) };
  }
}

/** One tick's worth of keyless traffic: every keyless attack, a few messages each, from what was overheard. */
export function keylessBurst(
  forger: Forger,
  config: PbftConfig,
  k: Knowledge,
  captures: ReplayMemory<Uint8Array>,
  size: Omit<FloodSize, 'count'>,
): Aimed[] {
  const rng = forger.rng;
  const out: Aimed[] = [];
  const all = (bytes: Uint8Array): void => {
    out.push({ to: undefined, bytes });
  };
  all(garbage(rng, 256));
  const capture = captures.pick();
  if (capture !== undefined) all(mutateCapture(capture, rng));
  switch (rng.int(4)) {
    case 0:
      out.push(...earlyBufferFlood(forger, config, k, { ...size, count: 3 }));
      break;
    case 1:
      out.push(...oldViewBatches(forger, config, k, { ...size, count: 3 }));
      break;
    case 2:
      out.push(invalidNewView(forger, config, k));
      break;
    default:
      if (capture !== undefined) all(capture); // a plain replay
  }
  return out;
}

registerIntruder({
  name: 'keyless-flood',
  summary:
    'A peer with no keys that overhears traffic and floods random bytes, mutated captures, large messages for the next views (early buffer), old-view batches and invalid NEW-VIEWs.',
  keyed: false,
  create(ctx): Intruder {
    const forger: Forger = { id: ctx.id, crypto: undefined, rng: ctx.rng };
    const ear = new Eavesdropper(ctx.config, ctx.rng.fork());
    return {
      tick: () => ({
        sends: keylessBurst(forger, ctx.config, ear.knowledge(), ear.captures, { maxBytes: SIM_MAX_BYTES }),
        issued: [],
      }),
      receive: () => {},
      overhear: (_from, _to, bytes) => ear.overhear(bytes),
    };
  },
});
