import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkProblemsOf, loopPayloadSizes, placement, wireInput } from '../../bench/links/topology.ts';
import { linkProblems, linkSpecs } from '../../src/core/wire-budget/problems.ts';
import { worstCaseSizes } from '../../src/core/wire-budget/worst-case.ts';
import { loadTopology, parseTopology } from '../../src/runtime/config.ts';

const root = join(import.meta.dirname, '../..');
const shipped = ['laptop', 'serial-mesh', 'can-bus'].map((n) => loadTopology(join(root, `config/${n}.json`)));

describe('wire budget of a topology', () => {
  it('measures the loop’s payloads with the loop’s encoders', () => {
    const t = shipped[0]!;
    // frame (6-byte varint at 2^42 - 1), unit, stick f64, pitch-valid bool, pitch f64
    expect(loopPayloadSizes(t, 2 ** 42 - 1).op).toBe(6 + 1 + 8 + 1 + 8);
    expect(loopPayloadSizes(t, 100).op).toBe(1 + 1 + 8 + 1 + 8);
    const input = wireInput(t);
    expect(input).toMatchObject({
      n: 4,
      f: 1,
      watermarkWindow: 128,
      maxBatchRequests: 12,
      tagBytes: 8,
      clients: 3,
    });
    expect(placement(t)).toEqual({
      replicas: ['mon', 'b0', 'b1', 'b2'],
      channels: ['b0', 'b1', 'b2'],
      voters: ['aiu'],
      clients: ['aiu', 'aiu', 'aiu'],
    });
  });

  it('finds no problem on the shipped configs, whose NEW-VIEW the old 4,095-byte CAN limit refused', () => {
    for (const t of shipped) expect(linkProblemsOf(t), t.file).toEqual([]);
    const can = shipped[2]!;
    const old = linkSpecs(can.links, can.boards.length, { can: 4095 });
    expect(linkProblems(wireInput(can), old[0]!).map((p) => p.kind)).toEqual(['new-view', 'view-change']);
    expect(worstCaseSizes(wireInput(can)).bytes['new-view']).toBeGreaterThan(50_000);
  });

  it('names the link and the message for a topology whose view change outgrows UDP', () => {
    const boards = Array.from({ length: 13 }, (_, i) => ({ name: `r${i}`, roles: ['replica', 'channel'] }));
    boards.push({ name: 'io', roles: ['voter', 'input'] });
    const t = parseTopology(
      {
        name: 'big',
        f: 4,
        frameRateHz: 10,
        boards,
        links: [{ type: 'udp', basePort: 30000 }],
        timing: { checkpointInterval: 128, watermarkWindow: 512 },
      },
      'big.json',
    );
    const problems = linkProblemsOf(t);
    expect(problems[0]).toMatchObject({
      link: 'links.0 (udp)',
      kind: 'new-view',
      by: 'framing',
      limit: 65507,
    });
    expect(problems.map((p) => p.kind)).toEqual(['new-view']); // a VIEW-CHANGE of 2 x 512 entries still fits
  });
});
