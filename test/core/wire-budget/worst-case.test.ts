import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/core/codec/encode.ts';
import { DEFAULT_LIMITS } from '../../../src/core/codec/limits.ts';
import { MESSAGE_KINDS } from '../../../src/core/codec/messages.ts';
import { maximalMessage } from '../../../src/core/wire-budget/maximal.ts';
import {
  decoderProblems,
  worstCaseBounds,
  worstCaseSizes,
} from '../../../src/core/wire-budget/worst-case.ts';
import { shipped } from './shipped.ts';

describe('worst-case message sizes', () => {
  it('builds valid messages: each decodes under the default limits and re-encodes to the same bytes', () => {
    const bounds = worstCaseBounds(shipped);
    for (const kind of MESSAGE_KINDS) {
      const { bytes } = maximalMessage(kind, bounds);
      const d = decodeMessage(bytes, DEFAULT_LIMITS);
      expect(d.ok, `${kind}: ${d.ok ? '' : d.reason}`).toBe(true);
      if (d.ok) expect(encodeMessage(d.message)).toEqual(bytes);
    }
  });

  it('matches hand-computed sizes (6-byte counters, 1-byte ids)', () => {
    const s = worstCaseSizes(shipped).bytes;
    // version, kind, view, seq, digest, replica, auth count, 3 tags of 1 + 8
    expect(s.prepare).toBe(1 + 1 + 6 + 6 + 32 + 1 + 1 + 3 * 9);
    // version, kind, client, timestamp, op (1 + 24), auth count, 4 tags
    expect(s.request).toBe(1 + 1 + 1 + 6 + 25 + 1 + 4 * 9);
    // VIEW-CHANGE: newView, replica, stableSeq, stable digest, proof of 4 checkpoints (seq, digest, replica,
    // signature), P and Q of 128 entries (seq, view, digest) each with a 2-byte count, signature.
    const proof = 1 + 4 * (6 + 32 + 1 + 64);
    const entries = 2 + 128 * (6 + 6 + 32);
    const vc = 1 + 1 + 6 + 1 + 6 + 32 + proof + 2 * entries + 64;
    expect(s['view-change']).toBe(vc);
    // NEW-VIEW: view, replica, 4 VIEW-CHANGE bodies (without version and kind), 128 (seq, digest), signature.
    expect(s['new-view']).toBe(1 + 1 + 6 + 1 + 1 + 4 * (vc - 2) + 2 + 128 * (6 + 32) + 64);
    expect(worstCaseSizes(shipped).checkpointProofBytes).toBe(proof - 1);
    expect(worstCaseSizes(shipped).largest.kind).toBe('new-view');
  });

  it('grows with the window, n and the tag length as the encoding says', () => {
    const base = worstCaseSizes(shipped).bytes;
    const wider = worstCaseSizes({ ...shipped, watermarkWindow: 256 }).bytes;
    expect(wider['view-change'] - base['view-change']).toBe(2 * 128 * 44);
    const n7 = worstCaseSizes({ ...shipped, n: 7, f: 2 }).bytes;
    expect(n7.prepare - base.prepare).toBe(3 * 9); // three more tags
    const tags4 = worstCaseSizes({ ...shipped, tagBytes: 4 }).bytes;
    expect(base.request - tags4.request).toBe(4 * 4);
    // The largest batch of the largest requests, one tag per other replica.
    const pp = maximalMessage('pre-prepare', worstCaseBounds(shipped)).message;
    expect(pp.kind === 'pre-prepare' && pp.batch.kind).toBe('full');
  });

  it('finds bounds the receivers would refuse', () => {
    expect(decoderProblems(shipped)).toEqual([]);
    const problems = decoderProblems({ ...shipped, watermarkWindow: 1024, maxOpBytes: 5000 });
    expect(problems.map((p) => p.limit).sort()).toEqual(['maxCertEntries', 'maxOpBytes']);
    expect(problems[0]!.text).toMatch(/the decoder allows/);
  });
});
