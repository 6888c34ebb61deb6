/**
 * Real-time scheduling for the firmware unit's process (the host build, or qemu-system-arm). On a real bench the
 * actuator interface unit is a microcontroller of its own; here it shares two CPUs with the rest of the loop and
 * whatever else the machine runs. At ordinary priority every hand-over between Node and the unit waits for a CPU
 * behind that load, and QEMU's UART model takes one byte per guest read (a wake-up of QEMU's vCPU thread and its
 * main loop per byte: about 350 per frame at 50 Hz), so a loaded machine delays decisions past their frame and the
 * backlog grows (measured: runs of 60 to 370 frames whose decision came after the frame closed, at load 6 to 11).
 * So the unit gets what the flight's own process gets (src/runtime/node/realtime.ts): SCHED_FIFO for every
 * thread, here above the flight's main thread, where permitted and unless `TRIPLEX_REALTIME` says off. Above it:
 * the unit is mostly asleep (a few ms of work per frame), but when QEMU is not run its idle guest's clock still
 * follows the host's, so a stall of 150 ms expires its watchdog (firmware-bridge/README.md); at 35, below the
 * 40 of other flights on a shared machine, it was stalled that long and reset (request-lost, refused REKEYs).
 *
 * A real-time unit that spins (a hung firmware under the `voter hang` fault, before its watchdog fires) would
 * starve a CPU: the governor below gives real time back when the whole process used more than 85% of a CPU for
 * two windows of 250 ms (process-wide CPU time: QEMU spins in its vCPU thread, not its main thread), and
 * `raise` may be called again once the unit is back.
 *
 * @example
 * const s = raiseUnitPriority(child.pid);       // 'SCHED_FIFO priority 45 (chrt; 2 other threads at 45)'
 * const g = new UnitGovernor(child.pid, log);    // gives it back if the unit spins
 * g.stop();
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { dropRealtime, requestRealtime, type Scheduling } from '../node/realtime.ts';

/** Above a flight's main thread (40), below threaded interrupt handlers (50). */
export const UNIT_PRIORITY = 45;

/** SCHED_FIFO for every thread of the unit's process where permitted; what it got, and why not. */
export function raiseUnitPriority(pid: number | undefined): Scheduling | { readonly summary: string } {
  if (pid === undefined) return { summary: 'no process' };
  return requestRealtime({ pid, priority: UNIT_PRIORITY, helpers: UNIT_PRIORITY, nice: 0 });
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux for every architecture in use). */
const USER_HZ = 100;

/** The process's user + system CPU time, ms (every thread); undefined when it cannot be read. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** Watches a real-time unit process and drops it to ordinary scheduling when it spins. */
export class UnitGovernor {
  private readonly timer: NodeJS.Timeout;
  private last: { wall: number; cpu: number } | undefined;
  private spinning = 0;
  /** Why real time was given back (undefined: it was not). */
  dropped: string | undefined;

  constructor(
    private readonly pid: number,
    private readonly log: Logger,
    private readonly o: { readonly maxShare: number; readonly windows: number; readonly windowMs: number } = {
      maxShare: 0.85,
      windows: 2,
      windowMs: 250,
    },
  ) {
    this.timer = setInterval(() => this.check(), o.windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const cpu = cpuMsOf(this.pid);
    const wall = performance.now();
    const before = this.last;
    this.last = cpu === undefined ? undefined : { wall, cpu };
    if (cpu === undefined || before === undefined || this.dropped !== undefined) return;
    const share = (cpu - before.cpu) / Math.max(1, wall - before.wall);
    this.spinning = share > this.o.maxShare ? this.spinning + 1 : 0;
    if (this.spinning < this.o.windows) return;
    const failed = dropRealtime(this.pid);
    this.dropped = `the firmware unit used ${(share * 100).toFixed(0)}% of a CPU for ${this.spinning} windows of ${this.o.windowMs} ms: real-time scheduling dropped${failed ? ` (${failed})` : ''}`;
    this.log.warn({ share }, this.dropped);
    this.stop();
  }
}
