/**
 * Catalog entries against checkpoints and stable proofs (issue 9, class 8): a replayer of old CHECKPOINTs (a
 * duplicate must be recognised before its signature is checked, or each replay costs a verification), and a
 * replica that serves older valid stable proofs (state replies, VIEW-CHANGEs), which must never move a
 * correct replica's low watermark backwards.
 */
import { authPayload, encodeMessage } from '../../core/codec/encode.ts';
import {
  DIGEST_BYTES,
  type StateReply,
  type StateRequest,
  type ViewChange,
} from '../../core/codec/messages.ts';
import { othersOf } from '../../core/pbft/config.ts';
import type { StepOutput } from '../../core/pbft/types.ts';
import { type Aimed, ReplayMemory } from './attacks.ts';
import { forgedCheckpoint, forgedViewChange } from './forge.ts';
import { type ByzantineContext, registerBehaviour } from './registry.ts';
import { forgerOf, knowledgeOf, received, sends } from './wrap.ts';

/** How many remembered CHECKPOINTs it replays per burst. */
const REPLAY_BURST = 6;

registerBehaviour({
  name: 'checkpoint-replay',
  summary:
    'Replays valid CHECKPOINTs it saw (anyone’s, old and in-window) in bursts, and signs CHECKPOINTs with wrong digests in the window, far ahead and at the top of the range.',
  role: 'any',
  create(ctx) {
    const memory = new ReplayMemory<Uint8Array>(64, ctx.rng);
    const forger = forgerOf(ctx);
    const k = ctx.config.checkpointInterval;
    return {
      step(input) {
        const cp = received(input, 'checkpoint');
        if (cp !== undefined && input.kind === 'receive') memory.remember(input.bytes);
        const out: StepOutput[] = ctx.replica.step(input);
        for (const a of out)
          if (a.kind === 'multicast' && a.message.kind === 'checkpoint') memory.remember(a.bytes);
        if (input.kind !== 'tick' || !ctx.rng.chance(0.5)) return out;
        const burst: Aimed[] = [];
        for (let i = 0; i < REPLAY_BURST && memory.size > 0; i++)
          burst.push({ to: undefined, bytes: memory.pick()! });
        if (ctx.rng.chance(0.2)) {
          const know = knowledgeOf(ctx);
          const inWindow = know.low + k * (1 + ctx.rng.int(ctx.config.watermarkWindow / k));
          const farAhead = know.low + ctx.config.watermarkWindow + k * (1 + ctx.rng.int(1000));
          const top = Math.floor(Number.MAX_SAFE_INTEGER / k) * k;
          for (const seq of [inWindow, farAhead, top]) {
            const lie = forgedCheckpoint(forger, seq, ctx.rng.bytes(DIGEST_BYTES));
            burst.push({ to: undefined, bytes: encodeMessage(lie) });
          }
        }
        out.push(...sends(ctx, burst));
        return out;
      },
    };
  },
});

/** Old states kept (the oldest are the attack; each snapshot is small in the simulator). */
const MAX_STATES = 16;

/** A stable checkpoint as its proof and (when this replica served it) its snapshot. */
interface OldState {
  readonly stableSeq: number;
  readonly stableDigest: Uint8Array;
  readonly checkpointProof: StateReply['checkpointProof'];
  readonly snapshot: Uint8Array | undefined;
}

