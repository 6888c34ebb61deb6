/**
 * The roles of one board, wired to one transport: the unit a `triplex node` process runs, and the building
 * block of the single-process laptop system (several of them on an in-memory hub).
 *
 * Frames are self-clocked on replica boards: a replica board starts frame k when the first authentic request
 * carrying a sample of frame k arrives, cuts the batch once every input unit's sample is in, or at
 * `cutFraction` of a period after the frame began. No clock synchronization between boards is needed.
 */
import type { Logger } from 'pino';
import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import type { Message } from '../../core/codec/messages.ts';
import { createPitchLaw } from '../../core/control/index.ts';
import { type Command, defaultPitchLawSpec } from '../../core/control/spec.ts';
import { Client } from '../../core/pbft/client.ts';
import { type PbftConfig, pbftConfig } from '../../core/pbft/config.ts';
import { keyRingCrypto, type NodeCrypto } from '../../core/pbft/crypto.ts';
import { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaEvent } from '../../core/pbft/types.ts';
import type { Prng } from '../../core/prng.ts';
import { pitchVoterConfig } from '../../core/vote/pitch.ts';
import type { ChannelEvent, DecisionRecord } from '../../core/vote/voter.ts';
import type { Transport } from '../../io/transport.ts';
import type { Topology } from '../config.ts';
import type { Scheduler } from '../scheduler.ts';
import { Board } from './board.ts';
import { ChannelHost } from './channel-host.ts';
import type { Counters } from './counters.ts';
import { decodeInputSample } from './input-sample.ts';
import { InputUnitHost } from './input-unit.ts';
import type { BoardKeys } from './keys.ts';
import { principalOf } from './principals.ts';
import { ReplicaHost, type ReplicaStepper } from './replica-host.ts';
import { FrameLogService } from './service.ts';
import { channelName, VoterHost } from './voter-host.ts';

export interface BoardCallbacks {
  readonly onDecision?: (record: DecisionRecord<Command>) => void;
  readonly onChannelEvents?: (events: readonly ChannelEvent[]) => void;
  readonly onChannelCommand?: (channel: number, frame: number, command: Command) => void;
  readonly onReplicaEvent?: (replica: number, event: ReplicaEvent) => void;
}

/** What a Byzantine behaviour needs to wrap a board's replica (its own keys: a faulty node can always use them). */
export interface ReplicaInside {
  readonly replica: Replica;
  readonly crypto: NodeCrypto;
  readonly config: PbftConfig;
  /** Nodes by index: replicas 0..n-1, then the input units. */
  readonly nodes: number;
}

export interface BoardRuntimeOptions extends BoardCallbacks {
  readonly topology: Topology;
  readonly board: string;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
  readonly keys: BoardKeys;
  readonly logger: Logger;
  readonly counters: Counters;
  /** Seeded stream for this board's channel (Byzantine behaviours draw from it). */
  readonly rng: Prng;
  /** Virtual time: process each message as a scheduler event after this delay (ms). */
  readonly linkDelayMs?: () => number;
  /** When the batch is cut at the latest, as a fraction of the frame period. */
  readonly cutFraction?: number;
}

/** The PBFT parameters every replica of a topology must share. */
export function topologyPbftConfig(t: Topology): PbftConfig {
  const periodMs = 1000 / t.frameRateHz;
  return pbftConfig(t.f, {
    n: t.replicas.length,
    checkpointInterval: t.timing.checkpointInterval,
    watermarkWindow: t.timing.watermarkWindow,
    batching: { mode: 'frame' },
    maxBatchRequests: Math.max(4, t.inputUnits * 4),
    stallTicks: Math.round(4 * periodMs),
  });
}

/** Which board hosts input unit u (units are spread over the input boards in order). */
export function inputUnitBoard(t: Topology, unit: number): string {
  return t.inputs[unit % t.inputs.length]!.board;
}

export class BoardRuntime {
  readonly board: Board;
  readonly replica: ReplicaHost | undefined;
  readonly channel: ChannelHost | undefined;
  readonly inputs: InputUnitHost[] = [];
  readonly voter: VoterHost | undefined;
  readonly periodMs: number;
  /** Frame self-clocking state of this board's replica. */
  private frameSeen = -1;
  private requestsThisFrame = 0;
  private cutThisFrame = false;
  private cutSinceTick = false;
  private cancelTicks: (() => void) | undefined;
  private replicaCrypto: NodeCrypto | undefined;

