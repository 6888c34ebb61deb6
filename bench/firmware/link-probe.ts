/**
 * The firmware unit on real timers, without the rest of the loop: a fault-free corpus (three agreeing channels,
 * 50 Hz) replayed at its own pace on a RealScheduler into a FirmwareVoterHost, and when each frame's decision came
 * back, ms after the frame's start. What the link and the unit cost a real-time flight, on this machine's load.
 *
 *   npx tsx bench/firmware/link-probe.ts [--target host|qemu] [--frames 500] [--realtime]
 *
 * `--realtime`: the unit's process at SCHED_FIFO where permitted (FirmwareUnit.raisePriority), as a flight does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { FirmwareVoterHost } from '../../src/runtime/firmware/voter-host.ts';
import { Counters } from '../../src/runtime/loop/counters.ts';
import { requestRealtime } from '../../src/runtime/node/realtime.ts';
import { RealScheduler } from '../../src/runtime/scheduler.ts';
import { generateCorpus, SETUPS } from './corpus.ts';
import { startUnit } from './harness.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'qemu' },
    frames: { type: 'string', default: '500' },
    realtime: { type: 'boolean', default: false },
  },
});
const target = values.target === 'host' ? 'host' : 'qemu';
const frames = Number(values.frames);
const corpus = generateCorpus(SETUPS[0]!, frames, 7, false);
const workDir = mkdtempSync(join(tmpdir(), 'triplex-fw-probe-'));
const started = performance.now();
const unit = await startUnit(corpus, target, 'async', workDir);
const bootMs = performance.now() - started;
const own = values.realtime ? requestRealtime().summary : 'not asked';
const scheduling = values.realtime ? unit.raisePriority(pino({ level: 'silent' })).summary : 'not asked';
const pingStarted = performance.now();
const handshake = await unit.handshake({ timeoutMs: 10_000 });
const handshakeMs = performance.now() - pingStarted;
const scheduler = new RealScheduler({ held: true });
const counters = new Counters();
const period = corpus.config.timing.period;
const arrival: number[] = [];
const host = new FirmwareVoterHost({
  config: corpus.config,
  unit,
  scheduler,
  counters,
  log: pino({ level: 'silent' }),
  actuator: {
    write: (r) => {
      arrival[r.frame] = scheduler.now() - r.frame * period;
    },
  },
});
for (const e of corpus.events) {
  if (e.kind === 'arm') scheduler.at(e.time, () => host.armFrame(e.frame));
  else if (e.kind === 'deliver') scheduler.at(e.time, () => host.onBytes(e.bytes));
}
// Each request's round trip over the link, ms (the unit's work and both hand-overs).
const roundTrips: number[] = [];
const send = unit.request.bind(unit);
unit.request = (r) => {
  const t0 = performance.now();
  return send(r).then((a) => {
    roundTrips.push(performance.now() - t0);
    return a;
  });
};
scheduler.begin();
await new Promise((r) => setTimeout(r, (frames + 5) * period + 500));
await unit.close();
rmSync(workDir, { recursive: true, force: true });
const late = arrival.filter((a, f) => a === undefined || a > period || f < 0).length;
const missing = frames - arrival.filter((a) => a !== undefined).length;
function quantiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  const xs = [...values].sort((a, b) => a - b);
  const q = (p: number): number =>
    Number((xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN).toFixed(2));
  return { p50: q(0.5), p99: q(0.99), max: q(1) };
}
const firstLate = arrival.findIndex((a) => a === undefined || a > period);
process.stdout.write(
  `${JSON.stringify({
    target,
    frames,
    scheduling: { flight: own, unit: scheduling },
    bootMs: Math.round(bootMs),
    handshake,
    handshakeMs: Math.round(handshakeMs),
    decidedAfterFrameEnd: late,
    missing,
    firstLateFrame: firstLate,
    arrivalMs: quantiles(arrival.filter((a) => a !== undefined)),
    roundTripMs: quantiles(roundTrips),
    counters: counters.toJSON(),
    load: loadavg().map((x) => Number(x.toFixed(2))),
  })}\n`,
);
