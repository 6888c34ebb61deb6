/**
 * The whole control loop of a topology in one process: boards on an in-memory hub, each with its roles
 * (replica, channel, voter, input units). The same code runs under the virtual clock (tests: deterministic,
 * every message a scheduler event) and under real timers (`triplex sim`). The plant side (sensors, actuator,
 * plant, scenario) drives it from outside through `startFrame` and `onDecision`: see hil/rig.ts.
 */
import type { Logger } from 'pino';
import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import { createPitchLaw } from '../../core/control/index.ts';
import { type Command, defaultPitchLawSpec } from '../../core/control/spec.ts';
import { sha256 } from '../../core/crypto/digest.ts';
import { KeyRing } from '../../core/crypto/keyring.ts';
import { SigningKey } from '../../core/crypto/sign.ts';
import { Client } from '../../core/pbft/client.ts';
import { type PbftConfig, pbftConfig } from '../../core/pbft/config.ts';
import { keyRingCrypto } from '../../core/pbft/crypto.ts';
import { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaEvent } from '../../core/pbft/types.ts';
import { Prng } from '../../core/prng.ts';
import { pitchVoterConfig } from '../../core/vote/pitch.ts';
import type { ChannelEvent, DecisionRecord } from '../../core/vote/voter.ts';
import { MemoryHub } from '../../io/memory.ts';
import type { Topology } from '../config.ts';
import type { Scheduler } from '../scheduler.ts';
import { Board } from './board.ts';
import { ChannelHost } from './channel-host.ts';
import { Counters } from './counters.ts';
import { InputUnitHost } from './input-unit.ts';
import { principalOf } from './principals.ts';
import { ReplicaHost } from './replica-host.ts';
import { FrameLogService } from './service.ts';
import { channelName, VoterHost } from './voter-host.ts';

export interface LoopSystemOptions {
  readonly topology: Topology;
  readonly scheduler: Scheduler;
  readonly seed: number;
  readonly logger: Logger;
  /** Virtual time: messages become scheduler events after a seeded link delay (ms). */
  readonly virtual?: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** When the primary cuts the frame's batch, as a fraction of the frame period. */
  readonly cutFraction?: number;
  readonly onDecision?: (record: DecisionRecord<Command>) => void;
  readonly onChannelEvents?: (events: readonly ChannelEvent[]) => void;
  readonly onChannelCommand?: (channel: number, frame: number, command: Command) => void;
  readonly onReplicaEvent?: (replica: number, event: ReplicaEvent) => void;
}

export class LoopSystem {
  readonly boards = new Map<string, Board>();
  readonly replicas: ReplicaHost[] = [];
  readonly channels: ChannelHost[] = [];
  readonly inputs: InputUnitHost[] = [];
  readonly voter: VoterHost;
  readonly counters = new Counters();
  readonly periodMs: number;
  readonly pbft: PbftConfig;
  private readonly cutFraction: number;