  constructor(private readonly o: BoardRuntimeOptions) {
    const t = o.topology;
    this.periodMs = 1000 / t.frameRateHz;
    const index = t.boards.findIndex((b) => b.name === o.board);
    if (index < 0) throw new Error(`board '${o.board}' is not in ${t.file}`);
    this.board = new Board({
      name: o.board,
      index,
      transport: o.transport,
      scheduler: o.scheduler,
      limits: DEFAULT_LIMITS,
      counters: o.counters,
      ...(o.linkDelayMs ? { linkDelayMs: o.linkDelayMs } : {}),
    });
    this.board.setBoardIndex(t.boards.map((b) => b.name));
    this.channel = this.makeChannel();
    this.replica = this.makeReplica();
    this.makeInputs();
    this.voter = this.makeVoter();
  }

  get name(): string {
    return this.o.board;
  }

  /** Opens the link and starts the replica's time ticks. */
  async start(): Promise<void> {
    await this.board.start();
    if (this.replica !== undefined) this.tickEvery(this.o.scheduler.now());
  }

  /**
   * Frame k begins on the board that hosts the input units and the voter: each unit submits its sample, the
   * voter arms the frame's deadline.
   */
  startFrame(frame: number, samples: readonly { stick: number; pitch: number | null }[]): void {
    const now = Math.round(this.o.scheduler.now());
    this.voter?.armFrame(frame);
    for (const u of this.inputs) {
      u.tick(now);
      const s = samples[u.unit] ?? { stick: 0, pitch: null };
      u.sample(frame, s.stick, s.pitch, now);
    }
  }

  /** Turn this board's replica Byzantine: `make` wraps the correct replica in a behaviour (the HIL catalog). */
  makeReplicaByzantine(make: (inside: ReplicaInside) => ReplicaStepper): boolean {
    const host = this.replica;
    if (host === undefined || this.replicaCrypto === undefined) return false;
    const inside = {
      replica: host.replica,
      crypto: this.replicaCrypto,
      config: host.replica.config,
      nodes: host.replica.config.n + this.o.topology.inputUnits,
    };
    host.becomeByzantine(make(inside));
    return true;
  }

  /** The process died: silent and deaf from now on. */
  crash(): void {
    this.board.crash();
    this.replica?.stop();
    this.channel?.stop();
    for (const u of this.inputs) u.stop();
    this.cancelTicks?.();
  }

  async close(): Promise<void> {
    this.cancelTicks?.();
    await this.board.close();
  }

  /**
   * Once per frame period: the replica's time tick, and a cut if none happened since the last tick. Fresh
   * samples usually cut earlier; this periodic cut is what keeps one batch per frame when no fresh sample
   * arrives, as after a view change, when the input units only retransmit the request the old primary
   * dropped: without it a new primary would never propose and its backups would vote it out in turn.
   */
  private tickEvery(at: number): void {
    this.cancelTicks = this.o.scheduler.at(at, () => {
      const host = this.replica!;
      host.tick(Math.round(this.o.scheduler.now()));
      if (!this.cutSinceTick) host.frame();
      this.cutSinceTick = false;
      this.tickEvery(at + this.periodMs);
    });
  }

  private child(role: string, extra: Record<string, unknown> = {}): Logger {
    return this.o.logger.child({ board: this.o.board, role, ...extra });
  }

  private makeChannel(): ChannelHost | undefined {
    const t = this.o.topology;
    const slot = t.channels.find((c) => c.board === this.o.board);
    if (slot === undefined) return undefined;
    const voterBoard = t.voters[0]!.board;
    return new ChannelHost({
      id: slot.id,
      law: createPitchLaw(slot.impl, defaultPitchLawSpec(t.frameRateHz)),
      ring: this.o.keys.ring(principalOf.channel(slot.id)),
      voterPrincipal: principalOf.voter(0),
      unitCount: t.inputUnits,
      periodMs: this.periodMs,
      scheduler: this.o.scheduler,
      rng: this.o.rng.fork(),
      counters: this.o.counters,
      log: this.child('channel', { channel: slot.id, impl: slot.impl }),
      send: (bytes) => this.board.send(voterBoard, bytes),
      onCommand: (frame, cmd) => this.o.onChannelCommand?.(slot.id, frame, cmd),
    });
  }

