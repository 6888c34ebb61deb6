/**
 * The inverse big MAC attack (Aardvark, NSDI 2009) with MAC authenticators kept: a faulty client whose tags
 * verify at the primary (and at fewer than f backups) gets its request into a correct primary's PRE-PREPARE,
 * the backups cannot authenticate it, the batch never prepares and the correct primary is voted out; repeated
 * every frame, that forces view changes at will. Rules V5 to V7 of requests.ts bound it (replica.ts header):
 * at most f view changes per vouchFirstTicks, and a correct client is never late once they hold.
 *
 * Virtual time on the unit-test harness: a frame is FRAME_TICKS ticks, each frame the correct input unit and
 * the faulty client send one request and every replica gets a frame input.
 */
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/core/codec/encode.ts';
import type { PrePrepare, Request } from '../../../src/core/codec/messages.ts';
import { type PbftConfig, primaryOf } from '../../../src/core/pbft/config.ts';
import { decode, Group, op } from './harness.ts';
import { signedPrePrepare, signedRequest } from './signed.ts';

const GOOD = 100;
const BAD = 101;
const FRAME_TICKS = 10;

/** A request of `client` whose tags verify only at the replicas `valid` names (the others are zeroed). */
function request(
  g: Group,
  client: number,
  timestamp: number,
  payload: Uint8Array,
  valid: (r: number) => boolean,
): Request & { kind: 'request' } {
  return { kind: 'request', ...signedRequest(g, client, timestamp, payload, valid) };
}

function prePrepare(g: Group, view: number, seq: number, requests: Request[], breakMac = false): PrePrepare {
  return signedPrePrepare(g, { view, seq, requests, breakMac });
}

function frame(g: Group): void {
  for (let r = 0; r < g.config.n; r++) g.onReplica(r, g.stepReplica(r, { kind: 'frame' }));
  g.pump();
}

function highestView(g: Group): number {
  return Math.max(...g.replicas.map((r) => r.status().view));
}

/** Replicas that executed `client`'s request `timestamp` or a newer one (a newer sample supersedes it). */
function executedAt(g: Group, client: number, timestamp: number): number {
  return g.replicas.filter((r) => (r.cachedReply(client)?.timestamp ?? 0) >= timestamp).length;
}

interface Run {
  /** The highest view reached: every view change here is one the faulty client forced. */
  viewChanges: number;
  /**
   * Frames after the last view change settled whose correct request n - f replicas had not executed (it or a
   * newer one) by the end of the next frame.
   */
  lateAfterLast: number;
  /** Frames judged for lateAfterLast. */
  judged: number;
  /** The same count over the whole run. */
  lateTotal: number;
  /** The frame at whose end each view was first reached. */
  viewReachedAt: Map<number, number>;
}

/**
 * `frames` frames; the faulty client's tags verify only at the replicas `validAt(view)` names, for the highest
 * view any replica is in (it learns the view as a faulty client on the bus would).
 */
function attack(
  f: number,
  frames: number,
  validAt: (config: PbftConfig, view: number) => number[],
  overrides: Partial<PbftConfig> = {},
  attacking: (frame: number) => boolean = () => true,
): Run {
  const g = new Group(f, { batching: { mode: 'frame' }, noReplyClients: new Set([GOOD]), ...overrides }, 2);
  const quorum = g.config.n - g.config.f;
  const stamps: number[] = [];
  const doneBy: (number | undefined)[] = [];
  const viewReachedAt = new Map<number, number>([[0, 0]]);
  let unsettledAt = -1;
  let lastView = 0;
  for (let k = 0; k < frames; k++) {
    if (attacking(k)) {
      const valid = new Set(validAt(g.config, highestView(g)));
      const bad = request(g, BAD, k + 1, op(k & 0xff), (r) => valid.has(r));
      const bytes = encodeMessage(bad);
      for (let to = 0; to < g.config.n; to++) g.wire.push({ from: BAD, to, bytes });
    }
    stamps.push(g.submit(GOOD, op(k & 0xff, 1)));
    g.pump();
    frame(g);
    g.tick(FRAME_TICKS);
    for (let j = 0; j <= k; j++)
      if (doneBy[j] === undefined && executedAt(g, GOOD, stamps[j]!) >= quorum) doneBy[j] = k;
    const view = highestView(g);
    if (!viewReachedAt.has(view)) viewReachedAt.set(view, k);
    // The last frame in which a view change was under way or completed: requests after it are judged.
    if (view !== lastView || !g.replicas.every((r) => r.status().active && r.status().view === view))
      unsettledAt = k;
    lastView = view;
  }
  let lateTotal = 0;
  let lateAfterLast = 0;
  let judged = 0;
  for (let k = 0; k + 1 < frames; k++) {
    const late = (doneBy[k] ?? Number.POSITIVE_INFINITY) > k + 1;
    if (late) lateTotal++;
    if (k > unsettledAt) {
      judged++;
      if (late) lateAfterLast++;
    }
  }
  return { viewChanges: highestView(g), lateAfterLast, judged, lateTotal, viewReachedAt };
}

