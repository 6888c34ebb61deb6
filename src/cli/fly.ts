/**
 * A flight as a command runs it: the live status on stderr, Ctrl-C, the report folder and the printed summary,
 * around the flight use case of hil/flight.ts. Shared by `triplex sim` (both modes) and `triplex node --rig`.
 */
import type { Logger } from 'pino';
import { type FlightPlan, type FlightProgress, fly, latencyStats, summarize } from '../../hil/flight.ts';
import type { Scenario } from '../../hil/scenario.ts';
import type { Topology } from '../runtime/config.ts';
import type { ControlLoopFactory } from '../runtime/node/control-loop.ts';
import { writeReport } from '../runtime/report/write.ts';
import type { RealScheduler } from '../runtime/scheduler.ts';
import { channelHealthOf, StatusDisplay } from '../runtime/status.ts';
import { EXIT } from './args.ts';
import type { Interrupt } from './interrupt.ts';

/** What a flight needs besides the topology: shared by `triplex sim` (both modes) and `triplex node --rig`. */
export interface FlyOptions {
  /** The command's name in messages (`triplex sim`). */
  readonly command: string;
  readonly scenario: Scenario;
  readonly seed: number;
  readonly out: string;
  readonly json: boolean;
  readonly status: boolean;
  readonly logger: Logger;
  readonly logFile: string;
  /** The command line that replays this run. */
  readonly replay: string;
  /** The loop to close (default: every board in this process). */
  readonly loop?: (scheduler: RealScheduler) => ControlLoopFactory;
  /** Called after the flight and the loop's close: summary fields to add (board processes' statistics). */
  readonly afterFlight?: () => Promise<Record<string, unknown>>;
  /** Ctrl-C and SIGTERM: the flight stops after its current frame, the report is still written. */
  readonly interrupt: Interrupt;
}

/** Flies `fly.scenario` on real timers with the live status, writes the report; the exit code of the run. */
export async function flyScenario(topo: Topology, options: FlyOptions): Promise<number> {
  const display = new StatusDisplay(process.stderr, () => performance.now());
  const { interrupt } = options;
  interrupt.finishing = 'finishing the current frame and writing the report';
  const plan: FlightPlan = {
    command: options.command,
    topology: topo,
    scenario: options.scenario,
    seed: options.seed,
    logger: options.logger,
    signal: interrupt.signal,
    ...(options.loop ? { loop: options.loop } : {}),
    ...(options.status ? { onFrame: (p: FlightProgress) => showStatus(display, topo, p) } : {}),
  };
  const flight = await fly(plan);
  const extra = options.afterFlight ? await options.afterFlight() : {};
  const summary = { ...summarize(plan, flight, { replay: options.replay }), ...extra };
  const channelNames = topo.channels.map((c) => `c${c.id} (${c.impl})`);
  const files = writeReport(
    options.out,
    `${options.command}: ${options.scenario.description}`,
    summary,
    flight.trace,
    channelNames,
  );
  options.logger.flush();
  const { result, rig, host } = flight;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, report: files }, null, 2)}\n`);
  } else {
    const lines = [
      '',
      `${options.command}: ${result.passed ? 'PASSED' : 'FAILED'}  (${result.frames}/${rig.totalFrames} frames at ${topo.frameRateHz} Hz, seed ${options.seed})`,
      ...result.assertions.map((a) => `  ${a.passed ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`),
      `  voter: ${JSON.stringify(summary.voter)}  latency ms: ${JSON.stringify(summary.latencyMs)}`,
      `  host: event-loop delay ms ${JSON.stringify(host.eventLoopDelayMs)}, cpu ${host.cpuSeconds} s`,
      `  report: ${files.html}`,
      `          ${files.summary}, ${files.csv}, ${options.logFile}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (interrupt.signal.aborted) return EXIT.interrupted;
  return result.passed ? EXIT.ok : EXIT.failed;
}

/** The live status; the snapshot is only built when the display will draw it. */
function showStatus(display: StatusDisplay, topo: Topology, p: FlightProgress): void {
  if (!display.due()) return;
  const { record: rec, rig } = p;
  const lat = latencyStats(p.recentLatencyMs);
  const health = rig.system.voterHealth();
  const last = rig.trace.events.at(-1);
  display.update({
    frame: rec.frame + 1,
    totalFrames: p.totalFrames,
    t: rec.t,
    view: rec.view,
    primary: rec.primary,
    channels: topo.channels.map((c, i) => ({
      name: `c${c.id}`,
      health: channelHealthOf(health[i], rig.system.channelRunning(c.id)),
    })),
    writes: p.outcomes.write,
    holds: p.outcomes.hold,
    failsafes: p.outcomes.failsafe,
    latencyP50Ms: lat.p50,
    latencyP99Ms: lat.p99,
    theta: rec.theta,
    reference: rec.reference,
    ...(last !== undefined ? { lastEvent: `${last.kind}: ${last.detail}` } : {}),
  });
}