registerBehaviour({
  name: 'old-stable-proof',
  summary:
    'Keeps every stable checkpoint and snapshot it reached, answers every STATE-REQUEST with the older ones (valid proofs, oldest first), and signs its VIEW-CHANGEs with its oldest valid stable proof.',
  role: 'any',
  create(ctx) {
    const states = new Map<number, OldState>();
    const remember = (s: OldState): void => {
      if (s.stableSeq === 0 || s.checkpointProof.length === 0) return;
      const known = states.get(s.stableSeq);
      if (known?.snapshot !== undefined) return;
      if (known === undefined && states.size >= MAX_STATES) states.delete(Math.max(...states.keys()));
      states.set(s.stableSeq, s);
    };
    let captured = 0;
    const peer = othersOf(ctx.config, ctx.id)[0]!;
    return {
      step(input) {
        const ask = received(input, 'state-request');
        const out: StepOutput[] = [];
        const inner = ctx.replica.step(input);
        // Keep every stable snapshot: ask its own replica for it in a peer's name (pairwise MAC keys are shared,
        // so a replica can forge what its peer would send to it), and keep the answer instead of sending it.
        const low = ctx.replica.status().lowWatermark;
        if (input.kind === 'tick' && low > captured) {
          captured = low;
          for (const a of ctx.replica.step({ kind: 'receive', from: peer, bytes: selfAsk(ctx, peer) }))
            if (a.kind === 'send' && a.message.kind === 'state-reply') remember(a.message);
        }
        for (const a of inner) {
          if (a.kind === 'send' && a.message.kind === 'state-reply') remember(a.message);
          if (a.kind === 'multicast' && a.message.kind === 'view-change') {
            remember({ ...a.message, snapshot: undefined });
            const older = oldestBelow(states, a.message.stableSeq);
            if (older !== undefined) {
              const vc = withOlderProof(ctx, a.message, older);
              out.push({ kind: 'multicast', message: vc, bytes: encodeMessage(vc) });
              continue;
            }
          }
          out.push(a);
        }
        if (ask !== undefined) out.push(...olderReplies(ctx, states, ask));
        return out;
      },
    };
  },
});

/** A STATE-REQUEST from `peer` to this replica, from seq 1, tagged with the key the two share. */
function selfAsk(ctx: ByzantineContext, peer: number): Uint8Array {
  const unsigned: StateRequest = {
    kind: 'state-request',
    replica: peer,
    fromSeq: 1,
    nonce: 0,
    tag: new Uint8Array(0),
  };
  return encodeMessage({ ...unsigned, tag: ctx.crypto.tag(peer, authPayload(unsigned)) });
}

function oldestBelow(states: ReadonlyMap<number, OldState>, seq: number): OldState | undefined {
  let best: OldState | undefined;
  for (const s of states.values())
    if (s.stableSeq < seq && (best === undefined || s.stableSeq < best.stableSeq)) best = s;
  return best;
}

function withOlderProof(ctx: ByzantineContext, vc: ViewChange, older: OldState): ViewChange {
  const keep = (e: { seq: number }): boolean => e.seq > older.stableSeq;
  const signed = forgedViewChange(ctx.crypto, ctx.id, vc.newView, [], older);
  const unsigned: ViewChange = {
    ...signed,
    prepared: vc.prepared.filter(keep),
    prePrepared: vc.prePrepared.filter(keep),
    signature: new Uint8Array(64),
  };
  return { ...unsigned, signature: ctx.crypto.sign(authPayload(unsigned)) };
}

/** STATE-REPLYs, oldest first, for every remembered state the asker would accept as "ahead of it". */
function olderReplies(
  ctx: ByzantineContext,
  states: ReadonlyMap<number, OldState>,
  ask: { replica: number; fromSeq: number; nonce: number },
): StepOutput[] {
  if (!othersOf(ctx.config, ctx.id).includes(ask.replica)) return [];
  const usable = [...states.values()]
    .filter((s) => s.snapshot !== undefined && s.stableSeq >= ask.fromSeq)
    .sort((a, b) => a.stableSeq - b.stableSeq)
    .slice(0, 3);
  return usable.map((s) => {
    const unsigned: StateReply = {
      kind: 'state-reply',
      replica: ctx.id,
      nonce: ask.nonce,
      stableSeq: s.stableSeq,
      stableDigest: s.stableDigest,
      checkpointProof: s.checkpointProof,
      snapshot: s.snapshot!,
      entries: [],
      more: false,
      tag: new Uint8Array(0),
    };
    const message = { ...unsigned, tag: ctx.crypto.tag(ask.replica, authPayload(unsigned)) };
    return { kind: 'send', to: ask.replica, message, bytes: encodeMessage(message) } as StepOutput;
  });
}
