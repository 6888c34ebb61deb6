import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CAN_REJECTIONS,
  CanReassembler,
  type CanReassemblerOptions,
  type CanRejection,
} from '../../../../src/core/codec/framing/can-reassembly.ts';
import {
  CAN_MAX_MESSAGE_LIMIT,
  type CanFrameData,
  CanSegmenter,
  canFdPad,
  segmentMessage,
} from '../../../../src/core/codec/framing/can-segment.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function options(frameData: CanFrameData, over: Partial<CanReassemblerOptions> = {}): CanReassemblerOptions {
  return {
    frameData,
    maxMessage: 4095,
    maxPartialsPerSender: 2,
    maxSenders: 16,
    timeout: 1_000_000,
    ...over,
  };
}

function zeroStats(): Record<CanRejection, number> {
  return Object.fromEntries(CAN_REJECTIONS.map((r) => [r, 0])) as Record<CanRejection, number>;
}

/** What a driver puts on the bus: classic frames as they are, FD frames padded to a valid DLC length. */
function onBus(frame: Uint8Array, frameData: CanFrameData): Uint8Array {
  return frameData === 64 ? canFdPad(frame) : frame;
}

function feed(r: CanReassembler, sender: number, frames: Uint8Array[], now = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of frames) {
    const m = r.push(sender, f, now);
    if (m !== undefined) out.push(m);
  }
  return out;
}

