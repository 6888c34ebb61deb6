/**
 * bench/badmac-flood.ts at a tiny size: a faulty neighbour fills its serial line to the view-0 primary's board
 * with wrong 4-byte tags at the line's message-rate ceiling. Every flood message must be counted as a `bad-mac`
 * rejection (none lost, none refused for another reason), the neighbour's own messages interleaved on that line
 * must still verify as they do without the flood, ordering must go on as without it, and nothing may throw. A
 * peer writing faster than the wire (a pty) gets the ingress budget's burst counted and the rest dropped, counted.
 */
import { describe, expect, it } from 'vitest';
import { badMacFlood, DEFAULT_BADMAC, type FloodKind } from '../../bench/badmac-flood.ts';

const tiny = {
  ...DEFAULT_BADMAC,
  warmupFrames: 10,
  floodFrames: 5,
  tailFrames: 3,
  isolatedMessages: 300,
  isolatedRounds: 1,
};

describe('a flood of wrong 4-byte tags on a 921600-baud serial line', () => {
  for (const kind of ['view-change-fetch', 'commit'] as FloodKind[]) {
    it(`${kind}: every rejection counted, interleaved messages verify, ordering unchanged, no throw`, async () => {
      const r = await badMacFlood({ ...tiny, kind });
      const f = r.flooded;
      const b = r.baseline;
      const explain = JSON.stringify({ ...r, baseline: undefined });
      expect(r.tagBytes, explain).toBe(4);
      // The line at its ceiling for 5 frames at 25 Hz (0.2 s), less what the neighbour's own messages take.
      expect(f.floodSent, explain).toBeGreaterThan(0.8 * 0.2 * r.lineCeilingPerSecond.atShortest);
      expect(f.floodSent, explain).toBeLessThanOrEqual(
        Math.ceil(0.2 * r.lineCeilingPerSecond.atShortest) + 1,
      );
      expect(f.floodCountedBadMac, explain).toBe(f.floodSent);
      expect(f.badMacCounter, explain).toBe(f.floodSent);
      expect(b.badMacCounter, explain).toBe(0);
      expect(f.floodNotBadMac, explain).toEqual({});
      expect(f.floodUnaccounted, explain).toBe(0);
      expect(f.faultyLine.errors, explain).toEqual({});
      expect(f.targetRejections['bad-mac'], explain).toBe(f.floodSent);
      // The neighbour's own messages on the same line: none failed its MAC, as many accepted as without flood.
      expect(f.correctOnFaultyLine.delivered, explain).toBeGreaterThan(0);
      expect(f.correctOnFaultyLine.rejected['bad-mac'], explain).toBeUndefined();
      expect(f.correctOnFaultyLine.accepted, explain).toBe(b.correctOnFaultyLine.accepted);
      expect(f.otherLinesAccepted, explain).toBe(b.otherLinesAccepted);
      expect(f.decisionsDuringFlood, explain).toEqual(b.decisionsDuringFlood);
      expect(f.decisionsDuringFlood.write, explain).toBe(tiny.floodFrames);
      expect(f.targetLastExecuted, explain).toBe(b.targetLastExecuted);
      expect(f.throws + b.throws, explain).toBe(0);
      // The isolated loop: every message fed came up through the deframer and was counted.
      const iso = r.isolated!;
      expect(iso.fed, explain).toBe(2 * tiny.isolatedMessages);
      expect(iso.framesIn, explain).toBe(iso.fed);
      expect(iso.countedBadMac, explain).toBe(iso.fed);
      expect(iso.throws, explain).toBe(0);
      // A memory-speed writer (a pty): the ingress budget's burst is counted bad-mac, the rest dropped whole
      // reads counted as over-rate bytes; no message falls between the two.
      const burst = r.burst!;
      expect(burst.messagesCountedBadMac, explain).toBeGreaterThan(0);
      expect(burst.messagesInDroppedReads, explain).toBeGreaterThan(0);
      expect(burst.messagesCountedBadMac + burst.messagesInDroppedReads, explain).toBe(burst.messagesOffered);
      expect(burst.throws, explain).toBe(0);
      expect(r.verdict, explain).toEqual(Object.fromEntries(Object.keys(r.verdict).map((k) => [k, true])));
    }, 30_000);
  }
});
