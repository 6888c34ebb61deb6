/**
 * SLCAN host: drives a USB-CAN adapter of the CANable/USBtin kind (or the emulated bus's adapter) over a
 * serial port. On every (re)connection of the port it runs C, S<n> [, Y<n>], O; it sends frames as t/T/d/...
 * lines and expects one reply per command (CR or z/Z = OK, BEL = error), matched in order. A command without
 * a reply within `replyTimeoutMs` is counted as 'timeout'; after `maxTimeouts` in a row the adapter is taken
 * as hung: state 'down', then the init sequence is retried with back-off. Malformed lines are counted and
 * skipped.
 *
 * Frames are flow-controlled: at most `txWindow` frames wait for their acknowledgement (`room()`), and the
 * owner is told (`onRoom`) as acknowledgements free the window. An adapter that acknowledges a frame only once
 * it has left the bus (the emulated one does) may take as long as other nodes keep the bus busy, so a frame's
 * acknowledgement times out only after `frameAckTimeoutMs` without any sign of life from the adapter (a reply
 * or a received frame), not after `replyTimeoutMs` from when it was sent.
 */

import { performance } from 'node:perf_hooks';
import { BehaviorSubject } from 'rxjs';
import type { CanDriver } from './can-driver.ts';
import { type CanFrame, canFrameProblem } from './can-frame.ts';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, SerialDevice } from './serial-device.ts';
import {
  encodeSlcanFrame,
  parseSlcanReply,
  SlcanLineSplitter,
  type SlcanReply,
  slcanBitrateCode,
  slcanDataBitrateCode,
} from './slcan-codec.ts';
import type { LinkState, StatsCounter } from './transport.ts';

export interface SlcanHostOptions {
  path: string;
  /** Serial baud rate of the adapter's port (USB CDC adapters ignore it). */
  baudRate?: number;
  /** CAN bit rate (one of the S0..S8 rates). */
  bitrate: number;
  /** CAN FD data bit rate; setting it makes the driver an FD driver. */
  dataBitrate?: number;
  replyTimeoutMs?: number;
  /** Time without any line from the adapter before a frame's acknowledgement counts as lost (default 4 x replyTimeoutMs). */
  frameAckTimeoutMs?: number;
  /** Consecutive timeouts before the adapter is declared hung. */
  maxTimeouts?: number;
  /** Commands awaiting a reply at once; more are dropped ('adapter-busy'). */
  maxOutstanding?: number;
  /** Whether the adapter acknowledges t/T/d/... lines (CANable 2.0 and Lawicel do). */
  ackTransmit?: boolean;
  /**
   * Frames sent and not yet acknowledged at most (default 64): the transmit window `room()` reports, so a long
   * segmented message is fed to the adapter as it acknowledges frames instead of overrunning its queue.
   */
  txWindow?: number;
  reconnect?: BackoffOptions;
}

type Expect = 'ok' | 'version' | 'serial' | 'status';

interface Outstanding {
  command: string;
  expect: Expect;
  /** A frame transmission (counts against the transmit window). */
  frame: boolean;
  sentAt: number;
  settle?: (reply: SlcanReply | undefined) => void;
}

export class SlcanHost implements CanDriver {
  readonly fd: boolean;
  readonly state = new BehaviorSubject<LinkState>('connecting');
  readonly counters: StatsCounter;
  onFrame: (frame: CanFrame) => void = () => {};
  onRoom: (() => void) | undefined;
  /** Last status flags read with F. */
  statusFlags: number | undefined;
  /** Adapter version string read with V at init. */
  version: string | undefined;

  private readonly device: SerialDevice;
  private readonly splitter: SlcanLineSplitter;
  private outstanding: Outstanding[] = [];
  private consecutiveTimeouts = 0;
  private initAttempt = 0;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private initializing = false;
  private stopped = true;
  private error: string | undefined;
  private readonly replyTimeoutMs: number;
  private readonly frameAckTimeoutMs: number;
  /** When the adapter last sent anything (a reply or a frame from the bus). */
  private lastHeardAt = 0;
  /** When the last outstanding command was settled: the current head has waited since then at most. */
  private lastSettledAt = 0;
  private readonly maxTimeouts: number;
  private readonly maxOutstanding: number;
  private readonly ackTransmit: boolean;
  private readonly txWindow: number;
  /** Frame commands awaiting their acknowledgement. */
  private framesInFlight = 0;
  private readonly backoff: BackoffOptions;

