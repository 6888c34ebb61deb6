/** Groups larger than 3f+1 (the recovery configurations of DESIGN.md): ordering and view change stay live. */
import { describe, expect, it } from 'vitest';
import { configProblems, pbftConfig } from '../../../src/core/pbft/config.ts';
import { Group, op } from './harness.ts';

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
