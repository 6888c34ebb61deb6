/**
 * Catalog entries for the primary attacks that stop the pipeline without stopping the primary (issue 9): a
 * primary that fills its pipeline with batches that never execute (`junk-fill`), a new primary that installs
 * its view and then proposes nothing (`install-stall`), and a primary that hands its view over at will
 * (`abdicate`, the planned view change of proactive recovery without the restart; with `install-stall` on the
 * next primary it is how a scenario gives a faulty replica a fresh view without a second fault).
 *
 * A faulty primary never votes to leave its own view: the wrapped replica's VIEW-CHANGE for the next view
 * (its own request timer; as the primary's it would move the backups at once, handover.ts) is dropped while
 * it leads, and the PRE-PREPAREs it withholds are withheld from retransmissions too.
 */
import { encodeMessage } from '../../core/codec/encode.ts';
import type { Request } from '../../core/codec/messages.ts';
import { othersOf } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import { forgedPrePrepare, junkRequests } from './forge.ts';
import { type ByzantineContext, registerBehaviour } from './registry.ts';
import { forgerOf, received } from './wrap.ts';

/** Requests a faulty primary remembers to put in its per-backup batches (real ones: authentic everywhere). */
const CAPTURED = 8;

/** The view the faulty replica leads, read from the replica it wraps; kept until it installs a later view. */
class Leadership {
  led: number | undefined;

  constructor(private readonly ctx: ByzantineContext) {}

  observe(): void {
    const st = this.ctx.replica.status();
    if (st.active && st.primary === this.ctx.id) this.led = st.view;
    else if (st.active && this.led !== undefined && st.view > this.led) this.led = undefined;
  }

  /** A faulty primary never votes to leave the view it leads (sent, retransmitted or relayed). */
  hides(a: StepOutput): boolean {
    if (this.led === undefined || (a.kind !== 'multicast' && a.kind !== 'send')) return false;
    const m = a.message;
    return m.kind === 'view-change' && m.replica === this.ctx.id && m.newView === this.led + 1;
  }
}

/** A PRE-PREPARE of `view` the wrapped replica sends: proposed (multicast) or retransmitted (send). */
function prePrepareOf(a: StepOutput, view: number): { seq: number } | undefined {
  if (a.kind !== 'multicast' && a.kind !== 'send') return undefined;
  return a.message.kind === 'pre-prepare' && a.message.view === view ? a.message : undefined;
}

registerBehaviour({
  name: 'junk-fill',
  summary:
    'As primary, fills every slot of its pipeline above the last executed batch with authentic PRE-PREPAREs that never execute (requests no replica can authenticate; every third view it leads, a different batch to each backup) and proposes nothing else; it never votes to leave its view.',
  role: 'primary',
  create(ctx) {
    const forger = forgerOf(ctx);
    const lead = new Leadership(ctx);
    const backups = othersOf(ctx.config, ctx.id);
    const captured: Request[] = [];
    /**
     * Seqs already filled in the view it leads (bounded by the window), and how: with requests no replica can
     * authenticate (held by every backup, so no request timer runs on them), or, every third view it leads, a
     * different batch to each backup (authentic, so each backup prepares alone).
     */
    let filled = { view: -1, seqs: new Set<number>(), split: false };
    let viewsLed = 0;
    const fill = (view: number): StepOutput[] => {
      if (filled.view !== view) filled = { view, seqs: new Set(), split: ++viewsLed % 3 === 0 };
      const st = ctx.replica.status();
      for (const seq of filled.seqs) if (seq <= st.lastExecuted) filled.seqs.delete(seq);
      const top = Math.min(st.lastExecuted + ctx.config.maxInFlight, st.highWatermark);
      const out: StepOutput[] = [];
      for (let seq = st.lastExecuted + 1; seq <= top; seq++) {
        if (filled.seqs.has(seq)) continue;
        filled.seqs.add(seq);
        backups.forEach((to, i) => {
          const requests =
            !filled.split || (i > 0 && captured.length < i)
              ? junkRequests(ctx.rng, 1, 16, ctx.config.n)
              : i === 0
                ? []
                : [captured[captured.length - i]!];
          const pp = forgedPrePrepare(forger, { view, seq, replica: ctx.id, requests }, backups);
          out.push({ kind: 'send', to, message: pp, bytes: encodeMessage(pp) });
        });
      }
      return out;
    };
    return {
      step(input) {
        const r = received(input, 'request');
        if (r !== undefined) {
          captured.push(r);
          if (captured.length > CAPTURED) captured.shift();
        }
        const actions = ctx.replica.step(input);
        lead.observe();
        const led = lead.led;
        const out: StepOutput[] = actions.filter(
          (a) => led === undefined || (prePrepareOf(a, led) === undefined && !lead.hides(a)),
        );
        if (lead.led !== undefined && (input.kind === 'tick' || input.kind === 'frame'))
          out.push(...fill(lead.led));
        return out;
      },
    };
  },
});

registerBehaviour({
  name: 'install-stall',
  summary:
    'As the primary of a view it installs, sends a valid NEW-VIEW and proposes nothing new; the batches the NEW-VIEW carries over it withholds (first view it installs, third, ...) or re-proposes (second, fourth, ...); it never votes to leave its view. In a view it did not install it is correct.',
  role: 'primary',
  create(ctx) {
    const lead = new Leadership(ctx);
    /** The view it installed and stalls in, the seqs its NEW-VIEW fixed, and whether it re-proposes them. */
    let stall: { view: number; fixed: Set<number>; repropose: boolean } | undefined;
    /** Views installed so far: the first withholds its re-proposals, the second sends them, and so on. */
    let installs = 0;
    return {
      step(input) {
        const out: StepOutput[] = [];
        const actions = ctx.replica.step(input);
        lead.observe();
        if (stall !== undefined && lead.led !== stall.view) stall = undefined;
        for (const a of actions) {
          if (a.kind === 'multicast' && a.message.kind === 'new-view' && a.message.replica === ctx.id) {
            installs++;
            stall = {
              view: a.message.view,
              fixed: new Set(a.message.prePrepares.map((c) => c.seq)),
              repropose: installs % 2 === 0,
            };
            out.push(a);
            continue;
          }
          if (stall !== undefined) {
            const pp = prePrepareOf(a, stall.view);
            if (pp !== undefined) {
              if (stall.repropose && stall.fixed.has(pp.seq)) out.push(a);
              continue;
            }
            if (lead.hides(a)) continue;
          }
          out.push(a);
        }
        return out;
      },
    };
  },
});

registerBehaviour({
  name: 'abdicate',
  summary:
    'As primary, hands its view over to the next primary once per view (the planned view change before a proactive restart, without the restart); otherwise correct.',
  role: 'primary',
  create(ctx) {
    let handedOver = -1;
    return {
      step(input) {
        const out: StepOutput[] = ctx.replica.step(input);
        const st = ctx.replica.status();
        if (input.kind === 'tick' && st.active && st.primary === ctx.id && st.view > handedOver) {
          handedOver = st.view;
          out.push(...ctx.replica.handOver());
        }
        return out;
      },
    };
  },
});
