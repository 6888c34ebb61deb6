/**
 * Link framing costs, printed as JSON: throughput of CRC-32C, COBS, serial framing and CAN segmentation and
 * reassembly on this machine, and the wire cost of a message of each size (bytes and time on 115200 and
 * 921600-baud serial; frames and bus time on 1 Mbit/s classic CAN and CAN FD with a 2 Mbit/s data phase).
 * Helper for bench:links. Run: npx tsx bench/links-frames.ts
 */

import { performance } from 'node:perf_hooks';
import { CanReassembler } from '../src/core/codec/framing/can-reassembly.ts';
import { CanSegmenter, canFdPad, canFrameCount } from '../src/core/codec/framing/can-segment.ts';
import { cobsDecode, cobsEncode } from '../src/core/codec/framing/cobs.ts';
import { crc32c } from '../src/core/codec/framing/crc.ts';
import { encodeSerialFrame, SerialDeframer } from '../src/core/codec/framing/serial-frame.ts';
import { Prng } from '../src/core/prng.ts';
import { canDataFrame, canFrameTimeUs } from '../src/io/can-frame.ts';
import { uartTimeMs } from '../src/io/serial-device.ts';

const SIZES = [32, 64, 128, 256, 512, 1024];
const rng = new Prng(1);

/** Run `fn` repeatedly for about `ms` after a warm-up; return operations per second. */
function rate(fn: () => void, ms = 300): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    now = performance.now();
  }
  return Math.round((n * 1000) / (now - start));
}

function throughput(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const block = rng.bytes(4096);
  out.crc32c_MBps = Math.round((rate(() => crc32c(block)) * 4096) / 1e6);
  const encoded = cobsEncode(block);
  out.cobs_encode_MBps = Math.round((rate(() => cobsEncode(block)) * 4096) / 1e6);
  out.cobs_decode_MBps = Math.round((rate(() => cobsDecode(encoded)) * 4096) / 1e6);
  for (const size of [64, 256, 1024]) {
    const payload = rng.bytes(size);
    const frame = encodeSerialFrame(payload);
    const deframer = new SerialDeframer({ maxPayload: 2048 });
    out[`serial_encode_${size}B_per_s`] = rate(() => encodeSerialFrame(payload));
    out[`serial_deframe_${size}B_per_s`] = rate(() => deframer.push(frame));
    for (const frameData of [8, 64] as const) {
      const seg = new CanSegmenter(frameData);
      const re = new CanReassembler({
        frameData,
        maxMessage: 4095,
        maxPartialsPerSender: 2,
        maxSenders: 8,
        timeout: 1e9,
      });
      let t = 0;
      out[`can${frameData === 8 ? '' : 'fd'}_segment_reassemble_${size}B_per_s`] = rate(() => {
        for (const f of seg.segment(payload)) re.push(1, frameData === 64 ? canFdPad(f) : f, t++);
      });
    }
  }
  return out;
}

function wireCost(): Record<string, unknown>[] {
  return SIZES.map((size) => {
    const serialBytes = encodeSerialFrame(rng.bytes(size)).length;
    const classicFrames = canFrameCount(size, 8);
    const fdFrames = canFrameCount(size, 64);
    const seg8 = new CanSegmenter(8).segment(rng.bytes(size));
    const seg64 = new CanSegmenter(64).segment(rng.bytes(size));
    const classicUs = seg8.reduce((t, f) => t + canFrameTimeUs(canDataFrame(0x100, f), 1_000_000), 0);
    const fdUs = seg64.reduce(
      (t, f) =>
        t + canFrameTimeUs(canDataFrame(0x100, canFdPad(f), { fd: true, brs: true }), 1_000_000, 2_000_000),
      0,
    );
    return {
      message_bytes: size,
      serial_wire_bytes: serialBytes,
      serial_115200_ms: round(uartTimeMs(serialBytes, 115200)),
      serial_921600_ms: round(uartTimeMs(serialBytes, 921600)),
      can_classic_frames: classicFrames,
      can_classic_1M_us: round(classicUs),
      can_fd_frames: fdFrames,
      can_fd_1M_2M_us: round(fdUs),
    };
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

process.stdout.write(
  `${JSON.stringify({ node: process.version, throughput: throughput(), wire: wireCost() }, null, 2)}\n`,
);
