/**
 * The config-time link check (src/runtime/config-links.ts): a config whose link cannot carry its protocol is
 * refused with the file, the link's field and why, one test per rule; the shipped configs pass.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/runtime/config.ts';
import { readConfig, refusal } from './config-fixtures.ts';

const can = readConfig('config/can-bus.json');
const mesh = readConfig('config/serial-mesh.json');
const laptop = readConfig('config/laptop.json');

const timing = (c: Record<string, unknown>, t: Record<string, number>) => ({
  ...c,
  timing: { ...(c.timing as object), ...t },
});

describe('config link budget check', () => {
  it('accepts the shipped configs at their rates', () => {
    for (const c of [can, mesh, laptop]) expect(() => parseTopology(c, 'shipped.json')).not.toThrow();
  });

  it('refuses a link whose transport cannot carry the largest message (a UDP datagram and a NEW-VIEW)', () => {
    const udp = {
      ...timing(laptop, { watermarkWindow: 256 }),
      links: [{ type: 'udp', basePort: 40000 }],
    };
    const e = refusal(udp);
    expect(e.issues[0]!.field).toBe('links.0');
    expect(e.message).toMatch(/^my\.json: links\.0: links\.0 \(udp\): the largest new-view \(\d+ bytes/);
    expect(e.message).toMatch(/does not fit the 65507-byte limit of the link framing/);
    // The same window over serial links (256 KiB messages) is fine.
    expect(() => parseTopology(timing(mesh, { watermarkWindow: 256 }), 'mesh.json')).not.toThrow();
  });

  it('refuses a frame rate whose frame traffic loads a link past 100%, and says what the link carries', () => {
    const e = refusal({ ...can, frameRateHz: 200 });
    expect(e.issues.map((i) => i.field)).toEqual(['links.0']);
    expect(e.message).toMatch(
      /^my\.json: links\.0: links\.0 \(can-fd-1M-2M\): one frame's messages .* take [\d.]+ ms of the bus; at frameRateHz 200 the period is 5\.00 ms, so the link would be \d+% loaded \(the most it carries is \d+ Hz at 100%, \d+ Hz at 50%\)/,
    );
    // Classic CAN (no data phase) at the rate FD carries is refused too; a serial mesh names each busy link.
    const classic = { ...can, links: [{ ...(can.links as object[])[0], dataBitrate: undefined }] };
    expect(refusal({ ...classic, frameRateHz: 100 }).issues[0]!.field).toBe('links.0');
    const fields = refusal({ ...mesh, frameRateHz: 400 }).issues.map((i) => i.field);
    expect(fields.length).toBeGreaterThan(0);
    for (const f of fields) expect(f).toMatch(/^links\.\d+$/);
  });

  it('refuses a view-change timeout too short for the worst-case view change to cross the link', () => {
    // Timeouts have a floor from the link (a typical view change: one checkpoint interval of entries), so only a
    // window far larger than the checkpoint interval leaves a worst case beyond the timeout's ceiling.
    const long = { checkpointInterval: 4, watermarkWindow: 384 };
    const e = refusal(timing({ ...mesh, frameRateHz: 100 }, { ...long, viewChangeTimeoutFrames: 2 }));
    expect(e.issues.length).toBe(10); // every link of the mesh
    expect(e.issues[0]!.field).toBe('links.0');
    expect(e.message).toMatch(
      /links\.0 \(serial-921600 b0-b1\): the worst-case view change \(VIEW-CHANGE \d+ bytes, NEW-VIEW \d+ bytes, for window 384\) takes [\d.]+ s on the link, more than the longest view-change timeout \([\d.]+ s/,
    );
    const ok = timing({ ...mesh, frameRateHz: 100 }, { ...long, viewChangeTimeoutFrames: 200 });
    expect(() => parseTopology(ok, 'x.json')).not.toThrow();
  });

  it('refuses a group the PBFT parameters cannot form, under timing', () => {
    const e = refusal(timing(laptop, { checkpointInterval: 400, watermarkWindow: 800 }));
    expect(e.issues[0]!.field).toBe('timing');
    expect(e.message).toMatch(/watermarkWindow exceeds maxCertEntries/);
  });
});
