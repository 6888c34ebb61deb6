/**
 * A flight as a command runs it: the live status on stderr, Ctrl-C, the report folder and the printed summary,
 * around the flight use case of hil/flight.ts. Shared by `triplex sim` (both modes) and `triplex node --rig`.
 */
import type { Logger } from 'pino';
import {
  type FlightPlan,
  type FlightProgress,
  type FlightResult,
  type FlightStory,
  fly,
  latencyStats,
  storyOf,
  summarize,
  timingOf,
} from '../../hil/flight.ts';
import type { Scenario } from '../../hil/scenario.ts';
import type { LinkStats, Transport } from '../io/transport.ts';
import type { Topology } from '../runtime/config.ts';
import type { ControlLoopFactory } from '../runtime/node/control-loop.ts';
import type { HostReport } from '../runtime/node/ipc.ts';
import { type ReportFiles, writeReport } from '../runtime/report/write.ts';
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
  /** Boards that fly in other processes (their host stalls are not measured here). */
  readonly remoteBoards?: readonly string[];
  /** This board's link statistics by link name (sampled each frame, to attribute missed frames to a link). */
  readonly links?: () => Readonly<Record<string, LinkStats>>;
  /** Proactive recovery's line in the live status (absent: recovery off or not in this process). */
  readonly recoveryStatus?: () => string;
  /** Host stalls the board processes reported since the last call (process mode). */
  readonly remoteHost?: () => readonly HostReport[];
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
    ...(options.links ? { links: options.links } : {}),
    ...(options.remoteHost ? { remoteHost: options.remoteHost } : {}),
    ...(options.status
      ? { onFrame: (p: FlightProgress) => showStatus(display, topo, p, options.recoveryStatus) }
      : {}),
  };
  const flight = await fly(plan);
  const extra = options.afterFlight ? await options.afterFlight() : {};
  const story = storyOf(plan, flight, interrupt.signal.aborted, options.remoteBoards ?? []);
  const summary = { ...summarize(plan, flight, story, { replay: options.replay }), ...extra };
  const files = writeReport(options.out, {
    title: `${options.command}: ${options.scenario.description}`,
    summary,
    frames: flight.trace.frames,
    events: flight.trace.events,
    samples: flight.trace.samples,
    channelNames: topo.channels.map((c) => `c${c.id} (${c.impl})`),
    verdict: story.verdict,
    episodes: story.episodes,
    deadlineMs: timingOf(topo).deadlineMs,
  });
  options.logger.flush();
  if (options.json) process.stdout.write(`${JSON.stringify({ ...summary, report: files }, null, 2)}\n`);
  else process.stdout.write(`${summaryText(options, topo, flight, story, summary, files).join('\n')}\n`);
  // A signal that came while the report was written (synchronously) is delivered now: it still means 130.
  await new Promise((r) => setImmediate(r));
  if (interrupt.signal.aborted) return EXIT.interrupted;
  return flight.result.passed ? EXIT.ok : EXIT.failed;
}

/** Episodes named one by one in the printed summary (the report lists them all). */
const EPISODE_LINES = 5;

function summaryText(
  options: FlyOptions,
  topo: Topology,
  flight: FlightResult,
  story: FlightStory,
  summary: Record<string, unknown>,
  files: ReportFiles,
): string[] {
  const { result, rig, host } = flight;
  const episodes = story.episodes.slice(0, EPISODE_LINES).map((e) => {
    const frames = e.first === e.last ? `frame ${e.first}` : `frames ${e.first}-${e.last}`;
    return `    ${e.kind} ${frames} (${e.length}): ${e.causes.map((c) => c.detail).join('; ')}`;
  });
  const more = story.episodesTotal - episodes.length;
  return [
    '',
    `${options.command}: ${story.verdict.headline}`,
    `  (${result.frames}/${rig.totalFrames} frames at ${topo.frameRateHz} Hz, seed ${options.seed})`,
    ...result.assertions.map((a) => `  ${a.passed ? 'ok  ' : 'FAIL'} ${a.name}: ${a.detail}`),
    `  voter: ${JSON.stringify(summary['voter'])}  latency ms: ${JSON.stringify(summary['latencyMs'])}`,
    ...recoveryLines(summary['recovery']),
    ...(story.episodesTotal > 0
      ? [`  frames not written: ${story.episodesTotal} episodes`, ...episodes]
      : []),
    ...(more > 0 ? [`    ... ${more} more in the report`] : []),
    `  host: event-loop delay ms ${JSON.stringify(host.eventLoopDelayMs)}, cpu ${host.cpuSeconds} s`,
    `  report: ${files.html}`,
    `          ${files.summary}, ${files.csv}, ${options.logFile}`,
  ];
}

/** The printed summary's recovery line (restarts per board, handovers, slowest rejoin). */
function recoveryLines(r: unknown): string[] {
  if (r === undefined || r === null || typeof r !== 'object') return [];
  const x = r as {
    perBoard?: Record<string, number>;
    handovers?: number;
    rejoinMs?: { p50: number; max: number };
  };
  const boards = Object.entries(x.perBoard ?? {})
    .map(([b, n]) => `${b} ${n}`)
    .join(', ');
  return [
    `  recovery: restarts ${boards || 'none'}; planned view changes ${x.handovers ?? 0}; ` +
      `rejoin ms p50 ${x.rejoinMs?.p50 ?? '-'} max ${x.rejoinMs?.max ?? '-'}`,
  ];
}

/** The live status; the snapshot is only built when the display will draw it. */
function showStatus(
  display: StatusDisplay,
  topo: Topology,
  p: FlightProgress,
  recovery: (() => string) | undefined,
): void {
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
    ...(recovery !== undefined ? { recovery: recovery() } : {}),
  });
}

/**
 * A board's links by name for the per-frame incidents: one per peer where the transport counts per peer (a
 * serial mesh: `aiu-b0`), else the whole transport under the board's name.
 */
export function linkSampler(board: string, transport: Transport): () => Record<string, LinkStats> {
  const perPeer = (transport as { peerStats?: () => Record<string, LinkStats> }).peerStats;
  if (typeof perPeer === 'function') {
    return () =>
      Object.fromEntries(
        Object.entries(perPeer.call(transport)).map(([peer, s]) => [`${board}-${peer}`, s] as const),
      );
  }
  return () => ({ [board]: transport.stats() });
}
