/**
 * The roles of one board, wired to one transport through the ports of ports.ts: the unit a `triplex node`
 * process runs, and the building block of the single-process laptop system (several of them on an in-memory hub).
 *
 * One frame through a board (docs/ARCHITECTURE.md has the whole path):
 * input unit --RequestSink--> replica boards; Router --ReplicaInbox--> ReplicaHost (the FrameCutter cuts the
 * batch); ReplicaHost --ExecutedBatchSink--> ChannelHost --OutputSink--> voter board; Router --VoterInbox-->
 * VoterHost --ActuatorPort--> the plant side.
 *
 * Frames are self-clocked on replica boards by the core frame clock (src/core/frame/clock.ts): no clock
 * synchronization between boards is needed.
 */
import type { Logger } from 'pino';
import { DEFAULT_LIMITS } from '../../core/codec/limits.ts';
import { createPitchLaw } from '../../core/control/index.ts';
import { type Command, defaultPitchLawSpec } from '../../core/control/spec.ts';
import { majorityQuorum } from '../../core/frame/clock.ts';
import { decodeInputSample } from '../../core/frame/sample.ts';
import { Client } from '../../core/pbft/client.ts';
import type { PbftConfig } from '../../core/pbft/config.ts';
import { keyRingCrypto, type NodeCrypto } from '../../core/pbft/crypto.ts';
import { Replica } from '../../core/pbft/replica.ts';
import type { ReplicaStepper } from '../../core/pbft/types.ts';
import type { Prng } from '../../core/prng.ts';
import { pitchVoterConfig } from '../../core/vote/pitch.ts';
import type { VoterConfig } from '../../core/vote/voter.ts';
import type { Transport } from '../../io/transport.ts';
import type { Topology } from '../config.ts';
import { type FirmwareVoterBoardOptions, FirmwareVoterRole } from '../firmware/voter-board.ts';
import type { Scheduler } from '../scheduler.ts';
import { inputUnitBoard } from '../wire-input.ts';
import { ChannelHost } from './channel-host.ts';
import type { Counters } from './counters.ts';
import { FrameCutter } from './frame-cutter.ts';
import type { InputFault } from './input-fault.ts';
import { InputUnitHost } from './input-unit.ts';
import type { BoardKeys } from './keys.ts';
import type { PlantPorts, ReplicaRoutes, RequestSink } from './ports.ts';
import { INPUT_BASE, principalOf } from './principals.ts';
import { ReplicaHost } from './replica-host.ts';
import { peekRequest } from './request-peek.ts';
import { peekKind, Router } from './router.ts';
import { FrameLogService, loopChannelConfig } from './service.ts';
import { topologyPbftConfig } from './topology-pbft.ts';
import { channelName, type VoterHangResult, VoterHost, type VoterRole } from './voter-host.ts';

export { inputUnitBoard } from '../wire-input.ts';
export { topologyPbftConfig } from './topology-pbft.ts';

/** What a Byzantine behaviour needs to wrap a board's replica (its own keys: a faulty node can always use them). */
export interface ReplicaInside {
  readonly replica: Replica;
  readonly crypto: NodeCrypto;
  readonly config: PbftConfig;
  /** Nodes by index: replicas 0..n-1, then the input units. */
  readonly nodes: number;
}

export interface BoardOptions extends PlantPorts {
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
  /** When the batch is cut at the latest, as a fraction of the frame period (default 0.3). */
  readonly cutFraction?: number;
  /** How many frames an input unit's sample may be ahead of the frame clock (default 4). */
  readonly maxFramesAhead?: number;
  /** How the firmware voter runs, when the topology's voterImpl is `firmware-host` or `firmware-qemu`. */
  readonly firmware?: FirmwareVoterBoardOptions;
  /** Channels keep their recent abstract states for peers that rebuild (proactive recovery on). */
  readonly stateHistory?: boolean;
  /**
   * The channel takes the abstract state in each checkpoint its replica restores by state transfer (service.ts;
   * default true). False leaves a restarted channel only its peers' states (CHANNEL-STATE, wire-rebuild.ts):
   * the path it falls back on when its replica caught up without a state transfer, which tests exercise so.
   */
  readonly channelFromCheckpoint?: boolean;
}

/** The output voter of a topology, timed in the runtime's milliseconds (frame k starts at k periods). */
export function topologyVoterConfig(t: Topology): VoterConfig<Command> {
  const periodMs = 1000 / t.frameRateHz;
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
  return {
    ...config,
    timing: { origin: 0, period: periodMs, deadline: periodMs * t.timing.deadlineFraction },
  };
}

