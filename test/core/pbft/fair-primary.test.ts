/**
 * Rule W4 (pending.ts excuseFullBatch): a backup does not count against the primary the frames it spent on full
 * batches of requests that were here before a waiting request was vouched for; only those. Frame mode, one
 * request a batch, so the batch bound is what makes requests wait.
 *
 *  - A correct primary at its batch bound, with a big-MAC client (tags bad only in the primary's slot: the primary
 *    learns its requests only from vouches, after the others) keeps its view. sim:seeds seeds 9586 and 1618 voted
 *    such a primary out before W4; this test fails with excuseFullBatch disabled.
 *  - A faulty primary that censors one client and fills every batch with requests newer than the censored one is
 *    voted out at most W4's stated slack (the vouch delay and stallTicks) later than one that proposes nothing.
 *  - One that first serves the requests that were already waiting is excused at most those frames more.
 */
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/core/codec/encode.ts';
import type { PbftConfig } from '../../../src/core/pbft/config.ts';
import type { ReplicaEvent } from '../../../src/core/pbft/types.ts';
import { Group, op } from './harness.ts';
import { signedPrePrepare, signedRequest } from './signed.ts';

const FRAME_TICKS = 20;
const VICTIM = 100;
/** Clients 101.. : the other load. */
const FIRST_OTHER = 101;
const OTHERS = 30;
const CONFIG: Partial<PbftConfig> = {
  batching: { mode: 'frame' },
  maxMissedFrames: 3,
  maxBatchRequests: 1,
  maxInFlight: 4,
  stallTicks: 40,
  requestTimeoutTicks: 2000,
  viewChangeTimeoutTicks: 500,
  maxViewChangeTimeoutTicks: 8000,
};
/**
 * W4's stated slack: requests that arrived before the victim's 2f+1 vouches were known (a backup vouches after two
 * frames) or within stallTicks after may go first.
 */
const SLACK_FRAMES = 2 + Math.ceil(CONFIG.stallTicks! / FRAME_TICKS);
type ViewChangeEvent = Extract<ReplicaEvent, { type: 'view-change' }>;

function frame(g: Group): void {
  g.tick(FRAME_TICKS);
  for (let r = 0; r < g.config.n; r++) g.onReplica(r, g.stepReplica(r, { kind: 'frame' }));
  g.pump();
}

/** A client's request sent to every replica straight from the client (tags bad where `validAt` says). */
function send(g: Group, client: number, timestamp: number, validAt?: (r: number) => boolean): void {
  const r = signedRequest(g, client, timestamp, op(client % 256, timestamp), validAt);
  const bytes = encodeMessage({ kind: 'request', ...r });
  for (let to = 0; to < g.config.n; to++) g.wire.push({ from: client, to, bytes });
  g.pump();
}

function votedOut(g: Group, view: number): ViewChangeEvent[] {
  return g.events
    .filter((e) => e.replica !== 0 && e.event.type === 'view-change')
    .map((e) => e.event as ViewChangeEvent)
    .filter((e) => e.view === view + 1);
}

describe('W4: a correct primary at its batch bound keeps its view', () => {
  it('five clients at one request a batch and a big-MAC client: no view change, every client served', () => {
    const g = new Group(1, CONFIG, 1 + OTHERS);
    const loaded = [FIRST_OTHER, FIRST_OTHER + 1, FIRST_OTHER + 2, FIRST_OTHER + 3];
    const next = new Map<number, number>([...loaded, VICTIM].map((c) => [c, 1]));
    const executedUpTo = (client: number): number => g.replicas[1]!.cachedReply(client)?.timestamp ?? 0;
    for (let i = 0; i < 60; i++) {
      // Every client sends its next request once its last one executed (as a client that reads replies does).
      for (const c of next.keys()) {
        const ts = next.get(c)!;
        if (executedUpTo(c) >= ts - 1) {
          send(g, c, ts, c === VICTIM ? (r) => r !== 0 : undefined);
          next.set(c, ts + 1);
        }
      }
      frame(g);
    }
    expect(g.eventsOf('view-change')).toEqual([]);
    expect(executedUpTo(VICTIM)).toBeGreaterThan(3);
    for (const c of loaded) expect(executedUpTo(c)).toBeGreaterThan(8);
  });
});

describe('W4 excuses only what was already waiting', () => {
  /**
   * Replica 0 turns faulty: it sends nothing of its own, only a PRE-PREPARE per frame with one request, never the
   * victim's. `serve(frame)` names the request of each frame: one sent to every replica just before.
   */
  function censor(
    g: Group,
    serve: (frame: number) => { client: number; fresh: boolean } | undefined,
  ): number {
    g.filter = (p) => p.from !== 0;
    let seq = g.replicas[1]!.status().lastExecuted;
    for (let i = 1; i <= 30; i++) {
      const pick = serve(i);
      if (pick !== undefined) {
        if (pick.fresh) send(g, pick.client, 1);
        const request = signedRequest(g, pick.client, 1, op(pick.client % 256, 1));
        seq++;
        for (const to of [1, 2, 3])
          g.inject(to, 0, signedPrePrepare(g, { view: 0, seq, requests: [request] }));
        g.pump();
      }
      frame(g);
      if (votedOut(g, 0).length >= 3) return i;
    }
    return Number.POSITIVE_INFINITY;
  }

  it('fresh requests in every batch excuse no more than the stated slack: voted out like a primary that proposes nothing', () => {
    const idle = new Group(1, CONFIG, 1 + OTHERS);
    send(idle, VICTIM, 1);
    const framesIdle = censor(idle, () => undefined);

    const busy = new Group(1, CONFIG, 1 + OTHERS);
    send(busy, VICTIM, 1);
    const framesBusy = censor(busy, (i) => ({ client: FIRST_OTHER + i, fresh: true }));

    expect(framesIdle).toBeLessThanOrEqual(CONFIG.maxMissedFrames! + 3);
    expect(framesBusy).toBeGreaterThanOrEqual(framesIdle);
    expect(framesBusy).toBeLessThanOrEqual(framesIdle + SLACK_FRAMES);
    expect(votedOut(busy, 0).map((e) => e.reason)).toEqual(['slow-primary', 'slow-primary', 'slow-primary']);
    // Every fresh batch executed: the primary kept the rate for others and still lost its view.
    expect(busy.replicas[1]!.status().lastExecuted).toBeGreaterThanOrEqual(framesBusy - 1);
  });

  it('requests waiting before the victim excuse one frame each, and no more than that and the slack', () => {
    const ahead = 4;
    const g = new Group(1, CONFIG, 1 + OTHERS);
    g.filter = (p) => p.from !== 0; // the primary never proposes these itself
    for (let c = 0; c < ahead; c++) send(g, FIRST_OTHER + c, 1);
    send(g, VICTIM, 1);
    const frames = censor(g, (i) =>
      i <= ahead ? { client: FIRST_OTHER + i - 1, fresh: false } : { client: FIRST_OTHER + i, fresh: true },
    );

    const idle = new Group(1, CONFIG, 1 + OTHERS);
    send(idle, VICTIM, 1);
    const framesIdle = censor(idle, () => undefined);
    expect(frames).toBeGreaterThan(framesIdle);
    expect(frames).toBeLessThanOrEqual(framesIdle + ahead + SLACK_FRAMES);
  });
});
