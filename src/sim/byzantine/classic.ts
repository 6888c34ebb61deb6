/**
 * The first entries of the Byzantine catalog (issue 3): fail-stop and mute replicas, corrupted authentication,
 * replays, random bytes, and the classic faulty-primary attacks (equivocation, censorship, gaps, reused
 * sequence numbers, slowness), huge VIEW-CHANGEs, forged prepared certificates and corrupted state transfer.
 * Registration order is part of a seed's meaning (faulty replicas are drawn from the catalog by index): new
 * entries go into other files, imported after this one.
 */
import { authPayload, encodeMessage } from '../../core/codec/encode.ts';
import { MESSAGE_KINDS, type PrePrepare, WIRE_VERSION } from '../../core/codec/messages.ts';
import { othersOf } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import { corruptAuth, forgedViewChange, reforge, signedVote, twinPrePrepare } from './forge.ts';
import { type Behaviour, type ByzantineContext, registerBehaviour } from './registry.ts';

registerBehaviour({
  name: 'crash',
  summary: 'Runs correctly, then stops for good at a random time before GST (fail-stop).',
  role: 'any',
  create(ctx) {
    const crashAt = ctx.rng.float() * ctx.gst;
    let now = 0;
    let crashed = false;
    return {
      step(input) {
        if (input.kind === 'tick') now = input.now;
        if (now >= crashAt) crashed = true;
        return crashed ? [] : ctx.replica.step(input);
      },
    };
  },
});

registerBehaviour({
  name: 'silent',
  summary: 'Receives and processes everything but never sends a message (a mute replica).',
  role: 'any',
  create(ctx) {
    return {
      step: (input) => ctx.replica.step(input).filter((a) => a.kind === 'execute' || a.kind === 'event'),
    };
  },
});

registerBehaviour({
  name: 'corrupt-macs',
  summary: 'Speaks the protocol, but every MAC tag and signature it sends has flipped bits.',
  role: 'any',
  create(ctx) {
    return {
      step(input) {
        return ctx.replica.step(input).map((a) => {
          if (a.kind !== 'send' && a.kind !== 'multicast' && a.kind !== 'reply') return a;
          const message = corruptAuth(a.message, ctx.rng);
          return { ...a, message, bytes: encodeMessage(message) } as StepOutput;
        });
      },
    };
  },
});

registerBehaviour({
  name: 'replay',
  summary: 'Correct, and also re-sends old messages (its own and ones it received) to random nodes.',
  role: 'any',
  create(ctx) {
    const memory: Uint8Array[] = [];
    const remember = (bytes: Uint8Array): void => {
      if (memory.length < 256) memory.push(bytes);
      else memory[ctx.rng.int(memory.length)] = bytes;
    };
    return {
      step(input) {
        if (input.kind === 'receive') remember(input.bytes);
        const actions: StepOutput[] = ctx.replica.step(input);
        for (const a of actions)
          if (a.kind === 'send' || a.kind === 'multicast' || a.kind === 'reply') remember(a.bytes);
        if (input.kind === 'tick' && memory.length > 0 && ctx.rng.chance(0.3)) {
          for (let i = 0; i < 1 + ctx.rng.int(5); i++) {
            actions.push({
              kind: 'raw',
              to: ctx.rng.int(ctx.nodes),
              bytes: memory[ctx.rng.int(memory.length)]!,
            });
          }
        }
        return actions;
      },
    };
  },
});

registerBehaviour({
  name: 'random-bytes',
  summary: 'Correct, and also sends random byte strings (some with a valid header) to random nodes.',
  role: 'any',
  create(ctx) {
    return {
      step(input) {
        const actions: StepOutput[] = ctx.replica.step(input);
        if (input.kind === 'tick' && ctx.rng.chance(0.3)) {
          for (let i = 0; i < 1 + ctx.rng.int(3); i++) {
            const bytes = ctx.rng.bytes(ctx.rng.int(200));
            if (bytes.length >= 2 && ctx.rng.chance(0.5)) {
              bytes[0] = WIRE_VERSION;
              bytes[1] = ctx.rng.int(MESSAGE_KINDS.length);
            }
            actions.push({ kind: 'raw', to: ctx.rng.int(ctx.nodes), bytes });
          }
        }
        return actions;
      },
    };
  },
});

registerBehaviour({
  name: 'equivocate',
  summary:
    'Primary sends one batch to half the backups and a different batch (same seq) to the others, and commits both.',
  role: 'primary',
  create(ctx) {
    const backups = othersOf(ctx.config, ctx.id);
    const half = new Set(backups.slice(0, Math.ceil(backups.length / 2)));
    return {
      step(input) {
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          if (a.kind !== 'multicast' || a.message.kind !== 'pre-prepare') {
            out.push(a);
            continue;
          }
          const x = a.message;
          const y = twinPrePrepare(x, ctx.crypto, backups);
          for (const to of backups) {
            const pp = half.has(to) ? x : y;
            out.push({ kind: 'send', to, message: pp, bytes: encodeMessage(pp) });
            const commit = signedVote('commit', pp, ctx.id, ctx.crypto, backups);
            out.push({ kind: 'send', to, message: commit, bytes: encodeMessage(commit) });
          }
        }
        return out;
      },
    };
  },
});

/** Rewrite the PRE-PREPAREs a replica multicasts (only a primary sends them). */
function rewritePrePrepares(
  ctx: ByzantineContext,
  rewrite: (pp: PrePrepare) => PrePrepare | undefined,
): Behaviour {
  return {
    step(input) {
      return ctx.replica.step(input).flatMap((a): StepOutput[] => {
        if (a.kind !== 'multicast' || a.message.kind !== 'pre-prepare') return [a];
        const pp = rewrite(a.message);
        return pp === undefined ? [] : [{ kind: 'multicast', message: pp, bytes: encodeMessage(pp) }];
      });
    },
  };
}

