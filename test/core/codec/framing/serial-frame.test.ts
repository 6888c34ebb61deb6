import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsEncode } from '../../../../src/core/codec/framing/cobs.ts';
import { crc32c, writeU32LE } from '../../../../src/core/codec/framing/crc.ts';
import {
  encodeSerialFrame,
  SerialDeframer,
  serialFrameLength,
} from '../../../../src/core/codec/framing/serial-frame.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Cut `bytes` at the given (sorted, deduplicated) positions. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Body without delimiters, with a chosen CRC, for hand-made bad frames. */
function rawFrame(payload: Uint8Array, crc = crc32c(payload)): Uint8Array {
  const body = new Uint8Array(payload.length + 4);
  body.set(payload);
  writeU32LE(body, payload.length, crc);
  return concat([Uint8Array.of(0), cobsEncode(body), Uint8Array.of(0)]);
}

describe('serial framing', () => {
  it('frames a payload between delimiters with no zero inside', () => {
    const frame = encodeSerialFrame(Uint8Array.of(0, 1, 2, 0));
    expect(frame[0]).toBe(0);
    expect(frame[frame.length - 1]).toBe(0);
    expect(frame.subarray(1, -1).includes(0)).toBe(false);
    expect(frame.length).toBeLessThanOrEqual(serialFrameLength(4));
    expect(() => encodeSerialFrame(new Uint8Array(0))).toThrow(RangeError);
  });

  it('round-trips payloads over split and merged reads', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const deframer = new SerialDeframer({ maxPayload: 300 });
          const stream = concat(payloads.map(encodeSerialFrame));
          const got = split(stream, cuts).flatMap((chunk) => deframer.push(chunk));
          expect(got.map(hex)).toEqual(payloads.map(hex));
          expect(deframer.stats()).toEqual({ cobs: 0, crc: 0, 'too-long': 0, empty: 0 });
          expect(deframer.pending()).toBe(0);
        },
      ),
      { seed: 0x5e71a1, numRuns: 300 },
    );
  });

  it('counts each kind of bad frame and keeps going', () => {
    const d = new SerialDeframer({ maxPayload: 16 });
    const good = Uint8Array.of(1, 2, 3);
    const stream = concat([
      rawFrame(good, 0xdeadbeef), // crc
      Uint8Array.of(0, 0x09, 0x41, 0), // cobs: code overruns the block
      rawFrame(new Uint8Array(0)), // empty: only a CRC
      Uint8Array.of(0x03, 0x01, 0x02, 0), // empty: decodes to fewer than 4 bytes
      rawFrame(new Uint8Array(17).fill(7)), // too long after decoding, but the encoded length fits the buffer
      encodeSerialFrame(good),
      new Uint8Array(100).fill(0x55), // too long: a run without a delimiter
      encodeSerialFrame(good),
      Uint8Array.of(0, 0, 0), // idle fill: not an error
    ]);
    const got = d.push(stream);
    expect(got.map(hex)).toEqual([hex(good), hex(good)]);
    expect(d.stats()).toEqual({ cobs: 1, crc: 1, 'too-long': 2, empty: 2 });
    expect(d.frames()).toBe(2);
  });

  it('never buffers an endless run: memory stays bounded and one too-long is counted', () => {
    const d = new SerialDeframer({ maxPayload: 64 });
    const noise = new Uint8Array(1000).fill(0xaa);
    for (let i = 0; i < 100; i++) expect(d.push(noise)).toEqual([]);
    expect(d.pending()).toBeLessThanOrEqual(serialFrameLength(64));
    expect(d.stats()['too-long']).toBe(1);
    const payload = Uint8Array.of(9, 8, 7);
    expect(d.push(encodeSerialFrame(payload)).map(hex)).toEqual([hex(payload)]);
  });

  it('resync after lost bytes skips to the next delimiter, silently, and takes the frames after it', () => {
    const d = new SerialDeframer({ maxPayload: 64 });
    const a = encodeSerialFrame(Uint8Array.of(1, 2, 3));
    const b = encodeSerialFrame(Uint8Array.of(4, 5, 6));
    // The first half of `a` arrives, its second half is lost (the link dropped it), then `b` arrives.
    expect(d.push(a.subarray(0, 3))).toEqual([]);
    d.resync();
    expect(d.push(b).map(hex)).toEqual([hex(Uint8Array.of(4, 5, 6))]);
    // Lost bytes in the middle of a frame whose tail then arrives: the tail is skipped, not counted as corrupt.
    d.resync();
    expect(d.push(concat([a.subarray(4), b])).map(hex)).toEqual([hex(Uint8Array.of(4, 5, 6))]);
    expect(d.stats()).toEqual({ cobs: 0, crc: 0, 'too-long': 0, empty: 0 });
  });

  type Fault =
    | { kind: 'none' }
    | { kind: 'garbage-before'; junk: Uint8Array }
    | { kind: 'garbage-inside'; at: number; junk: Uint8Array }
    | { kind: 'flip'; at: number; bit: number };

  const fault: fc.Arbitrary<Fault> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Fault>({ kind: 'none' }) },
    {
      weight: 2,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 40 })
        .map((junk): Fault => ({ kind: 'garbage-before', junk })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ at: fc.nat(), junk: fc.uint8Array({ minLength: 1, maxLength: 40 }) })
        .map(({ at, junk }): Fault => ({ kind: 'garbage-inside', at, junk })),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) })
        .map(({ at, bit }): Fault => ({ kind: 'flip', at, bit })),
    },
  );

  /** Apply a fault to one frame; report whether the frame's own bytes were touched. */
  function applyFault(frame: Uint8Array, f: Fault): { bytes: Uint8Array; hit: boolean } {
    switch (f.kind) {
      case 'none':
        return { bytes: frame, hit: false };
      case 'garbage-before':
        return { bytes: concat([f.junk, frame]), hit: false };
      case 'garbage-inside': {
        const at = 1 + (f.at % (frame.length - 1)); // strictly after the leading delimiter
        return { bytes: concat([frame.subarray(0, at), f.junk, frame.subarray(at)]), hit: true };
      }
      case 'flip': {
        const bytes = frame.slice();
        const at = f.at % bytes.length; // delimiters included
        bytes[at]! ^= 1 << f.bit;
        return { bytes, hit: true };
      }
    }
  }

  it('recovers after injected garbage and bit flips: untouched payloads come out intact, nothing corrupt', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ payload: fc.uint8Array({ minLength: 1, maxLength: 200 }), fault }), {
          maxLength: 25,
        }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (items, cuts) => {
          const deframer = new SerialDeframer({ maxPayload: 200 });
          const faulted = items.map(({ payload, fault: f }) => applyFault(encodeSerialFrame(payload), f));
          // The trailing 0x00 stands for the next frame's delimiter, flushing a frame whose own was hit.
          const stream = concat([...faulted.map((x) => x.bytes), Uint8Array.of(0)]);
          const got = split(stream, cuts)
            .flatMap((chunk) => deframer.push(chunk))
            .map(hex);
          // Nothing corrupt: the output is a subsequence of what was sent, in order.
          const sent = items.map((x) => hex(x.payload));
          let i = 0;
          for (const g of got) {
            while (i < sent.length && sent[i] !== g) i++;
            expect(i, `unexpected payload ${g}`).toBeLessThan(sent.length);
            i++;
          }
          // Every frame whose own bytes were untouched arrives.
          const intact = items.filter((_, k) => !faulted[k]!.hit).map((x) => hex(x.payload));
          for (const p of intact) expect(got).toContain(p);
          expect(got.length).toBe(deframer.frames());
          const rejected = Object.values(deframer.stats()).reduce((a, b) => a + b, 0);
          if (faulted.some((x) => x.hit)) expect(rejected).toBeGreaterThan(0);
        },
      ),
      { seed: 0x6a7ba6e, numRuns: 400 },
    );
  });
});