  constructor(private readonly options: SlcanHostOptions) {
    slcanBitrateCode(options.bitrate); // validate early: a bad config fails at construction
    if (options.dataBitrate !== undefined) slcanDataBitrateCode(options.dataBitrate);
    this.fd = options.dataBitrate !== undefined;
    this.replyTimeoutMs = options.replyTimeoutMs ?? 500;
    this.frameAckTimeoutMs = options.frameAckTimeoutMs ?? 4 * this.replyTimeoutMs;
    this.maxTimeouts = options.maxTimeouts ?? 3;
    this.maxOutstanding = options.maxOutstanding ?? 512;
    this.ackTransmit = options.ackTransmit ?? true;
    this.txWindow = options.txWindow ?? 64;
    if (!Number.isInteger(this.txWindow) || this.txWindow < 1 || this.txWindow > this.maxOutstanding) {
      throw new RangeError(`SLCAN: txWindow must be 1..maxOutstanding (${this.maxOutstanding})`);
    }
    this.backoff = options.reconnect ?? DEFAULT_BACKOFF;
    // The adapter's USB link is not a UART: no pacing; the CAN bus paces.
    this.device = new SerialDevice({
      path: options.path,
      baudRate: options.baudRate ?? 115200,
      pace: false,
      reconnect: this.backoff,
      maxQueueBytes: 256 * 1024,
    });
    this.counters = this.device.counters;
    this.splitter = new SlcanLineSplitter(
      (line) => this.onLine(line),
      () => this.counters.error('slcan-line-too-long'),
    );
    this.device.onData = (chunk) => this.splitter.push(chunk);
    this.device.state.subscribe((s) => this.onDeviceState(s));
  }

