/**
 * The rig's per-frame record streamed to a file as frames complete: one JSON line per frame (its FrameRecord and
 * FrameExtra) and one per event, in the order the rig saw them. A long run (a soak) keeps only a bounded tail in
 * memory and this file holds every frame. Written synchronously (a line per frame: a few hundred bytes at 50 Hz),
 * so nothing queues in the process and a crash loses at most the frame being written.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { EventRecord, FrameRecord, Trace } from '../src/runtime/report/trace.ts';
import type { FrameExtra } from './rig.ts';

export type StreamLine =
  | { readonly kind: 'frame'; readonly record: FrameRecord; readonly extra: FrameExtra }
  | { readonly kind: 'event'; readonly event: EventRecord };

/**
 * NaN (a frame without a decision has no latency) does not survive JSON: it is written as a string no text field
 * the rig writes can hold (it starts with NUL), so an event detail that reads 'NaN' comes back as text.
 */
const NAN = '\u0000NaN';
const encode = (line: StreamLine): string =>
  `${JSON.stringify(line, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? NAN : v))}\n`;

export class TraceStream {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  frame(record: FrameRecord, extra: FrameExtra): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, encode({ kind: 'frame', record, extra }));
  }

  event(event: EventRecord): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, encode({ kind: 'event', event }));
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The whole trace and extras back from a stream file (after the run: the report and the assertions need them). */
export function readTraceStream(path: string): { trace: Trace; extras: FrameExtra[] } {
  const trace: Trace = { frames: [], events: [] };
  const extras: FrameExtra[] = [];
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text === '') continue;
    const line = JSON.parse(text, (_k, v) => (v === NAN ? Number.NaN : v)) as StreamLine;
    if (line.kind === 'frame') {
      trace.frames.push(line.record);
      extras.push(line.extra);
    } else trace.events.push(line.event);
  }
  return { trace, extras };
}
