/**
 * The control loop over real transports, in this process: each board's roles (Board, real timers) on
 * its own transport: CanTransport over an SLCAN adapter on the emulated CAN bus (pseudo-terminals, bus timing
 * and arbitration from CanBusModel), or SerialTransport on a mesh of socat pty pairs paced at the baud rate.
 * Measured over a window of frames: bus time (CAN: what the emulated bus was busy with) or bytes on the busiest
 * serial direction, per control frame, the frame rate that allows within 50% load, and whether the loop kept
 * up (voter writes). Optionally the view-0 primary's board crashes a sixth into the window.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { CAN_MAX_MESSAGE_LIMIT } from '../../src/core/codec/framing/can-segment.ts';
import { Prng } from '../../src/core/prng.ts';
import { CanTransport } from '../../src/io/can.ts';
import { startEmulatedCanBus } from '../../src/io/can-emu.ts';
import { PtyPair } from '../../src/io/pty.ts';
import { type SerialPeerLink, SerialTransport } from '../../src/io/serial.ts';
import { SlcanHost } from '../../src/io/slcan.ts';
import type { Transport } from '../../src/io/transport.ts';
import type { Topology } from '../../src/runtime/config.ts';
import { Board } from '../../src/runtime/loop/board.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { seededKeys } from '../../src/runtime/loop/keys.ts';
import { LINK_MAX_MESSAGE } from '../../src/runtime/node/transports.ts';
import { RealScheduler } from '../../src/runtime/scheduler.ts';
import { round } from './args.ts';

export type RealLink =
  | { readonly kind: 'can'; readonly bitrate: number; readonly dataBitrate?: number }
  | { readonly kind: 'serial'; readonly baud: number };

export interface RealRunOptions {
  readonly rateHz: number;
  /** Frames measured, after `warmupFrames` (default one second's worth). */
  readonly frames: number;
  readonly warmupFrames?: number;
  readonly viewChange: boolean;
}

export interface RealRun {
  readonly link: string;
  readonly rateHz: number;
  readonly frames: number;
  readonly viewChange: boolean;
  readonly voterWrites: number;
  readonly voterDecisions: number;
  /** CAN: bus busy time per control frame; serial: busiest direction's wire time per frame (10 bits/byte). */
  readonly wireUsPerFrame: number;
  readonly busiestDirection?: string;
  readonly maxHzAtHalfLoad: number;
  /** Load at the run's rate (CAN: bus; serial: busiest direction). */
  readonly loadPercent: number;
  readonly linkErrors: Record<string, number>;
  /** The runtime's counters over the whole run (rejections, drops, view changes). */
  readonly counters?: Record<string, number>;
  readonly error?: string;
}

interface Built {
  readonly transports: Map<string, Transport>;
  /** Wire time so far: the bus's busy ms, or per direction the bytes sent. */
  readonly sample: () => { busyMs?: number; bytesByDirection?: Map<string, number> };
  readonly close: () => Promise<void>;
}

async function buildCan(t: Topology, dir: string, link: Extract<RealLink, { kind: 'can' }>): Promise<Built> {
  const names = t.boards.map((b) => b.name);
  const timing = link.dataBitrate
    ? { bitrate: link.bitrate, dataBitrate: link.dataBitrate }
    : { bitrate: link.bitrate };
  const setup = await startEmulatedCanBus(dir, names, timing);
  const nodes = Object.fromEntries(names.map((n, i) => [n, i]));
  const transports = new Map<string, Transport>();
  for (const name of names) {
    const driver = new SlcanHost({
      path: setup.paths[name]!,
      bitrate: link.bitrate,
      ...(link.dataBitrate ? { dataBitrate: link.dataBitrate } : {}),
    });
    transports.set(name, new CanTransport({ self: name, nodes, driver, maxMessage: CAN_MAX_MESSAGE_LIMIT }));
  }
  return {
    transports,
    sample: () => ({ busyMs: setup.bus.stats().busyMs }),
    close: () => setup.close(),
  };
}

async function buildSerial(t: Topology, dir: string, baud: number): Promise<Built> {
  const names = t.boards.map((b) => b.name);
  const pairs: PtyPair[] = [];
  const links = new Map<string, Record<string, SerialPeerLink>>(names.map((n) => [n, {}]));
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const [a, b] = [names[i]!, names[j]!];
      const pair = await PtyPair.open(join(dir, `${a}-${b}`), join(dir, `${b}-${a}`));
      pairs.push(pair);
      links.get(a)![b] = { path: pair.a, baudRate: baud, pace: true };
      links.get(b)![a] = { path: pair.b, baudRate: baud, pace: true };
    }
  }
  const serial = new Map<string, SerialTransport>();
  for (const name of names) {
    serial.set(
      name,
      new SerialTransport({
        self: name,
        links: links.get(name)!,
        maxMessage: LINK_MAX_MESSAGE,
        maxQueueBytes: 1 << 20,
      }),
    );
  }
  return {
    transports: new Map(serial),
    sample: () => {
      const bytesByDirection = new Map<string, number>();
      for (const [name, s] of serial) {
        for (const [peer, st] of Object.entries(s.peerStats()))
          bytesByDirection.set(`${name}->${peer}`, st.bytesOut);
      }
      return { bytesByDirection };
    },
    close: async () => {
      await Promise.all(pairs.map((p) => p.close()));
    },
  };
}