const bytes = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('CAN reassembly', () => {
  it.each([8, 64] as const)('round-trips messages of any length (frame data %i)', (frameData) => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { maxLength: 12 }),
        (messages) => {
          const seg = new CanSegmenter(frameData, 600);
          const r = new CanReassembler(options(frameData, { maxMessage: 600 }));
          const got = messages.flatMap((m) =>
            feed(
              r,
              0x123,
              seg.segment(m).map((f) => onBus(f, frameData)),
            ),
          );
          expect(got.map(hex)).toEqual(messages.map(hex));
          expect(r.stats()).toEqual(zeroStats());
          expect(r.pendingPartials()).toBe(0);
        },
      ),
      { seed: 0xca11, numRuns: 200 },
    );
  });

  it('skips an immediately repeated frame as duplicate and still completes the message', () => {
    const r = new CanReassembler(options(8));
    const f = segmentMessage(bytes(30), 1, 8);
    const got = feed(r, 1, [f[0]!, f[0]!, f[1]!, f[1]!, f[2]!, f[3]!, f[4]!, f[4]!]);
    expect(got.map(hex)).toEqual([hex(bytes(30))]);
    expect(r.stats()).toEqual({ ...zeroStats(), duplicate: 3 });
  });

  it('skips a late repeat of the FIRST or of the last segment taken', () => {
    const r = new CanReassembler(options(8));
    const f = segmentMessage(bytes(30), 1, 8);
    const other = segmentMessage(bytes(3), 2, 8)[0]!;
    const got = feed(r, 1, [f[0]!, f[1]!, other, f[0]!, f[1]!, f[2]!, f[3]!, f[4]!]);
    expect(got.map(hex)).toEqual([hex(bytes(3)), hex(bytes(30))]);
    expect(r.stats()).toEqual({ ...zeroStats(), duplicate: 2 });
  });

  it('drops the partial when a segment comes back after later ones (reordering is not repaired)', () => {
    const r = new CanReassembler(options(8));
    const f = segmentMessage(bytes(30), 1, 8);
    expect(feed(r, 1, [f[0]!, f[1]!, f[2]!, f[3]!, f[1]!, f[4]!])).toEqual([]);
    expect(r.stats()).toEqual({ ...zeroStats(), 'out-of-order': 2 });
  });

  it('drops a message with a lost or reordered frame and counts it', () => {
    const r = new CanReassembler(options(8));
    const f = segmentMessage(bytes(30), 2, 8);
    expect(feed(r, 1, [f[0]!, f[1]!, f[3]!, f[2]!, f[4]!])).toEqual([]);
    expect(r.stats()['out-of-order']).toBe(3); // the gap drops the partial; then two orphans
    expect(r.pendingPartials()).toBe(0);
    // the next message is unaffected
    const next = segmentMessage(bytes(30, 9), 3, 8);
    expect(feed(r, 1, next).map(hex)).toEqual([hex(bytes(30, 9))]);
  });

  it('catches a splice of two messages with the same sequence number with the whole-message CRC', () => {
    const r = new CanReassembler(options(8));
    // Message A (seq 0) loses its tail; eight messages later B (seq 0 again) loses its FIRST, so B's
    // consecutive frames carry exactly the indices A's partial expects next.
    const a = segmentMessage(bytes(30, 1), 0, 8);
    const b = segmentMessage(bytes(30, 2), 8, 8);
    expect(feed(r, 1, [a[0]!, a[1]!, b[2]!, b[3]!, b[4]!])).toEqual([]);
    expect(r.stats()).toEqual({ ...zeroStats(), crc: 1 });
  });

  it('drops partials after the timeout, counted, and keeps other progress', () => {
    const r = new CanReassembler(options(8, { timeout: 100 }));
    const a = segmentMessage(bytes(20), 0, 8);
    feed(r, 1, a.slice(0, 2), 0);
    feed(r, 2, a.slice(0, 2), 50);
    r.expire(120);
    expect(r.stats().timeout).toBe(1);
    expect(r.pendingPartials()).toBe(1);
    expect(feed(r, 2, a.slice(2), 140).map(hex)).toEqual([hex(bytes(20))]);
    expect(feed(r, 1, a.slice(2), 140)).toEqual([]);
    expect(r.stats()['out-of-order']).toBe(2);
  });

  it('rejects oversize announcements and malformed frames', () => {
    const r = new CanReassembler(options(8, { maxMessage: 100 }));
    const big = segmentMessage(bytes(101), 0, 8);
    expect(feed(r, 1, big)).toEqual([]);
    const s = r.stats();
    expect(s['too-long']).toBe(1);
    expect(s['out-of-order']).toBe(big.length - 1);
    const bad = [
      new Uint8Array(0), // no header
      new Uint8Array(9), // longer than a classic frame
      Uint8Array.of(0x80), // FIRST without length byte
      Uint8Array.of(0x80, 0x00), // zero length
      Uint8Array.of(0x90, 0x05, 1, 2), // single announcing 5 bytes, carrying 2
      Uint8Array.of(0xa0, 0x0a, 1, 2, 3, 4, 5), // multi FIRST shorter than a full frame
      Uint8Array.of(0x00), // consecutive without data
    ];
    expect(feed(r, 2, bad)).toEqual([]);
    expect(r.stats()['bad-header']).toBe(bad.length);
    // a short non-last consecutive frame drops its partial
    const m = segmentMessage(bytes(30), 1, 8);
    expect(feed(r, 3, [m[0]!, m[1]!.subarray(0, 5), m[2]!])).toEqual([]);
    expect(r.stats()['bad-header']).toBe(bad.length + 1);
  });

  it('bounds partials per sender and senders, evicting the oldest as overflow', () => {
    const r = new CanReassembler(options(8, { maxPartialsPerSender: 2, maxSenders: 2 }));
    const starts = [0, 1, 2].map((seq) => segmentMessage(bytes(20, seq), seq, 8)[0]!);
    feed(r, 1, starts);
    expect(r.stats().overflow).toBe(1);
    expect(r.pendingPartials()).toBe(2);
    feed(r, 2, [starts[0]!], 1);
    feed(r, 3, [starts[0]!], 2); // evicts sender 1, the quietest, with its 2 partials
    expect(r.stats().overflow).toBe(3);
    expect(r.pendingPartials()).toBe(2);
  });

  it('completes interleaved messages of several senders', () => {
    const r = new CanReassembler(options(64));
    const a = segmentMessage(bytes(300, 1), 0, 64);
    const b = segmentMessage(bytes(200, 2), 0, 64);
    const got: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const [id, fr] of [
        [10, a],
        [11, b],
      ] as const) {
        const f = fr[i];
        if (f === undefined) continue;
        const m = r.push(id, canFdPad(f), i);
        if (m) got.push(`${id}:${hex(m)}`);
      }
    }
    expect(got.sort()).toEqual([`10:${hex(bytes(300, 1))}`, `11:${hex(bytes(200, 2))}`]);
  });
});