  private makeReplica(): ReplicaHost | undefined {
    const t = this.o.topology;
    const slot = t.replicas.find((r) => r.board === this.o.board);
    if (slot === undefined) return undefined;
    this.replicaCrypto = keyRingCrypto(
      this.o.keys.ring(principalOf.replica(slot.id)),
      this.o.keys.signer(slot.id),
      this.o.keys.replicaPublicKeys,
    );
    const replica = new Replica({
      id: slot.id,
      config: topologyPbftConfig(t),
      crypto: this.replicaCrypto,
      service: new FrameLogService(),
    });
    const channel = this.channel;
    const otherReplicaBoards = t.replicas.filter((r) => r.id !== slot.id).map((r) => r.board);
    const host = new ReplicaHost(
      replica,
      {
        toReplica: (id, bytes) => this.board.send(t.replicas[id]!.board, bytes),
        toOtherReplicas: (bytes) => this.board.multicast(otherReplicaBoards, bytes),
        toClient: (client, bytes) => {
          const unit = client - principalOf.input(0);
          if (unit < 0 || unit >= t.inputUnits) this.o.counters.add('replica.reply-to-unknown-client');
          else this.board.send(inputUnitBoard(t, unit), bytes);
        },
      },
      this.o.counters,
      this.child('replica', { replica: slot.id }),
      (a) => channel?.onExecute(a.requests),
      (e) => this.o.onReplicaEvent?.(slot.id, e),
    );
    this.board.roles.replica = { deliver: (from, m) => this.deliverToReplica(host, from, m) };
    return host;
  }

  /**
   * Frame self-clocking: the first authentic request of a newer frame starts that frame on this replica; the
   * batch is cut once every input unit's request is in (no waiting when nothing is missing), or at the timed
   * cut. Only authentic requests count, so a forged one cannot advance the frame or trigger a cut.
   */
  private deliverToReplica(host: ReplicaHost, from: number, m: Message): void {
    if (!host.deliver(from, m) || m.kind !== 'request') return;
    const frame = decodeInputSample(m.op)?.frame;
    if (frame === undefined || frame < this.frameSeen) return;
    if (frame > this.frameSeen) {
      this.frameSeen = frame;
      this.requestsThisFrame = 0;
      this.cutThisFrame = false;
      const cutAt = this.o.scheduler.now() + this.periodMs * (this.o.cutFraction ?? 0.3);
      this.o.scheduler.at(cutAt, () => {
        if (this.frameSeen === frame) this.cut(host);
      });
    }
    if (++this.requestsThisFrame >= this.o.topology.inputUnits) this.cut(host);
  }

  private cut(host: ReplicaHost): void {
    if (this.cutThisFrame) return;
    this.cutThisFrame = true;
    this.cutSinceTick = true;
    host.frame();
  }

  private makeInputs(): void {
    const t = this.o.topology;
    const pbft = topologyPbftConfig(t);
    for (let u = 0; u < t.inputUnits; u++) {
      if (inputUnitBoard(t, u) !== this.o.board) continue;
      const client = new Client({
        id: principalOf.input(u),
        config: pbft,
        crypto: keyRingCrypto(
          this.o.keys.ring(principalOf.input(u)),
          undefined,
          this.o.keys.replicaPublicKeys,
        ),
        retransmitTicks: Math.max(1, Math.round(2 * this.periodMs)),
        maxQueued: 1,
      });
      const replicaBoards = t.replicas.map((r) => r.board);
      const multicast = (bytes: Uint8Array): void => this.board.multicast(replicaBoards, bytes);
      this.inputs.push(new InputUnitHost(u, client, multicast, this.o.counters));
    }
    if (this.inputs.length === 0) return;
    this.board.roles.input = {
      onReply: (from, m, now) => {
        if (m.kind !== 'reply') return;
        const unit = this.inputs.find((h) => principalOf.input(h.unit) === m.client);
        if (unit === undefined) this.o.counters.add('input.reply-to-unknown-unit');
        else unit.onReply(from, m, now);
      },
    };
  }

  private makeVoter(): VoterHost | undefined {
    const t = this.o.topology;
    if (t.voters[0]?.board !== this.o.board) return undefined;
    const config = pitchVoterConfig({
      channels: t.channels.map((c) => channelName(c.id)),
      f: t.f,
      frameRate: t.frameRateHz,
      elevatorTolerance: t.voter.tolerance,
      strikeThreshold: t.voter.persistence,
      probationSeconds: t.voter.probationFrames / t.frameRateHz,
      failsafeAfterMisses: t.voter.failsafeAfterMisses,
      deadlineFraction: t.timing.deadlineFraction,
    });
    const host = new VoterHost({
      // The runtime's clock is in milliseconds; the voter's timing follows it.
      config: {
        ...config,
        timing: { origin: 0, period: this.periodMs, deadline: this.periodMs * t.timing.deadlineFraction },
      },
      ring: this.o.keys.ring(principalOf.voter(0)),
      scheduler: this.o.scheduler,
      counters: this.o.counters,
      log: this.child('voter'),
      onDecision: (rec) => this.o.onDecision?.(rec),
      onChannelEvents: (events) => this.o.onChannelEvents?.(events),
    });
    this.board.roles.voter = host;
    return host;
  }
}