/** The view changes whose first frame lies in [from, to). */
function viewChangesIn(run: Run, from: number, to: number): number {
  return [...run.viewReachedAt].filter(([view, at]) => view > 0 && at >= from && at < to).length;
}

describe('inverse big MAC: a client whose tags verify only at the primary', () => {
  it('n = 4, f = 1, 250 frames: one view change (the first, unavoidable with MACs), then no correct request late', () => {
    const run = attack(1, 250, (c, view) => [primaryOf(c, view)]);
    console.log(`n=4 f=1: ${JSON.stringify({ ...run, viewReachedAt: [...run.viewReachedAt] })}`);
    expect(run.viewChanges).toBeLessThanOrEqual(1);
    expect(run.judged).toBeGreaterThan(200);
    expect(run.lateAfterLast).toBe(0);
  });

  it('n = 7, f = 2, tags valid at the primary and the next primary: at most f view changes, then no correct request late', () => {
    const run = attack(2, 250, (c, view) => [primaryOf(c, view), primaryOf(c, view + 1)]);
    console.log(`n=7 f=2: ${JSON.stringify({ ...run, viewReachedAt: [...run.viewReachedAt] })}`);
    expect(run.viewChanges).toBeLessThanOrEqual(2);
    expect(run.judged).toBeGreaterThan(200);
    expect(run.lateAfterLast).toBe(0);
  });

  it('marks last while the attack goes on; once they run out, at most f view changes per vouchFirstTicks', () => {
    // vouchFirstTicks of 30 frames; the client attacks for 100 frames, pauses for 60, attacks for 90.
    const window = 30;
    const run = attack(
      1,
      250,
      (c, view) => [primaryOf(c, view)],
      { vouchFirstTicks: window * FRAME_TICKS },
      (k) => k < 100 || k >= 160,
    );
    console.log(`with a pause: ${JSON.stringify({ ...run, viewReachedAt: [...run.viewReachedAt] })}`);
    // While it attacks, its own requests keep the marks up (V5): one view change in 100 frames, not one per 30.
    expect(viewChangesIn(run, 0, 100)).toBeLessThanOrEqual(1);
    // The pause lets the marks run out (its last request still waits and is proposed then): f per window.
    for (let from = 0; from < 250; from++)
      expect(viewChangesIn(run, from, from + window)).toBeLessThanOrEqual(1);
    expect(run.lateAfterLast).toBe(0);
  });

  it('without vouch-first marks (vouchFirstTicks 0) the attack forces a view change every few frames', () => {
    // The control: the same attack with the rule switched off, so the test above cannot pass by accident.
    const run = attack(1, 60, (c, view) => [primaryOf(c, view)], { vouchFirstTicks: 0 });
    expect(run.viewChanges).toBeGreaterThan(5);
  });
});

describe('a marked client authentic at 2f+1 replicas', () => {
  it('is ordered on vouches: the primary waits for 2f+1, the backup that cannot authenticate it accepts on f+1', () => {
    const g = new Group(1, { batching: { mode: 'frame' } }, 2);
    // The attack once: tags valid at primary 0 only. The view changes, and 1, 2 and 3 mark the client.
    const first = request(g, BAD, 1, op(1), (r) => r === 0);
    for (let to = 0; to < 4; to++) g.inject(to, BAD, first);
    g.pump();
    for (let k = 0; k < 20 && !g.replicas.every((r) => r.status().view === 1 && r.status().active); k++) {
      frame(g);
      g.tick(FRAME_TICKS);
    }
    expect(g.replicas.map((r) => r.status().view)).toEqual([1, 1, 1, 1]);
    expect(g.replicas.map((r) => r.status().vouchFirst)).toEqual([0, 1, 1, 1]);
    // Now tags valid at 0, 1 and 2, not at 3: three replicas vouch, and replica 3 votes on its peers' word.
    const second = request(g, BAD, 2, op(2), (r) => r !== 3);
    const before = g.rejections(3).length;
    for (let to = 0; to < 4; to++) g.inject(to, BAD, second);
    g.pump();
    for (let k = 0; k < 5; k++) {
      frame(g);
      g.tick(FRAME_TICKS);
    }
    expect(g.replicas.map((r) => r.cachedReply(BAD)?.timestamp)).toEqual([2, 2, 2, 2]);
    expect(g.replicas.map((r) => r.status().view)).toEqual([1, 1, 1, 1]);
    const later = g.rejections(3).slice(before);
    expect(later).toContain('bad-mac'); // its own tag did fail
    // The vouches of 1 and 2 (sent at once, V6) came before the PRE-PREPARE: it was accepted, never held.
    expect(later).not.toContain('request-auth-pending');
  });
});

