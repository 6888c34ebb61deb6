import { describe, expect, it } from 'vitest';
import { type CanFrame, canDataFrame } from '../../src/io/can-frame.ts';
import {
  encodeSlcanFrame,
  parseSlcanFrame,
  parseSlcanReply,
  SlcanLineSplitter,
  slcanBitrateCode,
} from '../../src/io/slcan-codec.ts';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('SLCAN frame lines', () => {
  const cases: [string, CanFrame][] = [
    ['t1232ABCD', canDataFrame(0x123, bytes(0xab, 0xcd))],
    ['t7FF0', canDataFrame(0x7ff, bytes())],
    [
      'T1FFFFFFF80102030405060708',
      canDataFrame(0x1fffffff, bytes(1, 2, 3, 4, 5, 6, 7, 8), { extended: true }),
    ],
    ['r1005', { ...canDataFrame(0x100, bytes(), { remote: true }), dlc: 5 }],
    ['R000000AB8', { ...canDataFrame(0xab, bytes(), { remote: true, extended: true }), dlc: 8 }],
    ['d0219' + '00'.repeat(12), canDataFrame(0x21, new Uint8Array(12), { fd: true })],
    [
      'D00000001F' + 'EE'.repeat(64),
      canDataFrame(1, new Uint8Array(64).fill(0xee), { fd: true, extended: true }),
    ],
    ['b12380102030405060708', canDataFrame(0x123, bytes(1, 2, 3, 4, 5, 6, 7, 8), { fd: true, brs: true })],
    [
      'B1234567880000000000000000',
      canDataFrame(0x12345678, new Uint8Array(8), { fd: true, brs: true, extended: true }),
    ],
  ];

  it.each(cases)('%s', (line, frame) => {
    expect(encodeSlcanFrame(frame)).toBe(line);
    const parsed = parseSlcanFrame(line);
    expect(parsed.ok && parsed.frame).toEqual(frame);
  });

  it('pads a CAN FD frame to the next valid length', () => {
    const nine = canDataFrame(0x123, bytes(1, 2, 3, 4, 5, 6, 7, 8, 9), { fd: true, brs: true });
    expect(encodeSlcanFrame(nine)).toBe('b1239010203040506070809000000');
  });

  it('accepts lower-case hex and a trailing 4-digit timestamp', () => {
    const p = parseSlcanFrame('t1232abcdEA5F');
    expect(p.ok && Buffer.from(p.frame.data).toString('hex')).toBe('abcd');
  });

  it.each([
    ['', 'not a frame'],
    ['x123', 'not a frame'],
    ['t12', 'short'],
    ['t12G1AA', 'bad hex'],
    ['t8001AA', 'id out of range'],
    ['t1239' + '00'.repeat(9), 'dlc out of range'],
    ['t1232AB', 'length mismatch'],
    ['t1232ABCDE', 'length mismatch'],
    ['t1231ZZ', 'bad hex'],
    ['T2000000010', 'id out of range'],
  ])('rejects %j (%s)', (line, reason) => {
    expect(parseSlcanFrame(line)).toEqual({ ok: false, reason });
  });
});

describe('SLCAN replies', () => {
  it('classifies every reply kind', () => {
    expect(parseSlcanReply('')).toEqual({ kind: 'ok' });
    expect(parseSlcanReply('z')).toEqual({ kind: 'ok' });
    expect(parseSlcanReply('Z')).toEqual({ kind: 'ok' });
    expect(parseSlcanReply('\x07')).toEqual({ kind: 'error' });
    expect(parseSlcanReply('V1013')).toEqual({ kind: 'version', which: 'V', text: '1013' });
    expect(parseSlcanReply('vEMU1')).toEqual({ kind: 'version', which: 'v', text: 'EMU1' });
    expect(parseSlcanReply('NA123')).toEqual({ kind: 'serial', text: 'A123' });
    expect(parseSlcanReply('F0C')).toEqual({ kind: 'status', flags: 0x0c });
    expect(parseSlcanReply('t0011FF').kind).toBe('frame');
    expect(parseSlcanReply('F1').kind).toBe('malformed');
    expect(parseSlcanReply('FXY').kind).toBe('malformed');
    expect(parseSlcanReply('V\x01').kind).toBe('malformed');
    expect(parseSlcanReply('hello').kind).toBe('malformed');
  });

  it('maps bit rates to S codes and refuses others', () => {
    expect(slcanBitrateCode(1_000_000)).toBe(8);
    expect(slcanBitrateCode(125_000)).toBe(4);
    expect(() => slcanBitrateCode(333_333)).toThrow(/no S code/);
  });

  it('splits lines at CR, makes BEL a line of its own, ignores LF, bounds line length', () => {
    const lines: string[] = [];
    let tooLong = 0;
    const s = new SlcanLineSplitter(
      (l) => lines.push(l),
      () => tooLong++,
    );
    s.push(Buffer.from('V10'));
    s.push(Buffer.from('13\r\n\x07t0010\rjunk\x07'));
    s.push(Buffer.from(`${'A'.repeat(500)}\rF00\r`));
    expect(lines).toEqual(['V1013', '\x07', 't0010', 'junk', '\x07', 'F00']);
    expect(tooLong).toBe(1);
  });
});
