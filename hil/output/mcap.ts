/**
 * The MCAP recording of a run (@mcap/core): one JSON message per frame on each topic, with JSON-schema channels
 * so Foxglove and PlotJuggler plot every field without a plugin. Log times are the frames' nominal start times
 * (frame x period), so a lockstep run writes the same bytes every time.
 *
 * Topics: /plant (theta, command), /pilot, /sensors, /inputs (what each input unit submitted), /channel/cN (each
 * channel's output as the voter received it), /voter (decision), /actuator, /pbft (view, primary), /events, and
 * /recoveries (registered, empty until proactive recovery exists).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { type IWritable, McapWriter } from '@mcap/core';
import type { EventRecord, FrameRecord, Trace } from '../../src/runtime/report/trace.ts';
import type { FrameExtra } from '../rig.ts';

/** Synchronous file writes behind the writer's async interface (its calls are awaited one at a time). */
class FileWritable implements IWritable {
  private pos = 0n;
  constructor(private readonly fd: number) {}

  async write(buffer: Uint8Array): Promise<void> {
    let off = 0;
    while (off < buffer.length) off += writeSync(this.fd, buffer, off, buffer.length - off);
    this.pos += BigInt(buffer.length);
  }

  position(): bigint {
    return this.pos;
  }
}

const num = { type: 'number' } as const;
const nullableNum = { type: ['number', 'null'] } as const;
const base = { frame: { type: 'integer' }, t: num } as const;

/** Topic -> JSON schema of its messages. */
export function topicSchemas(channels: readonly string[]): Record<string, object> {
  const schemas: Record<string, object> = {
    '/plant': obj({ ...base, theta: num, command: num }),
    '/pilot': obj({ ...base, command: num }),
    '/sensors': obj({ ...base, readings: { type: 'array', items: nullableNum } }),
    '/inputs': obj({
      ...base,
      units: {
        type: 'array',
        items: obj({
          unit: { type: 'integer' },
          submitted: { type: 'boolean' },
          stick: nullableNum,
          pitch: nullableNum,
          lateMs: num,
        }),
      },
    }),
    '/voter': obj({
      ...base,
      outcome: { type: 'string', enum: ['write', 'hold', 'failsafe'] },
      value: num,
      reason: { type: 'string' },
      latencyMs: nullableNum,
      contributors: { type: 'array', items: { type: 'string' } },
      dissenters: { type: 'array', items: { type: 'string' } },
      missing: { type: 'array', items: { type: 'string' } },
    }),
    '/actuator': obj({ ...base, commanded: num, position: num }),
    '/pbft': obj({ ...base, view: { type: 'integer' }, primary: { type: 'integer' } }),
    '/events': obj({ ...base, kind: { type: 'string' }, detail: { type: 'string' } }),
    '/recoveries': obj({ ...base, node: { type: 'string' }, phase: { type: 'string' } }),
  };
  for (const c of channels)
    schemas[`/channel/${c}`] = obj({ ...base, elevator: nullableNum, received: { type: 'boolean' } });
  return schemas;
}

function obj(properties: Record<string, unknown>): object {
  return { type: 'object', properties, required: Object.keys(properties) };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** The messages of one frame, by topic. */
export function frameMessages(
  f: FrameRecord,
  x: FrameExtra | undefined,
  channels: readonly string[],
): [string, unknown][] {
  const b = { frame: f.frame, t: f.t };
  const out: [string, unknown][] = [
    ['/plant', { ...b, theta: f.theta, command: f.reference }],
    ['/pilot', { ...b, command: f.reference }],
    ['/sensors', { ...b, readings: (x?.readings ?? []).map((r) => (r === null ? null : finite(r))) }],
    [
      '/inputs',
      {
        ...b,
        units: (x?.samples ?? []).map((s, unit) => ({
          unit,
          submitted: s !== null,
          stick: s === null ? null : finite(s.stick),
          pitch: s?.pitch === null || s === null ? null : finite(s.pitch),
          lateMs: s?.lateMs ?? 0,
        })),
      },
    ],
    [
      '/voter',
      {
        ...b,
        outcome: f.outcome,
        value: f.voted,
        reason: x?.reason ?? '',
        latencyMs: finite(f.latencyMs),
        contributors: x?.contributors ?? [],
        dissenters: x?.dissenters ?? [],
        missing: x?.missing ?? [],
      },
    ],
    ['/actuator', { ...b, commanded: f.voted, position: f.elevator }],
    ['/pbft', { ...b, view: f.view, primary: f.primary }],
  ];
  channels.forEach((c, i) => {
    const v = f.channels[i] ?? null;
    out.push([`/channel/${c}`, { ...b, elevator: v, received: v !== null }]);
  });
  return out;
}

export interface McapInfo {
  readonly scenario: string;
  readonly seed: number;
  readonly config: string;
  readonly timing: string;
  readonly periodMs: number;
}

/** Writes the whole run to `file`; returns the number of messages written. */
export async function writeMcap(
  file: string,
  trace: Trace,
  extras: readonly FrameExtra[],
  channels: readonly string[],
  info: McapInfo,
): Promise<number> {
  const fd = openSync(file, 'w');
  try {
    const writer = new McapWriter({ writable: new FileWritable(fd), chunkSize: 256 * 1024 });
    await writer.start({ profile: '', library: 'triplex hil' });
    await writer.addMetadata({
      name: 'triplex',
      metadata: new Map([
        ['scenario', info.scenario],
        ['seed', String(info.seed)],
        ['config', info.config],
        ['timing', info.timing],
        ['recoveries', 'proactive recovery is not built yet: /recoveries stays empty'],
      ]),
    });
    const ids = new Map<string, number>();
    for (const [topic, schema] of Object.entries(topicSchemas(channels))) {
      const schemaId = await writer.registerSchema({
        name: `triplex${topic.replace(/\/channel\/.*/, '/channel').replaceAll('/', '.')}`,
        encoding: 'jsonschema',
        data: new TextEncoder().encode(JSON.stringify(schema)),
      });
      ids.set(
        topic,
        await writer.registerChannel({ topic, schemaId, messageEncoding: 'json', metadata: new Map() }),
      );
    }
    const enc = new TextEncoder();
    const ns = (ms: number): bigint => BigInt(Math.round(ms * 1e6));
    let count = 0;
    const add = async (topic: string, sequence: number, timeMs: number, data: unknown): Promise<void> => {
      await writer.addMessage({
        channelId: ids.get(topic)!,
        sequence,
        logTime: ns(timeMs),
        publishTime: ns(timeMs),
        data: enc.encode(JSON.stringify(data)),
      });
      count++;
    };
    const events = [...trace.events].sort((a, b) => a.frame - b.frame);
    let e = 0;
    for (const [k, f] of trace.frames.entries()) {
      const time = f.frame * info.periodMs;
      for (; e < events.length && events[e]!.frame <= f.frame; e++)
        await add('/events', e, time, eventMessage(events[e]!));
      for (const [topic, data] of frameMessages(f, extras[k], channels))
        await add(topic, f.frame, time, data);
    }
    for (; e < events.length; e++)
      await add('/events', e, events[e]!.frame * info.periodMs, eventMessage(events[e]!));
    await writer.end();
    return count;
  } finally {
    closeSync(fd);
  }
}

function eventMessage(e: EventRecord): unknown {
  return { frame: e.frame, t: e.t, kind: e.kind, detail: e.detail };
}
