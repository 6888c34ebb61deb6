/**
 * One faulty board against the runtime's own message paths (recovery messages, the rig's HELLO, the datagram
 * ingress), in a fleet of board runtimes under virtual time (wire-fleet.ts). The faulty board runs its roles
 * correctly and attacks on the side (wire-behaviours.ts); for every attack: no correct board throws, the voter
 * writes every frame (a hold or failsafe is printed with its reason), no correct channel is latched, the attack
 * is refused and counted with its reason, and what it could fill stays bounded.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRigMessage, encodeHello, isRigMessage } from '../../../hil/link/rig-protocol.ts';
import { encodeMessage } from '../../../src/core/codec/encode.ts';
import { MESSAGE_KINDS } from '../../../src/core/codec/messages.ts';
import { createNewKey } from '../../../src/core/recovery/new-key.ts';
import { DEFAULT_MAX_EPOCH_AHEAD } from '../../../src/core/recovery/session.ts';
import { parseTopology, type Topology } from '../../../src/runtime/config.ts';
import { principalOf } from '../../../src/runtime/loop/principals.ts';
import { MAX_REPORT_JUMPS } from '../../../src/runtime/recovery/wire-keys.ts';
import {
  ANSWER_BURST,
  ANSWERS_PER_SECOND,
  CLASSIC_CAN_REPLY_STATES,
  MAX_CHANNEL_STATE_BYTES,
} from '../../../src/runtime/recovery/wire-rebuild.ts';
import {
  floodDatagrams,
  floodHellos,
  floodStateRequests,
  forgeNewKeys,
  lyingEpochReports,
  oversizeChannelState,
  replayNewKeys,
  replayStateRequests,
} from './wire-behaviours.ts';
import { type NetOptions, WireFleet } from './wire-fleet.ts';

const ATTACKER = 'b0';
const VICTIM = 'b2';
/** The boards that are correct in every case (the attacker is b0). */
const CORRECT = ['mon', 'b1', 'b2', 'aiu'];
/** b2's principals: replica 3 and channel 2. */
const VICTIM_PRINCIPALS = [principalOf.replica(3), principalOf.channel(2)];

let fleet: WireFleet | undefined;
afterEach(async () => {
  await fleet?.close();
  fleet = undefined;
});

/** `peersOnly`: restarted channels rebuild from their peers' states only (the checkpoint path off). */
async function flying(
  seed: number,
  net: Partial<NetOptions> = {},
  topology?: Topology,
  peersOnly = false,
): Promise<WireFleet> {
  fleet = await WireFleet.create({
    seed,
    net,
    ...(topology ? { topology } : {}),
    ...(peersOnly ? { channelFromCheckpoint: false } : {}),
  });
  await fleet.start();
  return fleet;
}

/** What every case asserts: nothing thrown, every frame written, no correct channel latched, queues bounded. */
function expectUnharmed(f: WireFleet): void {
  expect(f.thrown, JSON.stringify(f.thrown, null, 1)).toEqual([]);
  expect(f.decisions.length).toBeGreaterThan(0);
  expect(f.holds().length, f.holdsReport()).toBe(0);
  expect(f.latched(), f.holdsReport()).toEqual([]);
  expect(f.net.maxInboxDepth).toBeLessThanOrEqual(f.net.o.inboxLimit);
  expect(f.scheduler.pending).toBeLessThan(10_000);
  for (const b of f.boards.values()) expect(b.transport.budget?.size ?? 0).toBeLessThanOrEqual(64);
  // The network lost nothing a correct board sent to another (a flood spends the attacker's budget only).
  const lost = Object.entries(f.net.dropped.toJSON()).filter(([k]) => !k.endsWith(`.${ATTACKER}`));
  expect(lost, f.holdsReport()).toEqual([]);
}

/** A restarted board counts again, and every correct board holds its principals at its current epoch. */
function expectRejoined(f: WireFleet, board: string): void {
  const b = f.get(board);
  expect(b.recovery.rejoined(), f.holdsReport()).toEqual({ replica: true, channel: true });
  for (const name of CORRECT.filter((n) => n !== board)) {
    const held = f.get(name).keys.epochs().held;
    for (const p of VICTIM_PRINCIPALS) expect(held[p], `${name} holds principal ${p}`).toBe(b.keys.epoch(p));
  }
}

const count = (f: WireFleet, board: string, counter: string): number => f.get(board).counters.get(counter);

