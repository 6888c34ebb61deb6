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
import type { EventRecord, FrameRecord, FrameSample, Incident, RemoteStall } from './trace.ts';

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
  /** Matching outputs the voter needs to write (f + 1; default 2). */
  readonly outputQuorum?: number;
}

export interface AttributionInput {
  readonly frames: readonly FrameRecord[];
  readonly events: readonly EventRecord[];
  readonly samples?: readonly FrameSample[];
  readonly incidents?: readonly Incident[];
  readonly timing: AttributionTiming;
  /** Boards in other processes: their hosts are not measured here, which an unexplained episode says. */
  readonly remoteBoards?: readonly string[];
  /**
   * The stalls those boards measured on themselves and reported (absent: they report none, so their hosts are
   * not measured; present, even empty: they do, and an episode without one of theirs says so).
   */
  readonly remoteStalls?: readonly RemoteStall[];
}

/** Counters of the runtime that say a message was lost or refused on its way between boards. */
const LINK_COUNTERS = [/^board\.send-dropped$/, /^board\.rejected\./, /^voter\.rejected\.bad-mac$/, /^ipc\./];
/** Counters and events that say the protocol was changing view. */
const PROTOCOL_COUNTERS = [/^replica\.view-change$/, /^replica\.new-view$/];
/** A channel's next executed batch was of a later frame than the one after its last: frames got no batch. */
const SKIPPED = /^channel\.skipped-frames$/;
/** Frames after an episode within which its channels' skipped frames are counted (the next batch executed). */
const SKIP_COUNTED_WITHIN = 3;
/** An input unit's request was not answered in time and was sent again (its next sample waits meanwhile). */
const RETRANSMIT = /^input\.retransmit$/;
const SUPERSEDED = /^input\.superseded$/;
/** A channel executed a batch that had too few units' samples to make a frame. */
const NO_QUORUM = /^channel\.no-frame\.no-quorum$/;
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
  const remote = remoteHostCause(from, last, input.timing, input.remoteStalls ?? []);
  if (remote) causes.push(remote);
  const inWindow = incidentsIn(index.incidents, from, last);
  const link = linkCause(inWindow);
  if (link) causes.push(link);
  // A channel counts the frames it skipped when the next batch executes: just after the episode.
  const skipped = incidentsIn(index.incidents, from, last + SKIP_COUNTED_WITHIN).filter((i) =>
    SKIPPED.test(i.counter),
  );
  const protocol = protocolCause(first, last, input, index.records, inWindow, skipped);
  if (protocol) causes.push(protocol);
  if (causes.length === 0 && (input.remoteBoards ?? []).length > 0) {
    const slow = latencyCause(from + 1, last, input.timing, samples);
    if (slow) causes.push(slow);
  }
  if (causes.length === 0)
    causes.push(
      unexplained(from, last, index, inWindow, input.remoteBoards ?? [], input.remoteStalls !== undefined),
    );
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
  const gc = worst((s) => s.gcMs ?? 0);
  if (gc && (gc.gcMs ?? 0) >= threshold)
    parts.push(`GC paused it ${fmt(gc.gcMs ?? 0)} ms in frame ${gc.frame}`);
  if (parts.length === 0) return undefined;
  return {
    kind: 'host',
    detail: `host stall: ${parts.join('; ')} (deadline ${fmt(timing.deadlineMs)} ms after each frame's start)`,
  };
}

/**
 * A stall of another board's host (process mode): the worst window each board process reported around the
 * episode in which its timers ran late, its JS thread waited for a CPU, or it collected garbage, by at least half
 * the deadline (the same threshold as this host's).
 */
function remoteHostCause(
  from: number,
  last: number,
  timing: AttributionTiming,
  stalls: readonly RemoteStall[],
): Cause | undefined {
  const threshold = timing.deadlineMs / 2;
  const worst = new Map<string, { stall: RemoteStall; ms: number }>();
  for (const s of stalls) {
    if (s.last < from || s.first > last) continue;
    const ms = Math.max(s.loopDelayMs, s.cpuWaitMs ?? 0, s.gcMs);
    if (ms < threshold) continue;
    const seen = worst.get(s.board);
    if (seen === undefined || ms > seen.ms) worst.set(s.board, { stall: s, ms });
  }
  if (worst.size === 0) return undefined;
  const parts = [...worst.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 4)
    .map(({ stall: s }) => {
      const what = [
        s.loopDelayMs >= threshold ? `timers ${fmt(s.loopDelayMs)} ms late` : '',
        (s.cpuWaitMs ?? 0) >= threshold ? `waited ${fmt(s.cpuWaitMs ?? 0)} ms for a CPU` : '',
        s.gcMs >= threshold ? `GC ${fmt(s.gcMs)} ms` : '',
      ].filter((x) => x !== '');
      const frames = s.first === s.last ? `frame ${s.first}` : `frames ${s.first}-${s.last}`;
      return `board ${s.board}'s process ${what.join(', ')} at ${frames}`;
    });
  return {
    kind: 'host',
    detail: `host stall: ${parts.join('; ')}${worst.size > 4 ? '; ...' : ''} (deadline ${fmt(timing.deadlineMs)} ms after each frame's start)`,
  };
}

