/**
 * The link benchmark, printed as JSON. Its parts live in bench/links/, one idea each:
 *
 *  1. worstCase (worst-case.ts in src/core/wire-budget): the largest message of each kind for each shipped
 *     config, whether it fits each of the config's links, and how long the view change's messages hold them;
 *  2. bound (bench/links/bound.ts): the fewest messages and bytes a control frame needs on the laptop topology
 *     (with and without REPLYs; point-to-point, or one broadcast per multicast on a bus) and the frame rate
 *     that allows within 50% load, per link kind;
 *  3. achieved (bench/links/traffic.ts, wire-cost.ts): the loop's real message pattern, every board's real
 *     roles on the virtual clock, each message costed through the real framing; with and without a view change
 *     in the measured window (the view-0 primary's board crashes a quarter into it); against the bound;
 *  4. real (bench/links/real-links.ts): the loop over real transports in this process (emulated CAN bus on
 *     SLCAN pseudo-terminals; paced pty serial mesh), bus or line time per frame as measured there;
 *  5. latency (bench/links/latency.ts): input-to-actuator latency across processes;
 *  6. virtualBus (bench/links/virtual-can.ts): the whole loop on a virtual-time CAN bus (real CanTransports on
 *     the emulated bus's timing model) and on a paced point-to-point mesh, at 0.9 of each bound, with and
 *     without the primary's crash: load measured against the bound, deterministic on a loaded machine.
 *
 *   npm run bench:links                                  # everything (a few minutes)
 *   npm run bench:links -- --no-latency --no-real        # the deterministic parts (seconds)
 *   npm run bench:links -- --frames 500 --real-frames 80 --real-rate 5 --latency-seconds 10
 *   npm run bench:links:frames | bench:links:bound | bench:links:latency   # one part alone
 */
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkKindName, messageCost } from '../src/core/wire-budget/link-cost.ts';
import { linkProblems, linkSpecs } from '../src/core/wire-budget/problems.ts';
import { worstCaseSizes } from '../src/core/wire-budget/worst-case.ts';
import { loadTopology, type Topology } from '../src/runtime/config.ts';
import { LINK_MAX_MESSAGE } from '../src/runtime/node/transports.ts';
import { type LinksOptions, parseLinksArgs, round } from './links/args.ts';
import { type BoundRow, boundTable, cutsTable, LINK_KINDS } from './links/bound.ts';
import { latencyRuns } from './links/latency.ts';
import { type RealLink, type RealRun, realRun } from './links/real-links.ts';
import { wireInput } from './links/topology.ts';
import { coalesceMulticasts, recordTraffic, withoutKinds } from './links/traffic.ts';
import { virtualCanRun } from './links/virtual-can.ts';
import { achievedOn } from './links/wire-cost.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHIPPED = ['config/laptop.json', 'config/serial-mesh.json', 'config/can-bus.json'];

/** Part 1: worst-case sizes of each shipped config and whether they fit its links. */
function worstCase() {
  return SHIPPED.map((file) => {
    const t = loadTopology(join(root, file));
    const input = wireInput(t);
    const sizes = worstCaseSizes(input);
    const specs = linkSpecs(t.links, t.boards.length, { serial: LINK_MAX_MESSAGE });
    const links = specs.map((spec) => {
      const problems = linkProblems(input, spec).map((p) => p.text);
      const vc = spec.link.kind === 'serial' || spec.link.kind === 'can' ? spec.link : undefined;
      // A view change on the link: every replica's VIEW-CHANGE, then the NEW-VIEW (a bus carries them once
      // each; a serial link carries at most one of each per direction).
      const burst =
        vc === undefined
          ? undefined
          : vc.kind === 'can'
            ? input.n * messageCost(vc, sizes.bytes['view-change']).seconds +
              messageCost(vc, sizes.bytes['new-view']).seconds
            : messageCost(vc, sizes.bytes['view-change']).seconds +
              messageCost(vc, sizes.bytes['new-view']).seconds;
      return {
        link: spec.name,
        fits: problems.length === 0,
        problems,
        ...(burst !== undefined ? { worstViewChangeWireMs: round(burst * 1e3) } : {}),
        ...(vc !== undefined
          ? { worstNewViewWireMs: round(messageCost(vc, sizes.bytes['new-view']).seconds * 1e3) }
          : {}),
      };
    });
    return {
      config: file,
      input: { ...input },
      bytes: sizes.bytes,
      checkpointProofBytes: sizes.checkpointProofBytes,
      snapshotBytes: sizes.snapshotBytes,
      largest: sizes.largest,
      links,
    };
  });
}

