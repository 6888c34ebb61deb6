/**
 * The loop over the serial mesh on virtual time (bench/links/virtual-can.ts, medium 'serial': every direction of
 * every link paced at 921600 baud, deterministic). A primary crash 29 sequence numbers past the last stable
 * checkpoint is the case that livelocked: the NEW-VIEW carries those 29 slots over, agreement on them in the
 * new view takes longer than the fixed request timeout, so the new primary timed out its own view before its
 * first batch committed and its VIEW-CHANGE moved its backups at once (handover.ts); views 1..8 followed, none
 * executed anything, 141 failsafe frames. Castro's rule (the view-change timeout, not the request timeout,
 * covers a new view until its first execution: view-change.ts graceUntil) makes it one view change.
 */
import { describe, expect, it } from 'vitest';
import { virtualCanRun } from '../../bench/links/virtual-can.ts';
import { loadTopology } from '../../src/runtime/config.ts';

const mesh = loadTopology('config/serial-mesh.json');

describe('the loop on a virtual serial mesh', () => {
  it('921600 baud at 25 Hz: a primary crash with 29 slots to carry over is one view change', async () => {
    const r = await virtualCanRun(mesh, {
      rateHz: 25,
      frames: 250,
      crashPrimaryAt: 100,
      bitrate: 921_600,
      medium: 'serial',
    });
    const explain = JSON.stringify({ ...r, counters: undefined });
    expect(r.finalViews, explain).toEqual([1, 1, 1]);
    expect(r.viewChanges, explain).toBe(3); // one NEW-VIEW installed per live replica
    expect(r.counters['replica.view-change'], explain).toBe(3);
    // Detection (4 frames) plus the NEW-VIEW and 29 re-agreed slots on the wire; the voter holds 10 frames.
    expect(r.longestMissRun, explain).toBeLessThan(16);
    expect(r.decisions.failsafe, explain).toBeLessThan(8);
    expect(r.decisions.write, explain).toBeGreaterThan(230);
  }, 30_000);
});
