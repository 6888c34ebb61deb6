/**
 * Why the voter did not write: the runs of frames without a write (hold and failsafe episodes), each with the
 * causes the record supports. A frame's deadline is missed because the host stalled (this process's event loop
 * ran late: GC, a busy machine), because a link dropped or corrupted messages (which link, what it counted), or
 * because the protocol was changing view (after a primary crashed or misbehaved). Each cause quotes the
 * measurement it rests on, so a failing run explains itself; when none applies the episode says so, with what
 * was seen.
 *
 * @example
 * const episodes = attribute({ frames, events, samples, incidents, timing });
 * episodes[0]; // { kind: 'failsafe', first: 12, last: 27, length: 16, causes: [{ kind: 'host', detail: 'event-loop delay 119 ms at frame 11 ...' }] }
 */
import type { EventRecord, FrameRecord, FrameSample, Incident } from './trace.ts';

export type CauseKind = 'host' | 'link' | 'protocol' | 'unexplained';

export interface Cause {
  readonly kind: CauseKind;
  /** What was measured, in words, with the frame it was measured at. */
  readonly detail: string;
}

export interface Episode {
  readonly kind: 'hold' | 'failsafe';
  readonly first: number;
  readonly last: number;
  readonly length: number;
  /** Seconds of flight at the first frame. */
  readonly startS: number;
  readonly causes: readonly Cause[];
}

export interface AttributionTiming {
  readonly periodMs: number;
  /** The voter's deadline after a frame's start, ms. */
  readonly deadlineMs: number;
  /** Frames a backup waits for the primary before it asks for a view change. */
  readonly viewChangeTimeoutFrames: number;
}

export interface AttributionInput {
  readonly frames: readonly FrameRecord[];
  readonly events: readonly EventRecord[];
  readonly samples?: readonly FrameSample[];
  readonly incidents?: readonly Incident[];
  readonly timing: AttributionTiming;
  /** Boards in other processes: their hosts are not measured here, which an unexplained episode says. */
  readonly remoteBoards?: readonly string[];
}

/** Counters of the runtime that say a message was lost or refused on its way between boards. */
const LINK_COUNTERS = [/^board\.send-dropped$/, /^board\.rejected\./, /^voter\.rejected\.bad-mac$/, /^ipc\./];
/** Counters and events that say the protocol was changing view. */
const PROTOCOL_COUNTERS = [/^replica\.view-change$/, /^replica\.new-view$/];
const FAULT_EVENTS = new Set(['board-crashed', 'replica-byzantine']);
/** Most episodes described one by one (a run on a very busy machine can have thousands). */
export const MAX_EPISODES = 1000;

/** Maximal runs of frames whose outcome is not a write; a run with any failsafe frame is a failsafe episode. */
export function findEpisodes(
  frames: readonly FrameRecord[],
): { kind: 'hold' | 'failsafe'; first: number; last: number }[] {
  const out: { kind: 'hold' | 'failsafe'; first: number; last: number }[] = [];
  let open: { kind: 'hold' | 'failsafe'; first: number; last: number } | undefined;
  for (const f of frames) {
    if (f.outcome === 'write') {
      open = undefined;
      continue;
    }
    if (open === undefined || open.last !== f.frame - 1) {
      open = { kind: 'hold', first: f.frame, last: f.frame };
      out.push(open);
    }
    open.last = f.frame;
    if (f.outcome === 'failsafe') open.kind = 'failsafe';
  }
  return out;
}

/** The episodes of a flight (at most MAX_EPISODES), each with its attributed causes. */
export function attribute(input: AttributionInput): Episode[] {
  const samples = new Map<number, FrameSample>();
  for (const s of input.samples ?? []) samples.set(s.frame, s);
  const records = new Map<number, FrameRecord>();
  for (const f of input.frames) records.set(f.frame, f);
  const incidents = [...(input.incidents ?? [])].sort((a, b) => a.frame - b.frame);
  const index = { samples, records, incidents };
  return findEpisodes(input.frames)
    .slice(0, MAX_EPISODES)
    .map((e) => ({
      ...e,
      length: e.last - e.first + 1,
      startS: records.get(e.first)?.t ?? 0,
      causes: causesOf(e.first, e.last, input, index),
    }));
}