describe('vouch-first marks: who can set them, and their bound', () => {
  function badRequest(g: Group, client: number, timestamp: number): Request {
    const { kind: _, ...r } = request(g, client, timestamp, op(1), () => false);
    return r;
  }

  it('a keyless forgery (a PRE-PREPARE whose MAC fails) marks nobody; the same PRE-PREPARE under the primary MAC marks its client', () => {
    const g = new Group(1, { batching: { mode: 'frame' } }, 1);
    const forged = prePrepare(g, 0, 1, [badRequest(g, GOOD, 1)], true);
    for (const to of [1, 2, 3]) g.inject(to, 9, forged);
    g.pump();
    expect(g.replicas.map((r) => r.status().vouchFirst)).toEqual([0, 0, 0, 0]);
    for (const to of [1, 2, 3]) expect(g.rejections(to)).toContain('bad-mac');
    // The correct client is ordered at once, without vouches: nothing marked it.
    g.submit(GOOD, op(5));
    g.pump();
    frame(g);
    expect(g.wire.filter((p) => decode(p.bytes).kind === 'vouch')).toEqual([]);
    expect(g.replicas.map((r) => r.cachedReply(GOOD)?.timestamp)).toEqual([1, 1, 1, 1]);
    // The primary's own MAC: held, and the backups mark the client when they leave the view that holds it (a
    // faulty primary can do this to a correct client).
    const real = prePrepare(g, 0, 2, [badRequest(g, GOOD, 2)]);
    for (const to of [1, 2, 3]) g.inject(to, 0, real);
    expect(g.replicas.map((r) => r.status().vouchFirst)).toEqual([0, 0, 0, 0]);
    for (let k = 0; k < 10 && g.replicas[1]!.status().view === 0; k++) frame(g);
    expect(g.replicas.map((r) => r.status().view)).toEqual([1, 1, 1, 1]);
    expect(g.replicas.map((r) => r.status().vouchFirst)).toEqual([0, 1, 1, 1]);
  });

  it('a primary flooding PRE-PREPAREs with requests of many clients marks at most maxPendingRequests of them', () => {
    const maxPendingRequests = 8;
    const g = new Group(1, { batching: { mode: 'frame' }, maxPendingRequests, maxBatchRequests: 16 }, 1);
    let client = 1000;
    for (let seq = 1; seq <= g.config.watermarkWindow; seq++) {
      const requests = Array.from({ length: 16 }, () => badRequest(g, client++, 1));
      g.inject(1, 0, prePrepare(g, 0, seq, requests)); // the harness checks invariants after every step
    }
    expect(client - 1000).toBe(16 * g.config.watermarkWindow);
    // Replica 1 leaves the view (its head never moves) holding them all.
    for (let k = 0; k < 10 && g.replicas[1]!.status().active; k++) frame(g);
    expect(g.replicas[1]!.status().active).toBe(false);
    expect(g.replicas[1]!.status().vouchFirst).toBe(maxPendingRequests);
  });
});

/**
 * A marked correct input unit (a client that reads no replies) at 100 Hz: 1 tick = 1 ms, a frame every 10
 * ticks, every message takes HOP ticks. The faulty primary of view 0 gets it marked at the backups (the cost
 * replica.ts states), the group moves to view 1, whose correct primary is one of the marking backups.
 */