/** Part 3: the recorded traffic against the bound, per link kind, with and without a view change. */
async function achieved(t: Topology, o: LinksOptions, bound: readonly BoundRow[]) {
  const crashAt = Math.floor(o.frames / 4);
  const runs = {
    pointToPoint: await recordTraffic(t, {
      frames: o.frames,
      warmupFrames: o.warmupFrames,
      sharedMedium: false,
    }),
    pointToPointViewChange: await recordTraffic(t, {
      frames: o.frames,
      warmupFrames: o.warmupFrames,
      sharedMedium: false,
      crashPrimaryAt: crashAt,
    }),
    shared: await recordTraffic(t, { frames: o.frames, warmupFrames: o.warmupFrames, sharedMedium: true }),
    sharedViewChange: await recordTraffic(t, {
      frames: o.frames,
      warmupFrames: o.warmupFrames,
      sharedMedium: true,
      crashPrimaryAt: crashAt,
    }),
  };
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, r]) => [
      k,
      {
        frames: r.frames,
        messagesPerFrame: round(r.sent.length / r.frames, 2),
        voterWrites: r.written,
        voterDecisions: r.decisions,
        ...(r.crashedAt !== undefined ? { primaryCrashedAtFrame: r.crashedAt } : {}),
        viewChanges: r.counters['replica.view-change'] ?? r.counters['replica.new-view'] ?? 0,
      },
    ]),
  );
  const perLink = LINK_KINDS.map((link) => {
    const shared = link.kind === 'can';
    const name = linkKindName(link);
    const medium = shared ? 'shared' : 'point-to-point';
    const b = (replies: boolean) =>
      bound.find((r) => r.link === name && r.medium === medium && r.replies === replies)!;
    const plain = achievedOn(shared ? runs.shared : runs.pointToPoint, link);
    const withVc = achievedOn(shared ? runs.sharedViewChange : runs.pointToPointViewChange, link);
    // What the bus would carry if the replicas' multicasts went as broadcasts (the runtime unicasts them).
    const broadcastAll = shared
      ? {
          withoutViewChange: achievedOn(coalesceMulticasts(runs.shared), link).maxHzAtLoad,
          withViewChange: achievedOn(coalesceMulticasts(runs.sharedViewChange), link).maxHzAtLoad,
          withoutRepliesToo: achievedOn(withoutKinds(coalesceMulticasts(runs.shared), ['reply']), link)
            .maxHzAtLoad,
        }
      : undefined;
    return {
      link: name,
      medium,
      boundHzAt50: { withReplies: b(true).maxHzAtLoad, withoutReplies: b(false).maxHzAtLoad },
      achievedHzAt50: { withoutViewChange: plain.maxHzAtLoad, withViewChange: withVc.maxHzAtLoad },
      // Against the bound of what the loop sends: no REPLYs to input units.
      ratioToBound: {
        withoutViewChange: round(plain.maxHzAtLoad / b(false).maxHzAtLoad, 3),
        withViewChange: round(withVc.maxHzAtLoad / b(false).maxHzAtLoad, 3),
      },
      ...(broadcastAll !== undefined ? { achievedHzAt50IfMulticastsWereBroadcasts: broadcastAll } : {}),
      withoutViewChange: plain,
      withViewChange: withVc,
    };
  });
  return { runs: summary, perLink };
}

/** Part 4: real transports, each link with and without a view change. */
async function real(t: Topology, o: LinksOptions): Promise<RealRun[]> {
  const links: RealLink[] = [
    { kind: 'can', bitrate: 1_000_000 },
    { kind: 'can', bitrate: 1_000_000, dataBitrate: 2_000_000 },
    { kind: 'serial', baud: 921_600 },
  ];
  const out: RealRun[] = [];
  for (const link of links) {
    for (const viewChange of [false, true]) {
      out.push(await realRun(t, link, { rateHz: o.realRateHz, frames: o.realFrames, viewChange }));
    }
  }
  return out;
}

/**
 * Part 6: the whole loop on a virtual-time bus or paced mesh (bench/links/virtual-can.ts), each link kind at 0.9
 * of its bound's rate, without and with the primary's crash in the window: measured load, the rate that load
 * allows within 50%, its ratio to the bound, and the voter's decisions (a view change costs frames, not safety).
 */
