/**
 * Faulty-board behaviours against the runtime's own message paths (recovery messages, the rig's HELLO, the
 * datagram ingress), for the WireFleet. Each runs next to the attacker's correct roles: it taps the network and
 * injects on a timer of the fleet's virtual clock, and says what it sent.
 *
 * @example
 * const attack = forgeNewKeys(fleet, { attacker: 'b0', victim: 'b2', perSecond: 200 });
 * fleet.runFrames(100);
 * attack.stop();
 */

import { encodeHello } from '../../../hil/link/rig-protocol.ts';
import { authPayload, decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import { MESSAGE_KINDS, WIRE_VERSION } from '../../../src/core/codec/messages.ts';
import { createNewKey } from '../../../src/core/recovery/new-key.ts';
import { topologyPrincipals } from '../../../src/runtime/loop/keys.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { boardOfPrincipal } from '../../../src/runtime/recovery/principal-board.ts';
import type { WireFleet } from './wire-fleet.ts';
import { taggedEpochReport } from './wire-keys-fixture.ts';

export interface Attack {
  /** Messages injected so far. */
  readonly sent: () => number;
  stop(): void;
}

/** Runs `fn` every `everyMs` of virtual time until stopped. */
function every(fleet: WireFleet, everyMs: number, fn: () => void): () => void {
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    fn();
    fleet.scheduler.at(fleet.scheduler.now() + everyMs, tick);
  };
  fleet.scheduler.at(fleet.scheduler.now(), tick);
  return () => {
    stopped = true;
  };
}

function others(fleet: WireFleet, self: string): string[] {
  return fleet.topology.boards.map((b) => b.name).filter((n) => n !== self);
}

function principalsOf(fleet: WireFleet, board: string): number[] {
  const t = fleet.topology;
  const all = [
    ...t.replicas.map((r) => principalOf.replica(r.id)),
    ...t.channels.map((c) => principalOf.channel(c.id)),
    ...Array.from({ length: t.inputUnits }, (_, u) => principalOf.input(u)),
    ...t.voters.map((v) => principalOf.voter(v.id)),
  ];
  return all.filter((p) => boardOfPrincipal(t, p) === board);
}

/**
 * NEW-KEYs claiming to be the victim's principals, at fresh epochs, signed with the attacker's own identity
 * key (it has no other): to every other board, `perSecond` of them, from the attacker's link. A pool of 64
 * forgeries is cycled (signing each afresh would cost the test, not the victim): every epoch in it is above
 * what the receivers hold while they refuse them all, so each one reaches the signature check if nothing
 * stops it first.
 */