registerBehaviour({
  name: 'censor',
  summary: 'As primary, silently leaves every request of one client (the first it sees) out of its batches.',
  role: 'primary',
  create(ctx) {
    let victim: number | undefined;
    const receivers = othersOf(ctx.config, ctx.id);
    return rewritePrePrepares(ctx, (pp) => {
      if (pp.batch.kind !== 'full') return pp;
      victim ??= pp.batch.requests[0]?.client;
      return reforge(pp, ctx.crypto, receivers, {
        requests: pp.batch.requests.filter((r) => r.client !== victim),
      });
    });
  },
});

registerBehaviour({
  name: 'skip-seq',
  summary: 'As primary, leaves gaps: every third batch jumps one sequence number ahead.',
  role: 'primary',
  create(ctx) {
    let count = 0;
    let skew = 0;
    const receivers = othersOf(ctx.config, ctx.id);
    return rewritePrePrepares(ctx, (pp) => {
      if (++count % 3 === 0) skew++;
      return skew === 0 ? pp : reforge(pp, ctx.crypto, receivers, { seq: pp.seq + skew });
    });
  },
});

registerBehaviour({
  name: 'reuse-seq',
  summary:
    'As primary, proposes each batch twice: again at the previous sequence number with its requests reversed.',
  role: 'primary',
  create(ctx) {
    const receivers = othersOf(ctx.config, ctx.id);
    return {
      step(input) {
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          out.push(a);
          if (a.kind !== 'multicast' || a.message.kind !== 'pre-prepare' || a.message.seq <= 1) continue;
          const pp = a.message;
          const requests = pp.batch.kind === 'full' ? [...pp.batch.requests].reverse() : [];
          const again = reforge(pp, ctx.crypto, receivers, { seq: pp.seq - 1, requests });
          out.push({ kind: 'multicast', message: again, bytes: encodeMessage(again) });
        }
        return out;
      },
    };
  },
});

registerBehaviour({
  name: 'slow-primary',
  summary:
    'As primary, holds every PRE-PREPARE for 80% of the request timeout before sending it (just under it).',
  role: 'primary',
  create(ctx) {
    const delay = 0.8 * ctx.config.requestTimeoutTicks;
    const held: { at: number; action: StepOutput }[] = [];
    let now = 0;
    return {
      step(input) {
        if (input.kind === 'tick') now = input.now;
        const out: StepOutput[] = [];
        for (const a of ctx.replica.step(input)) {
          if (a.kind === 'multicast' && a.message.kind === 'pre-prepare') held.push({ at: now, action: a });
          else out.push(a);
        }
        while (held.length > 0 && now - held[0]!.at >= delay) out.push(held.shift()!.action);
        return out;
      },
    };
  },
});

registerBehaviour({
  name: 'huge-view',
  summary:
    'Correct, but keeps announcing VIEW-CHANGEs for huge view numbers (and for the next view) to force view changes.',
  role: 'any',
  create(ctx) {
    let view = 0;
    return {
      step(input) {
        const actions: StepOutput[] = ctx.replica.step(input);
        for (const a of actions) if (a.kind === 'event' && a.event.type === 'new-view') view = a.event.view;
        if (input.kind === 'tick' && ctx.rng.chance(0.2)) {
          const newView = ctx.rng.chance(0.5) ? view + 1 : view + 1_000_000 + ctx.rng.int(1_000_000);
          const message = forgedViewChange(ctx.crypto, ctx.id, newView, []);
          actions.push({ kind: 'multicast', message, bytes: encodeMessage(message) });
        }
        return actions;
      },
    };
  },
});

registerBehaviour({
  name: 'forge-view-change',
  summary:
    'In every view change, sends each replica a different VIEW-CHANGE claiming forged prepared certificates for random batches.',
  role: 'any',
  create(ctx) {
    return {
      step(input) {
        return ctx.replica.step(input).flatMap((a): StepOutput[] => {
          if (a.kind !== 'multicast' || a.message.kind !== 'view-change') return [a];
          const vc = a.message;
          return othersOf(ctx.config, ctx.id).map((to) => {
            const forged = Array.from({ length: 1 + ctx.rng.int(3) }, () => ({
              seq: vc.stableSeq + 1 + ctx.rng.int(ctx.config.watermarkWindow),
              view: Math.max(0, vc.newView - 1),
              batchDigest: ctx.rng.bytes(32),
            }));
            const message = forgedViewChange(ctx.crypto, ctx.id, vc.newView, forged, vc);
            return { kind: 'raw', to, bytes: encodeMessage(message) };
          });
        });
      },
    };
  },
});

registerBehaviour({
  name: 'bad-state',
  summary: 'Correct, except that every state-transfer reply it serves carries a corrupted snapshot.',
  role: 'any',
  create(ctx) {
    return {
      step(input) {
        return ctx.replica.step(input).map((a) => {
          if (a.kind !== 'send' || a.message.kind !== 'state-reply') return a;
          const m = a.message;
          const snapshot = Uint8Array.from(m.snapshot);
          if (snapshot.length > 0) snapshot[ctx.rng.int(snapshot.length)]! ^= 0xff;
          const unsigned = { ...m, snapshot, tag: new Uint8Array(0) };
          const message = { ...unsigned, tag: ctx.crypto.tag(a.to, authPayload(unsigned)) };
          return { ...a, message, bytes: encodeMessage(message) };
        });
      },
    };
  },
});