async function virtualBus() {
  const can = loadTopology(join(root, 'config/can-bus.json'));
  const mesh = loadTopology(join(root, 'config/serial-mesh.json'));
  const kinds = [
    { link: 'can-classic-11bit-1M', t: can, bitrate: 1_000_000 },
    { link: 'can-fd-1M-2M', t: can, bitrate: 1_000_000, dataBitrate: 2_000_000 },
    { link: 'can-fd-1M-5M', t: can, bitrate: 1_000_000, dataBitrate: 5_000_000 },
    { link: 'serial-921600', t: mesh, bitrate: 921_600, medium: 'serial' as const },
  ];
  const out = [];
  // Each against the bound of its own topology (can-bus.json ships 4-byte CAN tags: linkTagBytes).
  const bounds = new Map([can, mesh].map((t) => [t, boundTable(t)] as const));
  for (const k of kinds) {
    const row = bounds.get(k.t)!.find(
      // The loop sends no REPLYs to its input units (config.noReplyClients): the bound without them.
      (b) => b.link === k.link && !b.replies && b.medium === (k.medium ? 'point-to-point' : 'shared'),
    );
    const boundHz = row?.maxHzAtLoad ?? 10;
    const latency = await latencyBound(k);
    // The load bound does not bound a frame's path on a mesh (it sums over lines; on a bus it is a part of the
    // bus time): the rate run is also kept where the path fits the voter's deadline.
    const rateHz = Math.max(1, Math.min(Math.floor(0.9 * boundHz), latency.maxHz));
    const runs = [];
    for (const crash of [undefined, 100]) {
      const r = await virtualCanRun(k.t, {
        rateHz,
        frames: 300,
        bitrate: k.bitrate,
        ...(k.dataBitrate !== undefined ? { dataBitrate: k.dataBitrate } : {}),
        ...(k.medium !== undefined ? { medium: k.medium } : {}),
        ...(crash !== undefined ? { crashPrimaryAt: crash } : {}),
      });
      const hzAt50 = r.busLoadPercent > 0 ? (rateHz * 50) / r.busLoadPercent : Number.POSITIVE_INFINITY;
      runs.push({
        viewChange: crash !== undefined,
        loadPercent: r.busLoadPercent,
        achievedHzAt50: round(hzAt50),
        ratioToBound: round(hzAt50 / boundHz, 3),
        decisions: r.decisions,
        longestMissRun: r.longestMissRun,
        outputLatencyMs: r.outputLatencyMs,
        deadlineMs: r.deadlineMs,
        viewChangeMessages: r.sentByKind['view-change']?.messages ?? 0,
        finalViews: r.finalViews,
      });
    }
    out.push({
      link: k.link,
      boundHzAt50: boundHz,
      latencyBoundHz: latency.maxHz,
      pathMs: latency.pathMs,
      rateHz,
      rateLimitedBy: latency.maxHz < Math.floor(0.9 * boundHz) ? 'latency' : 'load',
      runs,
    });
  }
  return out;
}

/** Time a frame's processing adds per hop beyond the wire (the virtual fleet's step), ms: a margin on the path. */
const PATH_MARGIN_MS = 0.05;

/**
 * The highest rate whose voter deadline a frame's path fits: the path (frame start to a majority of OUTPUTs at
 * the voter) measured at a low rate, where no line queues, past frame 128 (the frame and seq varints grow a
 * byte there). The path does not depend on the rate while the lines are not saturated.
 */
async function latencyBound(k: {
  readonly t: Topology;
  readonly bitrate: number;
  readonly dataBitrate?: number;
  readonly medium?: 'serial';
}): Promise<{ maxHz: number; pathMs: number | null }> {
  const probeHz = 20;
  const r = await virtualCanRun(k.t, {
    rateHz: probeHz,
    frames: 40,
    warmupFrames: 130,
    bitrate: k.bitrate,
    ...(k.dataBitrate !== undefined ? { dataBitrate: k.dataBitrate } : {}),
    ...(k.medium !== undefined ? { medium: k.medium } : {}),
  });
  if (r.outputLatencyMs === null) return { maxHz: 1, pathMs: null };
  const deadlineFraction = k.t.timing.deadlineFraction;
  const maxHz = Math.max(1, Math.floor((1000 * deadlineFraction) / (r.outputLatencyMs.max + PATH_MARGIN_MS)));
  return { maxHz, pathMs: r.outputLatencyMs.max };
}

async function main(): Promise<void> {
  const o = parseLinksArgs(process.argv.slice(2));
  const laptop = loadTopology(join(root, 'config/laptop.json'));
  const started = loadavg()[0];
  const bound = boundTable(laptop);
  const out = {
    bench: 'links',
    node: process.version,
    loadAverage1mAtStart: round(started ?? 0, 2),
    topology: {
      config: 'config/laptop.json',
      f: laptop.f,
      replicas: laptop.replicas.length,
      channels: laptop.channels.length,
      inputUnits: laptop.inputUnits,
      voters: laptop.voters.length,
      tagBytes: laptop.crypto.tagBytes,
      checkpointInterval: laptop.timing.checkpointInterval,
      frameRateHzOfVirtualRun: laptop.frameRateHz,
    },
    worstCase: worstCase(),
    bound,
    cuts: cutsTable(laptop),
    achieved: await achieved(laptop, o, bound),
    virtualBus: await virtualBus(),
    real: o.real ? { rateHz: o.realRateHz, frames: o.realFrames, runs: await real(laptop, o) } : 'skipped',
    latencyAcrossProcesses: o.latency
      ? { rateHz: o.latencyRate, seconds: o.latencySeconds, runs: await latencyRuns(o) }
      : 'skipped',
    loadAverage1mAtEnd: round(loadavg()[0] ?? 0, 2),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
