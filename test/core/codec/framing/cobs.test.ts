import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../../../../src/core/codec/framing/cobs.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('COBS', () => {
  it('encodes the reference examples', () => {
    expect(hex(cobsEncode(Uint8Array.of()))).toBe('01');
    expect(hex(cobsEncode(Uint8Array.of(0x00)))).toBe('0101');
    expect(hex(cobsEncode(Uint8Array.of(0x00, 0x00)))).toBe('010101');
    expect(hex(cobsEncode(Uint8Array.of(0x11, 0x22, 0x00, 0x33)))).toBe('0311220233');
    expect(hex(cobsEncode(Uint8Array.of(0x11, 0x00, 0x00, 0x00)))).toBe('0211010101');
    const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    const enc = cobsEncode(run254);
    expect(enc[0]).toBe(0xff);
    expect(enc.length).toBe(cobsMaxEncodedLength(254));
  });

  it('round-trips any bytes, never emits 0x00 and stays within the length bound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (payload) => {
        const enc = cobsEncode(payload);
        expect(enc.includes(0)).toBe(false);
        expect(enc.length).toBeLessThanOrEqual(cobsMaxEncodedLength(payload.length));
        const dec = cobsDecode(enc);
        expect(dec.ok && hex(dec.bytes)).toBe(hex(payload));
      }),
      { seed: 0xc0b5, numRuns: 500 },
    );
  });

  it('decodes a long zero-free run encoded without the trailing code byte', () => {
    const run = new Uint8Array(255);
    run[0] = 0xff;
    run.fill(7, 1);
    const dec = cobsDecode(run);
    expect(dec.ok && dec.bytes.length).toBe(254);
  });

  it('rejects empty, zero-containing and overrunning blocks with a reason', () => {
    expect(cobsDecode(Uint8Array.of())).toEqual({ ok: false, reason: 'empty' });
    expect(cobsDecode(Uint8Array.of(0x03, 0x00, 0x01))).toEqual({ ok: false, reason: 'zero-byte' });
    expect(cobsDecode(Uint8Array.of(0x00))).toEqual({ ok: false, reason: 'zero-byte' });
    expect(cobsDecode(Uint8Array.of(0x05, 0x01))).toEqual({ ok: false, reason: 'overrun' });
  });

  it('is total: arbitrary input gives bytes or a reason, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (junk) => {
        const dec = cobsDecode(junk);
        if (dec.ok) expect(dec.bytes.length).toBeLessThanOrEqual(junk.length);
        else expect(['empty', 'zero-byte', 'overrun']).toContain(dec.reason);
      }),
      { seed: 0xc0b6, numRuns: 1000 },
    );
  });
});