describe('one faulty board against the runtime message paths', () => {
  it('no attack: every frame written across a restart, and no ingress budget refuses a correct board', async () => {
    const f = await flying(11);
    f.runFrames(25);
    await f.restart(VICTIM);
    f.runFrames(125);
    expectUnharmed(f);
    expectRejoined(f, VICTIM);
    for (const b of f.boards.values())
      expect(b.transport.budget?.stats().refused).toEqual({ datagrams: 0, bytes: 0 });
  });

  it('a board that pushed its own key epoch up at every board while faulty is refused as stale once restarted, and jumps above (EPOCH-REPORT)', async () => {
    const f = await flying(19);
    f.runFrames(25);
    // Faulty, b0 signs NEW-KEYs of its replica 1 two bounded jumps ahead, at every board.
    const pushed = principalOf.replica(1);
    const identity = f.get(ATTACKER).keys.signer(1);
    for (const epoch of [1024, 2048]) {
      const x25519Seed = new Uint8Array(32).fill(epoch >> 8);
      const { message } = createNewKey({ node: pushed, epoch, recoveryPoint: 0, x25519Seed, identity });
      for (const to of CORRECT) f.net.inject(ATTACKER, to, encodeMessage({ kind: 'new-key', ...message }));
      f.runFrames(2);
    }
    for (const name of CORRECT) expect(f.get(name).keys.epochs().held[pushed], name).toBe(2048);
    // Recovered: its persisted epoch + 1 (1) is refused as stale; f+1 boards report 2048; it moves to 2049.
    await f.restart(ATTACKER);
    f.runFrames(50);
    const b0 = f.get(ATTACKER);
    expect(b0.keys.epoch(pushed)).toBe(2049);
    expect(b0.counters.get('keys.epoch-report.jumped')).toBe(1);
    for (const name of CORRECT) {
      expect(f.get(name).keys.epochs().held[pushed], name).toBe(2049);
      expect(count(f, name, 'keys.new-key.refused.stale-epoch'), name).toBeGreaterThan(0);
    }
    // It caught up in the group's view: the votes it asked for came under authenticators made with its new keys.
    expect(b0.board.replica?.replica.status().view).toBe(0);
    expect(b0.recovery.rejoined(), f.holdsReport()).toEqual({ replica: true, channel: true });
    expectUnharmed(f);
  });

  it('EPOCH-REPORTs lying unasked about a board, before and across its restart, move it at most twice a start and never past what correct boards accept', async () => {
    const f = await flying(23);
    f.runFrames(10);
    // b0 tells b2 every frame that it holds b2's principals at the bound from their key-file epoch (0): a jump one
    // above would be refused by every correct board (epoch-too-far), freezing b2's links. (A reporter's highest
    // report is what counts: one of the last epoch would hide this one, and is not credible alone.)
    const epochs = [DEFAULT_MAX_EPOCH_AHEAD];
    const attack = await lyingEpochReports(f, { attacker: ATTACKER, victim: VICTIM, epochs, perSecond: 25 });
    f.runFrames(40);
    const first = f.get(VICTIM);
    for (const p of VICTIM_PRINCIPALS)
      expect(first.keys.epoch(p)).toBeLessThanOrEqual(DEFAULT_MAX_EPOCH_AHEAD);
    expect(count(f, VICTIM, 'keys.epoch-report.jumped')).toBeLessThanOrEqual(
      MAX_REPORT_JUMPS * VICTIM_PRINCIPALS.length,
    );
    for (const name of CORRECT.filter((n) => n !== VICTIM)) {
      const held = f.get(name).keys.epochs().held;
      for (const p of VICTIM_PRINCIPALS) expect(held[p], `${name} holds ${p}`).toBe(first.keys.epoch(p));
    }
    await f.restart(VICTIM);
    f.runFrames(125);
    attack.stop();
    expect(attack.sent()).toBeGreaterThan(0);
    const b2 = f.get(VICTIM);
    expect(count(f, VICTIM, 'keys.epoch-report.accepted')).toBeGreaterThan(0);
    expect(count(f, VICTIM, 'keys.epoch-report.jumped')).toBeLessThanOrEqual(
      MAX_REPORT_JUMPS * VICTIM_PRINCIPALS.length,
    );
    for (const p of VICTIM_PRINCIPALS)
      expect(b2.keys.epoch(p)).toBeLessThanOrEqual(first.keys.epoch(p) + 1 + 2 * DEFAULT_MAX_EPOCH_AHEAD);
    expectRejoined(f, VICTIM);
    expectUnharmed(f);
  });

  it('EPOCH-REPORTs naming another board’s principal as the reporter are refused as wrong-source and move nothing', async () => {
    const f = await flying(29);
    f.runFrames(10);
    await f.restart(VICTIM);
    const attack = await lyingEpochReports(f, {
      attacker: ATTACKER,
      victim: VICTIM,
      epochs: [DEFAULT_MAX_EPOCH_AHEAD - 1],
      perSecond: 50,
      claim: 'other',
    });
    f.runFrames(100);
    attack.stop();
    f.runFrames(5); // the last ones land
    expect(count(f, VICTIM, 'keys.epoch-report.refused.wrong-source')).toBe(attack.sent());
    expect(count(f, VICTIM, 'keys.epoch-report.jumped')).toBe(0);
    expectRejoined(f, VICTIM);
    expectUnharmed(f);
  });

  it('forged NEW-KEYs for a restarting board are refused as wrong-source, before they spend its signature checks', async () => {
    const f = await flying(12);
    const attack = forgeNewKeys(f, { attacker: ATTACKER, victim: VICTIM, perSecond: 500 });
    f.runFrames(25);
    await f.restart(VICTIM);
    f.runFrames(125);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    expectRejoined(f, VICTIM);
    for (const name of ['mon', 'b1', 'aiu']) {
      expect(count(f, name, 'keys.new-key.refused.wrong-source')).toBe(attack.sent());
      expect(count(f, name, 'keys.new-key.refused.rate-limited')).toBe(0);
    }
  });

  it('replayed NEW-KEYs of a board restarted twice move no key back, from the replayer or under the victim’s name', async () => {
    for (const asVictim of [false, true]) {
      const f = await flying(13, { forgeableSources: asVictim });
      const attack = replayNewKeys(f, { attacker: ATTACKER, victim: VICTIM, asVictim });
      f.runFrames(25);
      await f.restart(VICTIM);
      f.runFrames(50);
      await f.restart(VICTIM); // epoch 2: the epoch-1 NEW-KEYs are old now, and replayed every frame
      f.runFrames(100);
      attack.stop();
      f.runFrames(2);
      f.runFrames(2); // what is still on the wire arrives
      expect(attack.heard()).toBe(2 * VICTIM_PRINCIPALS.length);
      expect(f.get(VICTIM).keys.epoch(VICTIM_PRINCIPALS[0]!)).toBe(2);
      expectUnharmed(f);
      expectRejoined(f, VICTIM);
      for (const name of ['mon', 'b1', 'aiu']) {
        const refused = asVictim
          ? count(f, name, 'keys.new-key.refused.stale-epoch') + count(f, name, 'keys.new-key.duplicate')
          : count(f, name, 'keys.new-key.refused.wrong-source');
        // Every replay reached mon, b1 and aiu (the victim and the replayer get none).
        if (asVictim) expect(refused, name).toBeGreaterThanOrEqual(attack.sent() / 3);
        else expect(refused, name).toBe(attack.sent() / 3);
        // Replays are not answered without bound (an answer is this board's NEW-KEYs, to the victim).
        expect(count(f, name, 'keys.new-key.answered')).toBeLessThanOrEqual(2 * 2 * 2 * 2);
      }
      await f.close();
      fleet = undefined;
    }
  });

  it('replayed CHANNEL-STATE-REQUESTs under the victim’s name are refused by nonce, and get no answers', async () => {
    const f = await flying(14, { forgeableSources: true }, undefined, true);
    const attack = replayStateRequests(f, { attacker: ATTACKER, victim: VICTIM, perSecond: 400 });
    f.runFrames(25);
    await f.restart(VICTIM);
    f.runFrames(125);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    expectRejoined(f, VICTIM);
    expect(attack.sent()).toBeGreaterThan(1000);
    // b1 answered the victim's real requests only (a rebuild asks a handful of times).
    expect(count(f, 'b1', 'rebuild.answered')).toBeLessThanOrEqual(ANSWER_BURST);
    expect(
      count(f, 'b1', 'rebuild.refused.replayed-nonce') + count(f, 'b1', 'rebuild.refused.rate-limited'),
    ).toBe(attack.sent() + count(f, VICTIM, 'rebuild.asked') - count(f, 'b1', 'rebuild.answered'));
    expect(count(f, 'b1', 'rebuild.refused.replayed-nonce')).toBeGreaterThan(attack.sent() / 2);
  });

  it('a channel asking for state every frame gets answers within the budget, not every correct channel’s whole history every frame', async () => {
    const f = await flying(15);
    let replyBytes = 0;
    f.net.tap((_from, to, bytes) => {
      if (to === ATTACKER && bytes[1] === MESSAGE_KINDS.indexOf('channel-state-reply'))
        replyBytes += bytes.length;
    });
    const attack = floodStateRequests(f, { attacker: ATTACKER });
    const frames = 150;
    f.runFrames(frames);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    const seconds = (frames * f.periodMs) / 1000;
    const bound = ANSWER_BURST + ANSWERS_PER_SECOND * seconds + 1;
    for (const name of ['b1', 'b2']) {
      expect(count(f, name, 'rebuild.answered'), name).toBeLessThanOrEqual(bound);
      // Every request was answered or refused as rate-limited (one to each of b1 and b2 per frame).
      expect(count(f, name, 'rebuild.answered') + count(f, name, 'rebuild.refused.rate-limited')).toBe(
        attack.sent() / 2,
      );
    }
    expect(replyBytes).toBeLessThanOrEqual(2 * bound * MAX_CHANNEL_STATE_BYTES);
    expect(replyBytes / seconds).toBeLessThan(2 * (ANSWERS_PER_SECOND + ANSWER_BURST) * 4096);
  });

  it('a board flooded with HELLOs still answers the rig; the flood is counted rate-limited', async () => {
    const f = await flying(16);
    const rig = f.topology.voters[0]!.board;
    const acks: number[] = [];
    f.net.tap((from, to, bytes) => {
      if (from !== VICTIM || to !== rig || !isRigMessage(bytes)) return;
      const d = decodeRigMessage(bytes);
      if (d.ok && d.message.type === 'hello-ack') acks.push(d.message.nonce);
    });
    const attack = floodHellos(f, { attacker: ATTACKER, victim: VICTIM, perSecond: 600 });
    let asked = 0;
    const ask = (): void => {
      f.net.carry(rig, VICTIM, encodeHello({ nonce: 9000 + asked, rig }));
      asked++;
      if (asked < 20) f.scheduler.at(f.scheduler.now() + 250, ask);
    };
    f.scheduler.at(100, ask);
    f.runFrames(150);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    expect(acks).toEqual(Array.from({ length: 20 }, (_, i) => 9000 + i));
    expect(count(f, VICTIM, 'rig.hello-not-answered.rate-limited')).toBeGreaterThan(attack.sent() * 0.9);
  });

  it('a flood of datagrams spends the flooder’s ingress budget: the victim loses nothing from the others', async () => {
    const f = await flying(17);
    const attack = floodDatagrams(f, { attacker: ATTACKER, victim: VICTIM, perSecond: 40_000 });
    f.runFrames(100);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    const refused = f.get(VICTIM).transport.budget!.stats().refused.datagrams;
    expect(refused).toBeGreaterThan(attack.sent() / 2);
    expect(f.get(VICTIM).transport.stats().errors['over-rate:datagrams']).toBe(refused);
  });

  it('on a classic CAN bus, state replies carry the newest states only, and a restarted channel still rebuilds', async () => {
    // The shipped CAN config without its FD data phase: 8-byte frames.
    const fd = JSON.parse(readFileSync('config/can-bus.json', 'utf8'));
    const classic = parseTopology(
      { ...fd, links: fd.links.map(({ dataBitrate: _, ...l }: { dataBitrate?: number }) => l) },
      'can-bus-classic.json',
    );
    const f = await flying(19, {}, classic, true);
    const replies: number[] = [];
    f.net.tap((_from, to, bytes) => {
      if (to === VICTIM && bytes[1] === MESSAGE_KINDS.indexOf('channel-state-reply'))
        replies.push(bytes.length);
    });
    f.runFrames(20);
    await f.restart(VICTIM);
    f.runFrames(60);
    expectUnharmed(f);
    expectRejoined(f, VICTIM);
    expect(replies.length).toBeGreaterThan(0);
    // Four states of three input units are some 360 bytes (the whole history of 16 is about 1.4 KB).
    expect(Math.max(...replies)).toBeLessThanOrEqual(CLASSIC_CAN_REPLY_STATES * 100);
  });

  it('oversize CHANNEL-STATE messages are refused by size before decoding, at rest and while rebuilding', async () => {
    const f = await flying(18, {}, undefined, true);
    const attack = oversizeChannelState(f, { attacker: ATTACKER });
    f.runFrames(25);
    await f.restart(VICTIM);
    f.runFrames(100);
    attack.stop();
    f.runFrames(2); // what is still on the wire arrives
    expectUnharmed(f);
    expectRejoined(f, VICTIM);
    const sentPerBoard = attack.sent() / 4;
    expect(count(f, 'b1', 'rebuild.refused.too-long')).toBe(sentPerBoard);
    expect(count(f, VICTIM, 'rebuild.refused.too-long')).toBeGreaterThan(0);
    expect(count(f, 'mon', 'rebuild.refused.no-channel')).toBe(sentPerBoard);
    for (const name of CORRECT)
      expect(count(f, name, 'rebuild.refused.malformed.trailing-bytes'), name).toBe(0);
  });
});