function linkName(l: RealLink): string {
  if (l.kind === 'serial') return `serial-${l.baud} (pty mesh, paced)`;
  return l.dataBitrate
    ? `can-fd-${l.bitrate / 1e6}M-${l.dataBitrate / 1e6}M (emulated bus, SLCAN ptys)`
    : `can-classic-${l.bitrate / 1e6}M (emulated bus, SLCAN ptys)`;
}

/** One run of the loop of `t` over `link`. */
export async function realRun(t: Topology, link: RealLink, o: RealRunOptions): Promise<RealRun> {
  const dir = mkdtempSync(join(tmpdir(), 'triplex-links-real-'));
  const topo: Topology = { ...t, frameRateHz: o.rateHz };
  let built: Built | undefined;
  const boards: Board[] = [];
  try {
    built = link.kind === 'can' ? await buildCan(topo, dir, link) : await buildSerial(topo, dir, link.baud);
    // Links up first: the scheduler's clock (and so frame 0, which the voter's deadlines count from) starts
    // once they are, as `triplex sim` starts its clock after its warm-up.
    await Promise.all(
      [...built.transports.values()].map(async (tr) => {
        await tr.start();
        await firstValueFrom(
          tr.state$.pipe(
            filter((s) => s === 'up'),
            timeout(10_000),
          ),
        );
      }),
    );
    const scheduler = new RealScheduler();
    const rng = new Prng(11);
    const keys = seededKeys(topo, rng.u32());
    const counters = new Counters();
    const logger = pino({ level: 'silent' });
    let measuring = false;
    let decisions = 0;
    let writes = 0;
    for (const b of topo.boards) {
      boards.push(
        new Board({
          topology: topo,
          board: b.name,
          transport: built.transports.get(b.name)!,
          scheduler,
          keys,
          logger,
          counters,
          rng: rng.fork(),
          actuator: {
            write: (rec) => {
              if (!measuring) return;
              decisions++;
              if (rec.kind === 'write') writes++;
            },
          },
        }),
      );
    }
    await Promise.all(boards.map((b) => b.start()));
    const periodMs = 1000 / o.rateHz;
    const frames = o.frames;
    const first = 0;
    const warmup = o.warmupFrames ?? Math.ceil(o.rateHz);
    const crashAt = o.viewChange ? warmup + Math.floor(frames / 6) : -1;
    const primary = boards.find((b) => b.name === topo.replicas.find((r) => r.id === 0)!.board)!;
    const front = boards.filter((b) => b.inputs.length > 0 || b.voter !== undefined);
    let before: ReturnType<Built['sample']> | undefined;
    let after: ReturnType<Built['sample']> | undefined;
    await new Promise<void>((done) => {
      for (let k = first; k <= warmup + frames; k++) {
        scheduler.at(k * periodMs, () => {
          if (k === warmup) {
            before = built!.sample();
            measuring = true;
          }
          if (k === warmup + frames) {
            after = built!.sample();
            measuring = false;
            done();
            return;
          }
          if (k === crashAt) primary.crash();
          const samples = Array.from({ length: topo.inputUnits }, () => ({
            stick: 0.2 * Math.sin(k / 20),
            pitch: 0.01,
          }));
          for (const b of front) b.startFrame(k, samples);
        });
      }
    });
    const errors: Record<string, number> = {};
    for (const tr of built.transports.values()) {
      for (const [k, v] of Object.entries(tr.stats().errors)) errors[k] = (errors[k] ?? 0) + v;
    }
    let wireUs = 0;
    let busiest: string | undefined;
    if (before?.busyMs !== undefined && after?.busyMs !== undefined) {
      wireUs = ((after.busyMs - before.busyMs) * 1000) / frames;
    } else if (before?.bytesByDirection && after?.bytesByDirection && link.kind === 'serial') {
      for (const [dirKey, bytes] of after.bytesByDirection) {
        const us = ((((bytes - (before.bytesByDirection.get(dirKey) ?? 0)) * 10) / link.baud) * 1e6) / frames;
        if (us > wireUs) {
          wireUs = us;
          busiest = dirKey;
        }
      }
    }
    return {
      link: linkName(link),
      rateHz: o.rateHz,
      frames,
      viewChange: o.viewChange,
      voterWrites: writes,
      voterDecisions: decisions,
      wireUsPerFrame: round(wireUs),
      ...(busiest !== undefined ? { busiestDirection: busiest } : {}),
      maxHzAtHalfLoad: round(0.5 / (wireUs / 1e6)),
      loadPercent: round((wireUs / 1e6) * o.rateHz * 100),
      linkErrors: errors,
      counters: counters.toJSON(),
    };
  } catch (err) {
    return {
      link: linkName(link),
      rateHz: o.rateHz,
      frames: 0,
      viewChange: o.viewChange,
      voterWrites: 0,
      voterDecisions: 0,
      wireUsPerFrame: 0,
      maxHzAtHalfLoad: 0,
      loadPercent: 0,
      linkErrors: {},
      error: (err as Error).message,
    };
  } finally {
    await Promise.all(boards.map((b) => b.close().catch(() => undefined)));
    await built?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