describe('CAN reassembly of long messages (view changes)', () => {
  it.each([8, 64] as const)('carries messages past the old 4,095-byte limit (frame data %i)', (frameData) => {
    const sizes = [2046, 2047, 2048, 4095, 4096, 40_000, 120_000];
    const seg = new CanSegmenter(frameData);
    const r = new CanReassembler(options(frameData, { maxMessage: 120_000 }));
    for (const [i, size] of sizes.entries()) {
      const m = bytes(size, i);
      const got = feed(
        r,
        7,
        seg.segment(m).map((f) => onBus(f, frameData)),
      );
      expect(got.map(hex)).toEqual([hex(m)]);
    }
    expect(r.stats()).toEqual(zeroStats());
    expect(r.heldBytes()).toBe(0);
  });

  it('loses a long message to one lost frame, counted, and takes the next one', () => {
    const seg = new CanSegmenter(8);
    const r = new CanReassembler(options(8, { maxMessage: 50_000 }));
    const lost = seg.segment(bytes(30_000, 1));
    lost.splice(1234, 1);
    expect(feed(r, 1, lost)).toEqual([]);
    expect(r.stats()['out-of-order']).toBe(lost.length - 1234); // the gap drops it, the rest are orphans
    expect(r.heldBytes()).toBe(0);
    const next = bytes(30_000, 2);
    expect(feed(r, 1, seg.segment(next)).map(hex)).toEqual([hex(next)]);
  });

  it('rejects the long form for a length that fits the short one (one encoding per message)', () => {
    const r = new CanReassembler(options(8));
    // long flag, length 100: the short form would carry it
    const forged = Uint8Array.of(0x80 | 0x08, 0x00, 100, 0, 0, 0, 0, 1);
    expect(feed(r, 1, [forged])).toEqual([]);
    expect(r.stats()['bad-header']).toBe(1);
  });

  it('interleaves long messages of several senders', () => {
    const r = new CanReassembler(options(64, { maxMessage: 60_000 }));
    const msgs = [bytes(50_000, 1), bytes(3_000, 2), bytes(20_000, 3)];
    const frames = msgs.map((m) => new CanSegmenter(64).segment(m).map(canFdPad));
    const got: string[] = [];
    const longest = Math.max(...frames.map((f) => f.length));
    for (let i = 0; i < longest; i++) {
      frames.forEach((fr, s) => {
        const f = fr[i];
        const m = f === undefined ? undefined : r.push(s, f, i);
        if (m !== undefined) got.push(`${s}:${hex(m)}`);
      });
    }
    expect(got.sort()).toEqual(msgs.map((m, s) => `${s}:${hex(m)}`).sort());
  });

  it('times out a stalled long partial and releases its bytes', () => {
    const r = new CanReassembler(options(8, { maxMessage: 10_000, timeout: 100 }));
    feed(r, 1, new CanSegmenter(8).segment(bytes(9_000)).slice(0, 50), 0);
    expect(r.heldBytes()).toBe(9_000);
    r.expire(101);
    expect(r.stats().timeout).toBe(1);
    expect(r.heldBytes()).toBe(0);
  });
});

describe('CAN reassembly budgets', () => {
  const M = 10_000;
  /** The FIRST frame of a fresh M-byte message (segment 0 only): what a flooding sender sends. */
  const firstOf = (seq: number): Uint8Array => segmentMessage(bytes(M, seq), seq, 8)[0]!;

  it('keeps one sender within its byte budget, evicting its own oldest partials', () => {
    const r = new CanReassembler(
      options(8, { maxMessage: M, maxPartialsPerSender: 8, maxBytesPerSender: 2 * M, maxBytesTotal: 8 * M }),
    );
    feed(r, 1, [0, 1, 2, 3, 4].map(firstOf));
    expect(r.heldBytes(1)).toBe(2 * M);
    expect(r.stats().overflow).toBe(3);
  });

  it('a flooding sender cannot starve another: it only ever displaces itself', () => {
    const r = new CanReassembler(
      options(8, { maxMessage: M, maxPartialsPerSender: 4, maxBytesPerSender: 2 * M, maxBytesTotal: 2 * M }),
    );
    const flood = (t: number): void => {
      feed(r, 1, [firstOf(t % 8)], t);
    };
    flood(0);
    flood(1); // the flooder holds the whole total budget
    expect(r.heldBytes()).toBe(2 * M);
    // A correct sender's message, with the flood going on between each of its frames.
    const good = bytes(M, 42);
    const frames = new CanSegmenter(8).segment(good);
    const got: Uint8Array[] = [];
    frames.forEach((f, i) => {
      const m = r.push(2, f, 10 + i);
      if (m !== undefined) got.push(m);
      flood(2 + i);
    });
    expect(got.map(hex)).toEqual([hex(good)]);
    const s = r.stats();
    expect(s.overflow).toBeGreaterThan(0); // the flooder lost its own partials to make room
    expect(s['over-budget']).toBeGreaterThan(0); // and was refused while the good message held its share
    expect(r.heldBytes()).toBeLessThanOrEqual(2 * M);
  });

  it('refuses budgets below the largest message', () => {
    expect(() => new CanReassembler(options(8, { maxMessage: M, maxBytesPerSender: M - 1 }))).toThrow(
      RangeError,
    );
    expect(() => new CanReassembler(options(8, { maxMessage: M, maxBytesTotal: M - 1 }))).toThrow(RangeError);
  });

  it('holds at most its total budget whatever arrives (seeded garbage of FIRSTs and fragments)', () => {
    const total = 3 * M;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sender: fc.integer({ min: 0, max: 6 }),
            seq: fc.integer({ min: 0, max: 7 }),
            length: fc.integer({ min: 7, max: M }),
            junk: fc.uint8Array({ minLength: 1, maxLength: 8 }),
            first: fc.boolean(),
          }),
          { maxLength: 200 },
        ),
        (events) => {
          const r = new CanReassembler(
            options(8, { maxMessage: M, maxSenders: 4, maxBytesPerSender: 2 * M, maxBytesTotal: total }),
          );
          events.forEach((e, t) => {
            const frame = e.first ? segmentMessage(bytes(e.length, t), e.seq, 8)[0]! : e.junk;
            r.push(e.sender, frame, t);
            expect(r.heldBytes()).toBeLessThanOrEqual(total);
          });
        },
      ),
      { seed: 0xb0d9e7, numRuns: 200 },
    );
  });
});

