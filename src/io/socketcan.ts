/**
 * SocketCAN driver (Linux can0/vcan0) through the optional `socketcan` package (node-can), loaded lazily
 * only when a CAN link of this kind is configured. Where the package is missing (not Linux, or the native
 * addon did not build) start() fails with a TransportConfigError saying so; nothing else is affected.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { BehaviorSubject } from 'rxjs';
import type { CanDriver } from './can-driver.ts';
import { type CanFrame, canFrameProblem } from './can-frame.ts';
import { type LinkState, StatsCounter, TransportConfigError } from './transport.ts';

/** The parts of node-can's API used here. */
interface RawChannel {
  addListener(event: 'onMessage', cb: (msg: NodeCanMessage) => void): void;
  addListener(event: 'onStopped', cb: () => void): void;
  start(): void;
  stop(): void;
  send(msg: NodeCanMessage): void;
}

interface NodeCanMessage {
  id: number;
  ext?: boolean;
  rtr?: boolean;
  canfd?: boolean;
  data: Buffer;
}

interface SocketCanModule {
  createRawChannel(iface: string, timestamps?: boolean): RawChannel;
  createRawChannelWithOptions?(iface: string, options: Record<string, unknown>): RawChannel;
}

export interface SocketCanOptions {
  /** Interface name: can0, vcan0. */
  iface: string;
  /** Use CAN FD frames (the interface must have FD enabled). */
  fd?: boolean;
}

/** CAN interfaces present on this machine (type 280 = ARPHRD_CAN in /sys/class/net). */
export function listCanInterfaces(): string[] {
  const base = '/sys/class/net';
  if (!existsSync(base)) return [];
  return readdirSync(base).filter((name) => {
    try {
      return readFileSync(`${base}/${name}/type`, 'utf8').trim() === '280';
    } catch {
      return false;
    }
  });
}

/** Load the optional package; a clear error when it is not there. */
export async function loadSocketCan(): Promise<SocketCanModule> {
  const name = 'socketcan'; // a variable, so bundlers and tsc do not require the package to exist
  try {
    const mod = (await import(name)) as SocketCanModule & { default?: SocketCanModule };
    const api = mod.default ?? mod;
    if (typeof api.createRawChannel !== 'function') throw new Error('no createRawChannel export');
    return api;
  } catch (err) {
    throw new TransportConfigError(
      `SocketCAN link configured, but the optional 'socketcan' package could not be loaded (${(err as Error).message}). ` +
        `It is a Linux-only native addon: install it with 'npm install socketcan' on a Linux host with CAN, ` +
        `or configure an SLCAN or emulated CAN link instead.`,
    );
  }
}

export class SocketCanDriver implements CanDriver {
  readonly fd: boolean;
  readonly state = new BehaviorSubject<LinkState>('connecting');
  readonly counters = new StatsCounter();
  lastError: string | undefined;
  onFrame: (frame: CanFrame) => void = () => {};
  private channel: RawChannel | undefined;

  constructor(private readonly options: SocketCanOptions) {
    this.fd = options.fd ?? false;
  }

  async start(): Promise<void> {
    const api = await loadSocketCan();
    if (!listCanInterfaces().includes(this.options.iface)) {
      this.lastError = `SocketCAN: no CAN interface ${this.options.iface} (have: ${listCanInterfaces().join(', ') || 'none'})`;
      this.state.next('down');
      throw new TransportConfigError(this.lastError);
    }
    const channel =
      this.fd && api.createRawChannelWithOptions
        ? api.createRawChannelWithOptions(this.options.iface, { timestamps: false, canfd: true })
        : api.createRawChannel(this.options.iface, false);
    channel.addListener('onMessage', (msg) => this.onMessage(msg));
    channel.addListener('onStopped', () => this.state.next('down'));
    channel.start();
    this.channel = channel;
    this.state.next('up');
  }

  async stop(): Promise<void> {
    this.channel?.stop();
    this.channel = undefined;
    this.state.next('down');
  }

  send(frame: CanFrame): boolean {
    // Checked here because the addon would truncate or throw on an oversize frame.
    const problem =
      canFrameProblem(frame) ?? (frame.fd && !this.fd ? 'CAN FD frame on a classic interface' : undefined);
    if (problem !== undefined) return this.counters.drop('bad-frame');
    if (this.channel === undefined || this.state.value !== 'up') return this.counters.drop('link-down');
    try {
      this.channel.send({
        id: frame.id,
        ext: frame.extended,
        rtr: frame.remote,
        canfd: frame.fd,
        data: Buffer.from(frame.data),
      });
    } catch (err) {
      this.lastError = `SocketCAN ${this.options.iface}: ${(err as Error).message}`;
      return this.counters.drop('send-failed');
    }
    this.counters.sent(frame.data.length);
    return true;
  }

  private onMessage(msg: NodeCanMessage): void {
    const data = new Uint8Array(msg.data);
    const frame: CanFrame = {
      id: msg.id,
      extended: msg.ext ?? false,
      remote: msg.rtr ?? false,
      fd: msg.canfd ?? data.length > 8,
      brs: false,
      data,
      dlc: data.length,
    };
    if (canFrameProblem(frame) !== undefined) {
      this.counters.error('bad-frame');
      return;
    }
    this.counters.received(data.length);
    this.onFrame(frame);
  }
}
