/**
 * Emulated CAN bus for laptops: an in-process bus (timing and arbitration from CanBusModel) that presents each
 * board with a CANable-like SLCAN adapter on a pseudo-terminal, so board processes run the same SlcanHost code
 * as a bench with USB-CAN adapters. Run it in the parent process (`triplex sim --processes`) or standalone
 * (can-bus-main.ts) and give each board process its pty path.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BusTiming, CanBusModel } from './can-bus-model.ts';
import { type CanFrame, canFrameProblem } from './can-frame.ts';
import { PtyPair } from './pty.ts';
import { SerialDevice } from './serial-device.ts';
import {
  encodeSlcanFrame,
  parseSlcanFrame,
  SLCAN_BITRATES,
  SLCAN_DATA_BITRATES,
  SLCAN_ERROR,
  SLCAN_OK,
  SlcanLineSplitter,
} from './slcan-codec.ts';
import { StatsCounter } from './transport.ts';

export interface BusMember {
  readonly index: number;
  /** Called for every frame another member put on the bus. */
  onFrame: (frame: CanFrame) => void;
  /** Called when one of this member's own frames has been transmitted (in the order they were queued). */
  onTransmitted: (frame: CanFrame) => void;
  /** Queue a frame for arbitration; false when the member's transmit queue is full. */
  transmit(frame: CanFrame): boolean;
}

export class EmulatedCanBus {
  private readonly model: CanBusModel;
  private readonly members: BusMember[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = performance.now();
  private delivered = 0;
  private latencySum = 0;
  private closed = false;

  constructor(readonly timing: BusTiming) {
    this.model = new CanBusModel(timing);
  }

  join(): BusMember {
    const index = this.model.addNode();
    const member: BusMember = {
      index,
      onFrame: () => {},
      onTransmitted: () => {},
      transmit: (frame) => {
        if (this.closed) return false;
        const ok = this.model.enqueue(index, frame, performance.now());
        if (ok) this.schedule();
        return ok;
      },
    };
    this.members.push(member);
    return member;
  }

  /**
   * Bus load so far (busy time over elapsed time), frames carried, mean queue-to-delivery latency, and the
   * running totals behind them (busy and elapsed ms) so a caller can take the load of an interval.
   */
  stats(): { load: number; frames: number; meanLatencyMs: number; busyMs: number; elapsedMs: number } {
    const elapsed = performance.now() - this.startedAt;
    const busy = this.model.busyMs();
    return {
      load: elapsed > 0 ? busy / elapsed : 0,
      frames: this.delivered,
      meanLatencyMs: this.delivered > 0 ? this.latencySum / this.delivered : 0,
      busyMs: busy,
      elapsedMs: elapsed,
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    const next = this.model.nextEventAt();
    if (next === undefined) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - performance.now()));
  }

  private tick(): void {
    this.timer = undefined;
    for (const d of this.model.advance(performance.now())) {
      this.delivered++;
      this.latencySum += d.at - d.queuedAt;
      for (const m of this.members) if (m.index !== d.from) m.onFrame(d.frame);
      this.members[d.from]?.onTransmitted(d.frame);
    }
    this.schedule();
  }
}

/**
 * A CANable-like SLCAN adapter on one end of a pty pair, attached to the emulated bus. Answers like the
 * CANable 2.0 firmware: CR for OK, BEL for error, 'V1013', 'vEMU1', 'NEMU1', 'Fxx'. Frames are refused
 * (BEL) while the channel is closed; S and Y only while closed.
 *
 * A transmitted frame is acknowledged once it has left the bus (mailbox semantics), not when it is queued:
 * the host's transmit window then bounds what waits in the adapter, and a burst of thousands of frames (a
 * segmented view change) is paced by the bus instead of overrunning the adapter. Replies stay in command
 * order: a reply waits for the acknowledgements of the frames sent before its command.
 */
export class SlcanAdapterEmulator {
  readonly counters = new StatsCounter();
  private readonly device: SerialDevice;
  private readonly splitter: SlcanLineSplitter;
  private open = false;
  private listenOnly = false;
  private bitrate: number | undefined;
  private dataBitrate: number | undefined;
  private flags = 0;
  /** Replies in command order; undefined text: a frame still waiting for the bus. */
  private readonly replies: { text: string | undefined }[] = [];
  /** When true the adapter swallows everything and answers nothing (a hung device, for tests). */
  muted = false;

  constructor(
    path: string,
    private readonly member: BusMember,
  ) {
    this.device = new SerialDevice({ path, baudRate: 115200, pace: false, maxQueueBytes: 1 << 20 });
    this.splitter = new SlcanLineSplitter(
      (line) => this.onCommand(line),
      () => this.reply(SLCAN_ERROR),
    );
    this.device.onData = (chunk) => {
      if (!this.muted) this.splitter.push(chunk);
    };
    member.onFrame = (frame) => this.onBusFrame(frame);
    member.onTransmitted = () => this.onTransmitted();
  }

  start(): Promise<void> {
    return this.device.start();
  }

  stop(): Promise<void> {
    return this.device.stop();
  }

  /** Write raw bytes to the host (for tests of malformed input). */
  inject(bytes: string): void {
    this.device.write(Buffer.from(bytes, 'latin1'), false);
  }

  /** Returns undefined so command handlers can `return this.reply(...)`. */
  private reply(text: string): undefined {
    this.replies.push({ text });
    this.flushReplies();
    return undefined;
  }