export function forgeNewKeys(
  fleet: WireFleet,
  o: { attacker: string; victim: string; perSecond: number },
): Attack {
  const attacker = fleet.get(o.attacker);
  const replica = fleet.topology.replicas.find((r) => r.board === o.attacker)!.id;
  const identity = attacker.keys.signer(replica);
  const targets = principalsOf(fleet, o.victim);
  const pool = Array.from({ length: 64 }, (_, i) => {
    const { message } = createNewKey({
      node: targets[i % targets.length]!,
      epoch: 1 + i,
      recoveryPoint: 0,
      x25519Seed: new Uint8Array(32).fill(i + 1),
      identity,
    });
    return encodeMessage({ kind: 'new-key', ...message });
  });
  let sent = 0;
  const perTick = Math.max(1, Math.round(o.perSecond / 1000));
  const stop = every(fleet, (1000 * perTick) / o.perSecond, () => {
    for (let i = 0; i < perTick; i++) {
      const bytes = pool[sent % pool.length]!;
      for (const to of others(fleet, o.attacker)) fleet.net.inject(o.attacker, to, bytes);
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/**
 * Every NEW-KEY the victim ever sent (the attacker overhears them all), replayed to every board every frame:
 * from the attacker's link, or as the victim where sources are forgeable (`asVictim`).
 */
export function replayNewKeys(
  fleet: WireFleet,
  o: { attacker: string; victim: string; asVictim?: boolean },
): Attack & { readonly heard: () => number } {
  const heard = new Map<string, Uint8Array>();
  fleet.net.tap((from, _to, bytes) => {
    if (from !== o.victim || bytes[1] !== MESSAGE_KINDS.indexOf('new-key')) return;
    heard.set(Buffer.from(bytes).toString('hex'), bytes);
  });
  let sent = 0;
  const stop = every(fleet, fleet.periodMs, () => {
    for (const bytes of heard.values()) {
      for (const to of others(fleet, o.victim)) {
        if (to === o.attacker) continue;
        fleet.net.inject(o.attacker, to, bytes, o.asVictim ? o.victim : o.attacker);
        sent++;
      }
    }
  });
  return { sent: () => sent, heard: () => heard.size, stop };
}

/**
 * EPOCH-REPORTs about each of the victim's principals, unasked, from every principal of the attacker's board,
 * tagged under their own key files (so each passes the tag check): "I hold your epoch `epoch`, under a key you do
 * not have". `perSecond` rounds of them to the victim's board, from the attacker's link; `claim: 'other'` names
 * a principal of another board as the reporter instead (refused as wrong-source where the link tells sources).
 */
export async function lyingEpochReports(
  fleet: WireFleet,
  o: {
    attacker: string;
    victim: string;
    epochs: readonly number[];
    perSecond: number;
    claim?: 'own' | 'other';
  },
): Promise<Attack> {
  const t = fleet.topology;
  const reporterBoard =
    o.claim === 'other'
      ? t.boards.map((b) => b.name).find((n) => n !== o.attacker && n !== o.victim)!
      : o.attacker;
  const messages: Uint8Array[] = [];
  for (const reporter of principalsOf(fleet, o.attacker)) {
    const name = topologyPrincipals(t).find((p) => p.id === reporter)!.name;
    const claimedNode = o.claim === 'other' ? principalsOf(fleet, reporterBoard)[0]! : reporter;
    for (const subject of principalsOf(fleet, o.victim))
      for (const epoch of o.epochs)
        messages.push(
          await taggedEpochReport({
            keysDir: fleet.keysDir,
            name,
            subject,
            epoch,
            publicKey: new Uint8Array(32).fill(0x42),
            claimedNode,
            macBackend: t.crypto.macBackend,
          }),
        );
  }
  let sent = 0;
  const stop = every(fleet, 1000 / o.perSecond, () => {
    for (const m of messages) {
      fleet.net.inject(o.attacker, o.victim, m);
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/**
 * The victim's CHANNEL-STATE-REQUESTs, overheard and replayed to the board each was sent to, `perSecond` times
 * a second each, as the victim (sources forgeable): a correct channel that answers each replay spends its
 * answers for the victim, and its link, on nonces the victim no longer waits for.
 */
export function replayStateRequests(
  fleet: WireFleet,
  o: { attacker: string; victim: string; perSecond: number },
): Attack {
  const heard = new Map<string, { to: string; bytes: Uint8Array }>();
  fleet.net.tap((from, to, bytes) => {
    if (from !== o.victim || to === o.attacker) return;
    if (bytes[1] !== MESSAGE_KINDS.indexOf('channel-state-request')) return;
    heard.set(Buffer.from(bytes).toString('hex'), { to, bytes });
  });
  let sent = 0;
  const stop = every(fleet, 1000 / o.perSecond, () => {
    for (const { to, bytes } of heard.values()) {
      fleet.net.inject(o.attacker, to, bytes, o.victim);
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/**
 * The attacker's own channel asks every other channel for its abstract state every frame, with a fresh nonce
 * and a valid MAC, though it is not rebuilding: each answer is a full state history (about 4 KB).
 */
export function floodStateRequests(fleet: WireFleet, o: { attacker: string }): Attack {
  const t = fleet.topology;
  const self = t.channels.find((c) => c.board === o.attacker)!.id;
  const ring = fleet.get(o.attacker).keys.ring(principalOf.channel(self));
  let nonce = 1;
  let sent = 0;
  const stop = every(fleet, fleet.periodMs, () => {
    for (const peer of t.channels) {
      if (peer.id === self) continue;
      const unsigned = {
        kind: 'channel-state-request' as const,
        channel: self,
        nonce: nonce++,
        tag: new Uint8Array(0),
      };
      const tag = ring.tag(principalOf.channel(peer.id), authPayload(unsigned));
      fleet.net.inject(o.attacker, peer.board, encodeMessage({ ...unsigned, tag }));
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/** Rig HELLOs to `victim` at `perSecond`, from the attacker's link. */
export function floodHellos(
  fleet: WireFleet,
  o: { attacker: string; victim: string; perSecond: number },
): Attack {
  let sent = 0;
  const perTick = Math.max(1, Math.round(o.perSecond / 1000));
  const stop = every(fleet, (1000 * perTick) / o.perSecond, () => {
    for (let i = 0; i < perTick; i++) {
      fleet.net.inject(o.attacker, o.victim, encodeHello({ nonce: sent, rig: o.attacker }));
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/**
 * Datagrams at `perSecond` to `victim`: copies of what the attacker's board sends it (well-formed, so each costs
 * a decode and a MAC check) with the last byte of the tag flipped.
 */
export function floodDatagrams(
  fleet: WireFleet,
  o: { attacker: string; victim: string; perSecond: number },
): Attack {
  const recent: Uint8Array[] = [];
  fleet.net.tap((from, to, bytes) => {
    if (from !== o.attacker || to !== o.victim) return;
    const copy = bytes.slice();
    copy[copy.length - 1]! ^= 0x5a;
    recent.push(copy);
    if (recent.length > 32) recent.shift();
  });
  let sent = 0;
  const perTick = Math.max(1, Math.round(o.perSecond / 1000));
  const stop = every(fleet, (1000 * perTick) / o.perSecond, () => {
    if (recent.length === 0) return;
    for (let i = 0; i < perTick; i++) {
      fleet.net.inject(o.attacker, o.victim, recent[sent % recent.length]!);
      sent++;
    }
  });
  return { sent: () => sent, stop };
}

/**
 * CHANNEL-STATE messages past every size a correct one has, to every board each frame: a reply of the largest
 * UDP datagram, one of 16 KiB + 1, a 1 KiB request; each a valid header and junk after it.
 */
export function oversizeChannelState(fleet: WireFleet, o: { attacker: string }): Attack {
  const header = (kind: 'channel-state-request' | 'channel-state-reply', n: number): Uint8Array => {
    const b = new Uint8Array(n).fill(0x7f);
    b[0] = WIRE_VERSION;
    b[1] = MESSAGE_KINDS.indexOf(kind);
    return b;
  };
  const messages = [
    header('channel-state-reply', 65_507),
    header('channel-state-reply', 16 * 1024 + 1),
    header('channel-state-request', 1024),
  ];
  // The decoder must refuse these, not the test: check they are what they claim to be.
  for (const m of messages) if (decodeMessage(m).ok) throw new Error('oversize message decodes');
  let sent = 0;
  const stop = every(fleet, fleet.periodMs, () => {
    for (const to of others(fleet, o.attacker)) {
      for (const m of messages) {
        fleet.net.inject(o.attacker, to, m);
        sent++;
      }
    }
  });
  return { sent: () => sent, stop };
}
