/**
 * Clients with valid keys whose authenticators are bad in chosen slots (issue 9, class 4: the "big MAC" attack
 * of the Aardvark paper). A MAC authenticator has one tag per replica and each replica can check only its own,
 * so a client can make a request authentic at some replicas and not at others. Bad only in the primary's slot:
 * backups hold a request the primary cannot order, and may blame a correct primary. Bad in some backups' slots:
 * the primary orders a request those backups cannot authenticate. Valid only in the primary's slot (the inverse
 * attack): a correct primary proposes a request no backup can authenticate, the batch never prepares and the
 * backups vote that primary out. A correct primary must survive all three (requests.ts, rules V1 to V7).
 */
import { decodeMessage, encodeMessage, requestAuthPayload } from '../../core/codec/encode.ts';
import type { Request } from '../../core/codec/messages.ts';
import { allReplicas, othersOf, type PbftConfig, primaryOf } from '../../core/pbft/config.ts';
import type { Prng } from '../../core/prng.ts';
import type { Aimed } from '../byzantine/attacks.ts';
import { type Intruder, type IntruderContext, type IssuedRequest, registerIntruder } from './registry.ts';

/** Like a correct client: retransmit every RETRANSMIT_MS until the reply, give up after GIVE_UP_MS. */
const RETRANSMIT_MS = 60;
const GIVE_UP_MS = 2000;

/**
 * A client whose tags are bad in the slots `badSlots(view)` names. It behaves as a correct client otherwise:
 * one request at a time, retransmitted until its reply (which also tells it the view, so the next request
 * targets the new primary), so a replica that holds it sees it wait.
 */
function bigMacClient(ctx: IntruderContext, badSlots: (view: number) => readonly number[]): Intruder {
  const crypto = ctx.crypto;
  if (crypto === undefined) throw new Error('invariant: a big-MAC client needs client keys');
  const replicas = allReplicas(ctx.config);
  let view = 0;
  let timestamp = 0;
  let outstanding: { bytes: Uint8Array; sentAt: number; lastSent: number } | undefined;
  return {
    tick(now) {
      const rng = ctx.rng;
      const sends: Aimed[] = [];
      const issued: IssuedRequest[] = [];
      if (outstanding !== undefined && now - outstanding.sentAt > GIVE_UP_MS) outstanding = undefined;
      if (outstanding === undefined) {
        const op = rng.bytes(1 + rng.int(16));
        const unsigned: Request = { client: ctx.id, timestamp: ++timestamp, op, auth: [] };
        const auth = crypto.authenticator(replicas, requestAuthPayload(unsigned));
        for (const slot of badSlots(view)) auth[slot] = auth[slot]!.map((b) => b ^ 0x5a);
        outstanding = {
          bytes: encodeMessage({ kind: 'request', ...unsigned, auth }),
          sentAt: now,
          lastSent: now,
        };
        issued.push({ timestamp, op });
        sends.push({ to: undefined, bytes: outstanding.bytes });
      } else if (now - outstanding.lastSent >= RETRANSMIT_MS) {
        outstanding.lastSent = now;
        sends.push({ to: undefined, bytes: outstanding.bytes });
      }
      return { sends, issued };
    },
    receive(_from, bytes) {
      const d = decodeMessage(bytes, ctx.config.limits);
      if (!d.ok || d.message.kind !== 'reply') return;
      if (d.message.view > view) view = d.message.view;
      if (d.message.timestamp === timestamp) outstanding = undefined;
    },
  };
}

registerIntruder({
  name: 'big-mac',
  summary:
    'A client whose request authenticators are valid for every replica but the current primary (learned from replies), so backups hold what the primary cannot order.',
  keyed: true,
  create: (ctx) => bigMacClient(ctx, (view) => [primaryOf(ctx.config, view)]),
});

registerIntruder({
  name: 'big-mac-backups',
  summary:
    'A client whose request authenticators are valid for the primary but bad for f random backups (Aardvark’s big MAC), so the primary orders requests those backups cannot check.',
  keyed: true,
  create(ctx) {
    return bigMacClient(ctx, (view) => {
      const backups = othersOf(ctx.config, primaryOf(ctx.config, view));
      const bad: number[] = [];
      for (let i = 0; i < ctx.config.f && backups.length > 0; i++)
        bad.push(backups.splice(ctx.rng.int(backups.length), 1)[0]!);
      return bad;
    });
  },
});

/** A new request this often, answered or not: every view's primary is tried again and again. */
const PRIMARY_ONLY_EVERY_MS = 40;
/** Share of overheard messages it decodes to follow the view. */
const DECODE_SHARE = 0.25;

/** The view of a NEW-VIEW or PRE-PREPARE overheard from that view's primary, the highest seen. */
class ViewFollower {
  view = 0;

  constructor(
    private readonly config: PbftConfig,
    private readonly rng: Prng,
  ) {}

  overhear(from: number, bytes: Uint8Array): void {
    if (from >= this.config.n || !this.rng.chance(DECODE_SHARE)) return;
    const d = decodeMessage(bytes, this.config.limits);
    if (!d.ok) return;
    const m = d.message;
    if ((m.kind === 'pre-prepare' || m.kind === 'new-view') && m.replica === primaryOf(this.config, m.view))
      this.view = Math.max(this.view, m.view);
  }
}

registerIntruder({
  name: 'big-mac-primary-only',
  summary:
    'A client whose request authenticators verify only at the current primary (the view learned by overhearing), a new request every 40 ms: a correct primary proposes what no backup can authenticate.',
  keyed: true,
  forcedViewChanges: 'f-per-vouch-first-period',
  create(ctx) {
    const crypto = ctx.crypto;
    if (crypto === undefined) throw new Error('invariant: a big-MAC client needs client keys');
    const replicas = allReplicas(ctx.config);
    const follower = new ViewFollower(ctx.config, ctx.rng.fork());
    let timestamp = 0;
    let lastNew = Number.NEGATIVE_INFINITY;
    return {
      tick(now) {
        const sends: Aimed[] = [];
        const issued: IssuedRequest[] = [];
        if (now - lastNew >= PRIMARY_ONLY_EVERY_MS) {
          lastNew = now;
          const op = ctx.rng.bytes(1 + ctx.rng.int(16));
          const unsigned: Request = { client: ctx.id, timestamp: ++timestamp, op, auth: [] };
          const auth = crypto.authenticator(replicas, requestAuthPayload(unsigned));
          const primary = primaryOf(ctx.config, follower.view);
          for (let slot = 0; slot < auth.length; slot++)
            if (slot !== primary) auth[slot] = auth[slot]!.map((b) => b ^ 0x5a);
          issued.push({ timestamp, op });
          sends.push({ to: undefined, bytes: encodeMessage({ kind: 'request', ...unsigned, auth }) });
        }
        return { sends, issued };
      },
      receive(_from, bytes) {
        const d = decodeMessage(bytes, ctx.config.limits);
        if (d.ok && d.message.kind === 'reply' && d.message.view > follower.view)
          follower.view = d.message.view;
      },
      overhear(from, _to, bytes) {
        follower.overhear(from, bytes);
      },
    };
  },
});