type Action = 'keep' | 'drop' | 'dup' | 'swap';
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Action>('keep') },
  { weight: 1, arbitrary: fc.constant<Action>('drop') },
  { weight: 1, arbitrary: fc.constant<Action>('dup') },
  { weight: 1, arbitrary: fc.constant<Action>('swap') },
);

interface Sent {
  sender: number;
  msg: number;
  /** Segment index within its message. */
  index: number;
  frame: Uint8Array;
}

/** Apply per-frame loss, adjacent duplication and swaps with the next frame. */
function mutate(frames: Sent[], actions: Action[]): Sent[] {
  const out: Sent[] = [];
  for (let i = 0; i < frames.length; i++) {
    const a = actions[i % Math.max(1, actions.length)] ?? 'keep';
    const f = frames[i]!;
    if (a === 'drop') continue;
    if (a === 'dup') out.push(f, f);
    else if (a === 'swap' && i + 1 < frames.length) {
      out.push(frames[i + 1]!, f);
      i++;
    } else out.push(f);
  }
  return out;
}

/** Messages whose frames reached the receiver contiguously (within their sender's stream) and in order. */
function intactMessages(received: Sent[], framesPerMessage: Map<string, number>): Set<string> {
  const intact = new Set<string>();
  const bySender = new Map<number, Sent[]>();
  for (const r of received) bySender.set(r.sender, [...(bySender.get(r.sender) ?? []), r]);
  for (const [sender, stream] of bySender) {
    stream.forEach((start, p) => {
      const key = `${sender}/${start.msg}`;
      const run = stream.slice(p, p + framesPerMessage.get(key)!);
      const inOrder = run.every((s, j) => s.msg === start.msg && s.index === j);
      if (run.length === framesPerMessage.get(key) && inOrder) intact.add(key);
    });
  }
  return intact;
}