  constructor(private readonly o: LoopSystemOptions) {
    const t = o.topology;
    this.periodMs = 1000 / t.frameRateHz;
    this.cutFraction = o.cutFraction ?? 0.3;
    const rng = new Prng(o.seed);
    const master = sha256(new TextEncoder().encode(`triplex/laptop-keys/${o.seed}`));
    const principals = [
      ...t.replicas.map((r) => principalOf.replica(r.id)),
      ...t.channels.map((c) => principalOf.channel(c.id)),
      ...Array.from({ length: t.inputUnits }, (_, u) => principalOf.input(u)),
      principalOf.voter(0),
    ];
    const ring = (self: number): KeyRing =>
      KeyRing.fromMaster(master, self, principals, {
        tagLength: t.crypto.tagBytes,
        backend: t.crypto.macBackend,
      });
    const signer = (id: number): SigningKey =>
      SigningKey.fromSeed(sha256(new TextEncoder().encode(`triplex/laptop-sign/${o.seed}/${id}`)));
    const publicKeys = new Map(t.replicas.map((r) => [r.id, signer(r.id).publicKey] as const));

    this.pbft = pbftConfig(t.f, {
      n: t.replicas.length,
      checkpointInterval: t.timing.checkpointInterval,
      watermarkWindow: t.timing.watermarkWindow,
      batching: { mode: 'frame' },
      maxBatchRequests: Math.max(4, t.inputUnits * 4),
      stallTicks: Math.round(4 * this.periodMs),
    });

    const hub = new MemoryHub({ delivery: o.virtual ? 'sync' : 'microtask' });
    const delayRng = rng.fork();
    const linkDelayMs = o.virtual
      ? () => o.virtual!.minDelayMs + delayRng.float() * (o.virtual!.maxDelayMs - o.virtual!.minDelayMs)
      : undefined;
    const names = t.boards.map((b) => b.name);
    t.boards.forEach((b, index) => {
      const board = new Board({
        name: b.name,
        index,
        transport: hub.join(b.name),
        scheduler: o.scheduler,
        limits: DEFAULT_LIMITS,
        counters: this.counters,
        ...(linkDelayMs ? { linkDelayMs } : {}),
      });
      board.setBoardIndex(names);
      this.boards.set(b.name, board);
    });

    const voterSlot = t.voters[0]!;
    const voterBoard = this.boards.get(voterSlot.board)!;
    const boardOfReplica = (id: number): Board => this.boards.get(t.replicas[id]!.board)!;
    const unitBoards = Array.from({ length: t.inputUnits }, (_, u) => t.inputs[u % t.inputs.length]!.board);
    const spec = defaultPitchLawSpec(t.frameRateHz);

    for (const r of t.replicas) {
      const board = this.boards.get(r.board)!;
      const log = o.logger.child({ board: r.board, role: 'replica', replica: r.id });
      const replica = new Replica({
        id: r.id,
        config: this.pbft,
        crypto: keyRingCrypto(ring(principalOf.replica(r.id)), signer(r.id), publicKeys),
        service: new FrameLogService(),
      });
      const channelSlot = t.channels.find((c) => c.board === r.board);
      let channel: ChannelHost | undefined;
      if (channelSlot !== undefined) {
        channel = new ChannelHost({
          id: channelSlot.id,
          law: createPitchLaw(channelSlot.impl, spec),
          ring: ring(principalOf.channel(channelSlot.id)),
          voterPrincipal: principalOf.voter(0),
          unitCount: t.inputUnits,
          periodMs: this.periodMs,
          scheduler: o.scheduler,
          rng: rng.fork(),
          counters: this.counters,
          log: o.logger.child({
            board: r.board,
            role: 'channel',
            channel: channelSlot.id,
            impl: channelSlot.impl,
          }),
          send: (bytes) => board.send(voterBoard.name, bytes),
          onCommand: (frame, cmd) => o.onChannelCommand?.(channelSlot.id, frame, cmd),
        });
        this.channels[channelSlot.id] = channel;
      }
      const host = new ReplicaHost(
        replica,
        {
          toReplica: (id, bytes) => board.send(boardOfReplica(id).name, bytes),
          toClient: (client, bytes) => {
            const unit = client - principalOf.input(0);
            const target = unitBoards[unit];
            if (target === undefined) this.counters.add('replica.reply-to-unknown-client');
            else board.send(target, bytes);
          },
        },
        this.counters,
        log,
        (a) => channel?.onExecute(a.requests),
        (e) => o.onReplicaEvent?.(r.id, e),
      );
      board.roles.replica = host;
      this.replicas[r.id] = host;
    }

    for (let u = 0; u < t.inputUnits; u++) {
      const board = this.boards.get(unitBoards[u]!)!;
      const client = new Client({
        id: principalOf.input(u),
        config: this.pbft,
        crypto: keyRingCrypto(ring(principalOf.input(u)), undefined, publicKeys),
        retransmitTicks: Math.max(1, Math.round(2 * this.periodMs)),
        maxQueued: 1,
      });
      this.inputs[u] = new InputUnitHost(
        u,
        client,
        (bytes) => {
          for (const r of t.replicas) board.send(r.board, bytes);
        },
        this.counters,
      );
    }
    for (const name of new Set(unitBoards)) {
      const units = this.inputs.filter((_, u) => unitBoards[u] === name);
      this.boards.get(name)!.roles.input = {
        onReply: (from, m, now) => {
          if (m.kind !== 'reply') return;
          const unit = units.find((h) => principalOf.input(h.unit) === m.client);
          if (unit === undefined) this.counters.add('input.reply-to-unknown-unit');
          else unit.onReply(from, m, now);
        },
      };
    }

    const voterConfig = pitchVoterConfig({
      channels: t.channels.map((c) => channelName(c.id)),
      f: t.f,
      frameRate: t.frameRateHz,
      elevatorTolerance: t.voter.tolerance,
      strikeThreshold: t.voter.persistence,
      probationSeconds: t.voter.probationFrames / t.frameRateHz,
      failsafeAfterMisses: t.voter.failsafeAfterMisses,
      deadlineFraction: t.timing.deadlineFraction,
    });
    this.voter = new VoterHost({
      // The runtime's clock is in milliseconds.
      config: {
        ...voterConfig,
        timing: { origin: 0, period: this.periodMs, deadline: this.periodMs * t.timing.deadlineFraction },
      },
      ring: ring(principalOf.voter(0)),
      scheduler: o.scheduler,
      counters: this.counters,
      log: o.logger.child({ board: voterSlot.board, role: 'voter' }),
      onDecision: (rec) => o.onDecision?.(rec),
      onChannelEvents: (events) => o.onChannelEvents?.(events),
    });
    voterBoard.roles.voter = this.voter;
  }

