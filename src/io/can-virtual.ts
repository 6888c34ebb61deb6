/**
 * A CAN bus on virtual time: the emulated bus's timing and arbitration model (CanBusModel) driven by a caller's
 * clock instead of timers, with one CanDriver per node. CanTransport runs on it unchanged (its segmentation,
 * reassembly and flow control are the real ones), so a whole loop over CAN (Board on the virtual
 * scheduler) is deterministic: bus load, queueing and view changes on a slow bus are reproducible by seed, not
 * at the mercy of a loaded machine.
 *
 * A node's driver takes frames while its controller queue has room (`room()`), and says `onRoom` when one of
 * its frames has left the bus, as a mailbox-acknowledging adapter does.
 *
 * @example
 * const bus = new VirtualCanBus({ bitrate: 1_000_000 }, scheduler, false);
 * const t = new CanTransport({ self: 'b0', nodes, driver: bus.driver() });
 */
import { BehaviorSubject } from 'rxjs';
import { type BusTiming, CanBusModel } from './can-bus-model.ts';
import type { CanDriver } from './can-driver.ts';
import type { CanFrame } from './can-frame.ts';
import { type LinkState, StatsCounter } from './transport.ts';

/** The clock the bus runs on (the runtime's VirtualScheduler satisfies it). */
export interface VirtualClock {
  now(): number;
  at(time: number, fn: () => void): () => void;
}

/** Frames one node's controller holds waiting for the bus (a small mailbox set plus a software queue). */
export const VIRTUAL_CAN_QUEUE = 64;

export class VirtualCanBus {
  private readonly model: CanBusModel;
  private readonly drivers: VirtualCanDriver[] = [];
  private armedAt: number | undefined;
  private framesCarried = 0;

  constructor(
    readonly timing: BusTiming,
    private readonly clock: VirtualClock,
    readonly fd: boolean,
    private readonly queuePerNode = VIRTUAL_CAN_QUEUE,
  ) {
    this.model = new CanBusModel(timing, queuePerNode);
  }

  /** A driver for the next node on the bus. */
  driver(): CanDriver {
    const d = new VirtualCanDriver(this, this.model.addNode(), this.fd);
    this.drivers.push(d);
    return d;
  }

  /** Milliseconds the bus has been busy, and frames carried (for load over a window: take differences). */
  stats(): { busyMs: number; frames: number } {
    return { busyMs: this.model.busyMs(), frames: this.framesCarried };
  }

  /** @internal A node queues a frame. */
  enqueue(node: number, frame: CanFrame): boolean {
    const ok = this.model.enqueue(node, frame, this.clock.now());
    if (ok) this.schedule();
    return ok;
  }

  /** @internal Frames node `node` has waiting. */
  queued(node: number): number {
    return this.drivers[node]?.waiting ?? 0;
  }

  get queueLimit(): number {
    return this.queuePerNode;
  }

  private schedule(): void {
    const next = this.model.nextEventAt();
    if (next === undefined || this.armedAt === next) return;
    if (this.armedAt !== undefined && this.armedAt <= next) return; // an earlier wake-up will re-arm
    this.armedAt = next;
    this.clock.at(next, () => this.tick(next));
  }

  private tick(at: number): void {
    if (this.armedAt === at) this.armedAt = undefined;
    for (const d of this.model.advance(this.clock.now())) {
      this.framesCarried++;
      for (const member of this.drivers) if (member.index !== d.from) member.deliver(d.frame);
      this.drivers[d.from]?.transmitted();
    }
    this.schedule();
  }
}

class VirtualCanDriver implements CanDriver {
  readonly state = new BehaviorSubject<LinkState>('connecting');
  readonly counters = new StatsCounter();
  readonly lastError: string | undefined = undefined;
  onFrame: (frame: CanFrame) => void = () => {};
  onRoom?: () => void;
  /** Frames queued on the bus and not yet transmitted. */
  waiting = 0;
  private up = false;

  constructor(
    private readonly bus: VirtualCanBus,
    readonly index: number,
    readonly fd: boolean,
  ) {}

  async start(): Promise<void> {
    this.up = true;
    this.state.next('up');
  }

  async stop(): Promise<void> {
    this.up = false;
    this.state.next('down');
  }

  send(frame: CanFrame): boolean {
    if (!this.up) return this.counters.drop('down');
    if (!this.bus.enqueue(this.index, frame)) return this.counters.drop('queue-full');
    this.waiting++;
    this.counters.sent(frame.data.length);
    return true;
  }

  room(): number {
    return this.bus.queueLimit - this.waiting;
  }

  deliver(frame: CanFrame): void {
    if (!this.up) return;
    this.counters.received(frame.data.length);
    this.onFrame(frame);
  }

  transmitted(): void {
    this.waiting--;
    this.onRoom?.();
  }
}
