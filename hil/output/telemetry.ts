/**
 * Live JSON-lines telemetry (`--telemetry udp://127.0.0.1:PORT` or `--telemetry FILE`): one line per frame and
 * per event, for dashboards (PlotJuggler's UDP JSON streamer, a `nc -ul` in a terminal, a log shipper). UDP is
 * fire-and-forget: a datagram that cannot be sent is counted, never waited for, so telemetry cannot slow a frame.
 *
 * @example
 * const sink = openTelemetry('udp://127.0.0.1:9870');
 * sink.frame('channel-garbage', record);
 * await sink.close();
 */
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, openSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventRecord, FrameRecord } from '../../src/runtime/report/trace.ts';

/** Largest datagram sent (a frame line is a few hundred bytes; anything larger is cut, counted). */
const MAX_DATAGRAM = 8192;

export class TelemetryError extends Error {}

export interface TelemetrySink {
  readonly target: string;
  frame(scenario: string, f: FrameRecord): void;
  event(scenario: string, e: EventRecord): void;
  /** Lines sent, and lines that could not be. */
  stats(): { sent: number; failed: number };
  close(): Promise<void>;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function frameLine(scenario: string, f: FrameRecord): string {
  return JSON.stringify({
    type: 'frame',
    scenario,
    frame: f.frame,
    t: f.t,
    theta: f.theta,
    command: f.reference,
    voted: f.voted,
    elevator: f.elevator,
    outcome: f.outcome,
    channels: f.channels,
    view: f.view,
    primary: f.primary,
    latencyMs: finite(f.latencyMs),
  });
}

/** Opens a sink: `udp://HOST:PORT` or a file path (appended to). Throws TelemetryError on a bad target. */
export function openTelemetry(target: string): TelemetrySink {
  if (target.startsWith('udp://')) {
    const m = /^udp:\/\/([^:/]+):(\d{1,5})$/.exec(target);
    const port = Number(m?.[2]);
    if (m === null || !(port > 0 && port < 65536)) {
      throw new TelemetryError(`--telemetry ${target}: expected udp://HOST:PORT`);
    }
    return udpSink(target, m[1]!, port);
  }
  return fileSink(target);
}

function udpSink(target: string, host: string, port: number): TelemetrySink {
  let sent = 0;
  let failed = 0;
  let pending = 0;
  const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('error', () => {
    failed++;
  });
  socket.unref();
  const send = (line: string): void => {
    const buf = Buffer.from(line.length > MAX_DATAGRAM ? line.slice(0, MAX_DATAGRAM) : line);
    pending++;
    socket.send(buf, port, host, (err) => {
      pending--;
      if (err) failed++;
      else sent++;
    });
  };
  return {
    target,
    frame: (s, f) => send(frameLine(s, f)),
    event: (s, e) => send(JSON.stringify({ type: 'event', scenario: s, ...e })),
    stats: () => ({ sent, failed }),
    // Datagrams queued before the socket was bound go out on later turns of the event loop: let them, briefly.
    close: async () => {
      for (let i = 0; i < 200 && pending > 0; i++) await sleep(10);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

function fileSink(path: string): TelemetrySink {
  let fd: number;
  try {
    fd = openSync(path, 'a');
  } catch (e) {
    throw new TelemetryError(`--telemetry ${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let sent = 0;
  let failed = 0;
  const write = (line: string): void => {
    try {
      writeSync(fd, `${line}\n`);
      sent++;
    } catch {
      failed++;
    }
  };
  return {
    target: path,
    frame: (s, f) => write(frameLine(s, f)),
    event: (s, e) => write(JSON.stringify({ type: 'event', scenario: s, ...e })),
    stats: () => ({ sent, failed }),
    close: async () => closeSync(fd),
  };
}