interface Index {
  readonly samples: ReadonlyMap<number, FrameSample>;
  readonly records: ReadonlyMap<number, FrameRecord>;
  /** Sorted by frame. */
  readonly incidents: readonly Incident[];
}

/** The incidents of frames from..last (binary search: a run can hold many). */
function incidentsIn(sorted: readonly Incident[], from: number, last: number): Incident[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.frame < from) lo = mid + 1;
    else hi = mid;
  }
  const out: Incident[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.frame <= last; i++) out.push(sorted[i]!);
  return out;
}

function causesOf(first: number, last: number, input: AttributionInput, index: Index): Cause[] {
  const { samples } = index;
  // The frame before an episode is included: a stall late in frame k delays the decision of frame k + 1.
  const from = first - 1;
  const causes: Cause[] = [];
  const host = hostCause(from, last, input.timing, samples);
  if (host) causes.push(host);
  const inWindow = incidentsIn(index.incidents, from, last);
  const link = linkCause(inWindow);
  if (link) causes.push(link);
  const protocol = protocolCause(first, last, input, index.records, inWindow);
  if (protocol) causes.push(protocol);
  if (causes.length === 0) causes.push(unexplained(from, last, index, inWindow, input.remoteBoards ?? []));
  return causes;
}

/**
 * A host stall, when around the episode (the frame before it included) one of this process's measurements
 * reached half the time a frame has to decide: the event loop ran a timer that late (a long task, GC); the JS
 * thread waited that long for a CPU within one frame (a busy machine, in short slices); or the process fell
 * that far behind its frame schedule. Each that applies is quoted, worst frame first.
 */
function hostCause(
  from: number,
  last: number,
  timing: AttributionTiming,
  samples: ReadonlyMap<number, FrameSample>,
): Cause | undefined {
  const worst = (pick: (s: FrameSample) => number): FrameSample | undefined => {
    let best: FrameSample | undefined;
    for (let k = from; k <= last; k++) {
      const s = samples.get(k);
      if (s !== undefined && (best === undefined || pick(s) > pick(best))) best = s;
    }
    return best;
  };
  const threshold = timing.deadlineMs / 2;
  const parts: string[] = [];
  const delay = worst((s) => s.loopDelayMs);
  if (delay && delay.loopDelayMs >= threshold)
    parts.push(`event-loop delay ${fmt(delay.loopDelayMs)} ms at frame ${delay.frame}`);
  const wait = worst((s) => s.cpuWaitMs ?? 0);
  if (wait && (wait.cpuWaitMs ?? 0) >= threshold)
    parts.push(`the JS thread waited ${fmt(wait.cpuWaitMs ?? 0)} ms for a CPU in frame ${wait.frame}`);
  const lag = worst((s) => s.lagMs);
  if (lag && lag.lagMs >= threshold) parts.push(`frame ${lag.frame + 1} started ${fmt(lag.lagMs)} ms late`);
  if (parts.length === 0) return undefined;
  return {
    kind: 'host',
    detail: `host stall: ${parts.join('; ')} (deadline ${fmt(timing.deadlineMs)} ms after each frame's start)`,
  };
}

/** A link: transport errors and drops, or messages the boards refused, during the episode. */
function linkCause(incidents: readonly Incident[]): Cause | undefined {
  const counted = new Map<string, number>();
  for (const i of incidents) {
    const isLink = i.source !== 'counters' || LINK_COUNTERS.some((r) => r.test(i.counter));
    if (!isLink) continue;
    const key = `${i.source === 'counters' ? 'boards' : i.source}: ${i.counter}`;
    counted.set(key, (counted.get(key) ?? 0) + i.delta);
  }
  if (counted.size === 0) return undefined;
  const parts = [...counted.entries()].map(([k, n]) => `${k} +${n}`);
  return { kind: 'link', detail: `link: ${parts.slice(0, 6).join(', ')}${parts.length > 6 ? ', ...' : ''}` };
}