  get lastError(): string | undefined {
    return this.error ?? this.device.lastError;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.device.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.state.value === 'up') {
      // Best effort: leave the adapter closed, as slcand does.
      await this.command('C', 'ok').catch(() => undefined);
    }
    this.failOutstanding();
    clearInterval(this.timeoutTimer);
    this.timeoutTimer = undefined;
    await this.device.stop();
    this.state.next('down');
  }

  send(frame: CanFrame): boolean {
    const problem =
      canFrameProblem(frame) ?? (frame.fd && !this.fd ? 'CAN FD frame on a classic adapter' : undefined);
    if (problem !== undefined) return this.counters.drop('bad-frame');
    if (this.state.value !== 'up') return this.counters.drop('link-down');
    if (this.outstanding.length >= this.maxOutstanding) return this.counters.drop('adapter-busy');
    return this.writeCommand(encodeSlcanFrame(frame), 'ok', this.ackTransmit, undefined, true);
  }

  /** Frames the adapter can take now: the transmit window minus the frames not yet acknowledged. */
  room(): number {
    if (this.state.value !== 'up') return 0;
    return Math.max(
      0,
      Math.min(this.txWindow - this.framesInFlight, this.maxOutstanding - this.outstanding.length),
    );
  }

  /** Read the status flags (F). Resolves undefined when the adapter does not answer. */
  async status(): Promise<number | undefined> {
    const reply = await this.command('F', 'status');
    if (reply?.kind === 'status') this.statusFlags = reply.flags;
    return reply?.kind === 'status' ? reply.flags : undefined;
  }

  /** Send a command and wait for its reply (undefined on timeout or when the port is down). */
  command(command: string, expect: Expect): Promise<SlcanReply | undefined> {
    return new Promise((resolve) => {
      if (!this.writeCommand(command, expect, true, resolve)) resolve(undefined);
    });
  }

  private writeCommand(
    command: string,
    expect: Expect,
    awaitReply: boolean,
    settle?: (r: SlcanReply | undefined) => void,
    isFrame = false,
  ): boolean {
    if (!this.device.write(Buffer.from(`${command}\r`, 'latin1'), isFrame)) return false;
    if (awaitReply) {
      this.outstanding.push({ command, expect, frame: isFrame, sentAt: performance.now(), settle });
      if (isFrame) this.framesInFlight++;
      this.armTimeoutCheck();
    }
    return true;
  }

  private onDeviceState(s: LinkState): void {
    if (this.stopped && s !== 'down') return;
    if (s === 'up') void this.init();
    else {
      this.failOutstanding();
      if (this.state.value !== s) this.state.next(s);
    }
  }

  /** C, S, [Y], O, V: bring the adapter to a known open state. */
  private async init(): Promise<void> {
    if (this.initializing || this.stopped) return;
    this.initializing = true;
    this.state.next('connecting');
    try {
      await this.command('C', 'ok'); // may answer BEL when already closed: fine
      const steps: string[] = [`S${slcanBitrateCode(this.options.bitrate)}`];
      if (this.options.dataBitrate !== undefined)
        steps.push(`Y${slcanDataBitrateCode(this.options.dataBitrate)}`);
      steps.push('O');
      for (const step of steps) {
        const reply = await this.command(step, 'ok');
        if (reply?.kind !== 'ok') {
          this.error = `SLCAN ${this.options.path}: '${step}' ${reply === undefined ? 'got no reply' : `failed (${reply.kind})`}`;
          this.counters.error('init-failed');
          this.retryInit();
          return;
        }
      }
      const v = await this.command('V', 'version');
      if (v?.kind === 'version') this.version = v.text;
      this.error = undefined;
      this.initAttempt = 0;
      this.consecutiveTimeouts = 0;
      if (this.device.state.value === 'up') {
        this.state.next('up');
        this.onRoom?.();
      }
    } finally {
      this.initializing = false;
    }
  }

  private retryInit(): void {
    this.state.next('down');
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        if (this.device.state.value === 'up') void this.init();
      },
      backoffDelay(this.initAttempt++, this.backoff),
    );
    this.retryTimer.unref?.();
  }

  private onLine(line: string): void {
    this.lastHeardAt = performance.now();
    const reply = parseSlcanReply(line);
    switch (reply.kind) {
      case 'frame':
        this.counters.framesIn++;
        this.onFrame(reply.frame);
        return;
      case 'malformed':
        this.counters.error('slcan-malformed');
        return;
      default:
        this.settleNext(reply);
    }
  }

  private settleNext(reply: SlcanReply): void {
    const next = this.outstanding.shift();
    if (next === undefined) {
      this.counters.error('slcan-unexpected-reply');
      return;
    }
    this.consecutiveTimeouts = 0;
    this.lastSettledAt = performance.now();
    if (next.frame) this.frameSettled();
    const matches =
      reply.kind === 'error' || reply.kind === next.expect || (next.expect === 'ok' && reply.kind === 'ok');
    if (reply.kind === 'error') this.counters.error(next.settle ? 'slcan-error-reply' : 'slcan-tx-refused');
    else if (!matches) this.counters.error('slcan-unexpected-reply');
    next.settle?.(reply);
  }

  /** One interval timer while replies are awaited, not one timer per command. */
  private armTimeoutCheck(): void {
    if (this.timeoutTimer !== undefined) return;
    this.timeoutTimer = setInterval(() => this.checkTimeouts(), Math.max(5, this.replyTimeoutMs / 4));
    this.timeoutTimer.unref?.();
  }

  private checkTimeouts(): void {
    const now = performance.now();
    while (this.outstanding[0] !== undefined && this.overdue(this.outstanding[0], now)) {
      const late = this.outstanding.shift()!;
      if (late.frame) this.frameSettled();
      this.counters.error('timeout');
      this.consecutiveTimeouts++;
      late.settle?.(undefined);
    }
    if (this.outstanding.length === 0) {
      clearInterval(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
    if (this.consecutiveTimeouts >= this.maxTimeouts && this.state.value === 'up') {
      this.error = `SLCAN ${this.options.path}: adapter not answering (${this.consecutiveTimeouts} timeouts)`;
      this.consecutiveTimeouts = 0;
      this.failOutstanding();
      this.retryInit();
    }
  }

  /**
   * The head command is late after replyTimeoutMs at the head of the queue (replies come in order, so it
   * cannot be answered before the ones ahead of it); a frame only after frameAckTimeoutMs of silence.
   */
  private overdue(o: Outstanding, now: number): boolean {
    const waiting = Math.max(o.sentAt, this.lastSettledAt);
    if (!o.frame) return now - waiting > this.replyTimeoutMs;
    return now - Math.max(waiting, this.lastHeardAt) > this.frameAckTimeoutMs;
  }

  private failOutstanding(): void {
    const all = this.outstanding;
    this.outstanding = [];
    this.framesInFlight = 0;
    for (const o of all) o.settle?.(undefined);
  }

  /** One frame of the window is free again. */
  private frameSettled(): void {
    this.framesInFlight--;
    this.onRoom?.();
  }
}
