/**
 * The report's plots, from a flight's trace: the aircraft (pitch, elevator), the channels (their commands,
 * health and strikes), the voter and the protocol (decisions, view, primary) and the timing (latency per frame,
 * this host's event-loop delay per frame), all on one time axis with the same numbered event markers.
 */
import { chart, laneChart, type Marker, type Series } from './svg.ts';
import type { ChannelState, EventRecord, FrameRecord, FrameSample } from './trace.ts';

/** Colour of each event kind (its markers and its row in the event legend). */
export const EVENT_COLORS: Readonly<Record<string, string>> = {
  'fault-injected': '#d62728',
  'fault-cleared': '#2ca02c',
  'channel-latched': '#ff7f0e',
  'channel-reintegrated': '#17becf',
  'board-crashed': '#8c564b',
  'view-change': '#9467bd',
  'replica-byzantine': '#e377c2',
  stopped: '#000000',
};

export function eventColor(kind: string): string {
  return EVENT_COLORS[kind] ?? '#7f7f7f';
}

/** Markers numbered 1.. in event order; the report's event legend lists the same numbers. */
export function eventMarkers(events: readonly EventRecord[]): Marker[] {
  return events.map((e, i) => ({
    x: e.t,
    n: i + 1,
    color: eventColor(e.kind),
    label: `${e.kind}: ${e.detail}`,
  }));
}

/**
 * Channel lines that stay apart where they agree: a colour and a dash pattern each, the first drawn widest and
 * the later ones thinner on top, so a channel under another still shows at its edges.
 */
const CHANNEL_STYLES: readonly { color: string; dash?: string; width: number }[] = [
  { color: '#1f77b4', width: 4 },
  { color: '#ff7f0e', dash: '9 4', width: 2.4 },
  { color: '#2ca02c', dash: '2 3', width: 1.4 },
  { color: '#9467bd', dash: '12 3 2 3', width: 1.2 },
  { color: '#8c564b', dash: '4 2', width: 1 },
  { color: '#e377c2', dash: '1 2', width: 1 },
];

export function channelStyle(i: number): { color: string; dash?: string; width: number } {
  return CHANNEL_STYLES[i % CHANNEL_STYLES.length]!;
}

/** Channel states by severity: the lane chart draws the worst state of each pixel. */
export const CHANNEL_STATES: readonly { state: ChannelState; color: string }[] = [
  { state: 'ok', color: '#b7e1b0' },
  { state: 'striking', color: '#ffd166' },
  { state: 'silent', color: '#bdbdbd' },
  { state: 'probation', color: '#6baed6' },
  { state: 'latched', color: '#e4572e' },
  { state: 'down', color: '#333333' },
];

export interface ChartsInput {
  readonly frames: readonly FrameRecord[];
  readonly events: readonly EventRecord[];
  readonly samples?: readonly FrameSample[];
  readonly channelNames: readonly string[];
  /** The voter's deadline after each frame's start, ms (a reference line on the timing plots). */
  readonly deadlineMs?: number;
}

/** Every plot of the report, in reading order. */
export function reportCharts(input: ChartsInput): string[] {
  const { frames } = input;
  const xs = frames.map((f) => f.t);
  const markers = eventMarkers(input.events);
  const sampleOf = new Map((input.samples ?? []).map((s) => [s.frame, s]));
  const samples = frames.map((f) => sampleOf.get(f.frame));
  const deadline = input.deadlineMs;
  const out = [
    chart({
      title: 'Pitch angle and pilot command',
      xs,
      yLabel: 'rad',
      markers,
      series: [
        {
          label: 'pilot command',
          color: '#7f7f7f',
          ys: frames.map((f) => f.reference),
          dash: '6 3',
          step: true,
        },
        { label: 'pitch angle θ', color: '#1f77b4', ys: frames.map((f) => f.theta), width: 2 },
      ],
    }),
    chart({
      title: 'Elevator: voted command and actuator position',
      xs,
      yLabel: 'rad',
      markers,
      series: [
        {
          label: 'voted command',
          color: '#d62728',
          ys: frames.map((f) => f.voted),
          width: 2.6,
          opacity: 0.8,
        },
        {
          label: 'actuator position',
          color: '#000000',
          ys: frames.map((f) => f.elevator),
          dash: '5 3',
          width: 1.2,
        },
      ],
    }),
    chart({
      title: "Each channel's elevator command (a gap: no output in time)",
      xs,
      yLabel: 'rad',
      markers,
      series: input.channelNames.map(
        (name, i): Series => ({
          label: name,
          ...channelStyle(i),
          ys: frames.map((f) => f.channels[i] ?? null),
        }),
      ),
    }),
    chart({
      title: 'Voter decision per frame',
      xs,
      yLabel: 'decision',
      markers,
      height: 170,
      categories: ['write', 'hold', 'failsafe'],
      series: [
        {
          label: 'decision',
          color: '#e4572e',
          ys: frames.map((f) => ({ write: 0, hold: 1, failsafe: 2 })[f.outcome]),
          step: true,
          width: 2,
        },
      ],
    }),
    chart({
      title: 'PBFT view and primary replica',
      xs,
      yLabel: 'number',
      markers,
      height: 170,
      integer: true,
      series: [
        { label: 'view', color: '#9467bd', ys: frames.map((f) => f.view), step: true, width: 3 },
        {
          label: 'primary (replica id)',
          color: '#2ca02c',
          ys: frames.map((f) => f.primary),
          step: true,
          dash: '6 3',
        },
      ],
    }),
    chart({
      title: 'Input-to-actuator latency per frame (a hold is decided at the deadline)',
      xs,
      yLabel: 'ms',
      markers,
      yInclude: 0,
      ...(deadline !== undefined
        ? { refLines: [{ y: deadline, label: `deadline ${deadline.toFixed(1)} ms`, color: '#d62728' }] }
        : {}),
      series: [
        {
          label: 'latency',
          color: '#1f77b4',
          ys: frames.map((f) => (Number.isFinite(f.latencyMs) ? f.latencyMs : null)),
        },
      ],
    }),
  ];
  if (input.samples !== undefined && input.samples.length > 0) {
    out.push(
      chart({
        title: "This host's event-loop delay per frame (how late the process ran its timers)",
        xs,
        yLabel: 'ms',
        markers,
        yInclude: 0,
        ...(deadline !== undefined
          ? {
              refLines: [
                { y: deadline, label: `deadline ${deadline.toFixed(1)} ms`, color: '#d62728' },
                { y: deadline / 2, label: 'host-stall threshold', color: '#ff7f0e' },
              ],
            }
          : {}),
        series: [
          { label: 'event-loop delay', color: '#8c564b', ys: samples.map((s) => s?.loopDelayMs ?? null) },
        ],
      }),
      laneChart({
        title: 'Channel health as the voter saw it',
        xs,
        markers,
        states: CHANNEL_STATES,
        lanes: input.channelNames.map((name, i) => ({
          label: name.split(' ')[0] ?? name,
          states: samples.map((s) => s?.channels[i]?.state ?? 'ok'),
        })),
      }),
      chart({
        title: 'Strikes per channel (outputs outside tolerance of the voted value, before latching)',
        xs,
        yLabel: 'strikes',
        markers,
        height: 180,
        integer: true,
        series: input.channelNames.map(
          (name, i): Series => ({
            label: name,
            ...channelStyle(i),
            ys: samples.map((s) => s?.channels[i]?.strikes ?? null),
            step: true,
          }),
        ),
      }),
    );
  }
  return out;
}
