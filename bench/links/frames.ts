/**
 * Link framing costs on this machine, printed as JSON: ns per message for serial framing (encode, deframe)
 * and CAN segmentation and reassembly (classic and FD), ns per CAN frame for the SLCAN line codec, CRC-32C and
 * COBS throughput; and the wire cost of a message of each size (bytes and time on 115200 and 921600-baud
 * serial; frames and bus time on 1 Mbit/s classic CAN and CAN FD with a 2 or 5 Mbit/s data phase).
 *
 *   npm run bench:links:frames
 */
import { performance } from 'node:perf_hooks';
import { CanReassembler } from '../../src/core/codec/framing/can-reassembly.ts';
import { CanSegmenter } from '../../src/core/codec/framing/can-segment.ts';
import { cobsDecode, cobsEncode } from '../../src/core/codec/framing/cobs.ts';
import { crc32c } from '../../src/core/codec/framing/crc.ts';
import { encodeSerialFrame, SerialDeframer } from '../../src/core/codec/framing/serial-frame.ts';
import { Prng } from '../../src/core/prng.ts';
import { canFd, classicCan, messageCost, serialLink } from '../../src/core/wire-budget/link-cost.ts';
import { canDataFrame } from '../../src/io/can-frame.ts';
import { encodeSlcanFrame, parseSlcanFrame } from '../../src/io/slcan-codec.ts';

const SIZES = [32, 64, 128, 256, 512, 1024, 4096, 52_100];
const rng = new Prng(1);

/** Run `fn` repeatedly for about `ms` after a warm-up; return ns per call. */
function nsPerCall(fn: () => void, ms = 300): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    now = performance.now();
  }
  return Math.round(((now - start) * 1e6) / n);
}

function throughput(): Record<string, number> {
  const out: Record<string, number> = {};
  const block = rng.bytes(4096);
  out.crc32c_MBps = Math.round(4096e3 / nsPerCall(() => crc32c(block)));
  const encoded = cobsEncode(block);
  out.cobs_encode_MBps = Math.round(4096e3 / nsPerCall(() => cobsEncode(block)));
  out.cobs_decode_MBps = Math.round(4096e3 / nsPerCall(() => cobsDecode(encoded)));
  return out;
}

/** ns per message for each framing step, by message size. */
function perMessage(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const size of [64, 256, 1024]) {
    const payload = rng.bytes(size);
    const frame = encodeSerialFrame(payload);
    const deframer = new SerialDeframer({ maxPayload: 2048 });
    out[`serial_encode_${size}B_ns`] = nsPerCall(() => encodeSerialFrame(payload));
    out[`serial_deframe_${size}B_ns`] = nsPerCall(() => deframer.push(frame));
    for (const frameData of [8, 64] as const) {
      const seg = new CanSegmenter(frameData);
      const re = new CanReassembler({
        frameData,
        maxMessage: 4096,
        maxPartialsPerSender: 2,
        maxSenders: 8,
        timeout: 1e9,
      });
      let t = 0;
      out[`can${frameData === 8 ? '' : 'fd'}_segment_reassemble_${size}B_ns`] = nsPerCall(() => {
        const cursor = seg.cursor(payload, true);
        for (let f = cursor.next(); f !== undefined; f = cursor.next()) re.push(1, f, t++);
      });
    }
  }
  for (const [name, frame] of [
    ['classic_8B', canDataFrame(0x123, rng.bytes(8))],
    ['fd_64B', canDataFrame(0x123, rng.bytes(64), { fd: true, brs: true })],
  ] as const) {
    const line = encodeSlcanFrame(frame);
    out[`slcan_encode_${name}_ns`] = nsPerCall(() => encodeSlcanFrame(frame));
    out[`slcan_parse_${name}_ns`] = nsPerCall(() => parseSlcanFrame(line));
  }
  return out;
}

function wireCost(): Record<string, number>[] {
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return SIZES.map((size) => {
    const s115 = messageCost(serialLink(115_200), size);
    const s921 = messageCost(serialLink(921_600), size);
    const classic = messageCost(classicCan(1_000_000), size);
    const fd2 = messageCost(canFd(1_000_000, 2_000_000), size);
    const fd5 = messageCost(canFd(1_000_000, 5_000_000), size);
    return {
      message_bytes: size,
      serial_wire_bytes: s921.wireBytes,
      serial_115200_ms: r2(s115.seconds * 1e3),
      serial_921600_ms: r2(s921.seconds * 1e3),
      can_classic_frames: classic.frames,
      can_classic_1M_us: r2(classic.seconds * 1e6),
      can_fd_frames: fd2.frames,
      can_fd_1M_2M_us: r2(fd2.seconds * 1e6),
      can_fd_1M_5M_us: r2(fd5.seconds * 1e6),
    };
  });
}

process.stdout.write(
  `${JSON.stringify({ bench: 'links-frames', node: process.version, throughput: throughput(), perMessage: perMessage(), wire: wireCost() }, null, 2)}\n`,
);