  /** Write the replies that are ready, in order, up to the first frame still waiting for the bus. */
  private flushReplies(): void {
    while (this.replies[0] !== undefined && this.replies[0].text !== undefined) {
      const { text } = this.replies.shift()!;
      if (!this.muted) this.device.write(Buffer.from(text!, 'latin1'), false);
    }
  }

  /** The oldest of our frames on the bus went out: its OK is ready. */
  private onTransmitted(): void {
    const waiting = this.replies.find((r) => r.text === undefined);
    if (waiting === undefined) return; // the channel was closed and reopened meanwhile: nothing to answer
    waiting.text = SLCAN_OK;
    this.flushReplies();
  }

  private onCommand(line: string): undefined {
    const c = line[0];
    const arg = line.slice(1);
    switch (c) {
      case 'S': {
        const code = /^[0-8]$/.test(arg) ? Number(arg) : -1;
        if (this.open || code < 0) return this.reply(SLCAN_ERROR);
        this.bitrate = SLCAN_BITRATES[code];
        return this.reply(SLCAN_OK);
      }
      case 'Y': {
        const rate = SLCAN_DATA_BITRATES[Number(arg)];
        if (this.open || !/^\d$/.test(arg) || rate === undefined) return this.reply(SLCAN_ERROR);
        this.dataBitrate = rate;
        return this.reply(SLCAN_OK);
      }
      case 'O':
      case 'L':
        if (arg !== '' || this.open || this.bitrate === undefined) return this.reply(SLCAN_ERROR);
        this.open = true;
        this.listenOnly = c === 'L';
        return this.reply(SLCAN_OK);
      case 'C':
        if (arg !== '' || !this.open) return this.reply(SLCAN_ERROR);
        this.open = false;
        return this.reply(SLCAN_OK);
      case 'V':
        return this.reply(arg === '' ? 'V1013\r' : SLCAN_ERROR);
      case 'v':
        return this.reply(arg === '' ? 'vEMU1\r' : SLCAN_ERROR);
      case 'N':
        return this.reply(arg === '' ? 'NEMU1\r' : SLCAN_ERROR);
      case 'F': {
        if (arg !== '') return this.reply(SLCAN_ERROR);
        const flags = this.flags;
        this.flags = 0; // read clears, as on the Lawicel adapter
        return this.reply(`F${flags.toString(16).toUpperCase().padStart(2, '0')}\r`);
      }
      case 'Z':
        return this.reply(arg === '0' ? SLCAN_OK : SLCAN_ERROR); // timestamps are not emulated
      default:
        return this.onTransmit(line);
    }
  }

  private onTransmit(line: string): undefined {
    const parsed = parseSlcanFrame(line);
    if (!parsed.ok || !this.open || this.listenOnly) {
      this.counters.error(parsed.ok ? 'not-open' : 'malformed');
      return this.reply(SLCAN_ERROR);
    }
    const frame = parsed.frame;
    if (canFrameProblem(frame) !== undefined || (frame.fd && this.dataBitrate === undefined)) {
      return this.reply(SLCAN_ERROR);
    }
    if (!this.member.transmit(frame)) {
      this.flags |= 0x02; // TX FIFO full
      return this.reply(SLCAN_ERROR);
    }
    this.counters.framesIn++; // from the host's side: a frame into the adapter
    this.replies.push({ text: undefined });
    return undefined;
  }

  private onBusFrame(frame: CanFrame): void {
    if (!this.open || this.muted) return;
    if (frame.fd && this.dataBitrate === undefined) return; // a classic controller sees an error frame
    if (!this.device.write(Buffer.from(`${encodeSlcanFrame(frame)}\r`, 'latin1'))) {
      this.flags |= 0x01 | 0x08; // RX FIFO full, data overrun
      this.counters.error('rx-overrun');
    }
  }
}

export interface EmulatedBusSetup {
  /** Pty path each board opens with SlcanHost. */
  paths: Record<string, string>;
  bus: EmulatedCanBus;
  adapters: Record<string, SlcanAdapterEmulator>;
  close(): Promise<void>;
}

/** Create the bus, one pty pair and adapter per board, under `dir` (board ends are `dir/<board>`). */
export async function startEmulatedCanBus(
  dir: string,
  boards: string[],
  timing: BusTiming,
): Promise<EmulatedBusSetup> {
  mkdirSync(dir, { recursive: true });
  const bus = new EmulatedCanBus(timing);
  const pairs: PtyPair[] = [];
  const adapters: Record<string, SlcanAdapterEmulator> = {};
  const paths: Record<string, string> = {};
  const close = async (): Promise<void> => {
    bus.close();
    await Promise.all(Object.values(adapters).map((a) => a.stop()));
    await Promise.all(pairs.map((p) => p.close()));
  };
  try {
    for (const board of boards) {
      if (!/^[\w.-]+$/.test(board)) throw new RangeError(`emulated CAN bus: bad board name ${board}`);
      const pair = await PtyPair.open(join(dir, board), join(dir, `.${board}.adapter`));
      pairs.push(pair);
      const adapter = new SlcanAdapterEmulator(pair.b, bus.join());
      await adapter.start();
      adapters[board] = adapter;
      paths[board] = pair.a;
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { paths, bus, adapters, close };
}
