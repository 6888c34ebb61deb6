/** Groups larger than 3f+1 (the recovery configurations of DESIGN.md): ordering and view change stay live. */
import { describe, expect, it } from 'vitest';
import { configProblems, pbftConfig } from '../../../src/core/pbft/config.ts';
import { decode, Group, op } from './harness.ts';
import { signedViewChange } from './signed.ts';

const TOPOLOGIES: readonly { n: number; f: number }[] = [
  { n: 5, f: 1 },
  { n: 6, f: 1 },
  { n: 7, f: 1 },
  { n: 7, f: 2 },
];

describe('n > 3f+1', () => {
  for (const { n, f } of TOPOLOGIES) {
    it(`n = ${n}, f = ${f}: orders requests, and replaces a silent primary`, () => {
      const g = new Group(f, {
        n,
        requestTimeoutTicks: 20,
        proposalTimeoutTicks: 8,
        viewChangeTimeoutTicks: 20,
        stallTicks: 4,
      });
      g.submit(100, op(1));
      g.pump();
      expect(g.results).toHaveLength(1);
      g.filter = (p) => p.from !== 0;
      g.submit(100, op(2));
      g.tick(120);
      expect(g.results).toHaveLength(2);
      for (let r = 1; r < n; r++) expect(g.replicas[r]!.status()).toMatchObject({ view: 1, active: true });
    });
  }

  // The shape the simulator found (seed 17, f = 2): f correct replicas left the view on their own, below the
  // join threshold; the rest must still get out of it (vouches from those that left count, and the slot timer).
  it('n = 7, f = 2: when f correct replicas left the view alone, the rest still follow', () => {
    const g = new Group(2, {
      requestTimeoutTicks: 20,
      proposalTimeoutTicks: 8,
      viewChangeTimeoutTicks: 20,
      stallTicks: 4,
    });
    // The request's PRE-PREPARE reaches replicas 5 and 6 only (it is in flight there); then they leave view 0.
    g.filter = (p) => {
      const kind = decode(p.bytes).kind;
      return !(kind === 'pre-prepare' && p.to < 5) && kind !== 'prepare';
    };
    g.submit(100, op(1));
    g.pump();
    for (const r of [5, 6]) for (const from of [2, 3, 4]) g.inject(r, from, signedViewChange(g, from, 1));
    for (const r of [5, 6]) expect(g.replicas[r]!.status()).toMatchObject({ view: 1, active: false });
    g.wire.length = 0; // their VIEW-CHANGEs are lost: replicas 1..4 stay in view 0
    g.filter = (p) => p.from !== 0; // and its primary falls silent
    g.tick(300);
    expect(g.results).toHaveLength(1);
  });

  it('the config check says why a topology is refused', () => {
    expect(configProblems(pbftConfig(1, { n: 6 }))).toEqual([]);
    const small = { ...pbftConfig(1), n: 3 };
    expect(configProblems(small)).toEqual([
      'n = 3 replicas cannot tolerate f = 1 faults: PBFT needs n >= 3f+1 = 4',
    ]);
    const many = { ...pbftConfig(1), n: 40 };
    expect(configProblems(many).join('; ')).toMatch(/maxReceivers/);
  });
});
