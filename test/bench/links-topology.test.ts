import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linkProblemsOf, loopPayloadSizes, placement, wireInput } from '../../bench/links/topology.ts';
import { linkProblems, linkSpecs } from '../../src/core/wire-budget/problems.ts';
import { worstCaseSizes } from '../../src/core/wire-budget/worst-case.ts';
import { ConfigError, loadTopology, parseTopology } from '../../src/runtime/config.ts';

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

  it('names the link and the message for a topology whose view change outgrows UDP (refused at load)', () => {
    const boards = Array.from({ length: 13 }, (_, i) => ({ name: `r${i}`, roles: ['replica', 'channel'] }));
    boards.push({ name: 'io', roles: ['voter', 'input'] });
    const raw = {
      name: 'big',
      f: 4,
      frameRateHz: 10,
      boards,
      links: [{ type: 'udp', basePort: 30000 }],
      timing: { checkpointInterval: 128, watermarkWindow: 512 },
    };
    let error: ConfigError | undefined;
    try {
      parseTopology(raw, 'big.json');
    } catch (e) {
      if (e instanceof ConfigError) error = e;
    }
    // The config check (src/runtime/config-links.ts) refuses it with the same problem linkProblemsOf names:
    // only the NEW-VIEW (a VIEW-CHANGE of 2 x 512 entries still fits).
    expect(error?.issues.map((i) => i.field)).toEqual(['links.0']);
    expect(error?.message).toMatch(
      /^big\.json: links\.0: links\.0 \(udp\): the largest new-view \(\d+ bytes, for n=13/,
    );
    expect(error?.message).toMatch(/does not fit the 65507-byte limit of the link framing/);
  });
});