/**
 * Slow links, when the boards are other processes on real links and nothing stalled, dropped or changed view:
 * the voter's board measured its quorum of outputs arriving after the deadline (or not before the frame
 * ended). The time went to the links (wire time at the baud rate, relays) and the protocol's message rounds.
 */
function latencyCause(
  first: number,
  last: number,
  timing: AttributionTiming,
  samples: ReadonlyMap<number, FrameSample>,
): Cause | undefined {
  const quorum = timing.outputQuorum ?? 2;
  let worst: { frame: number; at: number | undefined } | undefined;
  let measured = false;
  for (let k = first; k <= last; k++) {
    const sample = samples.get(k);
    const out = sample?.outputsMs;
    if (out === undefined) continue;
    measured = true;
    // The arrivals are anonymous and include latched channels' outputs, which the voter does not count: in the
    // worst case those came first, so the counted quorum was complete only at arrival quorum + latched.
    const at = out[quorum - 1 + latchedIn(sample)];
    if (at !== undefined && at <= timing.deadlineMs) continue;
    if (worst === undefined || worst.at !== undefined) {
      if (at === undefined || worst === undefined || at > (worst.at ?? 0)) worst = { frame: k, at };
    }
  }
  if (!measured || worst === undefined) return undefined;
  const when =
    worst.at === undefined
      ? `fewer than ${quorum} channel outputs of frame ${worst.frame} reached the voter before the frame ended`
      : `the ${ordinal(quorum)} channel output of frame ${worst.frame} reached the voter ${fmt(worst.at)} ms after the frame's start`;
  return {
    kind: 'link',
    detail: `slow links: ${when} (deadline ${fmt(timing.deadlineMs)} ms), with no host stall, link error or view change measured on any board: the time went to the links (wire time, relays) and the protocol's message rounds`,
  };
}

/** Channels the voter had latched at this frame (their outputs arrive but do not vote). */
function latchedIn(sample: FrameSample | undefined): number {
  return sample?.channels.filter((c) => c.state === 'latched').length ?? 0;
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}

/** A link: transport errors and drops, or messages the boards refused, during the episode. */
function linkCause(incidents: readonly Incident[]): Cause | undefined {
  const counted = new Map<string, number>();
  for (const i of incidents) {
    const isLink = i.source.startsWith('link ') || LINK_COUNTERS.some((r) => r.test(i.counter));
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
  skipped: readonly Incident[] = [],
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
    else if (incidents.some((i) => PROTOCOL_COUNTERS.some((r) => r.test(i.counter))))
      parts.push('a view change was in progress (replicas counted view-change messages)');
  }
  if (skipped.length > 0) {
    const worst = skipped.reduce((a, b) => (b.delta > a.delta ? b : a));
    const where = worst.source === 'counters' ? 'a channel' : worst.source;
    parts.push(
      `no ordered batch carried some frames' samples: ${where} executed none for ${worst.delta} frames (channel.skipped-frames at frame ${worst.frame})`,
    );
  }
  const sum = (r: RegExp): number =>
    incidents.filter((i) => r.test(i.counter)).reduce((n, i) => n + i.delta, 0);
  const retransmits = sum(RETRANSMIT);
  if (retransmits > 0) {
    const superseded = sum(SUPERSEDED);
    parts.push(
      `input units' requests went unanswered: ${retransmits} sent again${superseded > 0 ? `, ${superseded} newer samples superseded while a unit waited` : ''} (a unit sends its next sample once the last is ordered)`,
    );
  }
  const noQuorum = incidents.filter((i) => NO_QUORUM.test(i.counter));
  if (noQuorum.length > 0) {
    const where = [...new Set(noQuorum.map((i) => (i.source === 'counters' ? 'the channels' : i.source)))];
    parts.push(
      `a batch was cut without a quorum of input units' samples (${where.slice(0, 3).join(', ')} counted ${noQuorum[0]!.counter}): the samples reached the primary after its cut`,
    );
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
  remoteMeasured: boolean,
): Cause {
  const { samples, records } = index;
  let worst = 0;
  let wait = 0;
  let outputs = Number.POSITIVE_INFINITY;
  let latched = 0;
  for (let k = from; k <= last; k++) {
    worst = Math.max(worst, samples.get(k)?.loopDelayMs ?? 0);
    wait = Math.max(wait, samples.get(k)?.cpuWaitMs ?? 0);
    const f = k > from ? records.get(k) : undefined;
    if (f === undefined) continue;
    const n = f.channels.filter((c) => c !== null).length;
    if (n < outputs) {
      outputs = n;
      latched = latchedIn(samples.get(k));
    }
  }
  const late = incidents.filter((i) => i.counter === 'voter.rejected.late').reduce((n, i) => n + i.delta, 0);
  const seen = [
    samples.size > 0
      ? `worst event-loop delay ${fmt(worst)} ms, CPU wait ${fmt(wait)} ms in a frame`
      : 'no event-loop measurements',
    `as few as ${Number.isFinite(outputs) ? outputs : 0} channel outputs before the frame ended${latched > 0 ? ` (${latched} of them from latched channels, which do not vote)` : ''}`,
    ...(late > 0 ? [`${late} channel outputs arrived after the deadline`] : []),
    ...(remote.length > 0
      ? [
          remoteMeasured
            ? `boards ${remote.join(', ')} in other processes reported no host stall`
            : `boards ${remote.join(', ')} run in other processes, whose host stalls are not measured here`,
        ]
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
