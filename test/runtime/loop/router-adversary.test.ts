/**
 * The whole loop with a faulty peer on the links (issue 9): every frame, bytes the boards really sent are
 * mutated (a byte set, a cut, junk appended, a length or count field pushed to its limit) or replayed to any
 * board, from any other board. No correct board throws, and the voter writes every frame. Seeded: a failure
 * prints its seed, and `RED_SEED=<seed> npx vitest run test/runtime/loop/router-adversary.test.ts` replays it.
 */
import { merge, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { MESSAGE_KINDS } from '../../../src/core/codec/messages.ts';
import { Prng } from '../../../src/core/prng.ts';
import type { Received, Transport } from '../../../src/io/transport.ts';
import { Fleet } from '../../../src/runtime/loop/fleet.ts';
import { VirtualScheduler } from '../../../src/runtime/scheduler.ts';
import { silent, topology } from './fixtures.ts';

/** A board's transport with an injection point beside it, recording what the board sends. */
function tapped(
  board: string,
  t: Transport,
  wire: WireLog,
): { transport: Transport; inject: Subject<Received> } {
  const inject = new Subject<Received>();
  const transport: Transport = {
    self: t.self,
    peers: t.peers,
    ...(t.sharedMedium !== undefined ? { sharedMedium: t.sharedMedium } : {}),
    received$: merge(t.received$, inject),
    state$: t.state$,
    start: () => t.start(),
    send: (peer, bytes) => {
      wire.add(board, peer, bytes);
      return t.send(peer, bytes);
    },
    broadcast: (bytes) => t.broadcast(bytes),
    stats: () => t.stats(),
    close: () => t.close(),
  };
  return { transport, inject };
}

/** The last messages seen on the wire, bounded (a reservoir). */
class WireLog {
  readonly seen: { to: string; bytes: Uint8Array }[] = [];
  constructor(private readonly rng: Prng) {}
  add(_from: string, to: string, bytes: Uint8Array): void {
    const m = { to, bytes: bytes.slice() };
    if (this.seen.length < 2000) this.seen.push(m);
    else this.seen[this.rng.int(2000)] = m;
  }
}

function mutate(rng: Prng, b: Uint8Array): Uint8Array {
  const c = b.slice();
  const at = (): number => rng.int(c.length);
  switch (rng.int(5)) {
    case 0:
      c[at()] = rng.int(256);
      return c;
    case 1:
      return c.subarray(0, at());
    case 2: {
      const e = new Uint8Array(c.length + 1 + rng.int(24));
      e.set(c);
      for (let i = c.length; i < e.length; i++) e[i] = rng.int(256);
      return e;
    }
    case 3: {
      // A varint or count near the front at its largest: lengths, counts, views, sequence numbers.
      const i = 2 + rng.int(Math.max(1, Math.min(16, c.length - 2)));
      if (i < c.length) c[i] = [0xff, 0x80, 0x7f][rng.int(3)]!;
      return c;
    }
    default:
      for (let k = 0; k < 3; k++) c[at()] = rng.int(256);
      return c;
  }
}

async function flyUnderAttack(seed: number, frames: number) {
  const rng = new Prng(seed);
  const wire = new WireLog(rng.fork());
  const scheduler = new VirtualScheduler();
  const injectors = new Map<string, Subject<Received>>();
  const decisions: string[] = [];
  const fleet = new Fleet({
    topology,
    scheduler,
    seed,
    logger: silent,
    virtual: { minDelayMs: 0.5, maxDelayMs: 2 },
    transportOf: (board, t) => {
      const x = tapped(board, t, wire);
      injectors.set(board, x.inject);
      return x.transport;
    },
    actuator: { write: (d) => decisions.push(d.kind) },
  });
  await fleet.start();
  const boards = topology.boards.map((b) => b.name);
  const kinds = new Set<string>();
  for (let k = 0; k < frames; k++) {
    scheduler.runUntil(fleet.frameTime(k));
    fleet.startFrame(
      k,
      [0, 1, 2].map(() => ({ stick: 0.1, pitch: 0.02 })),
    );
    for (let j = 0; j < 8 && wire.seen.length > 0; j++) {
      const m = wire.seen[rng.int(wire.seen.length)]!;
      const replay = rng.int(4) === 0;
      const bytes = replay ? m.bytes : mutate(rng, m.bytes);
      const to = replay ? boards[rng.int(boards.length)]! : m.to;
      const others = boards.filter((b) => b !== to);
      const from = others[rng.int(others.length)]!;
      kinds.add(MESSAGE_KINDS[m.bytes[1] ?? 255] ?? 'unknown');
      const inject = injectors.get(to)!;
      scheduler.at(scheduler.now() + rng.float() * fleet.periodMs, () => inject.next({ from, bytes }));
    }
  }
  scheduler.runUntil(fleet.frameTime(frames) + fleet.periodMs);
  await fleet.close();
  return { decisions, kinds };
}

describe('the loop with a faulty peer mutating and replaying what it hears (issue 9)', () => {
  const seed = Number(process.env['RED_SEED'] ?? 20261202);
  it(`no correct board throws and every frame is written (seed ${seed})`, async () => {
    const frames = 80;
    const run = await flyUnderAttack(seed, frames).catch((e: unknown) => {
      throw new Error(
        `seed ${seed}: ${(e as Error).stack}\nreplay: RED_SEED=${seed} npx vitest run test/runtime/loop/router-adversary.test.ts`,
      );
    });
    expect(run.decisions.length).toBeGreaterThanOrEqual(frames);
    expect(
      run.decisions.filter((d) => d !== 'write'),
      `seed ${seed}`,
    ).toEqual([]);
    // The attack reached every kind of message the normal case sends.
    for (const k of ['request', 'pre-prepare', 'prepare', 'commit', 'reply', 'output'])
      expect(run.kinds).toContain(k);
  }, 60_000);
});