  /** Opens every board's transport. */
  async start(): Promise<void> {
    await Promise.all([...this.boards.values()].map((b) => b.start()));
  }

  /** Time at which frame k starts. */
  frameTime(frame: number): number {
    return frame * this.periodMs;
  }

  /**
   * Frame k starts now: every input unit submits its sample, the voter arms the frame's deadline, the replicas
   * get their time tick and, a little later, the frame tick on which the primary cuts the batch.
   */
  startFrame(frame: number, samples: readonly { stick: number; pitch: number | null }[]): void {
    const now = this.o.scheduler.now();
    this.voter.armFrame(frame);
    for (const r of this.replicas) {
      r.beginFrame(this.inputs.length);
      r.tick(Math.round(now));
    }
    for (const u of this.inputs) {
      u.tick(Math.round(now));
      const s = samples[u.unit] ?? { stick: 0, pitch: null };
      u.sample(frame, s.stick, s.pitch, Math.round(now));
    }
    this.o.scheduler.at(now + this.periodMs * this.cutFraction, () => {
      for (const r of this.replicas) r.timedCut();
    });
  }

  /** The current view and primary as the live replicas see it (the highest view among them). */
  view(): { view: number; primary: number } {
    let best = { view: 0, primary: 0 };
    for (const r of this.replicas) {
      if (!r.running) continue;
      const s = r.replica.status();
      if (s.view >= best.view) best = { view: s.view, primary: s.primary };
    }
    return best;
  }

  /** Kill a board as a process crash would: its replica, channel and other roles go silent. */
  crashBoard(name: string): void {
    const board = this.boards.get(name);
    if (board === undefined) throw new Error(`no board '${name}'`);
    board.crash();
    const t = this.o.topology;
    for (const r of t.replicas) if (r.board === name) this.replicas[r.id]!.stop();
    for (const c of t.channels) if (c.board === name) this.channels[c.id]!.stop();
  }

  async close(): Promise<void> {
    await Promise.all([...this.boards.values()].map((b) => b.close()));
  }
}