export class Board {
  readonly board: Router;
  readonly replica: ReplicaHost | undefined;
  readonly channel: ChannelHost | undefined;
  readonly inputs: InputUnitHost[] = [];
  /** The voter role (the TypeScript VoterHost, or the firmware unit, by the topology's voterImpl). */
  readonly voter: VoterRole | undefined;
  readonly periodMs: number;
  /** The replica's frame clock driver (replica boards only; a fresh one at each restart). */
  cutter: FrameCutter | undefined;
  private replicaCrypto: NodeCrypto | undefined;

  constructor(private readonly o: BoardOptions) {
    const t = o.topology;
    this.periodMs = 1000 / t.frameRateHz;
    const index = t.boards.findIndex((b) => b.name === o.board);
    if (index < 0) throw new Error(`board '${o.board}' is not in ${t.file}`);
    this.board = new Router({
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
    this.cutter = this.replica === undefined ? undefined : this.makeCutter(this.replica);
    this.makeInputs();
    this.voter = this.makeVoter();
  }

  get name(): string {
    return this.o.board;
  }

  /** Starts the voter (a firmware voter boots here), opens the link and starts the replica's frame clock. */
  async start(): Promise<void> {
    await this.voter?.start();
    await this.board.start();
    this.cutter?.start();
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

  /** Make input unit `unit` Byzantine (input-fault.ts); false when this board does not host it. */
  injectInputFault(unit: number, fault: InputFault): boolean {
    const host = this.inputs.find((u) => u.unit === unit);
    host?.inject(fault);
    return host !== undefined;
  }

  clearInputFault(unit: number): boolean {
    const host = this.inputs.find((u) => u.unit === unit);
    host?.clearFault();
    return host !== undefined;
  }

  /** The process died: silent and deaf from now on. */
  crash(): void {
    this.board.crash();
    this.replica?.stop();
    this.cutter?.stop();
    this.channel?.stop();
    for (const u of this.inputs) u.stop();
  }

  /** The voter's frame loop hangs (the `voter hang` fault); false-like result when this board has no voter. */
  hangVoter(frames: number, frame?: number): VoterHangResult {
    if (this.voter === undefined) return { applied: false, reason: `board ${this.o.board} hosts no voter` };
    return this.voter.hang(frames, frame);
  }

  /**
   * One role's process is gone (a proactive restart begins, or it was killed): it neither hears nor speaks.
   * The voter is not stopped (it restarts make-before-break, `startRole`). False when the board has no such role.
   */
  stopRole(kind: 'replica' | 'channel' | 'input' | 'voter', id: number): boolean {
    if (kind === 'replica' && this.replica !== undefined) {
      this.replica.stop();
      this.cutter?.stop();
      return true;
    }
    if (kind === 'channel' && this.channel?.id === id) {
      this.channel.stop();
      return true;
    }
    const unit = this.inputs.find((u) => u.unit === id);
    if (kind === 'input' && unit !== undefined) {
      unit.stop();
      return true;
    }
    return kind === 'voter' && this.voter !== undefined;
  }

  /**
   * Start one role again from the installed code and the config: fresh objects, keys of the principal's
   * current epoch (rotate them first), no injected fault. A replica starts at view 0 and rejoins by state
   * transfer, quiet until it executed `recoveryPoint` (src/core/pbft/recovering.ts), with a fresh frame clock; a channel waits for its abstract state (ChannelHost.rebuildFrom); an
   * input unit's client continues above `timestampFloor`; the voter switches make-before-break.
   */
  startRole(
    kind: 'replica' | 'channel' | 'input' | 'voter',
    id: number,
    at: { readonly timestampFloor?: number; readonly recoveryPoint?: number } = {},
  ): boolean {
    this.board.revive();
    const t = this.o.topology;
    if (kind === 'replica' && this.replica !== undefined) {
      this.replica.reinstall(this.freshReplica(this.replica.replica.id, at.recoveryPoint));
      this.cutter?.stop();
      this.cutter = this.makeCutter(this.replica);
      this.cutter.start();
      return true;
    }
    if (kind === 'channel' && this.channel?.id === id) {
      const slot = t.channels.find((c) => c.id === id)!;
      const law = createPitchLaw(slot.impl, defaultPitchLawSpec(t.frameRateHz));
      this.channel.reinstall(law, this.o.keys.ring(principalOf.channel(id)));
      return true;
    }
    const unit = this.inputs.find((u) => u.unit === id);
    if (kind === 'input' && unit !== undefined) {
      unit.reinstall(this.freshClient(id, topologyPbftConfig(t), at.timestampFloor ?? 0));
      return true;
    }
    if (kind === 'voter' && this.voter !== undefined) {
      // A firmware voter cannot take fresh keys this way (its keys are in flash): false, and it keeps voting.
      return this.voter.reinstall(this.o.keys.ring(principalOf.voter(id))) !== undefined;
    }
    return false;
  }

  async close(): Promise<void> {
    this.cutter?.stop();
    await this.board.close();
    await this.voter?.close();
  }

  private child(role: string, extra: Record<string, unknown> = {}): Logger {
    return this.o.logger.child({ board: this.o.board, role, ...extra });
  }

  private makeChannel(): ChannelHost | undefined {
    const t = this.o.topology;
    const slot = t.channels.find((c) => c.board === this.o.board);
    if (slot === undefined) return undefined;
    const voterBoard = t.voters[0]!.board;
    const { spec, inputs } = loopChannelConfig(t);
    return new ChannelHost({
      id: slot.id,
      law: createPitchLaw(slot.impl, spec),
      ring: this.o.keys.ring(principalOf.channel(slot.id)),
      voterPrincipal: principalOf.voter(0),
      inputs,
      periodMs: this.periodMs,
      scheduler: this.o.scheduler,
      rng: this.o.rng.fork(),
      counters: this.o.counters,
      log: this.child('channel', { channel: slot.id, impl: slot.impl }),
      output: { toVoter: (bytes) => this.board.send(voterBoard, bytes) },
      ...(this.o.channelCommands ? { commands: this.o.channelCommands } : {}),
      ...(this.o.stateHistory ? { stateHistory: true } : {}),
    });
  }

  private makeReplica(): ReplicaHost | undefined {
    const t = this.o.topology;
    const slot = t.replicas.find((r) => r.board === this.o.board);
    if (slot === undefined) return undefined;
    const replica = this.freshReplica(slot.id);
    const otherReplicaBoards = t.replicas.filter((r) => r.id !== slot.id).map((r) => r.board);
    const routes: ReplicaRoutes = {
      toReplica: (id, bytes) => this.board.send(t.replicas[id]!.board, bytes),
      toOtherReplicas: (bytes) => this.board.multicast(otherReplicaBoards, bytes),
      toClient: (client, bytes) => {
        const unit = client - principalOf.input(0);
        if (unit < 0 || unit >= t.inputUnits) this.o.counters.add('replica.reply-to-unknown-client');
        else this.board.send(inputUnitBoard(t, unit), bytes);
      },
    };
    const events = this.o.replicaEvents;
    const host = new ReplicaHost({
      replica,
      routes,
      ...(this.channel ? { batches: this.channel } : {}),
      counters: this.o.counters,
      log: this.child('replica', { replica: slot.id }),
      ...(events ? { onEvent: (e) => events.replicaEvent(slot.id, e) } : {}),
    });
    this.board.roles.replica = { receive: (from, bytes) => this.receiveAtReplica(host, from, bytes) };
    return host;
  }

  /** A replica as the installed code starts it: view 0, nothing executed, keys of the current epoch. */
  private freshReplica(id: number, recoveryPoint?: number): Replica {
    this.replicaCrypto = keyRingCrypto(
      this.o.keys.ring(principalOf.replica(id)),
      this.o.keys.signer(id),
      this.o.keys.replicaPublicKeys,
    );
    return new Replica({
      id,
      config: topologyPbftConfig(this.o.topology),
      crypto: this.replicaCrypto,
      service: new FrameLogService({
        ...loopChannelConfig(this.o.topology),
        ...(this.channel && this.o.channelFromCheckpoint !== false ? { certified: this.channel } : {}),
      }),
      ...(recoveryPoint !== undefined ? { recoveryPoint } : {}),
      // The board's clock runs before the replica exists (a reinstall mid-flight, a process that took a while to
      // load): input that arrives before the replica's first tick is stamped with it, not with 0.
      now: Math.max(0, Math.round(this.o.scheduler.now())),
    });
  }

  private makeCutter(replica: ReplicaHost): FrameCutter {
    const t = this.o.topology;
    return new FrameCutter({
      clock: {
        periodMs: this.periodMs,
        units: t.inputUnits,
        cutFraction: this.o.cutFraction ?? 0.3,
        startQuorum: majorityQuorum(t.inputUnits),
        maxAhead: this.o.maxFramesAhead ?? 4,
      },
      scheduler: this.o.scheduler,
      replica,
      counters: this.o.counters,
    });
  }

  /**
   * Replica-bound bytes: the replica decodes and authenticates them; an authentic REQUEST's sample then goes to
   * the frame clock (only authentic ones, so a forged request can neither start a frame nor trigger a cut).
   */
  private receiveAtReplica(host: ReplicaHost, from: number, bytes: Uint8Array): void {
    const accepted = host.receive(from, bytes);
    if (this.cutter === undefined) return;
    const header = peekKind(bytes, DEFAULT_LIMITS);
    // State transfer volume (what a restarted replica fetches): counted for the recovery bench.
    if (accepted && header.ok && header.kind === 'state-reply')
      this.o.counters.add('replica.state-reply-bytes', bytes.length);
    if (!header.ok || header.kind !== 'request') return;
    // A REQUEST the replica already holds ('duplicate-request', refused only after its tag verified: requests.ts
    // onRequest) still carries the unit's authentic sample for the frame clock. The replica may have taken its
    // first copy from another replica's VOUCH, which the clock never sees: without this, a vouch that outran the
    // unit's own request left the primary one sample short, the frame was never cut, and the voter held it.
    if (!accepted && host.lastRejection !== 'duplicate-request') return;
    // The replica accepted it, so its prefix is well formed (read without a second full decode); the sample
    // inside is the client's and may still be malformed.
    const request = peekRequest(bytes, DEFAULT_LIMITS);
    if (request === undefined) return;
    const unit = request.client - INPUT_BASE;
    const sample = decodeInputSample(request.op);
    if (sample === undefined || sample.unit !== unit) {
      this.o.counters.add('clock.rejected.malformed-sample');
      return;
    }
    this.cutter.sample(unit, sample.frame);
  }

  private makeInputs(): void {
    const t = this.o.topology;
    const pbft = topologyPbftConfig(t);
    const replicaBoards = t.replicas.map((r) => r.board);
    for (let u = 0; u < t.inputUnits; u++) {
      if (inputUnitBoard(t, u) !== this.o.board) continue;
      // A unit's sample supersedes its previous one still waiting for the bus (the unit reads no replies and
      // sends every frame, so a view change's long messages would otherwise leave a queue of stale samples).
      const requests: RequestSink = {
        toReplicas: (bytes) => this.board.multicastLatest(replicaBoards, `input-${u}`, bytes),
        toReplica: (id, bytes) => this.board.send(t.replicas[id]!.board, bytes),
      };
      const client = (lastTimestamp?: number): Client => this.freshClient(u, pbft, lastTimestamp);
      this.inputs.push(
        new InputUnitHost({
          unit: u,
          client: client(),
          requests,
          replicas: t.replicas.length,
          counters: this.o.counters,
          rng: this.o.rng.fork(),
          twin: client,
        }),
      );
    }
    if (this.inputs.length === 0) return;
    this.board.roles.input = {
      reply: (from, m, bytes, now) => {
        const unit = this.inputs.find((h) => principalOf.input(h.unit) === m.client);
        if (unit === undefined) this.o.counters.add('input.reply-to-unknown-unit');
        else unit.reply(from, m, bytes, now);
      },
    };
  }

  private freshClient(unit: number, pbft: PbftConfig, lastTimestamp?: number): Client {
    return new Client({
      id: principalOf.input(unit),
      config: pbft,
      crypto: keyRingCrypto(
        this.o.keys.ring(principalOf.input(unit)),
        undefined,
        this.o.keys.replicaPublicKeys,
      ),
      retransmitTicks: Math.max(1, Math.round(2 * this.periodMs)),
      maxQueued: 1,
      ...(lastTimestamp !== undefined ? { lastTimestamp } : {}),
    });
  }

  /**
   * The voter of `voterImpl`: the TypeScript VoterHost, or the firmware unit (host build or QEMU) with the same
   * config, ports and counters; the firmware boots in `start`.
   */
  private makeVoter(): VoterRole | undefined {
    const t = this.o.topology;
    if (t.voters[0]?.board !== this.o.board) return undefined;
    const ports = {
      scheduler: this.o.scheduler,
      counters: this.o.counters,
      log: this.child('voter', { impl: t.voterImpl }),
      ...(this.o.actuator ? { actuator: this.o.actuator } : {}),
      ...(this.o.channelHealth ? { health: this.o.channelHealth } : {}),
      ...(this.o.voterEvents ? { events: this.o.voterEvents } : {}),
    };
    const config = topologyVoterConfig(t);
    const host: VoterRole =
      t.voterImpl === 'ts'
        ? new VoterHost({ ...ports, config, ring: this.o.keys.ring(principalOf.voter(0)) })
        : new FirmwareVoterRole({
            ...ports,
            ...(this.o.firmware ?? {}),
            topology: t,
            target: t.voterImpl === 'firmware-qemu' ? 'qemu' : 'host',
            config,
            keys: this.o.keys,
          });
    this.board.roles.voter = host;
    return host;
  }
}