describe('a marked correct client that reads no replies, at 100 Hz', () => {
  const FRAME = 10;

  interface Timing {
    /** Ticks from a request's submission until n - f replicas executed it, per request measured. */
    delays: number[];
    /** Requests measured that no replica executed (superseded: a hold frame for the loop). */
    skipped: number;
    marked: number;
  }

  function run(hop: number, phase: number, markFirst: boolean, frames = 60): Timing {
    const g = new Group(1, { batching: { mode: 'frame' }, noReplyClients: new Set([GOOD]) }, 1);
    const released = new Set<object>();
    const later: { due: number; p: (typeof g.wire)[number] }[] = [];
    g.filter = (p) => {
      if (released.delete(p)) return true;
      later.push({ due: g.now + hop, p });
      return false;
    };
    const step = (): void => {
      g.now++;
      for (let id = 0; id < g.config.n; id++)
        g.onReplica(id, g.stepReplica(id, { kind: 'tick', now: g.now }));
      if (g.now % FRAME === 0)
        for (let id = 0; id < g.config.n; id++) g.onReplica(id, g.stepReplica(id, { kind: 'frame' }));
      for (let i = 0; i < later.length; ) {
        if (later[i]!.due <= g.now) {
          const { p } = later.splice(i, 1)[0]!;
          released.add(p);
          g.wire.push(p);
        } else i++;
      }
      g.pump();
    };
    if (markFirst) {
      // The faulty primary of view 0 shows the backups a request of the correct client that fails their tags.
      const { kind: _, ...forged } = request(g, GOOD, 1_000_000, op(9), () => false);
      for (const to of [1, 2, 3]) g.inject(to, 0, prePrepare(g, 0, 1, [forged]));
      g.pump();
      for (let i = 0; i < 200 && !g.replicas.every((r) => r.status().view === 1 && r.status().active); i++) {
        if (g.now % FRAME === phase) g.submit(GOOD, op(0));
        step();
      }
      expect(g.replicas.map((r) => r.status().view)).toEqual([1, 1, 1, 1]);
      for (let i = 0; i < 5 * FRAME; i++) step(); // settle
    }
    const sent: { at: number; ts: number }[] = [];
    const delays: number[] = [];
    const quorum = g.config.n - g.config.f;
    const executed = new Set<number>();
    let last = g.replicas[1]!.cachedReply(GOOD)?.timestamp ?? 0;
    for (let i = 0; i < frames * FRAME; i++) {
      if (g.now % FRAME === phase && i < (frames - 5) * FRAME) {
        const ts = g.submit(GOOD, op(i & 0xff));
        sent.push({ at: g.now, ts });
      }
      step();
      const now = g.replicas[1]!.cachedReply(GOOD)?.timestamp ?? 0;
      if (now > last) executed.add(now);
      last = now;
      for (const s of sent) {
        if (delays.length > sent.indexOf(s)) continue;
        if (g.replicas.filter((r) => (r.cachedReply(GOOD)?.timestamp ?? 0) >= s.ts).length >= quorum)
          delays.push(g.now - s.at);
        else break;
      }
    }
    expect(delays).toHaveLength(sent.length);
    return {
      delays,
      skipped: sent.filter((s) => !executed.has(s.ts)).length,
      marked: g.replicas[1]!.status().vouchFirst,
    };
  }

  for (const hop of [1, 3]) {
    it(`hop ${hop} tick(s), every phase of the client against the frame: every request ordered, one vouch hop later at most`, () => {
      const worst = (t: Timing): number => Math.max(...t.delays);
      const report: Record<string, number>[] = [];
      let worstPlain = 0;
      for (let phase = 0; phase < FRAME; phase++) {
        const plain = run(hop, phase, false);
        const marked = run(hop, phase, true);
        report.push({ phase, plain: worst(plain), marked: worst(marked) });
        worstPlain = Math.max(worstPlain, worst(plain));
        expect(marked.marked).toBe(1); // still marked at the end: the case is what it says
        expect(plain.marked).toBe(0);
        // Every request executed itself: none superseded while it waited (no hold frame for the loop).
        expect(marked.skipped).toBe(0);
        expect(plain.skipped).toBe(0);
        // The vouches take one hop to the primary; the frame that cuts the batch may then be the next one.
        expect(worst(marked)).toBeLessThanOrEqual(worst(plain) + FRAME);
      }
      // Request, vouch, PRE-PREPARE, PREPARE, COMMIT: five hops, and at most a frame to wait for the cut.
      for (const r of report) expect(r.marked).toBeLessThanOrEqual(5 * hop + FRAME + 1);
      console.log(
        `marked no-reply client, hop ${hop}, worst unmarked ${worstPlain}: ${JSON.stringify(report)}`,
      );
    });
  }
});
