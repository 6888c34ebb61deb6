/**
 * The loop's real message pattern, recorded: every board of a topology runs its real roles (Board) on
 * the virtual clock over an in-memory hub, and every message a board hands its transport during the measured
 * frames is recorded as sent (kind, bytes, to one board or broadcast). `sharedMedium` makes the recording
 * transport look like a bus, so the runtime broadcasts its multicasts as it does on CAN. `crashPrimaryAt`
 * crashes the board of the view-0 primary at that frame, so the window holds a view change.
 */
import pino from 'pino';
import type { Observable } from 'rxjs';
import { decodeMessage } from '../../src/core/codec/encode.ts';
import { crc32c } from '../../src/core/codec/framing/crc.ts';
import type { MessageKind } from '../../src/core/codec/messages.ts';
import { Prng } from '../../src/core/prng.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import type { LinkState, LinkStats, PeerId, Received, Transport } from '../../src/io/transport.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { Board } from '../../src/runtime/loop/board.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { VirtualScheduler } from '../../src/runtime/scheduler.ts';

export interface Sent {
  /** Frame (of the run) during which it was sent. */
  readonly frame: number;
  readonly from: string;
  /** Receiving board, or '*' for a broadcast on a shared medium. */
  readonly to: string;
  readonly kind: MessageKind;
  readonly length: number;
  /** Virtual time of the send and a checksum of the bytes: copies of one multicast share both. */
  readonly at: number;
  readonly crc: number;
}

export interface Recording {
  readonly sent: Sent[];
  readonly frames: number;
  readonly decisions: number;
  readonly written: number;
  readonly counters: Record<string, number>;
  /** Frame at which the primary's board crashed, if it did. */
  readonly crashedAt?: number;
}

export interface RecordOptions {
  readonly frames: number;
  readonly warmupFrames: number;
  readonly sharedMedium: boolean;
  /** Crash the view-0 primary's board at this frame of the measured window (0-based). */
  readonly crashPrimaryAt?: number;
  readonly seed?: number;
}

/** A transport that records every message it is handed, then passes it on. */
class RecordingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    readonly sharedMedium: boolean,
    private readonly record: (to: PeerId, bytes: Uint8Array) => void,
  ) {}
  get self(): PeerId {
    return this.inner.self;
  }
  get peers(): readonly PeerId[] {
    return this.inner.peers;
  }
  get received$(): Observable<Received> {
    return this.inner.received$;
  }
  get state$(): Observable<LinkState> {
    return this.inner.state$;
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  send(peer: PeerId, bytes: Uint8Array): boolean {
    this.record(peer, bytes);
    return this.inner.send(peer, bytes);
  }
  broadcast(bytes: Uint8Array): boolean {
    if (this.sharedMedium) this.record('*', bytes);
    else for (const p of this.inner.peers) this.record(p, bytes);
    return this.inner.broadcast(bytes);
  }
  stats(): LinkStats {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Runs the loop of `t` on the virtual clock and returns what crossed a link during the measured frames. */
export async function recordTraffic(t: Topology, o: RecordOptions): Promise<Recording> {
  const clock = new VirtualScheduler();
  const rng = new Prng(o.seed ?? 7);
  const keys = seededKeys(t, rng.u32());
  const hub = new MemoryHub({ delivery: 'sync' });
  const counters = new Counters();
  const logger = pino({ level: 'silent' });
  const periodMs = 1000 / t.frameRateHz;
  const sent: Sent[] = [];
  let frame = 0;
  let measuring = false;
  let decisions = 0;
  let written = 0;
  const boards: Board[] = [];
  for (const b of t.boards) {
    const transport = new RecordingTransport(hub.join(b.name), o.sharedMedium, (to, bytes) => {
      if (!measuring) return;
      const d = decodeMessage(bytes);
      if (!d.ok) throw new Error(`board ${b.name} sent bytes that do not decode: ${d.reason}`);
      sent.push({
        frame,
        from: b.name,
        to,
        kind: d.message.kind,
        length: bytes.length,
        at: clock.now(),
        crc: crc32c(bytes),
      });
    });
    boards.push(
      new Board({
        topology: t,
        board: b.name,
        transport,
        scheduler: clock,
        keys,
        logger,
        counters,
        rng: rng.fork(),
        linkDelayMs: () => 0.2,
        actuator: {
          write: (rec) => {
            if (!measuring) return;
            decisions++;
            if (rec.kind === 'write') written++;
          },
        },
      }),
    );
  }
  await Promise.all(boards.map((b) => b.start()));
  const front = boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
  const primaryBoard = t.replicas.find((r) => r.id === 0)!.board;
  const total = o.warmupFrames + o.frames;
  let crashedAt: number | undefined;
  for (let k = 0; k < total; k++) {
    frame = k - o.warmupFrames;
    if (k === o.warmupFrames) measuring = true;
    clock.runUntil(k * periodMs);
    if (o.crashPrimaryAt !== undefined && frame === o.crashPrimaryAt) {
      boards.find((b) => b.name === primaryBoard)!.crash();
      crashedAt = frame;
    }
    const samples = Array.from({ length: t.inputUnits }, () => ({
      stick: 0.2 * Math.sin(k / 20),
      pitch: 0.01,
    }));
    for (const b of front) b.startFrame(k, samples);
  }
  clock.runUntil((total + 1) * periodMs);
  measuring = false;
  await Promise.all(boards.map((b) => b.close()));
  return {
    sent,
    frames: o.frames,
    decisions,
    written,
    counters: counters.toJSON(),
    ...(crashedAt !== undefined ? { crashedAt } : {}),
  };
}

/**
 * The recording as it would be if every multicast went as one broadcast: point-to-point copies of the same
 * bytes from one board at one instant become one transmission (what a shared medium needs, with the one
 * authenticator the message already carries for all receivers).
 */
export function coalesceMulticasts(rec: Recording): Recording {
  const seen = new Set<string>();
  const sent: Sent[] = [];
  for (const s of rec.sent) {
    const key = `${s.at}|${s.from}|${s.crc}|${s.length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    sent.push(s.to === '*' ? s : { ...s, to: '*' });
  }
  return { ...rec, sent };
}

/** The recording without the kinds listed (a what-if: no REPLYs). */
export function withoutKinds(rec: Recording, kinds: readonly MessageKind[]): Recording {
  return { ...rec, sent: rec.sent.filter((s) => !kinds.includes(s.kind)) };
}