describe('CAN reassembly under loss, duplication and reordering', () => {
  const coverage = { sent: 0, intact: 0, delivered: 0 };
  afterAll(() => {
    // Guards against a vacuous property: most messages must be intact, and some must not.
    expect(coverage.intact).toBeGreaterThan(coverage.sent / 4);
    expect(coverage.intact).toBeLessThan(coverage.sent);
  });

  it.each([
    8, 64,
  ] as const)('never passes up a wrong message; passes every intact one (frame data %i)', (frameData) => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ sender: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 1, max: 300 }) }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        fc.array(action, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 0xffff }),
        (plan, actions, salt) => {
          const segmenters = new Map<number, CanSegmenter>();
          const sent = new Map<string, string>();
          const framesPerMessage = new Map<string, number>();
          const frames: Sent[] = [];
          plan.forEach(({ sender, size }, msg) => {
            // Unique content per message: a counter up front, the rest pseudo-random.
            const body = Uint8Array.from({ length: size }, (_, i) => (i * 97 + msg * 13 + salt) & 0xff);
            body[0] = msg;
            const seg = segmenters.get(sender) ?? new CanSegmenter(frameData);
            segmenters.set(sender, seg);
            const fr = seg.segment(body).map((f) => onBus(f, frameData));
            fr.forEach((frame, index) => {
              frames.push({ sender, msg, index, frame });
            });
            sent.set(`${sender}/${msg}`, hex(body));
            framesPerMessage.set(`${sender}/${msg}`, fr.length);
          });
          const received = mutate(frames, actions);
          const r = new CanReassembler(options(frameData, { maxPartialsPerSender: 2, maxSenders: 4 }));
          const delivered: string[] = [];
          received.forEach((s, t) => {
            const m = r.push(s.sender, s.frame, t);
            if (m !== undefined) delivered.push(`${s.sender}:${hex(m)}`);
          });
          const sentSet = new Set([...sent].map(([key, h]) => `${key.split('/')[0]}:${h}`));
          for (const d of delivered) expect(sentSet.has(d), `wrong message ${d}`).toBe(true);
          const intact = intactMessages(received, framesPerMessage);
          coverage.intact += intact.size;
          coverage.sent += sent.size;
          coverage.delivered += delivered.length;
          for (const key of intact) {
            expect(delivered).toContain(`${key.split('/')[0]}:${sent.get(key)}`);
          }
          expect(r.pendingPartials()).toBeLessThanOrEqual(3 * 2);
        },
      ),
      { seed: 0xb0ba, numRuns: 400 },
    );
  });

  it('is total on arbitrary frames: never throws, counts, and only single-frame forgeries get through', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ sender: fc.integer({ min: 0, max: 5 }), data: fc.uint8Array({ maxLength: 66 }) }),
          {
            maxLength: 300,
          },
        ),
        fc.constantFrom<CanFrameData>(8, 64),
        (junk, frameData) => {
          const r = new CanReassembler(
            options(frameData, { maxSenders: 3, maxPartialsPerSender: 2, timeout: 50 }),
          );
          let delivered = 0;
          junk.forEach(({ sender, data }, t) => {
            const m = r.push(sender, data, t);
            if (m !== undefined) {
              delivered++;
              // Only a self-contained single frame can pass without the CRC; on a bus, CAN's frame CRC
              // stands behind it.
              expect(m.length).toBeLessThanOrEqual(frameData - 2);
            }
          });
          const rejected = Object.values(r.stats()).reduce((a, b) => a + b, 0);
          expect(delivered + rejected).toBeGreaterThanOrEqual(junk.length - 3 * 2 * 2);
          expect(r.pendingPartials()).toBeLessThanOrEqual(3 * 2);
        },
      ),
      { seed: 0x7a11, numRuns: 300 },
    );
  });
});

describe('CAN reassembly allocates for bytes received, not bytes announced (issue 9)', () => {
  /** A long-form FIRST (classic CAN) announcing `length` bytes: 8 bytes on the bus, one data byte. */
  const lyingFirst = (seq: number, length: number, n: number): Uint8Array =>
    Uint8Array.from([
      0x80 | ((seq & 7) << 4) | 0x08 | (length >>> 16),
      (length >>> 8) & 0xff,
      length & 0xff,
      n & 0xff,
      (n >>> 8) & 0xff,
      0,
      0,
      1,
    ]);

  it('a flood of 8-byte FIRSTs announcing 512 KiB costs a few hundred bytes each, not 512 KiB', () => {
    const r = new CanReassembler(options(8, { maxMessage: CAN_MAX_MESSAGE_LIMIT }));
    const frames = 5000;
    for (let i = 0; i < frames; i++) r.push(0x123, lyingFirst(i, CAN_MAX_MESSAGE_LIMIT, i), i);
    // Before: every FIRST allocated (and zeroed) its announced length, 2.6 GB for this flood, about 270 us of
    // CPU per 8-byte frame on this machine, more than a 1 Mbit/s bus takes to carry one.
    expect(r.allocatedBytes()).toBeLessThanOrEqual(frames * 512);
    // The reservation still counts the announced length against the budgets.
    expect(r.heldBytes(0x123)).toBe(CAN_MAX_MESSAGE_LIMIT);
    expect(r.stats().overflow).toBe(frames - 1);
  });

  it.each([8, 64] as const)('grows a long message buffer as it arrives and delivers it intact (%i)', (fd) => {
    const r = new CanReassembler(options(fd, { maxMessage: CAN_MAX_MESSAGE_LIMIT }));
    for (const length of [fd + 1, 255, 256, 257, 2047, 2048, 100_000]) {
      const message = bytes(length, length);
      const got = feed(
        r,
        7,
        new CanSegmenter(fd).segment(message).map((f) => onBus(f, fd)),
      );
      expect(got.map(hex)).toEqual([hex(message)]);
    }
    // Doubling: the buffers of a message sum to under three times its length, plus the first buffers.
    const delivered = [fd + 1, 255, 256, 257, 2047, 2048, 100_000].reduce((a, b) => a + b, 0);
    expect(r.allocatedBytes()).toBeLessThanOrEqual(3 * delivered + 7 * 256);
  });
});