/** The protocol: a view change during (or right after) the episode, or a fault that forces one just before. */
function protocolCause(
  first: number,
  last: number,
  input: AttributionInput,
  records: ReadonlyMap<number, FrameRecord>,
  incidents: readonly Incident[],
): Cause | undefined {
  const { events, timing } = input;
  const parts: string[] = [];
  const fault = events.find(
    (e) =>
      FAULT_EVENTS.has(e.kind) && e.frame >= first - timing.viewChangeTimeoutFrames - 2 && e.frame <= last,
  );
  if (fault) parts.push(`${fault.kind} (${fault.detail}) at frame ${fault.frame}`);
  const change = events.find((e) => e.kind === 'view-change' && e.frame >= first - 1 && e.frame <= last + 2);
  if (change) parts.push(`view change ${change.detail.replace(/^view /, '')} at frame ${change.frame}`);
  else {
    const before = records.get(first - 1)?.view;
    const after = records.get(last)?.view;
    if (before !== undefined && after !== undefined && after !== before)
      parts.push(`view ${before} -> ${after} during the episode`);
    else if (
      incidents.some((i) => i.source === 'counters' && PROTOCOL_COUNTERS.some((r) => r.test(i.counter)))
    )
      parts.push('a view change was in progress (replicas counted view-change messages)');
  }
  if (parts.length === 0) return undefined;
  return { kind: 'protocol', detail: `protocol: ${parts.join('; ')}` };
}

/** Nothing measured explains it: say what was seen, so that the next run can measure more. */
function unexplained(
  from: number,
  last: number,
  index: Index,
  incidents: readonly Incident[],
  remote: readonly string[],
): Cause {
  const { samples, records } = index;
  let worst = 0;
  let wait = 0;
  let outputs = Number.POSITIVE_INFINITY;
  for (let k = from; k <= last; k++) {
    worst = Math.max(worst, samples.get(k)?.loopDelayMs ?? 0);
    wait = Math.max(wait, samples.get(k)?.cpuWaitMs ?? 0);
    const f = k > from ? records.get(k) : undefined;
    if (f !== undefined) outputs = Math.min(outputs, f.channels.filter((c) => c !== null).length);
  }
  const late = incidents.filter((i) => i.counter === 'voter.rejected.late').reduce((n, i) => n + i.delta, 0);
  const seen = [
    samples.size > 0
      ? `worst event-loop delay ${fmt(worst)} ms, CPU wait ${fmt(wait)} ms in a frame`
      : 'no event-loop measurements',
    `as few as ${Number.isFinite(outputs) ? outputs : 0} channel outputs before the frame ended`,
    ...(late > 0 ? [`${late} channel outputs arrived after the deadline`] : []),
    ...(remote.length > 0
      ? [`boards ${remote.join(', ')} run in other processes, whose host stalls are not measured here`]
      : []),
  ];
  return {
    kind: 'unexplained',
    detail: `no host stall, link error or view change measured (${seen.join('; ')})`,
  };
}

function fmt(ms: number): string {
  return ms >= 10 ? ms.toFixed(0) : ms.toFixed(1);
}

/** Episodes by cause, for a one-line summary: `{ host: 2, protocol: 1 }` (an episode counts once per cause). */
export function causeCounts(episodes: readonly Episode[]): Partial<Record<CauseKind, number>> {
  const out: Partial<Record<CauseKind, number>> = {};
  for (const e of episodes) for (const c of e.causes) out[c.kind] = (out[c.kind] ?? 0) + 1;
  return out;
}
