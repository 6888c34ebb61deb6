/**
 * The loop's real message pattern, recorded: every board of a topology runs its real roles (Board) on
 * the virtual clock over an in-memory hub, and every message a board hands its transport during the measured
 * frames is recorded as sent (kind, bytes, to one board or broadcast). `sharedMedium` makes the recording
 * transport look like a bus, so the runtime broadcasts its multicasts as it does on CAN. `crashPrimaryAt`
 * crashes the board of the view-0 primary at that frame, so the window holds a view change.
 */
import type { Observable } from 'rxjs';
import { decodeMessage } from '../../src/core/codec/encode.ts';
import { crc32c } from '../../src/core/codec/framing/crc.ts';
import type { MessageKind } from '../../src/core/codec/messages.ts';
import { MemoryHub } from '../../src/io/memory.ts';
import type { LinkState, LinkStats, PeerId, Received, Transport } from '../../src/io/transport.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { VirtualFleet } from './virtual-fleet.ts';

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
  const hub = new MemoryHub({ delivery: 'sync' });
  const sent: Sent[] = [];
  let frame = 0;
  const fleet: VirtualFleet = new VirtualFleet(t, {
    seed: o.seed ?? 7,
    linkDelayMs: 0.2,
    transportFor: (board) =>
      new RecordingTransport(hub.join(board), o.sharedMedium, (to, bytes) => {
        if (!fleet.measuring) return;
        const d = decodeMessage(bytes);
        if (!d.ok) throw new Error(`board ${board} sent bytes that do not decode: ${d.reason}`);
        sent.push({
          frame,
          from: board,
          to,
          kind: d.message.kind,
          length: bytes.length,
          at: fleet.clock.now(),
          crc: crc32c(bytes),
        });
      }),
  });
  await fleet.start();
  fleet.fly({
    warmupFrames: o.warmupFrames,
    frames: o.frames,
    ...(o.crashPrimaryAt !== undefined ? { crashPrimaryAt: o.crashPrimaryAt } : {}),
    // What is sent while the clock runs up to frame k's start belongs to frame k: recording starts there.
    beforeFrame: (k) => {
      frame = k - o.warmupFrames;
      if (k === o.warmupFrames) fleet.measuring = true;
    },
    tailPeriods: 1,
  });
  await fleet.close();
  return {
    sent,
    frames: o.frames,
    decisions: fleet.tally.total,
    written: fleet.tally.decisions.write,
    counters: fleet.counters.toJSON(),
    ...(fleet.crashedAt !== undefined ? { crashedAt: fleet.crashedAt } : {}),
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
