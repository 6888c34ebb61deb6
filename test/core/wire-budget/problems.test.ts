import { describe, expect, it } from 'vitest';
import { CAN_MAX_MESSAGE_LIMIT } from '../../../src/core/codec/framing/can-segment.ts';
import { canFd, classicCan, serialLink } from '../../../src/core/wire-budget/link-cost.ts';
import { linkProblems, linkSpecs, worstCaseWireTimes } from '../../../src/core/wire-budget/problems.ts';
import { worstCaseSizes } from '../../../src/core/wire-budget/worst-case.ts';
import { shipped } from './shipped.ts';

describe('link problems', () => {
  it('names the link and the messages the old 4,095-byte CAN segmentation could not carry', () => {
    const problems = linkProblems(shipped, {
      name: 'links.0 (can)',
      link: canFd(1e6, 2e6),
      maxMessage: 4095,
    });
    expect(problems.map((p) => p.kind)).toEqual(['new-view', 'view-change']);
    expect(problems[0]!.text).toMatch(
      /^links\.0 \(can\): the largest new-view \(52100 bytes.*4095-byte limit/,
    );
    expect(problems[0]!.by).toBe('transport');
  });

  it('passes the shipped configs on today’s framing; fails a window whose NEW-VIEW outgrows it', () => {
    expect(linkProblems(shipped, { name: 'can', link: classicCan(1e6) })).toEqual([]);
    expect(
      linkProblems(shipped, { name: 'serial', link: serialLink(921_600), maxMessage: 256 * 1024 }),
    ).toEqual([]);
    // Window 512 (the decoder's maximum): n VIEW-CHANGEs of 2 x 512 entries each.
    const big = { ...shipped, watermarkWindow: 512, n: 13, f: 4 };
    expect(worstCaseSizes(big).bytes['new-view']).toBeGreaterThan(CAN_MAX_MESSAGE_LIMIT);
    const p = linkProblems(big, { name: 'links.0', link: classicCan(1e6) });
    expect(p[0]).toMatchObject({ kind: 'new-view', by: 'framing', limit: CAN_MAX_MESSAGE_LIMIT });
    // UDP datagrams stop at 65,507 bytes
    expect(linkProblems(big, { name: 'udp', link: { kind: 'udp' } })[0]?.by).toBe('framing');
  });

  it('reads a topology file’s links', () => {
    const specs = linkSpecs(
      [
        { type: 'serial', between: ['b0', 'b1'], baud: 921_600 },
        { type: 'can', bitrate: 1_000_000, dataBitrate: 2_000_000 },
        { type: 'can', bitrate: 500_000 },
        { type: 'memory' },
      ],
      20,
      { serial: 256 * 1024 },
    );
    expect(specs.map((s) => s.name)).toEqual([
      'links.0 (serial-921600 b0-b1)',
      'links.1 (can-fd-29bit-1M-2M)',
      'links.2 (can-classic-29bit-500k)',
      'links.3 (memory)',
    ]);
    expect(specs[0]!.maxMessage).toBe(256 * 1024);
  });

  it('says how long the worst case holds a link', () => {
    const t = worstCaseWireTimes(shipped, classicCan(1e6));
    // 52,100 bytes in 7-byte consecutive frames of 135 bits: about 1 s of a 1 Mbit/s bus.
    expect(t['new-view']).toBeGreaterThan(0.9);
    expect(t['new-view']).toBeLessThan(1.1);
    expect(worstCaseWireTimes(shipped, canFd(1e6, 5e6))['new-view']).toBeLessThan(0.2);
  });
});
