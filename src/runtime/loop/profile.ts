/**
 * Instrumentation for finding where a frame's time goes (bench/loop.ts --profile): a Scheduler that times each
 * timer callback and how late it ran, by the kind of timer, and a Transport that times each board's handling of
 * the messages it receives. Both only observe: what runs, and in which order, is unchanged.
 *
 * @example
 * const work = new WorkMeter();
 * const scheduler = new TimedScheduler(new RealScheduler(), work);
 * const system = new Fleet({ ..., scheduler, transportOf: (board, t) => timedTransport(board, t, work) });
 * work.take(); // { 'board b0': { count: 120, ms: 3.1 }, 'timer rig frame': { ... }, ... } since the last take
 */
import { Observable } from 'rxjs';
import type { Received, Transport } from '../../io/transport.ts';
import type { Scheduler } from '../scheduler.ts';

/** Time spent per kind of work, and how late timers ran. */
export class WorkMeter {
  private work = new Map<string, { count: number; ms: number }>();
  private lateness: number[] = [];

  add(kind: string, ms: number): void {
    const w = this.work.get(kind);
    if (w === undefined) this.work.set(kind, { count: 1, ms });
    else {
      w.count++;
      w.ms += ms;
    }
  }

  late(ms: number): void {
    if (this.lateness.length < 1_000_000) this.lateness.push(ms);
  }

  /** The work since the last take, by kind, and the timers' lateness (ms). */
  take(): { work: Record<string, { count: number; ms: number }>; lateness: number[] } {
    const out = { work: Object.fromEntries(this.work), lateness: this.lateness };
    this.work = new Map();
    this.lateness = [];
    return out;
  }
}

/**
 * Names a timer by the code of its callback: the loop's timers are arrows at a handful of call sites (the rig's
 * frame, the voter's deadline, the frame cutter's wake-up, a board's loopback delivery).
 */
export function timerKind(fn: () => void): string {
  const src = fn.toString();
  if (src.includes('onFrame')) return 'rig frame';
  if (src.includes('decide')) return 'voter deadline';
  if (src.includes('wake')) return 'frame cutter';
  if (src.includes('receive')) return 'board loopback';
  return `other: ${src.replace(/\s+/g, ' ').slice(0, 40)}`;
}

export class TimedScheduler implements Scheduler {
  constructor(
    private readonly inner: Scheduler,
    private readonly meter: WorkMeter,
  ) {}

  now(): number {
    return this.inner.now();
  }

  at(t: number, fn: () => void): () => void {
    const kind = timerKind(fn);
    return this.inner.at(t, () => {
      const start = performance.now();
      this.meter.late(Math.max(0, this.inner.now() - t));
      fn();
      this.meter.add(`timer ${kind}`, performance.now() - start);
    });
  }
}

/** `transport` with each received message's handling timed as `board <name>` work. */
export function timedTransport(board: string, transport: Transport, meter: WorkMeter): Transport {
  const received$ = new Observable<Received>((sub) =>
    transport.received$.subscribe({
      next: (m) => {
        const start = performance.now();
        sub.next(m);
        meter.add(`board ${board}`, performance.now() - start);
      },
      complete: () => sub.complete(),
      error: (e: unknown) => sub.error(e),
    }),
  );
  return {
    self: transport.self,
    get peers() {
      return transport.peers;
    },
    ...(transport.sharedMedium !== undefined ? { sharedMedium: transport.sharedMedium } : {}),
    received$,
    state$: transport.state$,
    start: () => transport.start(),
    send: (peer, bytes) => transport.send(peer, bytes),
    broadcast: (bytes) => transport.broadcast(bytes),
    stats: () => transport.stats(),
    close: () => transport.close(),
  };
}
